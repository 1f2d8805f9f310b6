package encode

import (
	"context"
	"runtime"

	"golang.org/x/sync/errgroup"

	"github.com/taskweave/taskweave/io/corpus"
	"github.com/taskweave/taskweave/text/align"
	"github.com/taskweave/taskweave/transforms/readcorpus"
	"github.com/taskweave/taskweave/transforms/splitstats"
	"github.com/taskweave/taskweave/transforms/writeshards"
)

// batchSize is how many records the reader hands an encoder at a time:
// enough to make the channel's cost negligible, small enough to keep every
// encoder busy to the end of a file.
const batchSize = 256

// recordIn is a record or a reader rejection, in file order.
type recordIn struct {
	Record    corpus.Record
	Rejection *corpus.Rejection
}

// batchOut is what an encoder reports for one batch, for the DoFn's
// goroutine to emit (Beam's emitters are not safe to call concurrently).
type batchOut struct {
	rejected []readcorpus.Rejected
	stats    splitstats.Stats
}

// encodeFile reads src on one goroutine and encodes its records on
// GOMAXPROCS others, filing rows into sp. It emits the rejections itself
// and returns the file's counts. Memory: a few batches in flight plus the
// spill's buffer, whatever the file's size.
func (f *EncodeFn) encodeFile(ctx context.Context, src readcorpus.Source, t align.Task, sp *writeshards.Spill, reject func(readcorpus.Rejected)) (splitstats.Stats, error) {
	workers := runtime.GOMAXPROCS(0)
	g, gctx := errgroup.WithContext(ctx)
	batches := make(chan []recordIn, workers)
	outs := make(chan batchOut, workers)
	g.Go(func() error {
		defer close(batches)
		return readBatches(gctx, src, f.Tasks[src.Task].Read, batches)
	})
	for range workers {
		g.Go(func() error {
			for b := range batches {
				out := batchOut{}
				for _, rec := range b {
					if rec.Rejection != nil {
						out.rejected = append(out.rejected, readcorpus.Rejected{Task: src.Task, Split: src.Split, Rejection: *rec.Rejection})
						continue
					}
					if err := f.encode(gctx, t, rec, sp, &out); err != nil {
						return err
					}
				}
				select {
				case outs <- out:
				case <-gctx.Done():
					return gctx.Err()
				}
			}
			return nil
		})
	}
	var werr error
	done := make(chan struct{})
	go func() {
		werr = g.Wait()
		close(outs)
		close(done)
	}()
	total := splitstats.Stats{Task: src.Task, Split: src.Split}
	for out := range outs {
		for _, r := range out.rejected {
			reject(r)
		}
		total.Add(out.stats)
	}
	<-done
	return total, werr
}

// readBatches streams src into batches of records and rejections.
func readBatches(ctx context.Context, src readcorpus.Source, t readcorpus.Task, batches chan<- []recordIn) error {
	b := make([]recordIn, 0, batchSize)
	send := func() error {
		select {
		case batches <- b:
			b = make([]recordIn, 0, batchSize)
			return nil
		case <-ctx.Done():
			return ctx.Err()
		}
	}
	err := readcorpus.Stream(ctx, src, t, readcorpus.Visitor{
		Record: func(r corpus.Record) error {
			if b = append(b, recordIn{Record: r}); len(b) == batchSize {
				return send()
			}
			return nil
		},
		Reject: func(j corpus.Rejection) error {
			if b = append(b, recordIn{Rejection: &j}); len(b) == batchSize {
				return send()
			}
			return nil
		},
		Count: true,
	})
	if err != nil || len(b) == 0 {
		return err
	}
	return send()
}

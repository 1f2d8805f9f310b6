package encode

import (
	"context"
	"runtime"
	"slices"

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

// recordIn is a record or a reader rejection, in file order: one per task
// of the file's group (one for a task alone).
type recordIn struct {
	Records    []corpus.Record
	Rejections []corpus.Rejection
}

// batchOut is what an encoder reports for one batch, for the DoFn's
// goroutine to emit (Beam's emitters are not safe to call concurrently).
type batchOut struct {
	rejected []readcorpus.Rejected
	stats    []splitstats.Stats // per task of the group
}

// encodeFile reads src on one goroutine and encodes its records on
// GOMAXPROCS others, filing each task's rows into its spill. It emits the
// rejections itself and returns each task's counts. Memory: a few batches
// in flight plus the spills' buffers, whatever the file's size.
func (f *EncodeFn) encodeFile(ctx context.Context, src readcorpus.Source, ts []align.Task, sps []*writeshards.Spill, reject func(readcorpus.Rejected)) ([]splitstats.Stats, error) {
	workers := runtime.GOMAXPROCS(0)
	g, gctx := errgroup.WithContext(ctx)
	batches := make(chan []recordIn, workers)
	outs := make(chan batchOut, workers)
	g.Go(func() error {
		defer close(batches)
		return f.readBatches(gctx, src, batches)
	})
	for range workers {
		g.Go(func() error {
			for b := range batches {
				out := batchOut{stats: make([]splitstats.Stats, len(ts))}
				for _, rec := range b {
					for i, j := range rec.Rejections {
						out.rejected = append(out.rejected, readcorpus.Rejected{Task: ts[i].Name, Split: src.Split, Rejection: j})
					}
					if rec.Rejections != nil {
						continue
					}
					if err := f.encode(gctx, ts, rec, sps, &out); err != nil {
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
	total := make([]splitstats.Stats, len(ts))
	for i, t := range ts {
		total[i] = splitstats.Stats{Task: t.Name, Split: src.Split}
	}
	for out := range outs {
		for _, r := range out.rejected {
			reject(r)
		}
		for i := range total {
			total[i].Add(out.stats[i])
		}
	}
	<-done
	return total, werr
}

// readBatches streams src into batches of records and rejections: a
// group's file through one read for all of its tasks.
func (f *EncodeFn) readBatches(ctx context.Context, src readcorpus.Source, batches chan<- []recordIn) error {
	b := make([]recordIn, 0, batchSize)
	add := func(r recordIn) error {
		if b = append(b, r); len(b) < batchSize {
			return nil
		}
		select {
		case batches <- b:
			b = make([]recordIn, 0, batchSize)
			return nil
		case <-ctx.Done():
			return ctx.Err()
		}
	}
	var err error
	if len(src.Members) == 0 {
		err = readcorpus.Stream(ctx, src, f.Tasks[src.Task].Read, readcorpus.Visitor{
			Record: func(r corpus.Record) error { return add(recordIn{Records: []corpus.Record{r}}) },
			Reject: func(j corpus.Rejection) error { return add(recordIn{Rejections: []corpus.Rejection{j}}) },
			Count:  true,
		})
	} else {
		read := make([]readcorpus.Task, 0, len(src.Members)+1)
		for _, name := range src.Tasks() {
			read = append(read, f.Tasks[name].Read)
		}
		err = readcorpus.StreamGroup(ctx, src, read, readcorpus.GroupVisitor{
			Records: func(rs []corpus.Record) error { return add(recordIn{Records: slices.Clone(rs)}) },
			Reject:  func(js []corpus.Rejection) error { return add(recordIn{Rejections: js}) },
			Count:   true,
		})
	}
	if err != nil || len(b) == 0 {
		return err
	}
	select {
	case batches <- b:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

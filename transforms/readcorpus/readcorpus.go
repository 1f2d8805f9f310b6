// Package readcorpus is the Beam DoFn that turns (task, split, file) inputs
// into corpus records. It streams each file through io/storage (local or
// gs://) and io/corpus, so a file is never held in memory whole, and sends
// malformed records to a second output instead of dropping them.
//
// A file that is missing, gives no usable record, or whose rejected share is
// over the limit fails the DoFn, and with it the pipeline: those are input
// mistakes a person has to fix, not records to skip.
package readcorpus

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"reflect"
	"strings"
	"sync/atomic"

	"github.com/apache/beam/sdks/v2/go/pkg/beam"
	"github.com/apache/beam/sdks/v2/go/pkg/beam/register"

	"github.com/taskweave/taskweave/io/corpus"
	"github.com/taskweave/taskweave/io/storage"
)

func init() {
	register.DoFn4x1[context.Context, Source, func(Example), func(Rejected), error](&ReadFn{})
	register.Emitter1[Example]()
	register.Emitter1[Rejected]()
	beam.RegisterType(reflect.TypeFor[Source]())
	beam.RegisterType(reflect.TypeFor[Example]())
	beam.RegisterType(reflect.TypeFor[Rejected]())
}

// Source is one input file of one task and split.
type Source struct {
	Task, Split, Path string
}

// Example is a record on its way to the encoder, tagged with its task and split.
type Example struct {
	Task, Split string
	Record      corpus.Record
}

// Rejected is a record that failed validation, tagged with its task and split.
type Rejected struct {
	Task, Split string
	Rejection   corpus.Rejection
}

// Task says how to read one task's files.
type Task struct {
	Options corpus.Options
	// MaxRejectedFraction: a file whose rejected records exceed this share
	// of all its records fails the run.
	MaxRejectedFraction float64
	// Where says where the task is configured, for messages:
	// "tasks[2] in the job spec" or "the quick-run flags".
	Where string
	// LimitSetting names where MaxRejectedFraction is set, for messages.
	LimitSetting string
}

// ReadFn reads one Source per element.
type ReadFn struct {
	Tasks map[string]Task
}

// recordsRead counts records and rejections read by ReadFn instances in this
// process. On prism (loopback) the workers run inside the launching process,
// so a progress line can watch it; on remote runners it stays at zero there.
var recordsRead atomic.Int64

// RecordsRead returns the number of records (rejections included) read so far
// by ReadFn instances running in this process.
func RecordsRead() int64 { return recordsRead.Load() }

// Beam metrics, per file at its end: what a runner's monitoring shows.
var (
	recordsCounter  = beam.NewCounter("readcorpus", "records")
	rejectedCounter = beam.NewCounter("readcorpus", "rejected")
)

// maxListed bounds how many rejections an over-the-limit error quotes.
const maxListed = 3

func (f *ReadFn) open(ctx context.Context, src Source, t Task) (io.ReadCloser, error) {
	r, err := storage.Open(ctx, src.Path)
	if err != nil {
		if errors.Is(err, fs.ErrNotExist) {
			return nil, fmt.Errorf("%s: file not found (task %s, split %s); fix the path of the %s split (%s)", src.Path, src.Task, src.Split, src.Split, t.Where)
		}
		return nil, fmt.Errorf("%s: %w", src.Path, err)
	}
	return r, nil
}

// unlabeledTest reports whether a failed first read is a test-split TSV file
// whose header has no label column (GLUE test files: index and sentence).
// The corpus reader's error is the only place that says so.
func unlabeledTest(src Source, t Task, err error) bool {
	return src.Split == "test" && t.Options.Format == corpus.TSV && !t.Options.Unlabeled &&
		strings.Contains(err.Error(), "has no label column")
}

// ProcessElement streams one file. A TSV file of the test split without a
// label column is read as unlabeled.
func (f *ReadFn) ProcessElement(ctx context.Context, src Source, emit func(Example), reject func(Rejected)) error {
	t, ok := f.Tasks[src.Task]
	if !ok {
		return fmt.Errorf("readcorpus: no read options for task %q (pipeline construction bug)", src.Task)
	}
	r, err := f.open(ctx, src, t)
	if err != nil {
		return err
	}
	defer r.Close()
	rd := corpus.NewReader(r, src.Path, t.Options)
	var first []corpus.Rejection
	for n := 0; ; n++ {
		rec, rej, err := rd.Next()
		if err == io.EOF {
			break
		}
		if err != nil && n == 0 && unlabeledTest(src, t, err) {
			// A GLUE-style test file has no label column: read it as
			// unlabeled (label -1 in the shards) instead of failing.
			r.Close()
			if r, err = f.open(ctx, src, t); err != nil {
				return err
			}
			t.Options.Unlabeled = true
			rd = corpus.NewReader(r, src.Path, t.Options)
			rec, rej, err = rd.Next()
		}
		if err == io.EOF {
			break
		}
		if err != nil {
			return fmt.Errorf("task %s, split %s: %w", src.Task, src.Split, err)
		}
		recordsRead.Add(1)
		if rej != nil {
			if len(first) < maxListed {
				first = append(first, *rej)
			}
			reject(Rejected{Task: src.Task, Split: src.Split, Rejection: *rej})
			continue
		}
		emit(Example{Task: src.Task, Split: src.Split, Record: rec})
	}
	if err := rd.CheckNotEmpty(); err != nil {
		return fmt.Errorf("task %s, split %s: %w", src.Task, src.Split, err)
	}
	st := rd.Stats()
	recordsCounter.Inc(ctx, int64(st.Records))
	rejectedCounter.Inc(ctx, int64(st.Rejected))
	if total := st.Records + st.Rejected; st.Rejected > 0 && float64(st.Rejected) > t.MaxRejectedFraction*float64(total) {
		var list []string
		for _, j := range first {
			list = append(list, j.String())
		}
		return fmt.Errorf("%s: %d of %d records rejected (%.2f%%), over the limit of %.2f%% (task %s, split %s); first: %s; fix those lines, check the format and columns (%s), or raise %s",
			src.Path, st.Rejected, total, 100*float64(st.Rejected)/float64(total), 100*t.MaxRejectedFraction,
			src.Task, src.Split, strings.Join(list, "; "), t.Where, t.LimitSetting)
	}
	return nil
}

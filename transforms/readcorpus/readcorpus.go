// Package readcorpus streams the records of one (task, split, file) input
// through io/storage (local or gs://) and io/corpus, so a file is never held
// in memory whole. Both passes of preprocessing read through Stream: the
// scan (label sets and record counts) and the encoder.
//
// A file that is missing, gives no usable record, or whose rejected share is
// over the limit is an error: those are input mistakes a person has to fix,
// not records to skip.
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

	"github.com/taskweave/taskweave/io/corpus"
	"github.com/taskweave/taskweave/io/storage"
)

func init() {
	beam.RegisterType(reflect.TypeFor[Source]())
	beam.RegisterType(reflect.TypeFor[Rejected]())
	beam.RegisterType(reflect.TypeFor[Task]())
}

// Source is one input file of one task and split. Members are the other
// tasks of the task's group (input_from), which label the same records:
// one read of the file serves them all (StreamGroup).
type Source struct {
	Task, Split, Path string
	Members           []string
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

// Visitor receives what Stream reads. Count adds the records to
// RecordsRead (the progress line): only one pass over the corpus sets it,
// so the line counts each record once.
type Visitor struct {
	Record func(corpus.Record) error
	Reject func(corpus.Rejection) error
	Count  bool
}

// recordsRead counts records and rejections read with Count set in this
// process. On prism (loopback) the workers run inside the launching process,
// so a progress line can watch it; on remote runners it stays at zero there.
var recordsRead atomic.Int64

// RecordsRead returns the number of records (rejections included) read so far
// in this process by passes that count.
func RecordsRead() int64 { return recordsRead.Load() }

// Beam metrics, per file at its end: what a runner's monitoring shows.
var (
	recordsCounter  = beam.NewCounter("readcorpus", "records")
	rejectedCounter = beam.NewCounter("readcorpus", "rejected")
)

// maxListed bounds how many rejections an over-the-limit error quotes.
const maxListed = 3

// opened counts the files opened for reading in this process: what shows
// that a group's file is read once per pass, not once per task.
var opened atomic.Int64

// FilesOpened returns the number of corpus files opened so far in this
// process (on prism, the workers run in it).
func FilesOpened() int64 { return opened.Load() }

func open(ctx context.Context, src Source, t Task) (io.ReadCloser, error) {
	opened.Add(1)
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

// openReader opens src and reads its first record, falling back to an
// unlabeled read for a GLUE-style test file without a label column.
func openReader(ctx context.Context, src Source, t Task) (io.Closer, *corpus.Reader, corpus.Record, *corpus.Rejection, error) {
	r, err := open(ctx, src, t)
	if err != nil {
		return nil, nil, corpus.Record{}, nil, err
	}
	rd := corpus.NewReader(r, src.Path, t.Options)
	rec, rej, err := rd.Next()
	if err != nil && err != io.EOF && unlabeledTest(src, t, err) {
		// Read it as unlabeled (label -1 in the shards) instead of failing.
		r.Close()
		if r, err = open(ctx, src, t); err != nil {
			return nil, nil, corpus.Record{}, nil, err
		}
		t.Options.Unlabeled = true
		rd = corpus.NewReader(r, src.Path, t.Options)
		rec, rej, err = rd.Next()
	}
	return r, rd, rec, rej, err
}

// Stream reads one file, handing each record and rejection to v in file
// order, and checks the file as a whole at its end (not empty, rejected
// share within the limit). An error from v stops the read and is returned.
func Stream(ctx context.Context, src Source, t Task, v Visitor) error {
	c, rd, rec, rej, err := openReader(ctx, src, t)
	if c != nil {
		defer c.Close()
	}
	var first []corpus.Rejection
	for ; err == nil; rec, rej, err = rd.Next() {
		if v.Count {
			recordsRead.Add(1)
		}
		if rej != nil {
			if len(first) < maxListed {
				first = append(first, *rej)
			}
			err = v.Reject(*rej)
		} else {
			err = v.Record(rec)
		}
		if err != nil {
			return err
		}
	}
	if err != io.EOF {
		if rd == nil {
			return err
		}
		return fmt.Errorf("task %s, split %s: %w", src.Task, src.Split, err)
	}
	return checkFile(ctx, src, t, rd, first, v.Count)
}

// checkFile applies the whole-file rules once a file has been read.
func checkFile(ctx context.Context, src Source, t Task, rd *corpus.Reader, first []corpus.Rejection, count bool) error {
	if err := rd.CheckNotEmpty(); err != nil {
		return fmt.Errorf("task %s, split %s: %w", src.Task, src.Split, err)
	}
	st := rd.Stats()
	if count {
		recordsCounter.Inc(ctx, int64(st.Records))
		rejectedCounter.Inc(ctx, int64(st.Rejected))
	}
	return checkShare(src, t, st.Rejected, st.Records+st.Rejected, first)
}

// checkShare fails a file whose rejected records are over the task's limit.
func checkShare(src Source, t Task, rejected, total int, first []corpus.Rejection) error {
	if rejected > 0 && float64(rejected) > t.MaxRejectedFraction*float64(total) {
		var list []string
		for _, j := range first {
			list = append(list, j.String())
		}
		return fmt.Errorf("%s: %d of %d records rejected (%.2f%%), over the limit of %.2f%% (task %s, split %s); first: %s; fix those lines, check the format and columns (%s), or raise %s",
			src.Path, rejected, total, 100*float64(rejected)/float64(total), 100*t.MaxRejectedFraction,
			src.Task, src.Split, strings.Join(list, "; "), t.Where, t.LimitSetting)
	}
	return nil
}

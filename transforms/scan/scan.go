// Package scan is preprocessing's first pass: it reads every input file and
// keeps only what the encoder must know before the first record is encoded,
// namely the label list of each task whose job spec gives none (every label
// or tag of its train split, deduplicated and sorted, so ids do not depend
// on record order or on how the runner splits the work) and the number of
// records of each task and split (which caps the shard count). Each file
// gives one small Result; the global combine unions them into one value,
// meant to be a side input. The examples themselves are never held: that is
// what keeps preprocessing's memory independent of the corpus size.
package scan

import (
	"cmp"
	"context"
	"reflect"
	"slices"
	"strings"

	"github.com/apache/beam/sdks/v2/go/pkg/beam"
	"github.com/apache/beam/sdks/v2/go/pkg/beam/register"

	"github.com/taskweave/taskweave/io/corpus"
	"github.com/taskweave/taskweave/transforms/readcorpus"
)

func init() {
	register.DoFn3x1[context.Context, readcorpus.Source, func(Result), error](&ScanFn{})
	register.Emitter1[Result]()
	register.Combiner3[Result, Result, Result](&MergeFn{})
	beam.RegisterType(reflect.TypeFor[Result]())
	beam.RegisterType(reflect.TypeFor[TaskLabels]())
	beam.RegisterType(reflect.TypeFor[Count]())
}

// TaskLabels is one task's sorted label list.
type TaskLabels struct {
	Task   string
	Labels []string
}

// Count is the number of records (rejections not included) of one task and split.
type Count struct {
	Task, Split string
	Records     int64
}

// Result holds the label lists of the collected tasks, sorted by task, and
// the record counts, sorted by task then split.
type Result struct {
	Tasks  []TaskLabels
	Counts []Count
}

// Labels returns a task's list (nil when the task was not collected).
func (r Result) Labels(task string) []string {
	if i, ok := slices.BinarySearchFunc(r.Tasks, task, func(t TaskLabels, s string) int { return strings.Compare(t.Task, s) }); ok {
		return r.Tasks[i].Labels
	}
	return nil
}

// Records returns the number of records of a task and split.
func (r Result) Records(task, split string) int64 {
	if i, ok := slices.BinarySearchFunc(r.Counts, Count{Task: task, Split: split}, cmpCount); ok {
		return r.Counts[i].Records
	}
	return 0
}

func cmpCount(a, b Count) int {
	return cmp.Or(strings.Compare(a.Task, b.Task), strings.Compare(a.Split, b.Split))
}

// addLabel inserts one label of a task, keeping both levels sorted.
func (r *Result) addLabel(task, label string) {
	i, ok := slices.BinarySearchFunc(r.Tasks, task, func(t TaskLabels, s string) int { return strings.Compare(t.Task, s) })
	if !ok {
		r.Tasks = slices.Insert(r.Tasks, i, TaskLabels{Task: task})
	}
	t := &r.Tasks[i]
	if j, found := slices.BinarySearch(t.Labels, label); !found {
		t.Labels = slices.Insert(t.Labels, j, label)
	}
}

// addCount adds records to a task and split.
func (r *Result) addCount(c Count) {
	i, ok := slices.BinarySearchFunc(r.Counts, c, cmpCount)
	if !ok {
		r.Counts = slices.Insert(r.Counts, i, Count{Task: c.Task, Split: c.Split})
	}
	r.Counts[i].Records += c.Records
}

// ScanFn reads one file per element and emits its Result.
type ScanFn struct {
	Read    map[string]readcorpus.Task // how to read each task's files
	Collect map[string]bool            // task name → collect its labels
	Split   string                     // the split labels come from (train)
}

// ProcessElement reads the file; its whole-file checks (not empty, rejected
// share) fail the run here, before anything is encoded.
func (f *ScanFn) ProcessElement(ctx context.Context, src readcorpus.Source, emit func(Result)) error {
	if len(src.Members) > 0 {
		return f.scanGroup(ctx, src, emit)
	}
	res := Result{}
	collect := f.Collect[src.Task] && src.Split == f.Split
	n := int64(0)
	err := readcorpus.Stream(ctx, src, f.Read[src.Task], readcorpus.Visitor{
		Record: func(r corpus.Record) error {
			n++
			if !collect {
				return nil
			}
			res.addRecordLabels(src.Task, r)
			return nil
		},
		Reject: func(corpus.Rejection) error { return nil },
	})
	if err != nil {
		return err
	}
	res.addCount(Count{Task: src.Task, Split: src.Split, Records: n})
	emit(res)
	return nil
}

// scanGroup reads a group's file once for all of its tasks: each task
// collects the labels of its own column, and every task counts the
// group's records (those no task of it rejects), so they get the same
// shard count.
func (f *ScanFn) scanGroup(ctx context.Context, src readcorpus.Source, emit func(Result)) error {
	res := Result{}
	names := src.Tasks()
	read := make([]readcorpus.Task, len(names))
	for i, name := range names {
		read[i] = f.Read[name]
	}
	n := int64(0)
	err := readcorpus.StreamGroup(ctx, src, read, readcorpus.GroupVisitor{
		Records: func(recs []corpus.Record) error {
			n++
			for i, r := range recs {
				if f.Collect[names[i]] && src.Split == f.Split {
					res.addRecordLabels(names[i], r)
				}
			}
			return nil
		},
		Reject: func([]corpus.Rejection) error { return nil },
	})
	if err != nil {
		return err
	}
	for _, name := range names {
		res.addCount(Count{Task: name, Split: src.Split, Records: n})
	}
	emit(res)
	return nil
}

// addRecordLabels collects a record's label and tags for task.
func (r *Result) addRecordLabels(task string, rec corpus.Record) {
	if rec.Label != "" {
		r.addLabel(task, rec.Label)
	}
	for _, tag := range rec.Tags {
		r.addLabel(task, tag)
	}
}

// MergeFn unions Results. Its accumulator is kept sorted, so merging does
// not depend on the order bundles arrive in.
type MergeFn struct{}

// CreateAccumulator starts empty.
func (MergeFn) CreateAccumulator() Result { return Result{} }

// AddInput merges one file's Result.
func (f MergeFn) AddInput(a, in Result) Result { return f.MergeAccumulators(a, in) }

// MergeAccumulators unions b into a.
func (MergeFn) MergeAccumulators(a, b Result) Result {
	for _, t := range b.Tasks {
		for _, l := range t.Labels {
			a.addLabel(t.Task, l)
		}
	}
	for _, c := range b.Counts {
		a.addCount(c)
	}
	return a
}

// ExtractOutput returns the union.
func (MergeFn) ExtractOutput(a Result) Result { return a }

// Scan returns a singleton PCollection<Result> over the files in srcs
// (a PCollection<readcorpus.Source>).
func Scan(s beam.Scope, srcs beam.PCollection, fn *ScanFn) beam.PCollection {
	s = s.Scope("Scan")
	results := beam.ParDo(s, fn, srcs)
	// Beam's global Combine gives no value at all for an empty input, and a
	// singleton side input needs exactly one: the seed guarantees it.
	seed := beam.Create(s, Result{})
	return beam.Combine(s, &MergeFn{}, beam.Flatten(s, seed, results))
}

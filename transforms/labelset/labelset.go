// Package labelset collects the label list of tasks whose job spec gives
// none: every label (sentence tasks) or tag (token tasks) seen in the train
// split, deduplicated and sorted, so ids do not depend on record order or on
// how the runner splits the work. The result is a single value meant to be a
// side input of the encoder.
package labelset

import (
	"reflect"
	"slices"
	"sort"

	"github.com/apache/beam/sdks/v2/go/pkg/beam"
	"github.com/apache/beam/sdks/v2/go/pkg/beam/register"

	"github.com/taskweave/taskweave/transforms/readcorpus"
)

func init() {
	register.DoFn2x0[readcorpus.Example, func(TaskLabel)](&ExtractFn{})
	register.Emitter1[TaskLabel]()
	register.Combiner3[Sets, TaskLabel, Sets](&CollectFn{})
	beam.RegisterType(reflect.TypeFor[TaskLabel]())
	beam.RegisterType(reflect.TypeFor[Sets]())
	beam.RegisterType(reflect.TypeFor[TaskLabels]())
}

// TaskLabel is one label occurrence.
type TaskLabel struct {
	Task, Label string
}

// TaskLabels is one task's sorted label list.
type TaskLabels struct {
	Task   string
	Labels []string
}

// Sets holds the label lists of all collected tasks, sorted by task name.
type Sets struct {
	Tasks []TaskLabels
}

// Labels returns a task's list (nil when the task was not collected).
func (s Sets) Labels(task string) []string {
	i := sort.Search(len(s.Tasks), func(i int) bool { return s.Tasks[i].Task >= task })
	if i < len(s.Tasks) && s.Tasks[i].Task == task {
		return s.Tasks[i].Labels
	}
	return nil
}

// ExtractFn emits the labels of train records of the tasks in Collect.
type ExtractFn struct {
	Collect map[string]bool // task name → collect its labels
	Split   string          // the split labels come from (train)
}

// ProcessElement emits a record's label or each distinct tag of its words.
func (f *ExtractFn) ProcessElement(ex readcorpus.Example, emit func(TaskLabel)) {
	if ex.Split != f.Split || !f.Collect[ex.Task] {
		return
	}
	r := &ex.Record
	if r.Label != "" {
		emit(TaskLabel{Task: ex.Task, Label: r.Label})
	}
	for i, tag := range r.Tags {
		if !slices.Contains(r.Tags[:i], tag) {
			emit(TaskLabel{Task: ex.Task, Label: tag})
		}
	}
}

// CollectFn merges labels into sorted, duplicate-free lists per task. Its
// accumulator is a Sets kept sorted, so merging is a sorted union and the
// output does not depend on the order bundles arrive in.
type CollectFn struct{}

// CreateAccumulator starts empty.
func (CollectFn) CreateAccumulator() Sets { return Sets{} }

// AddInput inserts one label; the empty TaskLabel (Collect's seed) adds nothing.
func (CollectFn) AddInput(a Sets, in TaskLabel) Sets {
	if in.Task == "" {
		return a
	}
	i := sort.Search(len(a.Tasks), func(i int) bool { return a.Tasks[i].Task >= in.Task })
	if i == len(a.Tasks) || a.Tasks[i].Task != in.Task {
		a.Tasks = slices.Insert(a.Tasks, i, TaskLabels{Task: in.Task})
	}
	t := &a.Tasks[i]
	if j, found := slices.BinarySearch(t.Labels, in.Label); !found {
		t.Labels = slices.Insert(t.Labels, j, in.Label)
	}
	return a
}

// MergeAccumulators unions two accumulators.
func (f CollectFn) MergeAccumulators(a, b Sets) Sets {
	for _, t := range b.Tasks {
		for _, l := range t.Labels {
			a = f.AddInput(a, TaskLabel{Task: t.Task, Label: l})
		}
	}
	return a
}

// ExtractOutput returns the accumulated lists.
func (CollectFn) ExtractOutput(a Sets) Sets { return a }

// Collect returns a singleton PCollection<Sets> with the labels of the
// tasks in collect, taken from the records of the given split.
func Collect(s beam.Scope, examples beam.PCollection, collect map[string]bool, split string) beam.PCollection {
	s = s.Scope("CollectLabels")
	labels := beam.ParDo(s, &ExtractFn{Collect: collect, Split: split}, examples)
	// Beam's global Combine gives no value at all for an empty input, and a
	// singleton side input needs exactly one: the seed guarantees it when no
	// task collects labels.
	seed := beam.Create(s, TaskLabel{})
	return beam.Combine(s, &CollectFn{}, beam.Flatten(s, seed, labels))
}

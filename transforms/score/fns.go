package score

import (
	"context"
	"encoding/json"
	"fmt"
	"reflect"
	"slices"
	"sort"
	"strings"
	"time"

	"github.com/apache/beam/sdks/v2/go/pkg/beam"
	"github.com/apache/beam/sdks/v2/go/pkg/beam/register"

	"github.com/taskweave/taskweave/io/shards"
	"github.com/taskweave/taskweave/model"
	"github.com/taskweave/taskweave/model/masking"
	"github.com/taskweave/taskweave/model/scoring"
)

func init() {
	beam.RegisterType(reflect.TypeOf((*shards.Row)(nil)).Elem())
	beam.RegisterType(reflect.TypeOf((*ShardRef)(nil)).Elem())
	beam.RegisterType(reflect.TypeOf((*Member)(nil)).Elem())
	beam.RegisterType(reflect.TypeOf((*RowGroup)(nil)).Elem())
	beam.RegisterType(reflect.TypeOf((*scoring.Task)(nil)).Elem())
	beam.RegisterType(reflect.TypeOf((*Prediction)(nil)).Elem())
	// The accumulator holds maps and pointers; JSON keeps it exact and
	// independent of the schema coder's support for them.
	beam.RegisterCoder(reflect.TypeOf((*scoring.Acc)(nil)).Elem(), encodeAcc, decodeAcc)
	// Predictions are the bulk of what crosses the runner; see coder.go.
	beam.RegisterCoder(reflect.TypeOf((*Prediction)(nil)).Elem(), encodePrediction, decodePrediction)

	register.DoFn3x1[context.Context, ShardRef, func(string, RowGroup), error](&ReadShardFn{})
	register.DoFn4x1[context.Context, string, RowGroup, func(Prediction), error](&ScoreFn{})
	register.Combiner2[scoring.Acc, Prediction](&MetricsFn{})
	register.DoFn3x1[context.Context, string, func(*Prediction) bool, error](&WritePredictionsFn{})
	register.DoFn3x1[context.Context, string, scoring.Acc, error](&WriteMetricsFn{})
	register.Function3x0(SplitWindowsFn)
	register.Function3x1(StitchFn)
	register.Emitter2[string, Prediction]()
	register.Function1x2(KeyByPart)
	register.Function1x2(KeyByTask)
	register.Emitter2[string, RowGroup]()
	register.Emitter1[Prediction]()
	register.Iter1[Prediction]()
}

func encodeAcc(a scoring.Acc) ([]byte, error) { return json.Marshal(a) }

func decodeAcc(b []byte) (scoring.Acc, error) {
	var a scoring.Acc
	err := json.Unmarshal(b, &a)
	return a, err
}

var (
	examplesScored = beam.NewCounter("taskweave.evaluate", "examples_scored")
	tokensScored   = beam.NewCounter("taskweave.evaluate", "tokens_scored")
	// bundlesScored counts the bundles that scored anything: how far the
	// scoring was spread.
	bundlesScored = beam.NewCounter("taskweave.evaluate", "bundles_scored")
)

// ScoreFn scores rows with one checkpoint through model/scoring. Rows are
// buffered per task and scored length-sorted in batches when a task's buffer
// holds FlushRows rows and in FinishBundle; the checkpoint is loaded once per
// worker process and shared by the DoFn instances there (see models.go).
//
// A row goes to the task it belongs to and to every masked LM whose Source
// lists that task (a masked LM over other tasks' text scores their rows, so
// one read of a shard serves both); a masked LM without Source scores its
// own rows.
type ScoreFn struct {
	Name        string         // "model" or "compare": tags every Prediction
	Model       string         // checkpoint directory, local or gs://
	Fingerprint string         // the checkpoint's fingerprint: the key of the process's shared copy
	BatchSize   int            // examples per model batch; must be positive
	FlushRows   int            // rows buffered per task before scoring; 0 = 16 batches
	Tasks       []scoring.Task // tasks to score (each must have a head)
	Ignore      []string       // tasks whose rows this checkpoint passes over (it scores nothing of them)
	// FlushDelay pauses after each scored buffer. Only tests set it: it
	// stands in for a model slow enough that prism's progress checks see
	// the bundle's input stall, which is what makes prism split a bundle.
	FlushDelay time.Duration
	// Precision is the products' number format (model.Precision; "" = fp32).
	Precision string

	m       *model.Model
	specs   map[string]scoring.Task
	routes  map[string][]string // row task → the tasks that score its rows
	maskers map[string]*masking.Masker
	buf     map[string]*pending
	groups  map[string]*pendingGroup // by the group's task names, joined by +
	loaded  bool
}

// Teardown releases this instance's hold on the shared checkpoint.
func (f *ScoreFn) Teardown() {
	if f.loaded {
		releaseModel(modelKey(f.Fingerprint, f.Precision), f.Model)
		f.loaded, f.m = false, nil
	}
}

// Setup loads the checkpoint and checks it has a head for every task.
func (f *ScoreFn) Setup(ctx context.Context) error {
	if f.BatchSize <= 0 {
		return fmt.Errorf("score: batch size %d; it must be positive", f.BatchSize)
	}
	m, vocab, err := acquireModel(ctx, modelKey(f.Fingerprint, f.Precision), f.Model, model.Precision(f.Precision))
	if err != nil {
		return err
	}
	f.loaded = true
	heads := map[string]model.HeadKind{}
	for _, h := range m.Heads() {
		heads[h.Task] = h.Kind
	}
	f.specs = map[string]scoring.Task{}
	f.routes = map[string][]string{}
	f.maskers = map[string]*masking.Masker{}
	for _, t := range f.Tasks {
		kind, ok := heads[t.Name]
		if !ok {
			return fmt.Errorf("score: checkpoint %s has no head for task %q", f.Model, t.Name)
		}
		if err := t.Validate(); err != nil {
			return err
		}
		if kind != t.Kind {
			return fmt.Errorf("score: task %s is %s but checkpoint %s has a %s head for it", t.Name, t.Kind, f.Model, kind)
		}
		f.specs[t.Name] = t
		if t.Kind != model.MaskedLM || len(t.Source) == 0 {
			f.routes[t.Name] = append(f.routes[t.Name], t.Name)
		}
		if t.Kind == model.MaskedLM {
			for _, src := range t.Source {
				f.routes[src] = append(f.routes[src], t.Name)
			}
			if f.maskers[t.Name], err = masking.New(vocab, t.WholeWord); err != nil {
				return fmt.Errorf("score: task %s: checkpoint %s: %w", t.Name, f.Model, err)
			}
		}
	}
	f.m = m
	f.buf = map[string]*pending{}
	f.groups = map[string]*pendingGroup{}
	if f.FlushRows == 0 {
		f.FlushRows = f.BatchSize * 16
	}
	return nil
}

// ProcessElement buffers one row for each task that scores it; a full
// buffer is scored at once. A group's rows (one per task of it) go to the
// group's buffer, scored from one encoder pass per batch.
func (f *ScoreFn) ProcessElement(ctx context.Context, part string, g RowGroup, emit func(Prediction)) error {
	var own []shards.Row // the rows whose own task this checkpoint scores
	for _, row := range g.Rows {
		tasks := f.routes[row.Task]
		if len(tasks) == 0 && !slices.Contains(f.Ignore, row.Task) {
			return fmt.Errorf("score: example %s is of task %q, which this evaluation does not score", row.ExampleID, row.Task)
		}
		for _, task := range tasks {
			if task == row.Task && len(g.Rows) > 1 {
				own = append(own, row)
				continue
			}
			if err := f.add(ctx, task, part, row, emit); err != nil {
				return err
			}
		}
	}
	switch len(own) {
	case 0:
		return nil
	case 1:
		return f.add(ctx, own[0].Task, part, own[0], emit)
	}
	return f.addGroup(ctx, part, own, emit)
}

// add buffers row for task.
func (f *ScoreFn) add(ctx context.Context, task, part string, row shards.Row, emit func(Prediction)) error {
	b := f.buf[task]
	if b == nil {
		b = &pending{}
		f.buf[task] = b
	}
	if task != row.Task {
		// A masked LM's predictions of another task's shard: the
		// source task names the file, as shard names repeat across tasks.
		part = row.Task + "/" + part
	}
	b.parts = append(b.parts, part)
	b.exs = append(b.exs, scoring.Example(row))
	if len(b.exs) >= f.FlushRows {
		return f.flush(ctx, task, emit)
	}
	return nil
}

// addGroup buffers the rows of a group's tasks, keyed by their names.
func (f *ScoreFn) addGroup(ctx context.Context, part string, rows []shards.Row, emit func(Prediction)) error {
	names := make([]string, len(rows))
	for i, r := range rows {
		names[i] = r.Task
	}
	key := strings.Join(names, "+")
	b := f.groups[key]
	if b == nil {
		b = &pendingGroup{tasks: make([]scoring.Task, len(rows)), exs: make([][]scoring.Example, len(rows))}
		for i, name := range names {
			b.tasks[i] = f.specs[name]
		}
		f.groups[key] = b
	}
	b.parts = append(b.parts, part)
	for i, r := range rows {
		b.exs[i] = append(b.exs[i], scoring.Example(r))
	}
	if len(b.parts) >= f.FlushRows {
		return f.flushGroup(ctx, key, emit)
	}
	return nil
}

// flushGroup scores a group's buffer.
func (f *ScoreFn) flushGroup(ctx context.Context, key string, emit func(Prediction)) error {
	b := f.groups[key]
	if b == nil || len(b.parts) == 0 {
		return nil
	}
	var toks int64
	err := scoreGroupRows(f.m, f.Name, b, f.BatchSize, func(p Prediction) {
		toks += p.Tokens
		emit(p)
	})
	examplesScored.Inc(ctx, int64(len(b.parts)*len(b.tasks)))
	tokensScored.Inc(ctx, toks)
	b.parts = b.parts[:0]
	for i := range b.exs {
		b.exs[i] = b.exs[i][:0]
	}
	if f.FlushDelay > 0 {
		time.Sleep(f.FlushDelay)
	}
	return err
}

// FinishBundle scores whatever is still buffered.
func (f *ScoreFn) FinishBundle(ctx context.Context, emit func(Prediction)) error {
	tasks := make([]string, 0, len(f.buf))
	for t, b := range f.buf {
		if len(b.exs) > 0 {
			tasks = append(tasks, t)
		}
	}
	var groups []string
	for k, b := range f.groups {
		if len(b.parts) > 0 {
			groups = append(groups, k)
		}
	}
	if len(tasks)+len(groups) > 0 {
		bundlesScored.Inc(ctx, 1)
	}
	sort.Strings(tasks)
	for _, t := range tasks {
		if err := f.flush(ctx, t, emit); err != nil {
			return err
		}
	}
	sort.Strings(groups)
	for _, k := range groups {
		if err := f.flushGroup(ctx, k, emit); err != nil {
			return err
		}
	}
	return nil
}

func (f *ScoreFn) flush(ctx context.Context, task string, emit func(Prediction)) error {
	rows := f.buf[task]
	if rows == nil || len(rows.exs) == 0 {
		return nil
	}
	var toks int64
	count := func(p Prediction) {
		toks += p.Tokens
		emit(p)
	}
	var err error
	if mk := f.maskers[task]; mk != nil {
		err = scoreMasked(f.m, mk, f.specs[task], f.Name, rows, f.BatchSize, count)
	} else {
		err = scoreRows(f.m, f.specs[task], f.Name, rows, f.BatchSize, count)
	}
	examplesScored.Inc(ctx, int64(len(rows.exs)))
	tokensScored.Inc(ctx, toks)
	rows.parts, rows.exs = rows.parts[:0], rows.exs[:0]
	if f.FlushDelay > 0 {
		time.Sleep(f.FlushDelay)
	}
	return err
}

// KeyByPart keys a prediction by model, task and shard file, the unit of one
// predictions file.
func KeyByPart(p Prediction) (string, Prediction) { return p.Key() + "/" + p.Part, p }

// KeyByTask keys a prediction by model and task, the unit of the metrics.
func KeyByTask(p Prediction) (string, Prediction) { return p.Key(), p }

// MetricsFn combines predictions into one scoring.Acc per key.
type MetricsFn struct {
	Tasks []scoring.Task
}

// CreateAccumulator returns an empty accumulator; it learns its task from
// the first prediction added (a CombineFn does not see its key).
func (f *MetricsFn) CreateAccumulator() scoring.Acc { return scoring.Acc{} }

// AddInput counts one prediction.
func (f *MetricsFn) AddInput(a scoring.Acc, p Prediction) (scoring.Acc, error) {
	if a.Kind == "" {
		i := slices.IndexFunc(f.Tasks, func(t scoring.Task) bool { return t.Name == p.Task })
		if i < 0 {
			return a, fmt.Errorf("score: no task spec for %q", p.Task)
		}
		var err error
		if a, err = scoring.NewAcc(f.Tasks[i]); err != nil {
			return a, err
		}
	}
	err := a.Add(p.Prediction)
	return a, err
}

// MergeAccumulators adds b's counts into a.
func (f *MetricsFn) MergeAccumulators(a, b scoring.Acc) (scoring.Acc, error) {
	err := a.Merge(b)
	return a, err
}

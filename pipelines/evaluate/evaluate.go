// Package evaluate builds and runs the evaluation pipeline: it scores every
// task head of a checkpoint (and optionally a second checkpoint, --compare)
// over one split of the preprocessed shards and writes report.json,
// report.md, charts and per-example predictions.
//
// The driver checks the checkpoint against the shards' manifest before any
// scoring (vocabulary sha256, label lists, task kinds), then runs a Beam
// pipeline built from transforms/score:
//
//	shard refs → ReadShardFn → ScoreFn (per checkpoint; batches per task,
//	length-sorted, model loaded once in Setup) → predictions
//	windows of long token sentences ("<id>#w<k>") → GroupByKey → StitchFn,
//	so entities crossing a window boundary are scored as in the source
//	predictions → key by (model, task, shard) → GroupByKey → WritePredictionsFn
//	predictions → key by (model, task) → CombinePerKey(MetricsFn) → WriteMetricsFn
//
// and finally assembles the report from the per-task metric files the
// pipeline wrote, so the same code works on prism, Dataflow or Flink.
//
// A masked_lm head is scored over every row of the split: its own shards,
// or for a masked LM over other tasks' text (tasks.json's source) those
// tasks' shards, read once for both. Each row is masked as the trainer's
// dev evaluation masks it (masking.ExampleRNG of the row's task and id, the
// head's whole_word), one forward pass per batch scores the masked pieces
// only, and per-row masked/correct/NLL combine into masked_accuracy,
// perplexity and masked_tokens.
package evaluate

import (
	"cmp"
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"time"

	"github.com/apache/beam/sdks/v2/go/pkg/beam"

	"github.com/taskweave/taskweave/internal/beamerr"
	"github.com/taskweave/taskweave/io/storage"
	"github.com/taskweave/taskweave/model"
	"github.com/taskweave/taskweave/model/scoring"
	"github.com/taskweave/taskweave/pipelines/launch"
	"github.com/taskweave/taskweave/transforms/score"
)

// Options configures one evaluation.
type Options struct {
	Model     string   // checkpoint directory (local or gs://)
	Compare   string   // optional second checkpoint, scored on the same shards
	Data      string   // shards directory (or its manifest.json)
	Split     string   // split to score, e.g. "test"
	Out       string   // report directory
	Tasks     []string // tasks to score; empty = every task of the split
	BatchSize int      // examples per model batch, at least 1
	Precision string   // the products' number format, fp32 (also "") or bf16 (model.Precision)
	DryRun    bool     // print what would run; write and delete nothing (Beam's --dry_run sets it too)
	Log       io.Writer
}

// Run evaluates and returns the report it wrote to o.Out. The pipeline runs
// on the runner chosen by Beam's --runner flag (prism by default). In a dry
// run it returns the report's header (Report.DryRun set) and writes nothing.
func Run(ctx context.Context, o Options) (*Report, error) {
	return run(ctx, o, func(ctx context.Context, p *beam.Pipeline) error {
		_, err := launch.Execute(ctx, launch.Runner(), p, false, "", nil)
		return err
	})
}

// resolve makes o's paths absolute (gs:// kept): the form in which they
// reach the workers and the report.
func (o *Options) resolve() error {
	for _, p := range []*string{&o.Model, &o.Compare, &o.Data, &o.Out} {
		var err error
		if *p, err = storage.Abs(*p); err != nil {
			return err
		}
	}
	return nil
}

func (o *Options) paths() []launch.Path {
	return []launch.Path{{Setting: "--model", Value: o.Model}, {Setting: "--compare", Value: o.Compare},
		{Setting: "--data", Value: o.Data}, {Setting: "--out", Value: o.Out}}
}

// launchID names one launch's private metrics directory, so figures an
// earlier run left behind are never read as this run's and need not be
// deleted before this run has succeeded.
func launchID() string {
	var b [6]byte
	_, _ = rand.Read(b[:])
	return time.Now().UTC().Format("20060102T150405Z") + "-" + hex.EncodeToString(b[:])
}

func run(ctx context.Context, o Options, execute func(context.Context, *beam.Pipeline) error) (*Report, error) {
	if o.Model == "" || o.Data == "" || o.Out == "" || o.Split == "" {
		return nil, errors.New("evaluate: --model, --data, --split and --out are required")
	}
	if o.BatchSize <= 0 {
		// No default here: the job spec's evaluate.batch_size (or --batch) decides.
		return nil, fmt.Errorf("evaluate: batch size %d; use at least 1 (evaluate.batch_size in the job spec, or --batch)", o.BatchSize)
	}
	if err := o.resolve(); err != nil {
		return nil, err
	}
	runner := launch.Runner()
	if err := launch.Check(runner, o.paths()); err != nil {
		return nil, err
	}
	logw := o.Log
	if logw == nil {
		logw = io.Discard
	}
	if err := model.CheckPrecision(model.Precision(cmp.Or(o.Precision, string(model.FP32)))); err != nil {
		return nil, fmt.Errorf("evaluate: %w", err)
	}
	plan, err := prepare(ctx, o)
	if err != nil {
		return nil, err
	}
	for _, u := range plan.report.Unscored {
		fmt.Fprintf(logw, "evaluate: task %s not scored for %s: %s\n", u.Task, u.Model, u.Reason)
	}
	// Each launch writes its figures under a directory of its own; they are
	// folded into report.json and removed once the run has succeeded.
	pending := storage.Join(o.Out, "_pending", launchID())
	for i := range plan.models {
		plan.models[i].Precision = o.Precision
	}
	p, s := beam.NewPipelineWithRoot()
	build(s, plan.refs, plan.specs, plan.models, o.Out, pending, o.BatchSize)
	if o.DryRun || launch.DryRun() {
		if _, err := launch.Execute(ctx, runner, p, true, plan.describe(&o), logw); err != nil {
			return nil, fmt.Errorf("evaluate: %w", err)
		}
		plan.report.DryRun = true
		return plan.report, nil
	}
	fmt.Fprintf(logw, "evaluate: scoring %d shard files of %d tasks with %d checkpoint(s)\n", len(plan.refs), len(plan.specs), len(plan.models))
	start := time.Now()
	if err := execute(ctx, p); err != nil {
		return nil, beamerr.Clean("evaluate", err)
	}
	elapsed := time.Since(start)

	rep := plan.report
	for _, t := range plan.specs {
		tr, err := plan.taskReport(ctx, &o, t, pending, runner)
		if err != nil {
			return nil, err
		}
		for _, tm := range tr.Results {
			rep.Throughput.Tokens += tm.Tokens
			rep.Throughput.Examples += tm.Examples
		}
		rep.Tasks = append(rep.Tasks, tr)
	}
	if err := finishReport(ctx, o.Out, rep, pending, elapsed, logw); err != nil {
		return nil, err
	}
	return rep, nil
}

// finishReport adds the workers and the throughput to rep, writes it, and
// removes the per-launch files it was assembled from.
func finishReport(ctx context.Context, out string, rep *Report, pending string, elapsed time.Duration, logw io.Writer) error {
	var err error
	if rep.Workers, err = readWorkers(ctx, pending); err != nil {
		return fmt.Errorf("evaluate: %w", err)
	}
	rep.Throughput.Seconds = elapsed.Seconds()
	if elapsed > 0 {
		rep.Throughput.TokensPerSecond = float64(rep.Throughput.Tokens) / elapsed.Seconds()
	}
	if err := writeReport(ctx, out, rep); err != nil {
		return err
	}
	fmt.Fprintf(logw, "evaluate: wrote %s\n", storage.Join(out, "report.json"))
	// The figures are in report.json now; this launch's and any earlier
	// launch's leftovers (and the pre-_pending _metrics layout) can go.
	if err := removeLeftovers(ctx, out); err != nil {
		fmt.Fprintf(logw, "evaluate: warning: %v\n", err)
	}
	return nil
}

// taskReport reads one task's figures, per checkpoint, from the files the
// pipeline wrote under pending, and checks the model's count against the
// manifest's.
func (pl *plan) taskReport(ctx context.Context, o *Options, t scoring.Task, pending, runner string) (TaskReport, error) {
	tr := TaskReport{Task: t.Name, Kind: t.Kind, TagScheme: t.TagScheme, Source: t.Source, Results: map[string]score.TaskMetrics{}}
	for _, rt := range rowTasks(t) {
		sp := pl.manifest.Tasks[rt].Splits[o.Split]
		tr.ManifestExamples += sp.Examples
		tr.RejectedUpstream += sp.Rejected
		if rt == t.Name {
			tr.LooseIOB2 = sp.LooseIOB2
		}
	}
	for _, m := range pl.models {
		if !slices.Contains(m.Scored, t.Name) {
			continue
		}
		mp := score.MetricsPath(pending, m.Name, t.Name)
		b, err := storage.ReadFile(ctx, mp)
		if errors.Is(err, fs.ErrNotExist) {
			if tr.ManifestExamples > 0 {
				return tr, fmt.Errorf("evaluate: the pipeline succeeded on %s but the figures of task %s (%s) are not at %s, where its workers write them: "+
					"the workers and this launcher do not see the same --out %s (on a cluster, use a location both reach, e.g. gs://)",
					runner, t.Name, m.Name, mp, o.Out)
			}
			// No example reached the combiner: an empty split.
			tr.Results[m.Name] = score.TaskMetrics{Model: m.Name, Result: scoring.Result{Task: t.Name, Kind: t.Kind, Primary: t.PrimaryMetric()}}
			continue
		}
		if err != nil {
			return tr, err
		}
		var tm score.TaskMetrics
		if err := json.Unmarshal(b, &tm); err != nil {
			return tr, fmt.Errorf("evaluate: %s: %w", mp, err)
		}
		tr.Results[m.Name] = tm
	}
	if tr.ManifestExamples > 0 && tr.Results["model"].Examples != tr.ManifestExamples {
		return tr, fmt.Errorf("evaluate: task %s: the manifest counts %d %s examples but %d were scored; the shards and manifest.json disagree, re-run preprocess",
			t.Name, tr.ManifestExamples, o.Split, tr.Results["model"].Examples)
	}
	if _, ok := tr.Results["compare"]; ok {
		tr.Deltas = deltas(tr.Results["model"], tr.Results["compare"])
	}
	return tr, nil
}

func removeLeftovers(ctx context.Context, out string) error {
	var errs []error
	for _, glob := range []string{storage.Join(out, "_pending", "*", "_metrics", "*", "*.json"), storage.Join(out, "_metrics", "*", "*.json"), workersPath(storage.Join(out, "_pending", "*"))} {
		files, err := storage.List(ctx, glob)
		if err != nil {
			errs = append(errs, err)
		}
		for _, f := range files {
			if err := storage.Remove(ctx, f); err != nil && !errors.Is(err, fs.ErrNotExist) {
				errs = append(errs, err)
			}
		}
	}
	if !storage.IsRemote(out) {
		// Removing the files leaves their directories; an object store has
		// none. Only empty ones go, so a concurrent launch keeps its own.
		errs = append(errs, removeEmptyDirs(filepath.Join(out, "_pending")), removeEmptyDirs(filepath.Join(out, "_metrics")))
	}
	return errors.Join(errs...)
}

// removeEmptyDirs removes root and the directories below it that are empty
// once their empty children are gone, deepest first.
func removeEmptyDirs(root string) error {
	var dirs []string
	err := filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
		if err == nil && d.IsDir() {
			dirs = append(dirs, p)
		}
		return err
	})
	if errors.Is(err, fs.ErrNotExist) {
		return nil
	}
	for i := len(dirs) - 1; i >= 0; i-- {
		if e := os.Remove(dirs[i]); e != nil && !errors.Is(e, fs.ErrNotExist) && !errors.Is(e, syscall.ENOTEMPTY) && !errors.Is(e, syscall.EEXIST) {
			err = errors.Join(err, e)
		}
	}
	return err
}

// describe says what a run of the plan would do, for --dry_run.
func (pl *plan) describe(o *Options) string {
	var b strings.Builder
	fmt.Fprintf(&b, "the evaluate pipeline: split %s of %s, %d shard file(s) of %d task(s), checkpoint(s):", o.Split, pl.manifest.path, len(pl.refs), len(pl.specs))
	for _, m := range pl.models {
		fmt.Fprintf(&b, " %s=%s", m.Name, m.Path)
	}
	fmt.Fprintf(&b, " → %s\n", o.Out)
	return b.String()
}

// Build adds the evaluation transforms to s. refs are the shard files to
// read, specs the tasks to score, models the checkpoints (named "model" and
// optionally "compare"); each checkpoint scores the tasks in its Scored list.
func Build(s beam.Scope, refs []score.ShardRef, specs []scoring.Task, models []ModelInfo, out string, batch int) {
	build(s, refs, specs, models, out, out, batch)
}

// build is Build with the per-task figures written under metrics instead of out.
func build(s beam.Scope, refs []score.ShardRef, specs []scoring.Task, models []ModelInfo, out, metricsOut string, batch int) {
	s = s.Scope("evaluate")
	// Both reshuffles spread the work: the first hands row ranges to many
	// readers, the second breaks the fusion of reading and scoring, so rows
	// from one range are scored by many workers (Create and a ParDo chain
	// would otherwise run as one bundle on one thread).
	ranges := beam.Reshuffle(s, beam.CreateList(s, refs))
	rows := beam.Reshuffle(s.Scope("spread"), beam.ParDo(s.Scope("read"), &score.ReadShardFn{}, ranges))
	var preds []beam.PCollection
	for _, m := range models {
		var mine []scoring.Task
		var ignore []string // the rows of tasks this checkpoint scores nothing of
		for _, t := range specs {
			if slices.Contains(m.Scored, t.Name) {
				mine = append(mine, t)
			} else {
				ignore = append(ignore, rowTasks(t)...)
			}
		}
		preds = append(preds, beam.ParDo(s.Scope("score_"+m.Name),
			&score.ScoreFn{Name: m.Name, Model: m.Path, Fingerprint: m.Fingerprint, BatchSize: batch, Tasks: mine, Ignore: ignore,
				FlushDelay: scoreFlushDelay, Precision: m.Precision}, rows))
	}
	scored := preds[0]
	if len(preds) > 1 {
		scored = beam.Flatten(s, preds...)
	}
	whole, windowed := beam.ParDo2(s, score.SplitWindowsFn, scored)
	stitched := beam.ParDo(s.Scope("stitch_windows"), score.StitchFn, beam.GroupByKey(s, windowed))
	all := beam.Flatten(s, whole, stitched)
	byPart := beam.GroupByKey(s, beam.ParDo(s, score.KeyByPart, all))
	beam.ParDo0(s.Scope("write_predictions"), &score.WritePredictionsFn{Out: out, Tasks: specs}, byPart)
	metrics := beam.CombinePerKey(s.Scope("metrics"), &score.MetricsFn{Tasks: specs}, beam.ParDo(s, score.KeyByTask, all))
	beam.ParDo0(s.Scope("write_metrics"), &score.WriteMetricsFn{Out: metricsOut}, metrics)
	buildWorkers(s, scored, metricsOut)
}

// scoreFlushDelay is ScoreFn.FlushDelay; tests set it to make scoring
// stall the way a large model does.
var scoreFlushDelay time.Duration

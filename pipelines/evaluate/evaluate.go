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
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"maps"
	"path"
	"slices"
	"sort"
	"strings"
	"time"

	"github.com/apache/beam/sdks/v2/go/pkg/beam"

	"github.com/taskweave/taskweave/internal/beamerr"
	"github.com/taskweave/taskweave/io/shards"
	"github.com/taskweave/taskweave/io/storage"
	"github.com/taskweave/taskweave/model"
	"github.com/taskweave/taskweave/model/checkpoint"
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
		tr := TaskReport{Task: t.Name, Kind: t.Kind, TagScheme: t.TagScheme, Source: t.Source, Results: map[string]score.TaskMetrics{}}
		for _, rt := range rowTasks(t) {
			sp := plan.manifest.Tasks[rt].Splits[o.Split]
			tr.ManifestExamples += sp.Examples
			tr.RejectedUpstream += sp.Rejected
			if rt == t.Name {
				tr.LooseIOB2 = sp.LooseIOB2
			}
		}
		for _, m := range plan.models {
			if !slices.Contains(m.Scored, t.Name) {
				continue
			}
			mp := score.MetricsPath(pending, m.Name, t.Name)
			b, err := storage.ReadFile(ctx, mp)
			if errors.Is(err, fs.ErrNotExist) {
				if tr.ManifestExamples > 0 {
					return nil, fmt.Errorf("evaluate: the pipeline succeeded on %s but the figures of task %s (%s) are not at %s, where its workers write them: "+
						"the workers and this launcher do not see the same --out %s (on a cluster, use a location both reach, e.g. gs://)",
						runner, t.Name, m.Name, mp, o.Out)
				}
				// No example reached the combiner: an empty split.
				tr.Results[m.Name] = score.TaskMetrics{Model: m.Name, Result: scoring.Result{Task: t.Name, Kind: t.Kind, Primary: t.PrimaryMetric()}}
				continue
			}
			if err != nil {
				return nil, err
			}
			var tm score.TaskMetrics
			if err := json.Unmarshal(b, &tm); err != nil {
				return nil, fmt.Errorf("evaluate: %s: %w", mp, err)
			}
			tr.Results[m.Name] = tm
			rep.Throughput.Tokens += tm.Tokens
			rep.Throughput.Examples += tm.Examples
		}
		if tr.ManifestExamples > 0 && tr.Results["model"].Examples != tr.ManifestExamples {
			return nil, fmt.Errorf("evaluate: task %s: the manifest counts %d %s examples but %d were scored; the shards and manifest.json disagree, re-run preprocess",
				t.Name, tr.ManifestExamples, o.Split, tr.Results["model"].Examples)
		}
		if _, ok := tr.Results["compare"]; ok {
			tr.Deltas = deltas(tr.Results["model"], tr.Results["compare"])
		}
		rep.Tasks = append(rep.Tasks, tr)
	}
	if rep.Workers, err = readWorkers(ctx, pending); err != nil {
		return nil, fmt.Errorf("evaluate: %w", err)
	}
	rep.Throughput.Seconds = elapsed.Seconds()
	if elapsed > 0 {
		rep.Throughput.TokensPerSecond = float64(rep.Throughput.Tokens) / elapsed.Seconds()
	}
	if err := writeReport(ctx, o.Out, rep); err != nil {
		return nil, err
	}
	fmt.Fprintf(logw, "evaluate: wrote %s\n", storage.Join(o.Out, "report.json"))
	// The figures are in report.json now; this launch's and any earlier
	// launch's leftovers (and the pre-_pending _metrics layout) can go.
	if err := removeLeftovers(ctx, o.Out); err != nil {
		fmt.Fprintf(logw, "evaluate: warning: %v\n", err)
	}
	return rep, nil
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
	return errors.Join(errs...)
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
				FlushDelay: scoreFlushDelay}, rows))
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

// rowTasks names the tasks whose rows t scores: its own, or for a masked
// LM over other tasks' text, theirs.
func rowTasks(t scoring.Task) []string {
	if t.Kind == model.MaskedLM && len(t.Source) > 0 {
		return t.Source
	}
	return []string{t.Name}
}

// plan is what the driver decided before running the pipeline.
type plan struct {
	manifest *manifestFile
	refs     []score.ShardRef
	specs    []scoring.Task
	models   []ModelInfo
	report   *Report
}

// prepare reads the manifest and the checkpoint(s) and refuses mismatches
// before anything is scored.
func prepare(ctx context.Context, o Options) (*plan, error) {
	man, err := readManifest(ctx, o.Data)
	if err != nil {
		return nil, err
	}
	pl := &plan{manifest: man}
	rep := &Report{FormatVersion: 1, Created: time.Now().UTC().Format(time.RFC3339), Split: o.Split,
		Data: DataInfo{Path: o.Data, Manifest: man.path, ManifestSHA256: man.sha256, Fingerprint: man.Fingerprint,
			VocabSHA256: man.Tokenizer.VocabSHA256}}
	pl.report = rep

	paths := []struct{ name, path string }{{"model", o.Model}}
	if o.Compare != "" {
		paths = append(paths, struct{ name, path string }{"compare", o.Compare})
	}
	headOf := make([]map[string]checkpoint.TaskInfo, len(paths))
	for i, mp := range paths {
		info, meta, err := inspectCheckpoint(ctx, mp.name, mp.path)
		if err != nil {
			return nil, err
		}
		if stripSHA(info.VocabSHA256) != stripSHA(man.Tokenizer.VocabSHA256) {
			return nil, fmt.Errorf("evaluate: checkpoint %s has vocabulary sha256:%s but the shards in %s were tokenized with vocab_sha256 sha256:%s; evaluate a checkpoint trained on these shards, or re-run preprocess with the checkpoint's vocab.txt",
				mp.path, stripSHA(info.VocabSHA256), man.path, stripSHA(man.Tokenizer.VocabSHA256))
		}
		if meta.Lowercase != man.Tokenizer.Lowercase {
			return nil, fmt.Errorf("evaluate: checkpoint %s lowercases text (%v) but the shards in %s were tokenized with lowercase=%v; re-run preprocess with the checkpoint's casing",
				mp.path, meta.Lowercase, man.path, man.Tokenizer.Lowercase)
		}
		headOf[i] = map[string]checkpoint.TaskInfo{}
		for _, t := range meta.Tasks {
			headOf[i][t.Name] = t
		}
		pl.models = append(pl.models, info)
	}
	rep.Models = pl.models

	// Tasks of the split, or the ones asked for. A masked LM over other
	// tasks' text (source) is the evaluated checkpoint's, not the
	// manifest's: it is a task of the split when one of its sources is.
	var names []string
	for name, t := range man.Tasks {
		if _, ok := t.Splits[o.Split]; ok {
			names = append(names, name)
		}
	}
	sourced := map[string][]string{} // masked LM → its source tasks with the split
	textless := map[string]string{}  // masked LMs whose text is not in these shards, and why
	for name, h := range headOf[0] {
		if h.Type != string(model.MaskedLM) {
			continue
		}
		if _, ok := man.Tasks[name]; ok {
			continue // its own shards
		}
		if len(h.Source) == 0 {
			textless[name] = fmt.Sprintf("a masked_lm head without shards of its own in %s, and the checkpoint's tasks.json (written before it recorded source) does not say whose text it was trained on; retrain it to score it", man.path)
			continue
		}
		var missing []string
		for _, src := range h.Source {
			mt, ok := man.Tasks[src]
			if !ok {
				missing = append(missing, src)
			} else if _, ok := mt.Splits[o.Split]; ok {
				sourced[name] = append(sourced[name], src)
			}
		}
		if len(missing) > 0 {
			delete(sourced, name)
			textless[name] = fmt.Sprintf("a masked_lm head trained on the text of %s, which %s does not have; evaluate it on the shards it was trained on", strings.Join(missing, ", "), man.path)
			continue
		}
		if len(sourced[name]) > 0 {
			names = append(names, name)
		}
	}
	sort.Strings(names)
	if len(names) == 0 {
		return nil, fmt.Errorf("evaluate: %s has no task with a %q split; pick a split it has (--split)", man.path, o.Split)
	}
	if len(o.Tasks) > 0 {
		for _, t := range o.Tasks {
			if !slices.Contains(names, t) {
				return nil, fmt.Errorf("evaluate: --tasks names %q but %s has no %s split for it (tasks with that split: %s)",
					t, man.path, o.Split, strings.Join(names, ", "))
			}
		}
		names = slices.Clone(o.Tasks)
		sort.Strings(names)
	}
	if len(o.Tasks) == 0 {
		for _, name := range slices.Sorted(maps.Keys(textless)) {
			rep.Unscored = append(rep.Unscored, Unscored{Task: name, Model: "model", Reason: textless[name]})
		}
	}

	read := map[string]bool{} // tasks whose shards the pipeline reads
	for _, name := range names {
		mt, own := man.Tasks[name]
		kind := model.HeadKind(mt.Type)
		if !own {
			kind = model.MaskedLM
		}
		var by []string // checkpoints that score this task
		for i, mp := range paths {
			h, ok := headOf[i][name]
			if !ok {
				rep.Unscored = append(rep.Unscored, Unscored{Task: name, Model: mp.name,
					Reason: fmt.Sprintf("checkpoint %s has no head for task %q (its heads: %s)", mp.path, name, headNames(headOf[i]))})
				if i == 0 {
					break // the evaluated checkpoint decides what is scored
				}
				continue
			}
			if h.Type != string(kind) {
				return nil, fmt.Errorf("evaluate: task %s is %s in %s but checkpoint %s has a %s head for it; evaluate on shards made for this checkpoint",
					name, kind, man.path, mp.path, h.Type)
			}
			if kind != model.SequenceRegression && kind != model.MaskedLM && !slices.Equal(h.Labels, mt.Labels) {
				return nil, fmt.Errorf("evaluate: task %s: checkpoint %s has labels %s [%s] but %s lists labels %s [%s]; the label ids would not mean the same classes — re-run preprocess with the checkpoint's label list or evaluate the matching checkpoint",
					name, mp.path, labelsFingerprint(h.Labels), strings.Join(h.Labels, " "), man.path, labelsFingerprint(mt.Labels), strings.Join(mt.Labels, " "))
			}
			by = append(by, mp.name)
		}
		if len(by) == 0 || by[0] != "model" {
			continue
		}
		for i := range pl.models {
			if slices.Contains(by, pl.models[i].Name) {
				pl.models[i].Scored = append(pl.models[i].Scored, name)
			}
		}
		spec := scoring.Task{Name: name, Kind: kind, Labels: mt.Labels, TagScheme: mt.TagScheme}
		if kind != model.TokenClassification {
			spec.TagScheme = ""
		}
		rows := []string{name}
		if kind == model.MaskedLM {
			// Both checkpoints are scored on the pieces the evaluated one's
			// dev evaluation masked: its whole-word flag and sources decide.
			spec.Labels, spec.WholeWord, spec.Source = nil, headOf[0][name].WholeWord, sourced[name]
			if len(spec.Source) > 0 {
				rows = spec.Source
			}
		}
		pl.specs = append(pl.specs, spec)
		for _, r := range rows {
			read[r] = true
		}
	}
	for _, name := range slices.Sorted(maps.Keys(read)) {
		files, err := man.ShardPaths(man.path, name, o.Split)
		if err != nil {
			return nil, fmt.Errorf("evaluate: %w", err)
		}
		for _, f := range files {
			refs, err := rowRanges(ctx, score.ShardRef{Task: name, Path: f, Part: path.Base(f)}, rangeRows)
			if err != nil {
				return nil, err // names the shard and the fix
			}
			pl.refs = append(pl.refs, refs...)
		}
	}
	if len(pl.specs) == 0 {
		return nil, fmt.Errorf("evaluate: nothing to score: the checkpoint has no head for any task of the %s split (%s)", o.Split, strings.Join(names, ", "))
	}
	return pl, nil
}

func headNames(m map[string]checkpoint.TaskInfo) string {
	var n []string
	for k := range m {
		n = append(n, k)
	}
	sort.Strings(n)
	if len(n) == 0 {
		return "none"
	}
	return strings.Join(n, ", ")
}

// labelsFingerprint names a label list compactly in error messages.
func labelsFingerprint(labels []string) string {
	sum := sha256.Sum256([]byte(strings.Join(labels, "\n")))
	return "sha256:" + hex.EncodeToString(sum[:])[:16]
}

// inspectCheckpoint loads a checkpoint's metadata (and weights, which also
// validates them) and fingerprints its files.
func inspectCheckpoint(ctx context.Context, name, dir string) (ModelInfo, checkpoint.Meta, error) {
	_, meta, err := checkpoint.Load(storage.Dir(ctx, dir))
	if err != nil {
		return ModelInfo{}, meta, fmt.Errorf("evaluate: loading checkpoint %s: %w", dir, err)
	}
	info := ModelInfo{Name: name, Path: dir, Files: map[string]string{}}
	whole := sha256.New()
	for _, f := range []string{"config.json", "model.safetensors", "vocab.txt", "tasks.json"} {
		r, err := storage.Open(ctx, storage.Join(dir, f))
		if errors.Is(err, fs.ErrNotExist) {
			continue // an imported Hugging Face checkpoint has no tasks.json
		}
		if err != nil {
			return info, meta, err
		}
		h := sha256.New()
		_, err = io.Copy(h, r)
		r.Close()
		if err != nil {
			return info, meta, fmt.Errorf("evaluate: reading %s: %w", storage.Join(dir, f), err)
		}
		sum := hex.EncodeToString(h.Sum(nil))
		info.Files[f] = "sha256:" + sum
		fmt.Fprintf(whole, "%s %s\n", f, sum)
		if f == "vocab.txt" {
			info.VocabSHA256 = sum
		}
	}
	info.Fingerprint = "sha256:" + hex.EncodeToString(whole.Sum(nil))
	for _, t := range meta.Tasks {
		if !t.Auxiliary {
			info.Tasks = append(info.Tasks, t.Name)
		}
	}
	return info, meta, nil
}

// rangeRows is how many shard rows one read range holds: small enough that
// a shard is read by several workers, large enough that opening the file
// (a footer read, ranged on gs://) stays a small part of reading it.
var rangeRows int64 = 4096

// rowRanges splits one shard into read ranges of at most n rows.
func rowRanges(ctx context.Context, ref score.ShardRef, n int64) ([]score.ShardRef, error) {
	r, err := shards.Open(ctx, ref.Path)
	if err != nil {
		return nil, err
	}
	rows := r.NumRows()
	r.Close()
	var out []score.ShardRef
	for start := int64(0); start < rows; start += n {
		part := ref
		part.Start, part.End = start, min(start+n, rows)
		out = append(out, part)
	}
	return out, nil
}

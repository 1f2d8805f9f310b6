package trainer

import (
	"bufio"
	"cmp"
	"context"
	"fmt"
	"math"
	"reflect"
	"slices"
	"strings"

	"github.com/taskweave/taskweave/io/manifest"
	"github.com/taskweave/taskweave/io/storage"
	"github.com/taskweave/taskweave/model"
	"github.com/taskweave/taskweave/model/checkpoint"
	"github.com/taskweave/taskweave/model/masking"
	"github.com/taskweave/taskweave/model/multitask"
	"github.com/taskweave/taskweave/text/wordpiece"
)

// taskData is one task as the trainer sees it.
type taskData struct {
	name      string
	kind      model.HeadKind
	scheme    string
	labels    []string
	numLabels int
	layer     int
	sharing   model.TaskSharing
	auxiliary bool
	weight    float64
	rate      float64
	train     []string
	eval      []string
	trainN    int64
	// masked LM: the tasks whose shards it reads (nil: its own), and the
	// masker that corrupts its batches.
	sources []string
	masker  *masking.Masker
	// a group (groups.go): the task whose rows this one labels too, or
	// the tasks labelling this one's rows and their indexes in the run.
	leader    *taskData
	members   []*taskData
	memberIdx []int
}

// setup builds everything the loop needs, one named step each. The order
// matters: the tasks decide the heads, the model (new or resumed) bounds
// the batches, the first phase builds the sampler, strategy and stepper,
// and a resumed state overwrites what the steps before it initialised.
func (tr *Trainer) setup(ctx context.Context) error {
	man, manPath, err := readManifest(ctx, tr.cfg.Data)
	if err != nil {
		return err
	}
	if err := tr.setupTasks(ctx, man, manPath); err != nil {
		return err
	}
	if err := tr.setupModel(ctx, man); err != nil {
		return err
	}
	if err := tr.setupBatching(man); err != nil {
		return err
	}
	if err := tr.setupOptimization(); err != nil {
		return err
	}
	tr.openStreams(ctx)
	return tr.startOrResume(ctx)
}

// setupTasks joins the job's tasks with the manifest and checks their
// shards against it.
func (tr *Trainer) setupTasks(ctx context.Context, man *manifest.Manifest, manPath string) error {
	var err error
	if tr.tasks, err = resolveTasks(&tr.cfg, man, manPath); err != nil {
		return err
	}
	return checkShards(ctx, man, manPath, tr.tasks)
}

// setupModel reads the vocabulary, declares the heads, and builds the
// model or reloads it from last/ (--resume), set for training.
func (tr *Trainer) setupModel(ctx context.Context, man *manifest.Manifest) error {
	cfg := &tr.cfg
	vocab, err := readVocab(ctx, cfg.Vocab, man.Tokenizer.VocabSize)
	if err != nil {
		return err
	}
	heads, err := tr.setupHeads(vocab, man)
	if err != nil {
		return err
	}
	if tr.last, err = openLast(ctx, cfg.Out); err != nil {
		return err
	}
	if err := tr.loadOrBuildModel(ctx, tr.last.dir(), len(vocab), heads); err != nil {
		return err
	}
	return tr.setTrainingMode(vocab)
}

// setTrainingMode sets the model's precision, training mode and token
// dropout (which needs the vocabulary's [UNK] and the specials it spares).
func (tr *Trainer) setTrainingMode(vocab []string) error {
	cfg := &tr.cfg
	if err := tr.m.SetPrecision(cmp.Or(cfg.Precision, model.FP32)); err != nil {
		return fmt.Errorf("train.precision: %w", err)
	}
	tr.m.SetTraining(true)
	if cfg.TokenDropout > 0 {
		unk, keep, err := wordpiece.Specials(vocab)
		if err != nil {
			return fmt.Errorf("token dropout: %s: %w", cfg.Vocab, err)
		}
		tr.m.SetTokenDropout(cfg.TokenDropout, unk, keep...)
	}
	return nil
}

// setupBatching fixes how batches are formed, bounded by the model's
// positions and vocabulary, and checks train.batch_tokens against the
// shards' longest row.
func (tr *Trainer) setupBatching(man *manifest.Manifest) error {
	cfg := &tr.cfg
	mc := tr.m.Config()
	tr.bcfg = batchConfig{examples: cfg.BatchSize, tokens: cfg.BatchTokens, padTo: cfg.PadTo, pool: cfg.PoolBatches,
		shuffle: cfg.ShuffleBuffer, maxLen: mc.MaxPositionEmbeddings, vocab: mc.VocabSize}
	if err := CheckBatchTokens(cfg.BatchTokens, man.Tokenizer.MaxSeqLen); err != nil {
		return fmt.Errorf("%s: %w", storage.Join(cfg.Data, manifest.FileName), err)
	}
	return nil
}

// setupOptimization builds AdamW over the trainable weights (with ELECTRA,
// the generator's too) and enters the first phase, which builds its
// sampler, strategy, schedule and stepper.
func (tr *Trainer) setupOptimization() error {
	cfg := &tr.cfg
	tr.opt = model.NewAdamW(tr.trainable(), model.AdamWConfig{LR: cfg.LR, Beta1: 0.9, Beta2: 0.999, Eps: 1e-6, WeightDecay: cfg.WeightDecay,
		LazyRows: cfg.SparseEmbeddings})
	tr.phases = resolvePhases(cfg)
	return tr.enterPhase(0)
}

// openStreams opens each task's batch stream (and auto_lambda's held-out
// streams of the primary tasks) and starts each task's loss average empty.
func (tr *Trainer) openStreams(ctx context.Context) {
	cfg := &tr.cfg
	for _, t := range tr.tasks {
		tr.streams = append(tr.streams, newStream(ctx, t, tr.bcfg, cfg.Seed))
	}
	if cfg.Strategy.Name == multitask.NameAutoLambda {
		var primary []int
		for i, t := range tr.tasks {
			if slices.Contains(cfg.Strategy.Primary, t.name) {
				primary = append(primary, i)
			}
		}
		tr.setupHeldOut(ctx, primary)
	}
	tr.lossEMA = make([]float64, len(tr.tasks))
	for i := range tr.lossEMA {
		tr.lossEMA[i] = math.NaN()
	}
}

// startOrResume restores the trainer state of last/ (--resume), opens the
// metrics log (truncated to the resumed step) and logs the start.
func (tr *Trainer) startOrResume(ctx context.Context) error {
	cfg := &tr.cfg
	if cfg.Resume {
		if err := tr.loadState(ctx, tr.last.dir()); err != nil {
			return err
		}
	}
	var err error
	if tr.metrics, err = openMetricsLog(ctx, cfg.Out, cfg.Resume, tr.step); err != nil {
		return err
	}
	return tr.logStart()
}

// setupHeads declares a head per task and the checkpoint metadata that
// describes them (a masked LM's head reads the vocabulary).
func (tr *Trainer) setupHeads(vocab []string, man *manifest.Manifest) ([]model.HeadSpec, error) {
	cfg := &tr.cfg
	var err error
	tr.meta = checkpoint.Meta{Vocab: vocab, Lowercase: man.Tokenizer.Lowercase, MaxSeqLen: man.Tokenizer.MaxSeqLen,
		Extra: map[string]any{"strategy": cfg.Strategy.Name, "step_mode": cfg.StepMode, "mixture": cfg.Mixture.Name, "sharing": sharing(tr.tasks, cfg.Sharing)}}
	var heads []model.HeadSpec
	for i, t := range tr.tasks {
		if t.kind == model.MaskedLM {
			t.numLabels = len(vocab) // what the model resolves a masked_lm head to
			if t.masker, err = masking.New(vocab, cfg.Tasks[i].WholeWord); err != nil {
				return nil, fmt.Errorf("task %s: %s: %w", t.name, cfg.Vocab, err)
			}
		}
		heads = append(heads, model.HeadSpec{Task: t.name, Kind: t.kind, NumLabels: t.numLabels, Layer: t.layer, Sharing: t.sharing})
		// A masked LM's source tasks and whole-word flag let evaluate mask
		// its text as the dev evaluation does.
		tr.meta.Tasks = append(tr.meta.Tasks, checkpoint.TaskInfo{Name: t.name, Type: string(t.kind), Labels: t.labels,
			TagScheme: t.scheme, Layer: t.layer, Auxiliary: t.auxiliary, Source: t.sources,
			WholeWord: t.kind == model.MaskedLM && cfg.Tasks[i].WholeWord})
	}
	return heads, tr.electraHeads(heads)
}

// loadOrBuildModel reloads the model saved in statePath (--resume),
// checking it has the job's heads and sharing, or builds a new one (from
// model.init when set); with ELECTRA, the generator beside it.
func (tr *Trainer) loadOrBuildModel(ctx context.Context, statePath string, vocabSize int, heads []model.HeadSpec) error {
	cfg := &tr.cfg
	var err error
	if cfg.Resume {
		missing := fmt.Sprintf("%s holds no saved checkpoint (no %s)", statePath, checkpoint.ConfigFile)
		ok := false
		if statePath == "" { // gs:// without last.json: nothing was saved
			missing = fmt.Sprintf("%s does not exist, so no save finished", storage.Join(cfg.Out, lastPointer))
		} else if ok, err = storage.Exists(ctx, storage.Join(statePath, checkpoint.ConfigFile)); err != nil {
			return fmt.Errorf("--resume: %w", err)
		}
		if !ok {
			return fmt.Errorf("--resume: %s: nothing to resume in %s; run without --resume to start training, or point --out (the spec's train.output) at the run you mean to resume", missing, cfg.Out)
		}
		m, _, err := checkpoint.Load(storage.Dir(ctx, statePath))
		if err != nil {
			return fmt.Errorf("--resume: %w", err)
		}
		if err := sameHeads(m.Heads(), heads); err != nil {
			return fmt.Errorf("--resume from %s: %w", statePath, err)
		}
		if m.Sharing() != cfg.Sharing {
			return fmt.Errorf("--resume from %s: the checkpoint's model.sharing is %+v but the job's %+v; resume with the job that made it", statePath, m.Sharing(), cfg.Sharing)
		}
		tr.m = m
	} else {
		start := checkpoint.Start{Size: cfg.Size, Vocab: vocabSize, Dropout: cfg.Dropout, Seed: cfg.ModelSeed, Heads: heads, Sharing: cfg.Sharing}
		if cfg.Init != "" {
			start.Init, start.AllowVocabTruncation, start.Warn = storage.Dir(ctx, cfg.Init), cfg.AllowVocabTruncation, cfg.Log
		}
		if tr.m, err = checkpoint.NewModel(start); err != nil {
			return fmt.Errorf("model.init: %w", err)
		}
	}
	return tr.setupElectra()
}

// logStart logs what the run trains with and writes the metrics log's
// start event.
func (tr *Trainer) logStart() error {
	cfg := &tr.cfg
	names := make([]string, len(tr.tasks))
	for i, t := range tr.tasks {
		names[i] = t.name
	}
	mc := tr.m.Config()
	tr.logf("tasks: %s", strings.Join(names, ", "))
	tr.logf("sharing %s: %d of %d weights trainable", sharing(tr.tasks, cfg.Sharing), model.CountParams(tr.m.Trainable()), model.CountParams(tr.m.Params()))
	tr.logf("mixture %s: effective rates %s", cfg.Mixture.Name, tr.sampler.Describe())
	tr.logf("strategy %s, step mode %s, model %s (L%d/H%d/A%d, %s BLAS)", tr.strat.Name(), tr.stepMode,
		cmp.Or(cfg.Init, cfg.Size), mc.NumHiddenLayers, mc.HiddenSize, mc.NumAttentionHeads, model.Backend())
	tr.logf("precision %s", model.DescribePrecision(tr.m.Precision()))
	if a := model.BLASAdvice(); a != "" {
		tr.logf("%s", a)
	}
	ph := tr.phases[tr.phase]
	if len(tr.phases) > 1 {
		tr.logf("phase %s from step %d to %d: tasks %s", ph.Name, ph.start, ph.end, strings.Join(tr.activeNames(), ", "))
	}
	return tr.metrics.write(map[string]any{"event": "start", "step": tr.step, "tasks": names, "mixture": cfg.Mixture.Name,
		"rates": rateMap(tr.drawnNames(), tr.sampler.Rates()), "strategy": tr.strat.Name(), "step_mode": tr.stepMode, "resume": cfg.Resume,
		"phase": ph.Name})
}

// resolveTasks joins the job's tasks with the manifest, in the job's order.
func resolveTasks(cfg *Config, man *manifest.Manifest, manPath string) ([]*taskData, error) {
	var tasks []*taskData
	for _, o := range cfg.Tasks {
		if len(o.Source) > 0 {
			t, err := sourcedTask(cfg, o, man, manPath)
			if err != nil {
				return nil, err
			}
			tasks = append(tasks, t)
			continue
		}
		mt, ok := man.Tasks[o.Name]
		if !ok {
			return nil, fmt.Errorf("task %q is not in %s; preprocess it first", o.Name, manPath)
		}
		t := &taskData{name: o.Name, kind: model.HeadKind(mt.Type), scheme: mt.TagScheme, labels: mt.Labels,
			numLabels: len(mt.Labels), layer: o.Layer, auxiliary: o.Auxiliary, weight: o.Weight, rate: o.Rate, sharing: o.Sharing}
		if t.kind == model.SequenceRegression {
			t.numLabels = 1
		}
		split, ok := mt.Splits["train"]
		if !ok || len(split.Shards) == 0 {
			return nil, fmt.Errorf("task %q has no train shards in %s", o.Name, manPath)
		}
		var err error
		if t.train, err = man.ShardPaths(manPath, o.Name, "train"); err != nil {
			return nil, err
		}
		t.trainN = split.Examples
		if _, ok := mt.Splits[cfg.EvalSplit]; ok {
			if t.eval, err = man.ShardPaths(manPath, o.Name, cfg.EvalSplit); err != nil {
				return nil, err
			}
		}
		tasks = append(tasks, t)
	}
	return tasks, linkGroups(cfg, tasks)
}

// sourcedTask is a masked LM over other tasks' text: their train shards
// are its train data, their evaluation shards its evaluation data, as
// io/manifest resolves them for evaluate too.
func sourcedTask(cfg *Config, o TaskOptions, man *manifest.Manifest, manPath string) (*taskData, error) {
	t := &taskData{name: o.Name, kind: model.MaskedLM, layer: o.Layer, auxiliary: o.Auxiliary, weight: o.Weight, rate: o.Rate,
		sharing: o.Sharing, sources: o.Source}
	train, err := man.TextSources(manPath, o.Name, o.Source, "train")
	if err != nil {
		return nil, err
	}
	for _, src := range train {
		if len(src.Shards) == 0 {
			return nil, fmt.Errorf("task %q reads the text of task %q, which has no train shards in %s", o.Name, src.Task, manPath)
		}
		t.train = append(t.train, src.Shards...)
		t.trainN += src.Examples
	}
	eval, err := man.TextSources(manPath, o.Name, o.Source, cfg.EvalSplit)
	if err != nil {
		return nil, err
	}
	for _, src := range eval {
		t.eval = append(t.eval, src.Shards...)
	}
	return t, nil
}

// sharing names the run's sharing modes for the log and the checkpoint:
// "hard", "hierarchical" (a head reads a lower layer), or the soft modes in
// use joined by "+" (factorization/<basis>, layer_attention, adapters,
// moe, frozen).
func sharing(tasks []*taskData, sh model.Sharing) string {
	var modes []string
	add := func(m string) {
		if !slices.Contains(modes, m) {
			modes = append(modes, m)
		}
	}
	for _, t := range tasks {
		if t.layer != 0 {
			add("hierarchical")
		}
	}
	for _, t := range tasks {
		if t.sharing.Rank > 0 {
			add("factorization/" + sh.Basis)
		}
	}
	for _, t := range tasks {
		if t.sharing.LayerAttention {
			add("layer_attention")
		}
	}
	for _, t := range tasks {
		if t.sharing.Adapter > 0 {
			add("adapters")
		}
	}
	if sh.Experts > 0 {
		add("moe")
	}
	if sh.FreezeShared {
		add("frozen")
	}
	if len(modes) == 0 {
		return "hard"
	}
	return strings.Join(modes, "+")
}

func rateMap(names []string, r []float64) map[string]float64 {
	out := map[string]float64{}
	for i, n := range names {
		out[n] = r[i]
	}
	return out
}

func sameHeads(got, want []model.HeadSpec) error {
	if len(got) != len(want) {
		return fmt.Errorf("the checkpoint has %d heads, the job %d", len(got), len(want))
	}
	for i := range got {
		g, w := got[i], want[i]
		if g.Task != w.Task || g.Kind != w.Kind || g.NumLabels != w.NumLabels || g.Layer != w.Layer || !reflect.DeepEqual(g.Sharing, w.Sharing) {
			return fmt.Errorf("head %d is %+v in the checkpoint but %+v in the job", i, g, w)
		}
	}
	return nil
}

func readVocab(ctx context.Context, p string, size int) ([]string, error) {
	if p == "" {
		return nil, fmt.Errorf("no vocabulary: set tokenizer.vocab in the job (checkpoints carry vocab.txt)")
	}
	b, err := storage.ReadFile(ctx, p)
	if err != nil {
		return nil, fmt.Errorf("vocabulary: %w", err)
	}
	var v []string
	sc := bufio.NewScanner(strings.NewReader(string(b)))
	for sc.Scan() {
		v = append(v, strings.TrimRight(sc.Text(), "\r"))
	}
	if size > 0 && len(v) != size {
		return nil, fmt.Errorf("vocabulary %s has %d entries but the manifest's tokenizer has vocab_size %d; train with the vocab the data was preprocessed with", p, len(v), size)
	}
	return v, nil
}

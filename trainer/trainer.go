// Package trainer trains the shared encoder and its task heads on the
// preprocessed Parquet shards: it streams each task's shards through a
// bounded shuffle buffer into length-bucketed, dynamically padded batches,
// picks tasks with a mixture sampler (trainer/mixture), combines task losses
// or gradients with a multi-task strategy (model/multitask), steps AdamW with
// warm-up/decay, clipping and accumulation, evaluates on the dev split every
// N steps, keeps the best checkpoint, stops early, and saves everything a
// resumed run needs to continue bit for bit.
//
// Output directory layout:
//
//	metrics.jsonl                 one JSON object per logged step and per evaluation
//	best/                         checkpoint with the best selection score
//	last/                         checkpoint + trainer_state.safetensors + trainer_state.json
//	summary.json                  final figures of the run
//
// Resume replays each task's batch stream up to the saved batch count
// instead of storing shuffle buffers: the stream is a pure function of the
// seed, so replaying costs reading data, not training, and memory stays
// bounded.
package trainer

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"time"

	"github.com/schollz/progressbar/v3"

	"github.com/taskweave/taskweave/io/storage"
	"github.com/taskweave/taskweave/model"
	"github.com/taskweave/taskweave/model/checkpoint"
	"github.com/taskweave/taskweave/model/multitask"
	"github.com/taskweave/taskweave/trainer/mixture"
)

// TaskOptions are the per-task settings of the job spec.
type TaskOptions struct {
	Name      string
	Layer     int  // encoder layer the head reads (1..L); 0 = top (hard sharing)
	Auxiliary bool // trained, left out of model selection
	Weight    float64
	Rate      float64
}

// Config is one training run.
type Config struct {
	Data  string // preprocessed data directory (manifest.json), local or gs://
	Out   string // output directory, local or gs://
	Vocab string // vocab.txt, stored in checkpoints

	Tasks []TaskOptions // tasks to train, in order; empty = every task of the manifest

	Size         string // model size for a from-scratch run
	Init         string // Hugging Face BERT checkpoint directory to start from
	Dropout      float64
	TokenDropout float64 // probability of replacing a word piece by [UNK] while training
	ModelSeed    uint64

	Steps, BatchSize, BatchTokens, PadTo int
	LR, Warmup, WeightDecay, Clip        float64
	Accumulate                           int
	Seed                                 uint64
	StepMode                             string // sampled | all
	Mixture                              mixture.Config
	Strategy                             multitask.Config

	EvalEvery    int
	EvalSplit    string
	SelectMetric string // mean | min | <task name>
	Patience     int
	SaveEvery    int
	LogEvery     int

	ShuffleBuffer int // examples per task's shuffle buffer (default 4096)
	PoolBatches   int // batches per length-bucketing pool (default 50)

	Resume bool
	StopAt int // stop after this step as if interrupted (checkpoint + state); 0 = run to Steps
	// TimeLimit bounds the run's wall time (0 = none). The loop stops early
	// enough to fit one more evaluation (as long as the last one took) and
	// evaluates the final model, so the best checkpoint is never older than
	// the limit allows. The learning-rate schedule still follows Steps: pick
	// Steps that fit and use the limit as a guarantee, not as the plan.
	TimeLimit time.Duration

	Progress io.Writer // progress bar; nil = none
	Log      io.Writer // human-readable log lines; nil = none
}

// taskData is one task as the trainer sees it.
type taskData struct {
	name      string
	kind      model.HeadKind
	scheme    string
	labels    []string
	numLabels int
	layer     int
	auxiliary bool
	weight    float64
	rate      float64
	train     []string
	eval      []string
	trainN    int64
}

// Summary is the outcome of a run.
type Summary struct {
	Steps        int                           `json:"steps"`
	Stopped      string                        `json:"stopped"` // finished | early_stopping | interrupted | stop_at | time_limit
	BestStep     int                           `json:"best_step"`
	BestScore    float64                       `json:"best_score"`
	Best         map[string]map[string]float64 `json:"best_eval"`
	Last         map[string]map[string]float64 `json:"last_eval"`
	Tokens       int64                         `json:"tokens"`        // real (unpadded) tokens trained on
	PaddedTokens int64                         `json:"padded_tokens"` // batch B×T summed
	TrainSeconds float64                       `json:"train_seconds"` // wall time in training steps, evaluation excluded
	WallSeconds  float64                       `json:"wall_seconds"`
	TokensPerSec float64                       `json:"tokens_per_sec"`
	PaddedPerSec float64                       `json:"padded_tokens_per_sec"`
	Rates        map[string]float64            `json:"mixture_rates"`
	Strategy     string                        `json:"strategy"`
	StepMode     string                        `json:"step_mode"`
}

func (c *Config) defaults() {
	if c.BatchSize == 0 {
		c.BatchSize = 32
	}
	if c.Accumulate == 0 {
		c.Accumulate = 1
	}
	if c.StepMode == "" {
		c.StepMode = "sampled"
	}
	if c.Mixture.Name == "" {
		c.Mixture.Name = "temperature"
		c.Mixture.Temperature = 2
	}
	if c.Strategy.Name == "" {
		c.Strategy.Name = "equal"
	}
	if c.EvalSplit == "" {
		c.EvalSplit = "validation"
	}
	if c.SelectMetric == "" {
		c.SelectMetric = "mean"
	}
	if c.LogEvery == 0 {
		c.LogEvery = 10
	}
	if c.ShuffleBuffer == 0 {
		c.ShuffleBuffer = 4096
	}
	if c.PoolBatches == 0 {
		c.PoolBatches = 50
	}
	if c.Size == "" && c.Init == "" {
		c.Size = "mini"
	}
}

// Trainer holds a run in progress.
type Trainer struct {
	cfg            Config
	tasks          []*taskData
	m              *model.Model
	opt            *model.AdamW
	sched          model.Schedule
	sampler        *mixture.Sampler
	strat          multitask.Strategy
	streams        []*stream
	bcfg           batchConfig
	meta           checkpoint.Meta
	step           int
	best           float64
	bestStep       int
	bestEval       map[string]map[string]float64
	lastEval       map[string]map[string]float64
	sinceBest      int
	tokens, padded int64
	trainSec       float64

	// "all" step mode buffers
	enc     []*model.Param
	last    []*model.Param
	grads   [][]float32
	lastG   [][]float32
	headG   [][]float32
	lossEMA []float64
	metrics io.WriteCloser
	log     io.Writer
	barOn   bool // a progress bar is drawing on the log's terminal line
}

// Train runs cfg to the end (or to early stopping, StopAt, or ctx's
// cancellation, which saves last/ with the trainer state and returns
// normally with Summary.Stopped = "interrupted").
func Train(ctx context.Context, cfg Config) (*Summary, error) {
	cfg.defaults()
	tr := &Trainer{cfg: cfg, log: cfg.Log, best: math.Inf(-1), bestStep: -1}
	if tr.log == nil {
		tr.log = io.Discard
	}
	if err := tr.setup(ctx); err != nil {
		return nil, err
	}
	defer tr.metrics.Close()
	return tr.run(ctx)
}

func (tr *Trainer) logf(format string, a ...any) {
	if tr.barOn {
		// The bar redraws its line in place; a log line starts below it.
		fmt.Fprintln(tr.log)
	}
	fmt.Fprintf(tr.log, format+"\n", a...)
}

func (tr *Trainer) setup(ctx context.Context) error {
	cfg := &tr.cfg
	man, manPath, err := readManifest(ctx, cfg.Data)
	if err != nil {
		return err
	}
	// Tasks: the job's order, or the manifest's (sorted) when none are given.
	opts := cfg.Tasks
	if len(opts) == 0 {
		names := make([]string, 0, len(man.Tasks))
		for n := range man.Tasks {
			names = append(names, n)
		}
		sort.Strings(names)
		for _, n := range names {
			opts = append(opts, TaskOptions{Name: n, Weight: 1})
		}
	}
	for _, o := range opts {
		mt, ok := man.Tasks[o.Name]
		if !ok {
			return fmt.Errorf("task %q is not in %s; preprocess it first", o.Name, manPath)
		}
		t := &taskData{name: o.Name, kind: model.HeadKind(mt.Type), scheme: mt.TagScheme, labels: mt.Labels,
			numLabels: len(mt.Labels), layer: o.Layer, auxiliary: o.Auxiliary, weight: o.Weight, rate: o.Rate}
		if t.kind == model.SequenceRegression {
			t.numLabels = 1
		}
		split, ok := mt.Splits["train"]
		if !ok || len(split.Shards) == 0 {
			return fmt.Errorf("task %q has no train shards in %s", o.Name, manPath)
		}
		if t.train, err = man.ShardPaths(manPath, o.Name, "train"); err != nil {
			return err
		}
		t.trainN = split.Examples
		if _, ok := mt.Splits[cfg.EvalSplit]; ok {
			if t.eval, err = man.ShardPaths(manPath, o.Name, cfg.EvalSplit); err != nil {
				return err
			}
		}
		if t.weight == 0 {
			t.weight = 1
		}
		tr.tasks = append(tr.tasks, t)
	}
	names := make([]string, len(tr.tasks))
	sizes := make([]int64, len(tr.tasks))
	rates := make([]float64, len(tr.tasks))
	weights := make([]float64, len(tr.tasks))
	for i, t := range tr.tasks {
		names[i], sizes[i], rates[i], weights[i] = t.name, t.trainN, t.rate, t.weight
	}

	// Model.
	vocab, err := readVocab(ctx, cfg.Vocab, man.Tokenizer.VocabSize)
	if err != nil {
		return err
	}
	tr.meta = checkpoint.Meta{Vocab: vocab, Lowercase: man.Tokenizer.Lowercase, MaxSeqLen: man.Tokenizer.MaxSeqLen,
		Extra: map[string]any{"strategy": cfg.Strategy.Name, "step_mode": cfg.StepMode, "mixture": cfg.Mixture.Name, "sharing": sharing(tr.tasks)}}
	var heads []model.HeadSpec
	for _, t := range tr.tasks {
		heads = append(heads, model.HeadSpec{Task: t.name, Kind: t.kind, NumLabels: t.numLabels, Layer: t.layer})
		tr.meta.Tasks = append(tr.meta.Tasks, checkpoint.TaskInfo{Name: t.name, Type: string(t.kind), Labels: t.labels,
			TagScheme: t.scheme, Layer: t.layer, Auxiliary: t.auxiliary})
	}
	statePath := storage.Join(cfg.Out, "last")
	if cfg.Resume {
		m, _, err := checkpoint.Load(storage.Dir(ctx, statePath))
		if err != nil {
			return fmt.Errorf("--resume: %w", err)
		}
		if err := sameHeads(m.Heads(), heads); err != nil {
			return fmt.Errorf("--resume from %s: %w", statePath, err)
		}
		tr.m = m
	} else {
		m, err := newModel(ctx, cfg, heads, len(vocab))
		if err != nil {
			return err
		}
		tr.m = m
	}
	tr.m.SetTraining(true)
	if cfg.TokenDropout > 0 {
		unk, keep, err := specialIDs(vocab)
		if err != nil {
			return fmt.Errorf("token dropout: %s: %w", cfg.Vocab, err)
		}
		tr.m.SetTokenDropout(cfg.TokenDropout, unk, keep...)
	}
	mc := tr.m.Config()
	tr.bcfg = batchConfig{examples: cfg.BatchSize, tokens: cfg.BatchTokens, padTo: cfg.PadTo, pool: cfg.PoolBatches,
		shuffle: cfg.ShuffleBuffer, maxLen: mc.MaxPositionEmbeddings, vocab: mc.VocabSize}
	if cfg.BatchTokens > 0 && cfg.BatchTokens < man.Tokenizer.MaxSeqLen {
		return fmt.Errorf("batch_tokens %d is smaller than max_seq_len %d: a long example would not fit in any batch", cfg.BatchTokens, man.Tokenizer.MaxSeqLen)
	}

	tr.opt = model.NewAdamW(tr.m.Params(), model.AdamWConfig{LR: cfg.LR, Beta1: 0.9, Beta2: 0.999, Eps: 1e-6, WeightDecay: cfg.WeightDecay})
	tr.sched = model.Schedule{Peak: cfg.LR, Warmup: int(math.Round(cfg.Warmup * float64(cfg.Steps))), Total: cfg.Steps}

	mc2 := cfg.Mixture
	mc2.Rates = rates
	mc2.Seed = cfg.Seed
	if tr.sampler, err = mixture.New(mc2, names, sizes); err != nil {
		return err
	}
	sc := cfg.Strategy
	sc.Tasks = names
	sc.Static = weights
	sc.Seed = cfg.Seed ^ 0x5ca1ab1e
	if tr.strat, err = multitask.New(sc); err != nil {
		return err
	}
	if tr.strat.NeedsGradients() && cfg.StepMode != "all" {
		return fmt.Errorf("strategy %s combines every task's gradient in every step; set train.step_mode: all", sc.Name)
	}
	for _, t := range tr.tasks {
		tr.streams = append(tr.streams, newStream(ctx, t, tr.bcfg, cfg.Seed))
	}
	tr.lossEMA = make([]float64, len(tr.tasks))
	for i := range tr.lossEMA {
		tr.lossEMA[i] = math.NaN()
	}
	if cfg.StepMode == "all" {
		tr.enc = tr.m.EncoderParams()
		tr.last = tr.m.LayerParams(mc.NumHiddenLayers - 1)
		n, nl := 0, 0
		for _, p := range tr.enc {
			n += len(p.G)
		}
		for _, p := range tr.last {
			nl += len(p.G)
		}
		for _, t := range tr.tasks {
			hn := 0
			for _, p := range tr.m.HeadParams(t.name) {
				hn += len(p.G)
			}
			tr.grads = append(tr.grads, make([]float32, n))
			tr.lastG = append(tr.lastG, make([]float32, nl))
			tr.headG = append(tr.headG, make([]float32, hn))
		}
	}
	if cfg.Resume {
		if err := tr.loadState(ctx, statePath); err != nil {
			return err
		}
	}
	mw, err := openAppend(ctx, cfg.Out, "metrics.jsonl", cfg.Resume)
	if err != nil {
		return err
	}
	tr.metrics = mw
	tr.logf("tasks: %s", strings.Join(names, ", "))
	tr.logf("mixture %s: effective rates %s", cfg.Mixture.Name, tr.sampler.Describe())
	tr.logf("strategy %s, step mode %s, model %s (L%d/H%d/A%d, %s BLAS)", tr.strat.Name(), cfg.StepMode,
		nonEmpty(cfg.Size, cfg.Init), mc.NumHiddenLayers, mc.HiddenSize, mc.NumAttentionHeads, model.Backend())
	tr.writeJSON(map[string]any{"event": "start", "step": tr.step, "tasks": names, "mixture": cfg.Mixture.Name,
		"rates": rateMap(names, tr.sampler.Rates()), "strategy": tr.strat.Name(), "step_mode": cfg.StepMode, "resume": cfg.Resume})
	return nil
}

func sharing(tasks []*taskData) string {
	for _, t := range tasks {
		if t.layer != 0 {
			return "hierarchical"
		}
	}
	return "hard"
}

func nonEmpty(a, b string) string {
	if a != "" {
		return a
	}
	return b
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
		if g.Task != w.Task || g.Kind != w.Kind || g.NumLabels != w.NumLabels || g.Layer != w.Layer {
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

// newModel builds the model from scratch (seeded) or from a Hugging Face
// BERT checkpoint, whose encoder weights are copied by name into a fresh
// model with this job's heads.
func newModel(ctx context.Context, cfg *Config, heads []model.HeadSpec, vocab int) (*model.Model, error) {
	if cfg.Init == "" {
		mc, err := model.SizeConfig(cfg.Size, vocab)
		if err != nil {
			return nil, err
		}
		mc.HiddenDropoutProb, mc.AttentionProbsDropoutProb = cfg.Dropout, cfg.Dropout
		return model.New(mc, heads, cfg.ModelSeed)
	}
	src, _, err := checkpoint.LoadWith(storage.Dir(ctx, cfg.Init), checkpoint.Options{IgnoreTensors: []string{"cls."}})
	if err != nil {
		return nil, fmt.Errorf("model.init: %w", err)
	}
	mc := src.Config()
	if mc.VocabSize != vocab {
		return nil, fmt.Errorf("model.init %s has vocab_size %d but the data was tokenized with %d entries", cfg.Init, mc.VocabSize, vocab)
	}
	if cfg.Dropout > 0 {
		mc.HiddenDropoutProb, mc.AttentionProbsDropoutProb = cfg.Dropout, cfg.Dropout
	}
	m, err := model.New(mc, heads, cfg.ModelSeed)
	if err != nil {
		return nil, err
	}
	for _, p := range m.EncoderParams() {
		q := src.Param(p.Name)
		if q == nil || len(q.W) != len(p.W) {
			return nil, fmt.Errorf("model.init %s: encoder parameter %s missing or of another size", cfg.Init, p.Name)
		}
		copy(p.W, q.W)
	}
	return m, nil
}

// openAppend opens out/name for writing JSON lines. On resume an existing
// local file is appended to; gs:// objects cannot be appended, so they are
// rewritten with the old content first.
func openAppend(ctx context.Context, out, name string, resume bool) (io.WriteCloser, error) {
	p := storage.Join(out, name)
	if !storage.IsGCS(p) {
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			return nil, err
		}
		flag := os.O_CREATE | os.O_WRONLY | os.O_TRUNC
		if resume {
			flag = os.O_CREATE | os.O_WRONLY | os.O_APPEND
		}
		return os.OpenFile(p, flag, 0o644)
	}
	var old []byte
	if resume {
		old, _ = storage.ReadFile(ctx, p)
	}
	w, err := storage.Create(ctx, p)
	if err != nil {
		return nil, err
	}
	if _, err := w.Write(old); err != nil {
		return nil, err
	}
	return w, nil
}

func (tr *Trainer) writeJSON(v any) {
	b, err := json.Marshal(v)
	if err != nil {
		return
	}
	tr.metrics.Write(append(b, '\n'))
}

// errStop ends the loop early.
var errStop = errors.New("stop")

func (tr *Trainer) run(ctx context.Context) (*Summary, error) {
	cfg := &tr.cfg
	start := time.Now()
	var bar *progressbar.ProgressBar
	if cfg.Progress != nil {
		bar = progressbar.NewOptions(cfg.Steps, progressbar.OptionSetWriter(cfg.Progress), progressbar.OptionShowCount(),
			progressbar.OptionSetPredictTime(true), progressbar.OptionSetElapsedTime(true),
			progressbar.OptionThrottle(500*time.Millisecond), progressbar.OptionSetWidth(20),
			progressbar.OptionShowDescriptionAtLineEnd())
		bar.Set(tr.step)
		tr.barOn = true
	}
	stopped := "finished"
	var lastEval time.Duration // how long the last evaluation took
	var winTok int64
	winStart := time.Now()
	for tr.step < cfg.Steps {
		if ctx.Err() != nil {
			stopped = "interrupted"
			break
		}
		t0 := time.Now()
		st, err := tr.trainStep()
		if err != nil {
			if ctx.Err() != nil {
				stopped = "interrupted"
				break
			}
			return nil, err
		}
		tr.trainSec += time.Since(t0).Seconds()
		tr.step++
		winTok += st.padded
		if tr.step%cfg.LogEvery == 0 || tr.step == cfg.Steps {
			el := time.Since(winStart).Seconds()
			rec := map[string]any{"event": "train", "step": tr.step, "lr": st.lr, "grad_norm": st.gradNorm,
				"loss": tr.lossMap(), "weights": st.weights, "padded_tokens_per_sec": float64(winTok) / el,
				"tokens": tr.tokens}
			tr.writeJSON(rec)
			if bar != nil {
				bar.Describe(fmt.Sprintf("%s %.0f tok/s", tr.lossString(), float64(winTok)/el))
			}
			winTok, winStart = 0, time.Now()
		}
		if bar != nil {
			bar.Set(tr.step)
		}
		// Out of time: the next step plus a final evaluation would not fit.
		// Before the first evaluation its cost is unknown: keep 5% back.
		reserve := lastEval
		if reserve == 0 && cfg.EvalEvery > 0 {
			reserve = cfg.TimeLimit / 20
		}
		// Saving the last checkpoint and the summary takes a few seconds more.
		reserve += min(15*time.Second, cfg.TimeLimit/20)
		outOfTime := cfg.TimeLimit > 0 && tr.step < cfg.Steps &&
			time.Since(start)+reserve+2*time.Since(t0) >= cfg.TimeLimit
		if cfg.EvalEvery > 0 && (tr.step%cfg.EvalEvery == 0 || tr.step == cfg.Steps || outOfTime) {
			e0 := time.Now()
			improved, err := tr.evaluate(ctx)
			lastEval = time.Since(e0)
			if err != nil {
				if ctx.Err() != nil {
					stopped = "interrupted"
					break
				}
				return nil, err
			}
			if improved {
				tr.sinceBest = 0
			} else {
				tr.sinceBest++
			}
			if cfg.Patience > 0 && tr.sinceBest >= cfg.Patience {
				stopped = "early_stopping"
				tr.logf("early stopping at step %d: %d evaluations without improvement (best %.4f at step %d)", tr.step, tr.sinceBest, tr.best, tr.bestStep)
				break
			}
		}
		if outOfTime {
			stopped = "time_limit"
			tr.logf("time limit %s reached at step %d of %d", cfg.TimeLimit, tr.step, cfg.Steps)
			break
		}
		if cfg.SaveEvery > 0 && tr.step%cfg.SaveEvery == 0 && tr.step < cfg.Steps {
			if err := tr.saveLast(ctx); err != nil {
				return nil, err
			}
		}
		if cfg.StopAt > 0 && tr.step >= cfg.StopAt && tr.step < cfg.Steps {
			stopped = "stop_at"
			break
		}
	}
	if bar != nil {
		bar.Finish()
		fmt.Fprintln(cfg.Progress)
		tr.barOn = false
	}
	// The final save must happen even when ctx is cancelled (Ctrl-C).
	saveCtx := context.WithoutCancel(ctx)
	if err := tr.saveLast(saveCtx); err != nil {
		return nil, err
	}
	if tr.bestStep < 0 { // never evaluated: the last model is the best we have
		if err := checkpoint.Save(storage.Dir(saveCtx, storage.Join(cfg.Out, "best")), tr.m, tr.meta); err != nil {
			return nil, err
		}
	}
	s := &Summary{Steps: tr.step, Stopped: stopped, BestStep: tr.bestStep, BestScore: tr.best, Best: tr.bestEval,
		Last: tr.lastEval, Tokens: tr.tokens, PaddedTokens: tr.padded, TrainSeconds: tr.trainSec,
		WallSeconds: time.Since(start).Seconds(), Strategy: tr.strat.Name(), StepMode: cfg.StepMode}
	if tr.bestStep < 0 {
		s.BestScore = math.NaN()
	}
	if tr.trainSec > 0 {
		s.TokensPerSec = float64(tr.tokens) / tr.trainSec
		s.PaddedPerSec = float64(tr.padded) / tr.trainSec
	}
	names := make([]string, len(tr.tasks))
	for i, t := range tr.tasks {
		names[i] = t.name
	}
	s.Rates = rateMap(names, tr.sampler.Rates())
	tr.writeJSON(map[string]any{"event": "end", "summary": s})
	b, _ := json.MarshalIndent(jsonSafe(s), "", "  ")
	if err := storage.WriteFile(saveCtx, storage.Join(cfg.Out, "summary.json"), append(b, '\n')); err != nil {
		return nil, err
	}
	tr.logf("%s after %d steps: %.0f tokens/s (%.0f padded), best %s %.4f at step %d", stopped, tr.step, s.TokensPerSec, s.PaddedPerSec, cfg.SelectMetric, tr.best, tr.bestStep)
	return s, nil
}

// jsonSafe replaces a NaN best score (never evaluated) for JSON.
func jsonSafe(s *Summary) *Summary {
	c := *s
	if math.IsNaN(c.BestScore) || math.IsInf(c.BestScore, 0) {
		c.BestScore = 0
	}
	return &c
}

func (tr *Trainer) lossMap() map[string]float64 {
	out := map[string]float64{}
	for i, t := range tr.tasks {
		if !math.IsNaN(tr.lossEMA[i]) {
			out[t.name] = tr.lossEMA[i]
		}
	}
	return out
}

func (tr *Trainer) lossString() string {
	var parts []string
	for i, t := range tr.tasks {
		if !math.IsNaN(tr.lossEMA[i]) {
			parts = append(parts, fmt.Sprintf("%s %.3f", t.name, tr.lossEMA[i]))
		}
	}
	return strings.Join(parts, " ")
}

func (tr *Trainer) noteLoss(i int, l float64) {
	if math.IsNaN(tr.lossEMA[i]) {
		tr.lossEMA[i] = l
	} else {
		tr.lossEMA[i] = 0.9*tr.lossEMA[i] + 0.1*l
	}
}

type stepStats struct {
	lr, gradNorm float64
	padded       int64
	weights      map[string]float64
}

func (tr *Trainer) countTokens(b *model.Batch) int64 {
	var n int64
	for _, v := range b.Mask {
		n += int64(v)
	}
	tr.tokens += n
	tr.padded += int64(b.B * b.T)
	return int64(b.B * b.T)
}

// trainStep runs one optimizer step.
func (tr *Trainer) trainStep() (stepStats, error) {
	cfg := &tr.cfg
	st := stepStats{weights: map[string]float64{}}
	acc := cfg.Accumulate
	if cfg.StepMode == "all" {
		if err := tr.allTasksStep(&st); err != nil {
			return st, err
		}
	} else {
		for a := 0; a < acc; a++ {
			k := tr.sampler.Next()
			b, err := tr.streams[k].Next()
			if err != nil {
				return st, err
			}
			st.padded += tr.countTokens(b)
			out, err := tr.m.Forward(b)
			if err != nil {
				return st, fmt.Errorf("step %d, task %s: %w", tr.step+1, b.Task, err)
			}
			l := float64(out.Loss)
			tr.noteLoss(k, l)
			res, err := tr.strat.Combine(multitask.Input{Tasks: []int{k}, Losses: []float64{l}})
			if err != nil {
				return st, err
			}
			st.weights[tr.tasks[k].name] = res.Weights[0]
			if err := tr.m.Backward(float32(res.Weights[0] / float64(acc))); err != nil {
				return st, err
			}
		}
	}
	st.gradNorm = model.ClipGradNorm(tr.m.Params(), cfg.Clip)
	st.lr = tr.sched.LR(tr.step)
	tr.opt.Step(st.lr)
	tr.m.ZeroGrad()
	return st, nil
}

// allTasksStep runs every task's backward pass separately, copies the shared
// gradients out, lets the strategy combine them, and writes the result back.
func (tr *Trainer) allTasksStep(st *stepStats) error {
	acc := tr.cfg.Accumulate
	idx := make([]int, len(tr.tasks))
	losses := make([]float64, len(tr.tasks))
	for k, t := range tr.tasks {
		idx[k] = k
		tr.m.ZeroGrad()
		for a := 0; a < acc; a++ {
			b, err := tr.streams[k].Next()
			if err != nil {
				return err
			}
			st.padded += tr.countTokens(b)
			out, err := tr.m.Forward(b)
			if err != nil {
				return fmt.Errorf("step %d, task %s: %w", tr.step+1, t.name, err)
			}
			losses[k] += float64(out.Loss) / float64(acc)
			if err := tr.m.Backward(float32(1 / float64(acc))); err != nil {
				return err
			}
		}
		tr.noteLoss(k, losses[k])
		gather(tr.grads[k], tr.enc)
		gather(tr.lastG[k], tr.last)
		gather(tr.headG[k], tr.m.HeadParams(t.name))
	}
	res, err := tr.strat.Combine(multitask.Input{Tasks: idx, Losses: losses, Grads: tr.grads, LastShared: tr.lastG})
	if err != nil {
		return err
	}
	tr.m.ZeroGrad()
	if res.Shared != nil {
		scatter(tr.enc, res.Shared, 1)
	} else {
		for k := range tr.tasks {
			addScaled(tr.enc, tr.grads[k], float32(res.Weights[k]))
		}
	}
	for k, t := range tr.tasks {
		scatter(tr.m.HeadParams(t.name), tr.headG[k], float32(res.HeadWeights[k]))
		st.weights[t.name] = res.Weights[k]
	}
	return nil
}

func gather(dst []float32, ps []*model.Param) {
	o := 0
	for _, p := range ps {
		o += copy(dst[o:], p.G)
	}
}

func scatter(ps []*model.Param, src []float32, scale float32) {
	o := 0
	for _, p := range ps {
		for i := range p.G {
			p.G[i] = scale * src[o+i]
		}
		o += len(p.G)
	}
}

func addScaled(ps []*model.Param, src []float32, scale float32) {
	o := 0
	for _, p := range ps {
		g := src[o : o+len(p.G)]
		for i := range p.G {
			p.G[i] += scale * g[i]
		}
		o += len(p.G)
	}
}

// specialIDs finds [UNK] and the ids token dropout must keep: every
// bracketed special token of a BERT vocabulary ([CLS], [SEP], [PAD],
// [MASK], [unused…]).
func specialIDs(vocab []string) (unk int32, keep []int32, err error) {
	unk = -1
	for i, w := range vocab {
		if len(w) > 2 && w[0] == '[' && w[len(w)-1] == ']' {
			keep = append(keep, int32(i))
			if w == "[UNK]" {
				unk = int32(i)
			}
		}
	}
	if unk < 0 {
		return 0, nil, fmt.Errorf("no [UNK] entry")
	}
	return unk, keep, nil
}

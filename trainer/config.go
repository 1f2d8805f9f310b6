package trainer

import (
	"errors"
	"fmt"
	"io"
	"math"
	"slices"
	"strings"
	"time"

	"github.com/taskweave/taskweave/model"
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
	Sharing   model.TaskSharing // the task's soft sharing (zero = hard sharing)
	// Source makes the task a masked LM over the train (and evaluation)
	// text of these tasks, read from their shards; empty for a task with
	// shards of its own (a masked_lm task among them: format text).
	Source    []string
	WholeWord bool // masked LM: mask whole words
}

// Config is one training run. Every field is explicit: the trainer
// replaces no zero by a default (jobs/stages.TrainConfig fills every field
// from the job spec, where the defaults live) and rejects values out of
// range with an error naming the spec key.
type Config struct {
	Data  string // preprocessed data directory (manifest.json), local or gs://
	Out   string // output directory, local or gs://
	Vocab string // vocab.txt, stored in checkpoints

	Tasks []TaskOptions // tasks to train, in order

	Size         string // model size for a from-scratch run
	Init         string // Hugging Face BERT checkpoint directory to start from
	Dropout      float64
	TokenDropout float64 // probability of replacing a word piece by [UNK] while training
	ModelSeed    uint64
	Sharing      model.Sharing // soft sharing of the whole model (each task's own in Tasks)

	Steps, BatchSize, BatchTokens, PadTo int
	LR, Warmup, WeightDecay, Clip        float64
	SparseEmbeddings                     bool // lazy row-wise AdamW for the word embeddings
	Accumulate                           int
	Seed                                 uint64
	StepMode                             string // sampled | all
	Mixture                              mixture.Config
	Strategy                             multitask.Config
	Phases                               []Phase // empty = one phase of every task
	// Holdout is the fraction of each auto_lambda primary task's train
	// split held back for the meta-learning's held-out batches.
	Holdout float64

	EvalEvery    int
	EvalSplit    string
	SelectMetric string // mean | min | <task name>
	Patience     int
	SaveEvery    int
	LogEvery     int

	ShuffleBuffer int // examples per task's shuffle buffer
	PoolBatches   int // batches per length-bucketing pool

	// BatchLog, when set, receives every training batch as a JSON line
	// (task, B, T, input_ids, mask, token_type_ids, labels, token_labels):
	// the exact batches, for a reference implementation to train on.
	BatchLog io.Writer

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

	// Precision is the products' number format: fp32 (also when empty) or
	// bf16 mixed precision (model.SetPrecision).
	Precision model.Precision
}

// StepModes are the values of Config.StepMode.
var StepModes = []string{"sampled", "all"}

// validate checks every field against its allowed range. Nothing is
// defaulted: zero is a value wherever the range includes it (dropout,
// token dropout, warm-up, weight decay, clip (= no clipping), seeds,
// eval_every (= never), patience (= never stop early), save_every (= only
// at the end), batch_tokens (= batches by example count), pad_to (= dynamic
// padding)).
func (c *Config) validate() error {
	var errs []error
	bad := func(key, format string, a ...any) {
		errs = append(errs, fmt.Errorf("trainer: %s %s", key, fmt.Sprintf(format, a...)))
	}
	finite := func(v float64) bool { return !math.IsNaN(v) && !math.IsInf(v, 0) }
	inRange := func(key string, v, lo, hi float64, hiOpen bool, hint string) {
		if !finite(v) || v < lo || v > hi || (hiOpen && v == hi) {
			bad(key, "= %g is out of range; use %s", v, hint)
		}
	}
	for _, f := range []struct{ key, v string }{{"data", c.Data}, {"out", c.Out}, {"vocab", c.Vocab}} {
		if f.v == "" {
			bad(f.key, "is empty; give a path (local or gs://)")
		}
	}
	if len(c.Tasks) == 0 {
		bad("tasks", "is empty; name at least one task of the preprocessed data")
	}
	seen := map[string]bool{}
	for i, t := range c.Tasks {
		k := fmt.Sprintf("tasks[%d]", i)
		if t.Name == "" || seen[t.Name] {
			bad(k+".name", "%q is empty or repeated", t.Name)
		}
		seen[t.Name] = true
		if t.Layer < 0 {
			bad(k+".layer", "= %d is out of range; use 0 (top) or 1..L", t.Layer)
		}
		for j, src := range t.Source {
			if src == "" || src == t.Name || slices.Index(t.Source, src) != j {
				bad(fmt.Sprintf("%s.source[%d]", k, j), "%q is empty, the task itself or repeated", src)
			}
		}
		inRange(k+".weight", t.Weight, 0, math.MaxFloat64, false, "a weight >= 0")
		inRange(k+".rate", t.Rate, 0, math.MaxFloat64, false, "a rate >= 0")
	}
	if c.Init == "" && c.Size == "" {
		bad("model.size", "is empty; name a size (tiny, mini, small, medium, base) or set model.init")
	}
	inRange("model.dropout", c.Dropout, 0, 1, true, "0 <= dropout < 1")
	inRange("model.token_dropout", c.TokenDropout, 0, 1, true, "0 <= token_dropout < 1")
	if c.Steps < 1 {
		bad("train.steps", "= %d is out of range; use 1 or more optimizer steps", c.Steps)
	}
	if c.BatchTokens < 0 {
		bad("train.batch_tokens", "= %d is out of range; use 0 (batches of batch_size examples) or a token budget", c.BatchTokens)
	}
	if c.BatchTokens == 0 && c.BatchSize < 1 {
		bad("train.batch_size", "= %d is out of range; use 1 or more examples per batch", c.BatchSize)
	}
	if c.PadTo < 0 {
		bad("pad_to", "= %d is out of range; use 0 (dynamic padding) or a length", c.PadTo)
	}
	inRange("train.lr", c.LR, math.SmallestNonzeroFloat64, 1, false, "0 < lr <= 1")
	inRange("train.warmup", c.Warmup, 0, 1, false, "a fraction of the steps, 0 <= warmup <= 1")
	inRange("train.weight_decay", c.WeightDecay, 0, 1, false, "0 <= weight_decay <= 1")
	inRange("train.clip", c.Clip, 0, math.MaxFloat64, false, "0 (no clipping) or a gradient norm > 0")
	if c.Accumulate < 1 {
		bad("train.accumulate", "= %d is out of range; use 1 or more micro-batches per step", c.Accumulate)
	}
	if !slices.Contains(StepModes, c.StepMode) {
		bad("train.step_mode", "%q is unknown; use one of %s", c.StepMode, strings.Join(StepModes, ", "))
	} else if multitask.RequiresAllTasks(c.Strategy.Name) && c.StepMode != "all" {
		bad("train.step_mode", "%q: strategy %s combines every task's gradient in every step; set train.step_mode: all", c.StepMode, c.Strategy.Name)
	}
	if !slices.Contains(mixture.Names, c.Mixture.Name) {
		bad("train.mixture.name", "%q is unknown; use one of %s", c.Mixture.Name, strings.Join(mixture.Names, ", "))
	}
	if !slices.Contains(multitask.Names, c.Strategy.Name) {
		bad("train.strategy.name", "%q is unknown; use one of %s", c.Strategy.Name, strings.Join(multitask.Names, ", "))
	}
	for _, f := range []struct {
		key string
		v   int
	}{{"train.eval_every", c.EvalEvery}, {"train.patience", c.Patience}, {"train.save_every", c.SaveEvery}, {"stop_at", c.StopAt}} {
		if f.v < 0 {
			bad(f.key, "= %d is negative; use 0 (off) or a number of steps", f.v)
		}
	}
	if c.EvalEvery > 0 && c.EvalSplit == "" {
		bad("train.eval_split", "is empty; name the split to evaluate on (validation)")
	}
	if c.SelectMetric != "mean" && c.SelectMetric != "min" && !seen[c.SelectMetric] {
		bad("train.select_metric", "%q is neither mean, min nor a task of this run", c.SelectMetric)
	}
	for _, f := range []struct {
		key string
		v   int
	}{{"log_every", c.LogEvery}, {"shuffle_buffer", c.ShuffleBuffer}, {"pool_batches", c.PoolBatches}} {
		if f.v < 1 {
			bad(f.key, "= %d is out of range; use 1 or more", f.v)
		}
	}
	c.validatePhases(bad)
	if c.Strategy.Name == "auto_lambda" {
		inRange("train.strategy.holdout", c.Holdout, math.SmallestNonzeroFloat64, 0.5, false, "0 < holdout <= 0.5")
	}
	if c.TimeLimit < 0 {
		bad("time_limit", "= %s is negative; use 0 (none) or a duration", c.TimeLimit)
	}
	return errors.Join(errs...)
}

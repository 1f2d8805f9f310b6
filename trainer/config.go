package trainer

import (
	"fmt"
	"io"
	"slices"
	"strings"
	"time"

	"github.com/taskweave/taskweave/internal/rules"
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
	// InputFrom names the task whose rows this task labels too (another
	// label column of its corpus): trained from that task's batches.
	InputFrom string
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

	Size string // model size for a from-scratch run
	Init string // Hugging Face BERT checkpoint directory to start from
	// AllowVocabTruncation loads an Init whose vocab.txt is longer than its
	// vocab_size (checkpoint.Options.AllowVocabTruncation).
	AllowVocabTruncation bool
	Dropout              float64
	TokenDropout         float64 // probability of replacing a word piece by [UNK] while training
	ModelSeed            uint64
	Sharing              model.Sharing // soft sharing of the whole model (each task's own in Tasks)

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

	// Electra, when set, pre-trains with ELECTRA's objective (electra.go);
	// nil (left out of the run's fingerprint) trains the tasks' own heads.
	Electra *ElectraOptions `json:",omitempty"`
}

// StepModes are the values of Config.StepMode.
var StepModes = []string{"sampled", "all"}

// Validate checks every field against its allowed range (Ranges, and the
// strategy's and mixture's own) and the rules between fields. Nothing is
// defaulted: zero is a value wherever the range includes it (dropout,
// token dropout, warm-up, weight decay, clip (= no clipping), seeds,
// eval_every (= never), patience (= never stop early), save_every (= only
// at the end), batch_tokens (= batches by example count), pad_to (= dynamic
// padding)). Errors name the job spec's keys.
func (c *Config) Validate() error {
	var errs []error
	bad := func(key, format string, a ...any) {
		errs = append(errs, rules.Errorf(key, format, a...))
	}
	for _, f := range []struct{ key, v string }{{"data", c.Data}, {"out", c.Out}, {"vocab", c.Vocab}} {
		if f.v == "" {
			bad(f.key, "is empty; give a path (local or gs://)")
		}
	}
	if c.Init == "" && c.Size == "" {
		bad("model.size", "is empty; name a size (tiny, mini, small, medium, base) or set model.init")
	}
	c.validateTasks(bad)
	errs = append(errs, c.checkRanges()...)
	errs = append(errs, c.checkOwners()...)
	errs = append(errs, c.checkElectra()...)
	if !slices.Contains(StepModes, c.StepMode) {
		bad("train.step_mode", "%q is not allowed; use one of %s", c.StepMode, strings.Join(StepModes, ", "))
	} else if err := CheckStepMode(c.Strategy.Name, c.StepMode); err != nil {
		errs = append(errs, err)
	}
	for _, f := range []struct {
		key string
		v   int
	}{{"pad_to", c.PadTo}, {"stop_at", c.StopAt}} {
		if f.v < 0 {
			bad(f.key, "%d is negative; use 0 (off) or a number", f.v)
		}
	}
	if c.EvalEvery > 0 && c.EvalSplit == "" {
		bad("train.eval_split", "is empty; name the split to evaluate on (validation)")
	}
	if c.SelectMetric != "mean" && c.SelectMetric != "min" && !slices.ContainsFunc(c.Tasks, func(t TaskOptions) bool { return t.Name == c.SelectMetric }) {
		bad("train.select_metric", "%q is neither mean, min nor a task of this run", c.SelectMetric)
	}
	c.validatePhases(bad)
	if c.TimeLimit < 0 {
		bad("time_limit", "%s is negative; use 0 (none) or a duration", c.TimeLimit)
	}
	return joinKeyed(errs)
}

// validateTasks checks the task list: names, and masked-LM sources.
func (c *Config) validateTasks(bad func(key, format string, a ...any)) {
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
		for j, src := range t.Source {
			if src == "" || src == t.Name || slices.Index(t.Source, src) != j {
				bad(fmt.Sprintf("%s.source[%d]", k, j), "%q is empty, the task itself or repeated", src)
			}
		}
	}
}

// CheckStepMode is the rule between the strategy and the step mode: a
// strategy that combines every task's gradient needs every task in every
// step.
func CheckStepMode(strategy multitask.Name, stepMode string) error {
	if multitask.RequiresAllTasks(strategy) && stepMode != "all" {
		return rules.Errorf("train.step_mode", "%q: strategy %s combines every task's gradient in every step; set train.step_mode: all", stepMode, strategy)
	}
	return nil
}

// CheckBatchTokens is the rule between a token budget and the longest
// example (tokenizer.max_seq_len): every example must fit in some batch.
func CheckBatchTokens(batchTokens, maxSeqLen int) error {
	if batchTokens > 0 && batchTokens < maxSeqLen {
		return rules.Errorf("train.batch_tokens", "%d is smaller than tokenizer.max_seq_len %d, so a long example would fit in no batch; use 0 or at least %d",
			batchTokens, maxSeqLen, maxSeqLen)
	}
	return nil
}

package trainer

import (
	"io"
	"time"

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

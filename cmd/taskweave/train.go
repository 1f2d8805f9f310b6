package main

import (
	"bufio"
	"cmp"
	"context"
	"flag"
	"fmt"
	"os"
	"runtime/pprof"
	"strings"
	"time"

	"github.com/taskweave/taskweave/io/storage"
	"github.com/taskweave/taskweave/jobs/spec"
	"github.com/taskweave/taskweave/jobs/stages"
	"github.com/taskweave/taskweave/model/multitask"
	"github.com/taskweave/taskweave/trainer"
)

func init() {
	register("train", "train the shared encoder and task heads on preprocessed shards (resumable; Ctrl-C saves)", setupTrain)
}

// trainFlags are train's flags. The ones that override a spec key do so
// only when given (applyOverrides).
type trainFlags struct {
	config, data, out, tasks, strategy, stepMode, precision, dumpBatches, sharing, cpuProfile *string
	resume, truncVocab, sparse, quiet                                                         *bool
	steps, evalEvery, padTo                                                                   *int
	timeLimit                                                                                 *time.Duration
	tokenDrop, lr                                                                             *float64
}

func setupTrain(fs *flag.FlagSet) func(context.Context, []string) error {
	f := declareTrainFlags(fs)
	return func(ctx context.Context, args []string) error {
		s, err := f.loadSpec()
		if err != nil {
			return err
		}
		cfg, err := f.trainConfig(s)
		if err != nil {
			return err
		}
		stop, err := f.startDiagnostics(&cfg)
		defer stop()
		if err != nil {
			return err
		}
		sum, err := trainer.Train(ctx, cfg)
		if err != nil {
			return err
		}
		fmt.Printf("%s: %d steps, %.0f tokens/s, %s; checkpoints in %s (best model: %s)\n",
			sum.Stopped, sum.Steps, sum.TokensPerSec, sum.BestText(s.Train.SelectMetric), cfg.Out, storage.Join(cfg.Out, "best"))
		return nil
	}
}

func declareTrainFlags(fs *flag.FlagSet) *trainFlags {
	return &trainFlags{
		config:      fs.String("config", "", "job spec (YAML)"),
		data:        fs.String("data", "", "preprocessed data directory (default: the job's preprocess.output)"),
		out:         fs.String("out", "", "output directory (default: the job's train.output)"),
		resume:      fs.Bool("resume", false, "continue the run saved in <out>/last exactly"),
		steps:       fs.Int("steps", 0, "optimizer steps (overrides train.steps)"),
		tasks:       fs.String("tasks", "", "comma-separated subset of the job's tasks to train (e.g. a single-task baseline)"),
		strategy:    fs.String("strategy", "", "multi-task strategy (overrides train.strategy.name): "+strings.Join(multitask.NameStrings(), ", ")),
		stepMode:    fs.String("step-mode", "", "sampled | all (overrides train.step_mode)"),
		evalEvery:   fs.Int("eval-every", 0, "evaluate every N steps (overrides train.eval_every)"),
		padTo:       fs.Int("pad-to", 0, "pad every batch to this length instead of dynamic padding (throughput measurements)"),
		timeLimit:   fs.Duration("time-limit", 0, "stop (with a final evaluation) before this much wall time has passed, e.g. 30m"),
		tokenDrop:   fs.Float64("token-dropout", 0, "probability of replacing a word piece by [UNK] while training (overrides model.token_dropout)"),
		lr:          fs.Float64("lr", 0, "peak learning rate (overrides train.lr)"),
		truncVocab:  fs.Bool("allow-vocab-truncation", false, "accept a model.init whose vocab.txt is longer than its vocab_size by keeping its first vocab_size entries (overrides model.allow_vocab_truncation)"),
		sparse:      fs.Bool("sparse-embeddings", false, "lazy row-wise AdamW for the word embeddings (overrides train.sparse_embeddings)"),
		precision:   fs.String("precision", "", "fp32 | bf16: number format of the matrix products (overrides train.precision)"),
		dumpBatches: fs.String("dump-batches", "", "write every training batch to this file as JSON lines (for the PyTorch anchor, tools/torchanchor)"),
		sharing:     fs.String("sharing", "", "model.sharing keys as a YAML map, e.g. '{rank: 8, matrices: [query, value]}' (override the job's; tasks follow unless they set their own)"),
		quiet:       fs.Bool("quiet", false, "no progress bar"),
		cpuProfile:  fs.String("cpuprofile", "", "write a pprof CPU profile of the run to this file"),
	}
}

// loadSpec loads the job spec, applies the flags given and validates the
// result.
func (f *trainFlags) loadSpec() (*spec.Spec, error) {
	if *f.config == "" {
		return nil, fmt.Errorf("--config is required: the job spec names the tasks, model and training settings")
	}
	s, err := spec.Load(*f.config)
	if err != nil {
		return nil, err
	}
	if err := f.applyOverrides(s); err != nil {
		return nil, err
	}
	return s, s.Validate()
}

// applyOverrides writes the flags given into the spec: --token-dropout 0
// turns token dropout off, an absent --lr keeps train.lr. A flag's key is
// recorded so that a bad value is reported as the flag's.
func (f *trainFlags) applyOverrides(s *spec.Spec) error {
	t, set := &s.Train, given()
	if set["steps"] {
		t.Steps = *f.steps
		s.SetByFlag("train.steps", "--steps")
	}
	if set["strategy"] {
		t.Strategy.Name = *f.strategy
		s.SetByFlag("train.strategy.name", "--strategy")
	}
	if set["step-mode"] {
		t.StepMode = *f.stepMode
		s.SetByFlag("train.step_mode", "--step-mode")
	}
	if set["eval-every"] {
		t.EvalEvery = *f.evalEvery
		s.SetByFlag("train.eval_every", "--eval-every")
	}
	if set["lr"] {
		t.LR = *f.lr
		s.SetByFlag("train.lr", "--lr")
	}
	if set["sparse-embeddings"] {
		t.SparseEmbeddings = *f.sparse
	}
	if set["allow-vocab-truncation"] {
		s.Model.AllowVocabTruncation = *f.truncVocab
	}
	if set["precision"] {
		t.Precision = *f.precision
		s.SetByFlag("train.precision", "--precision")
	}
	if set["token-dropout"] {
		s.Model.TokenDropout = *f.tokenDrop
		s.SetByFlag("model.token_dropout", "--token-dropout")
	}
	if set["sharing"] {
		return s.OverrideSharing(*f.sharing)
	}
	return nil
}

// trainConfig maps the spec to the trainer's config, with the run's own
// flags (data, output, resume, padding, time limit, logging, task subset).
func (f *trainFlags) trainConfig(s *spec.Spec) (trainer.Config, error) {
	cfg := stages.TrainConfig(s, cmp.Or(*f.data, s.Path(s.Preprocess.Output)), cmp.Or(*f.out, s.Path(s.Train.Output)))
	cfg.PadTo, cfg.Resume, cfg.Log, cfg.TimeLimit = *f.padTo, *f.resume, os.Stderr, *f.timeLimit
	if !*f.quiet {
		cfg.Progress = os.Stderr
	}
	if *f.tasks == "" {
		return cfg, nil
	}
	only := map[string]bool{}
	for _, n := range strings.Split(*f.tasks, ",") {
		if _, ok := s.Task(n); !ok {
			return cfg, fmt.Errorf("--tasks: %q is not a task of %s", n, *f.config)
		}
		only[n] = true
	}
	var keep []trainer.TaskOptions
	for _, to := range cfg.Tasks {
		if only[to.Name] {
			keep = append(keep, to)
		}
	}
	cfg.Tasks = keep
	return cfg, nil
}

// startDiagnostics opens the batch dump (--dump-batches) and starts the
// CPU profile (--cpuprofile). stop, always to be called, stops the profile
// and flushes and closes the files, in that order, including when err
// reports a later one failing to open.
func (f *trainFlags) startDiagnostics(cfg *trainer.Config) (stop func(), err error) {
	var undo []func()
	stop = func() {
		for i := len(undo) - 1; i >= 0; i-- {
			undo[i]()
		}
	}
	if *f.dumpBatches != "" {
		bf, err := os.Create(*f.dumpBatches)
		if err != nil {
			return stop, err
		}
		bw := bufio.NewWriter(bf)
		undo = append(undo, func() { bf.Close() }, func() { bw.Flush() })
		cfg.BatchLog = bw
	}
	if *f.cpuProfile != "" {
		pf, err := os.Create(*f.cpuProfile)
		if err != nil {
			return stop, err
		}
		undo = append(undo, func() { pf.Close() })
		if err := pprof.StartCPUProfile(pf); err != nil {
			return stop, err
		}
		undo = append(undo, pprof.StopCPUProfile)
	}
	return stop, nil
}

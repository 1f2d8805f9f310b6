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

	"github.com/taskweave/taskweave/io/storage"
	"github.com/taskweave/taskweave/jobs/spec"
	"github.com/taskweave/taskweave/jobs/stages"
	"github.com/taskweave/taskweave/model/multitask"
	"github.com/taskweave/taskweave/trainer"
)

func init() {
	register("train", "train the shared encoder and task heads on preprocessed shards (resumable; Ctrl-C saves)", setupTrain)
}

func setupTrain(fs *flag.FlagSet) func(context.Context, []string) error {
	config := fs.String("config", "", "job spec (YAML)")
	data := fs.String("data", "", "preprocessed data directory (default: the job's preprocess.output)")
	out := fs.String("out", "", "output directory (default: the job's train.output)")
	resume := fs.Bool("resume", false, "continue the run saved in <out>/last exactly")
	steps := fs.Int("steps", 0, "optimizer steps (overrides train.steps)")
	tasks := fs.String("tasks", "", "comma-separated subset of the job's tasks to train (e.g. a single-task baseline)")
	strategy := fs.String("strategy", "", "multi-task strategy (overrides train.strategy.name): "+strings.Join(multitask.NameStrings(), ", "))
	stepMode := fs.String("step-mode", "", "sampled | all (overrides train.step_mode)")
	evalEvery := fs.Int("eval-every", 0, "evaluate every N steps (overrides train.eval_every)")
	padTo := fs.Int("pad-to", 0, "pad every batch to this length instead of dynamic padding (throughput measurements)")
	timeLimit := fs.Duration("time-limit", 0, "stop (with a final evaluation) before this much wall time has passed, e.g. 30m")
	tokenDrop := fs.Float64("token-dropout", 0, "probability of replacing a word piece by [UNK] while training (overrides model.token_dropout)")
	lr := fs.Float64("lr", 0, "peak learning rate (overrides train.lr)")
	truncVocab := fs.Bool("allow-vocab-truncation", false, "accept a model.init whose vocab.txt is longer than its vocab_size by keeping its first vocab_size entries (overrides model.allow_vocab_truncation)")
	sparse := fs.Bool("sparse-embeddings", false, "lazy row-wise AdamW for the word embeddings (overrides train.sparse_embeddings)")
	precision := fs.String("precision", "", "fp32 | bf16: number format of the matrix products (overrides train.precision)")
	dumpBatches := fs.String("dump-batches", "", "write every training batch to this file as JSON lines (for the PyTorch anchor, tools/torchanchor)")
	sharing := fs.String("sharing", "", "model.sharing keys as a YAML map, e.g. '{rank: 8, matrices: [query, value]}' (override the job's; tasks follow unless they set their own)")
	quiet := fs.Bool("quiet", false, "no progress bar")
	cpuProfile := fs.String("cpuprofile", "", "write a pprof CPU profile of the run to this file")
	return func(ctx context.Context, args []string) error {
		if *config == "" {
			return fmt.Errorf("--config is required: the job spec names the tasks, model and training settings")
		}
		s, err := spec.Load(*config)
		if err != nil {
			return err
		}
		// Flags override the spec only when given: --token-dropout 0 turns
		// token dropout off, an absent --lr keeps train.lr.
		t, set := &s.Train, given()
		if set["steps"] {
			t.Steps = *steps
			s.SetByFlag("train.steps", "--steps")
		}
		if set["strategy"] {
			t.Strategy.Name = *strategy
			s.SetByFlag("train.strategy.name", "--strategy")
		}
		if set["step-mode"] {
			t.StepMode = *stepMode
			s.SetByFlag("train.step_mode", "--step-mode")
		}
		if set["eval-every"] {
			t.EvalEvery = *evalEvery
			s.SetByFlag("train.eval_every", "--eval-every")
		}
		if set["lr"] {
			t.LR = *lr
			s.SetByFlag("train.lr", "--lr")
		}
		if set["sparse-embeddings"] {
			t.SparseEmbeddings = *sparse
		}
		if set["allow-vocab-truncation"] {
			s.Model.AllowVocabTruncation = *truncVocab
		}
		if set["precision"] {
			t.Precision = *precision
			s.SetByFlag("train.precision", "--precision")
		}
		if set["token-dropout"] {
			s.Model.TokenDropout = *tokenDrop
			s.SetByFlag("model.token_dropout", "--token-dropout")
		}
		if set["sharing"] {
			if err := s.OverrideSharing(*sharing); err != nil {
				return err
			}
		}
		if err := s.Validate(); err != nil {
			return err
		}
		cfg := stages.TrainConfig(s, cmp.Or(*data, s.Path(s.Preprocess.Output)), cmp.Or(*out, s.Path(t.Output)))
		cfg.PadTo, cfg.Resume, cfg.Log, cfg.TimeLimit = *padTo, *resume, os.Stderr, *timeLimit
		if !*quiet {
			cfg.Progress = os.Stderr
		}
		var only map[string]bool
		if *tasks != "" {
			only = map[string]bool{}
			for _, n := range strings.Split(*tasks, ",") {
				if _, ok := s.Task(n); !ok {
					return fmt.Errorf("--tasks: %q is not a task of %s", n, *config)
				}
				only[n] = true
			}
		}
		if only != nil {
			var keep []trainer.TaskOptions
			for _, to := range cfg.Tasks {
				if only[to.Name] {
					keep = append(keep, to)
				}
			}
			cfg.Tasks = keep
		}
		if *dumpBatches != "" {
			f, err := os.Create(*dumpBatches)
			if err != nil {
				return err
			}
			defer f.Close()
			bw := bufio.NewWriter(f)
			defer bw.Flush()
			cfg.BatchLog = bw
		}
		if *cpuProfile != "" {
			f, err := os.Create(*cpuProfile)
			if err != nil {
				return err
			}
			defer f.Close()
			if err := pprof.StartCPUProfile(f); err != nil {
				return err
			}
			defer pprof.StopCPUProfile()
		}
		sum, err := trainer.Train(ctx, cfg)
		if err != nil {
			return err
		}
		fmt.Printf("%s: %d steps, %.0f tokens/s, %s; checkpoints in %s (best model: %s)\n",
			sum.Stopped, sum.Steps, sum.TokensPerSec, sum.BestText(t.SelectMetric), cfg.Out, storage.Join(cfg.Out, "best"))
		return nil
	}
}

package main

import (
	"cmp"
	"context"
	"errors"
	"flag"
	"fmt"
	"os"

	"github.com/taskweave/taskweave/jobs/spec"
	"github.com/taskweave/taskweave/jobs/stages"
)

func init() {
	register("pretrain", "pre-train the encoder on the job's pretrain.sources (packed train text; masked LM or ELECTRA); resumable, Ctrl-C saves", setupPretrain)
}

func setupPretrain(fs *flag.FlagSet) func(context.Context, []string) error {
	config := fs.String("config", "", "job spec (YAML) with a pretrain block")
	data := fs.String("data", "", "preprocessed data directory (default: the job's preprocess.output)")
	out := fs.String("out", "", "output directory (overrides pretrain.output): packed data, train/, encoder/, pretrain.json")
	resume := fs.Bool("resume", false, "continue the run saved in <pretrain.output>/train/last exactly")
	steps := fs.Int("steps", 0, "optimizer steps (overrides pretrain.steps)")
	timeLimit := fs.Duration("time-limit", 0, "stop this session (saving everything for --resume) before this much wall time, e.g. 8h (overrides pretrain.time_limit_seconds)")
	quiet := fs.Bool("quiet", false, "no progress bar")
	return func(ctx context.Context, args []string) error {
		if *config == "" {
			return errors.New("--config is required: the job spec's pretrain block names the sources and settings")
		}
		s, err := spec.Load(*config)
		if err != nil {
			return err
		}
		if !s.Pretrains() {
			return fmt.Errorf("%s has no pretrain.sources: name the tasks whose train text the encoder is pre-trained on", *config)
		}
		if *out != "" {
			s.Pretrain.Output = *out
		}
		if err := applyRunner(s); err != nil {
			return err
		}
		o := stages.PretrainOptions{Runner: beamRunner(), Resume: *resume, Steps: *steps, TimeLimit: *timeLimit, Log: os.Stderr}
		if !*quiet {
			o.Progress = os.Stderr
		}
		res, err := stages.Pretrain(ctx, s, cmp.Or(*data, s.Path(s.Preprocess.Output)), o)
		if err != nil {
			return err
		}
		sum := res.Record.Summary
		fmt.Printf("%s: %d steps, %d tokens, %.0f tokens/s; encoder in %s\n", sum.Stopped, sum.Steps, sum.Tokens, sum.TokensPerSec, res.Record.Encoder)
		return nil
	}
}

package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"strings"

	"github.com/taskweave/taskweave/io/storage"
	"github.com/taskweave/taskweave/jobs/runner"
	"github.com/taskweave/taskweave/jobs/spec"
	"github.com/taskweave/taskweave/model/multitask"
	"github.com/taskweave/taskweave/pipelines/evaluate"
	"github.com/taskweave/taskweave/trainer"
	"github.com/taskweave/taskweave/trainer/mixture"
)

// jobStages wires the real stages into the job runner.
func jobStages() runner.Stages {
	return runner.Stages{
		Preprocess: preprocessStage,
		Train: func(ctx context.Context, s *spec.Spec, data, runID string) (string, error) {
			cfg := trainConfig(s, data, storage.Join(s.Path(s.Train.Output), runID))
			cfg.Progress, cfg.Log = os.Stderr, os.Stderr
			sum, err := trainer.Train(ctx, cfg)
			if err != nil {
				return "", err
			}
			if sum.Stopped == "interrupted" {
				return "", fmt.Errorf("training interrupted at step %d; its state is in %s/last", sum.Steps, cfg.Out)
			}
			return storage.Join(cfg.Out, "best"), nil
		},
		Evaluate: func(ctx context.Context, s *spec.Spec, data, ckpt, incumbent, runID string) (runner.EvalResult, error) {
			out := storage.Join(s.Path(s.Evaluate.Output), runID)
			rep, err := evaluate.Run(ctx, evaluate.Options{Model: ckpt, Compare: incumbent, Data: data,
				Split: s.Evaluate.Split, Out: out, BatchSize: s.Evaluate.BatchSize, Log: os.Stderr})
			if err != nil {
				return runner.EvalResult{}, err
			}
			res := runner.EvalResult{Report: storage.Join(out, "report.json"), Scores: map[string]float64{}}
			if incumbent != "" {
				res.IncumbentScore = map[string]float64{}
			}
			for _, t := range rep.Tasks {
				if m, ok := t.Results["model"]; ok {
					res.Scores[t.Task] = m.Score
				}
				if m, ok := t.Results["compare"]; ok && incumbent != "" {
					res.IncumbentScore[t.Task] = m.Score
				}
			}
			return res, nil
		},
	}
}

// trainConfig maps a job spec onto the trainer's configuration.
func trainConfig(s *spec.Spec, data, out string) trainer.Config {
	t := &s.Train
	cfg := trainer.Config{
		Data: data, Out: out,
		Vocab: s.Path(s.Tokenizer.Vocab), Size: s.Model.Size, Init: s.Path(s.Model.Init), Dropout: s.Model.Dropout,
		ModelSeed: s.Model.Seed, Steps: t.Steps, BatchSize: t.BatchSize, BatchTokens: t.BatchTokens,
		LR: t.LR, Warmup: t.Warmup, WeightDecay: t.WeightDecay, Clip: t.Clip, Accumulate: t.Accumulate, Seed: t.Seed,
		StepMode: t.StepMode,
		Mixture:  mixture.Config{Name: t.Mixture.Name, Cap: t.Mixture.Cap, Temperature: t.Mixture.Temperature},
		Strategy: multitask.Config{Name: t.Strategy.Name, Alpha: t.Strategy.Alpha, Window: t.Strategy.Window,
			Temperature: t.Strategy.Temperature, LR: t.Strategy.LR},
		EvalEvery: t.EvalEvery, EvalSplit: t.EvalSplit, SelectMetric: t.SelectMetric, Patience: t.Patience,
		SaveEvery: t.SaveEvery,
	}
	for _, jt := range s.Tasks {
		cfg.Tasks = append(cfg.Tasks, trainer.TaskOptions{Name: jt.Name, Layer: jt.Layer, Auxiliary: jt.Auxiliary, Weight: jt.Weight, Rate: jt.Rate})
	}
	return cfg
}

// applyRunner turns the spec's runner section into Beam's flags, unless the
// command line already set them: flags beat the file.
func applyRunner(s *spec.Spec) error {
	set := map[string]bool{}
	flag.Visit(func(f *flag.Flag) { set[f.Name] = true })
	apply := func(name, value string) error {
		if set[name] {
			return nil
		}
		if flag.Lookup(name) == nil {
			return fmt.Errorf("runner.flags: Beam has no flag --%s", name)
		}
		return flag.Set(name, value)
	}
	if err := apply("runner", s.Runner.Name); err != nil {
		return err
	}
	for _, k := range sortedKeys(s.Runner.Flags) {
		if err := apply(k, s.Runner.Flags[k]); err != nil {
			return err
		}
	}
	return nil
}

func reportMarkdown(reportJSON string) string {
	return strings.TrimSuffix(reportJSON, ".json") + ".md"
}

// Package stages wires taskweave's real stages — the preprocess pipeline,
// the trainer and the evaluate pipeline — into the job runner, mapping the
// job spec onto each stage's configuration.
package stages

import (
	"cmp"
	"context"
	"fmt"
	"io"
	"math"

	"github.com/taskweave/taskweave/io/storage"
	"github.com/taskweave/taskweave/jobs/runner"
	"github.com/taskweave/taskweave/jobs/spec"
	"github.com/taskweave/taskweave/model"
	"github.com/taskweave/taskweave/pipelines/evaluate"
	"github.com/taskweave/taskweave/pipelines/preprocess"
	"github.com/taskweave/taskweave/trainer"
)

// Options say where the stages report while they work.
type Options struct {
	Runner   string    // Beam runner for the pipeline stages; "" = prism
	Progress io.Writer // progress bars; nil = none
	Log      io.Writer // stage logs and summary tables; nil = none
}

// New returns the real stages.
func New(o Options) runner.Stages {
	if o.Log == nil {
		o.Log = io.Discard
	}
	return runner.Stages{
		Preprocess: func(ctx context.Context, s *spec.Spec, force bool) (runner.PreprocessResult, error) {
			cfg, err := PreprocessConfig(s)
			if err != nil {
				return runner.PreprocessResult{}, err
			}
			res, err := preprocess.Run(ctx, cfg, preprocess.Options{Runner: o.Runner, Force: force, Progress: o.Progress})
			if err != nil {
				return runner.PreprocessResult{}, err
			}
			for _, st := range res.Stale {
				fmt.Fprintf(o.Log, "preprocess: rebuilding, a shard changed since the manifest was written: %s\n", st)
			}
			if res.UpToDate {
				fmt.Fprintf(o.Log, "preprocess: up to date (%s); nothing written\n", res.ManifestPath)
			} else if err := preprocess.WriteTable(o.Log, res.Manifest); err != nil {
				return runner.PreprocessResult{}, err
			}
			return runner.PreprocessResult{Dir: cfg.Out, Fingerprint: res.Manifest.Fingerprint, UpToDate: res.UpToDate}, nil
		},
		Pretrain: func(ctx context.Context, s *spec.Spec, data string) (string, bool, error) {
			res, err := Pretrain(ctx, s, data, PretrainOptions{Runner: o.Runner, Auto: true, Progress: o.Progress, Log: o.Log})
			if err == nil && !res.Record.Complete {
				err = fmt.Errorf("pre-training stopped (%s) at step %d of %d; run the job again to resume it", res.Record.Summary.Stopped, res.Record.Summary.Steps, s.Pretrain.Steps)
			}
			return res.Record.Encoder, res.UpToDate, err
		},
		Train: func(ctx context.Context, s *spec.Spec, data, runID string) (string, error) {
			cfg := TrainConfig(s, data, storage.Join(s.Path(s.Train.Output), runID))
			cfg.Progress, cfg.Log = o.Progress, o.Log
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
			eo := EvaluateOptions(s, data, ckpt, incumbent, out)
			eo.Log = o.Log
			rep, err := evaluate.Run(ctx, eo)
			if err != nil {
				return runner.EvalResult{}, err
			}
			res := runner.EvalResult{Report: storage.Join(out, "report.json"), Scores: map[string]float64{}, Examples: map[string]int64{}}
			if incumbent != "" {
				res.IncumbentScore = map[string]float64{}
			}
			for _, t := range rep.Tasks {
				if m, ok := t.Results["model"]; ok {
					res.Scores[t.Task] = m.Score
					res.Examples[t.Task] = m.Sentences - m.Unlabeled
				}
				if m, ok := t.Results["compare"]; ok && incumbent != "" {
					res.IncumbentScore[t.Task] = m.Score
				}
			}
			return res, nil
		},
	}
}

// TrainConfig maps a job spec onto the trainer's configuration. It fills
// every field the spec decides; the rest (PadTo, Resume, StopAt, TimeLimit,
// Progress, Log) are per-invocation options whose zero means off.
func TrainConfig(s *spec.Spec, data, out string) trainer.Config {
	t, m := &s.Train, &s.Model
	cfg := trainer.Config{
		Data: data, Out: out, Vocab: s.Path(s.Tokenizer.Vocab),
		Size: m.Size, Init: s.Path(m.Init), AllowVocabTruncation: m.AllowVocabTruncation, Dropout: m.Dropout, TokenDropout: m.TokenDropout, ModelSeed: m.Seed,
		Steps: t.Steps, BatchSize: t.BatchSize, BatchTokens: t.BatchTokens,
		LR: t.LR, Warmup: t.Warmup, WeightDecay: t.WeightDecay, Clip: t.Clip, SparseEmbeddings: t.SparseEmbeddings, Precision: model.Precision(t.Precision), Accumulate: t.Accumulate, Seed: t.Seed,
		StepMode:  t.StepMode,
		Mixture:   s.MixtureConfig(), // the trainer sets the tasks and rates of each phase
		Strategy:  s.StrategyConfig(),
		Holdout:   t.Strategy.Holdout,
		EvalEvery: t.EvalEvery, EvalSplit: t.EvalSplit, SelectMetric: t.SelectMetric, Patience: t.Patience,
		SaveEvery: t.SaveEvery, LogEvery: t.LogEvery, ShuffleBuffer: t.ShuffleBuffer, PoolBatches: t.PoolBatches,
	}
	cfg.Phases = Phases(t)
	if s.Pretrains() {
		cfg.Init = EncoderDir(s) // the encoder the job pre-trains (spec: not with model.init)
	}
	factorized := false
	for _, jt := range s.Tasks {
		ts := model.TaskSharing{Rank: jt.Sharing.Rank, LayerAttention: jt.Sharing.LayerAttention, Adapter: jt.Sharing.Adapter}
		if ts.Rank > 0 { // matrices and basis mean something only with a factor
			ts.Matrices, factorized = jt.Sharing.Matrices, true
		}
		cfg.Tasks = append(cfg.Tasks, trainer.TaskOptions{Name: jt.Name, Layer: jt.Layer, Auxiliary: jt.Auxiliary, Weight: jt.Weight, Rate: jt.Rate, Sharing: ts, InputFrom: jt.InputFrom,
			Source: jt.Source, WholeWord: jt.WholeWord})
	}
	sh := m.Sharing
	cfg.Sharing = model.Sharing{FreezeShared: sh.FreezeShared, Experts: sh.Experts}
	if factorized {
		cfg.Sharing.Basis = sh.Basis
	}
	if sh.Experts > 0 {
		cfg.Sharing.ExpertLayers = sh.ExpertLayers
	}
	return cfg
}

// EvaluateOptions maps a job spec onto the evaluate pipeline's options for
// scoring ckpt (and incumbent, when not "") on the shards in data.
func EvaluateOptions(s *spec.Spec, data, ckpt, incumbent, out string) evaluate.Options {
	return evaluate.Options{Model: ckpt, Compare: incumbent, Data: data, Split: s.Evaluate.Split, Out: out, BatchSize: s.Evaluate.BatchSize, Precision: s.Train.Precision}
}

// Phases turns train.phases into the trainer's phases of whole steps: a
// phase given as a share of train.steps ends at the rounded cumulative
// share, so the phases always add up to train.steps.
func Phases(t *spec.Train) []trainer.Phase {
	var out []trainer.Phase
	cum, end := 0.0, 0
	for i, p := range t.Phases {
		steps := p.Steps
		if p.Share > 0 {
			cum += p.Share
			e := int(math.Round(cum * float64(t.Steps)))
			if i == len(t.Phases)-1 {
				e = t.Steps
			}
			steps, end = e-end, e
		}
		out = append(out, trainer.Phase{Name: cmp.Or(p.Name, fmt.Sprintf("phase%d", i+1)), Tasks: p.Tasks, Steps: steps})
	}
	return out
}

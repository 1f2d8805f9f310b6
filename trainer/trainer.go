// Package trainer trains the shared encoder and its task heads on the
// preprocessed Parquet shards: it streams each task's shards through a
// bounded shuffle buffer into length-bucketed, dynamically padded batches,
// picks tasks with a mixture sampler (trainer/mixture), combines task losses
// or gradients with a multi-task strategy (model/multitask), steps AdamW with
// warm-up/decay, clipping and accumulation, evaluates on the dev split every
// N steps, keeps the best checkpoint, stops early, and saves everything a
// resumed run needs to continue bit for bit.
//
// The loop is Trainer.run; one step is Trainer.trainStep: a stepper (one per
// train.step_mode, step.go) runs forward and backward for each micro-batch
// and leaves the strategy's combined gradient in the parameters, then the
// gradient is clipped and AdamW steps. setup.go builds everything the loop
// needs, state.go saves and restores it, eval.go scores the dev split.
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
	"context"
	"encoding/json"
	"fmt"
	"math"
	"strings"
	"time"

	"github.com/taskweave/taskweave/io/storage"
	"github.com/taskweave/taskweave/model"
	"github.com/taskweave/taskweave/model/checkpoint"
	"github.com/taskweave/taskweave/model/multitask"
	"github.com/taskweave/taskweave/trainer/mixture"
)

// Trainer holds a run in progress.
type Trainer struct {
	cfg     Config
	tasks   []*taskData
	m       *model.Model
	el      *model.Electra // ELECTRA pre-training: tr.m is its discriminator (electra.go)
	opt     *model.AdamW
	sched   model.Schedule
	sampler *mixture.Sampler
	strat   *multitask.Strategy
	stepper stepper
	streams []*stream
	// phases of the run; the sampler, strategy, schedule and stepper above
	// are the current phase's, over its tasks tr.active (indexes into tasks).
	phases   []phase
	phase    int
	active   []int
	drawn    []int  // the positions in active the sampler draws: not a group's other tasks (groups.go)
	stepMode string // the current phase's
	// auto_lambda: held-out streams of the primary tasks (by task index)
	// and the batch forward drew last.
	heldout   map[int]*stream
	lastBatch *model.Batch
	bcfg      batchConfig
	meta      checkpoint.Meta
	metrics   *metricsLog
	log       *progress
	last      *lastStore

	step           int
	best           float64
	bestStep       int
	bestEval       map[string]map[string]float64
	lastEval       map[string]map[string]float64
	sinceBest      int
	tokens, padded int64
	trainSec       float64
	lossEMA        []float64
	// ELECTRA's figures since the last log, and the last log's.
	elWindow  model.ElectraStats
	elBatches int
	elLast    map[string]float64
}

// Train runs cfg to the end (or to early stopping, StopAt, or ctx's
// cancellation, which saves last/ with the trainer state and returns
// normally with Summary.Stopped = "interrupted").
func Train(ctx context.Context, cfg Config) (*Summary, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	tr := &Trainer{cfg: cfg, log: newProgress(cfg.Log, cfg.Progress), best: math.Inf(-1), bestStep: -1}
	if err := tr.setup(ctx); err != nil {
		if tr.metrics != nil {
			tr.metrics.close()
		}
		return nil, err
	}
	s, err := tr.run(ctx)
	if cerr := tr.metrics.close(); err == nil && cerr != nil {
		return nil, cerr
	}
	return s, err
}

func (tr *Trainer) logf(format string, a ...any) { tr.log.logf(format, a...) }

// run is the training loop: step, log, evaluate, save, until Steps or a
// reason to stop; then the final save and the summary.
func (tr *Trainer) run(ctx context.Context) (*Summary, error) {
	cfg := &tr.cfg
	clock := newBudget(cfg.TimeLimit, cfg.EvalEvery > 0)
	tr.log.start(cfg.Steps, tr.step)
	stopped := "finished"
	for tr.step < cfg.Steps && stopped == "finished" {
		if ctx.Err() != nil {
			stopped = "interrupted"
			break
		}
		if tr.step >= tr.phases[tr.phase].end {
			if err := tr.nextPhase(); err != nil {
				return nil, err
			}
		}
		t0 := time.Now()
		st, err := tr.trainStep() // forward → backward → combine → clip → AdamW
		if err != nil {
			if ctx.Err() != nil {
				stopped = "interrupted"
				break
			}
			return nil, err
		}
		tr.trainSec += time.Since(t0).Seconds()
		tr.step++
		if err := tr.logStep(st); err != nil {
			return nil, err
		}
		outOfTime := tr.step < cfg.Steps && clock.outOfTime(time.Since(t0))
		if cfg.EvalEvery > 0 && (tr.step%cfg.EvalEvery == 0 || tr.step == cfg.Steps || outOfTime) {
			e0 := time.Now()
			improved, err := tr.evaluate(ctx)
			clock.evaluated(time.Since(e0))
			if err != nil {
				if ctx.Err() != nil {
					stopped = "interrupted"
					break
				}
				return nil, err
			}
			tr.sinceBest++
			if improved {
				tr.sinceBest = 0
			}
			if cfg.Patience > 0 && tr.sinceBest >= cfg.Patience {
				stopped = "early_stopping"
				tr.logf("early stopping at step %d: %d evaluations without improvement (best %.4f at step %d)", tr.step, tr.sinceBest, tr.best, tr.bestStep)
			}
		}
		switch {
		case stopped != "finished":
		case outOfTime:
			stopped = "time_limit"
			tr.logf("time limit %s reached at step %d of %d", cfg.TimeLimit, tr.step, cfg.Steps)
		case cfg.SaveEvery > 0 && tr.step%cfg.SaveEvery == 0 && tr.step < cfg.Steps:
			if err := tr.saveLast(ctx); err != nil {
				return nil, err
			}
		}
		if stopped == "finished" && cfg.StopAt > 0 && tr.step >= cfg.StopAt && tr.step < cfg.Steps {
			stopped = "stop_at"
		}
	}
	tr.log.finish()
	return tr.finish(context.WithoutCancel(ctx), stopped, clock.since())
}

// trainStep runs one optimizer step.
func (tr *Trainer) trainStep() (stepStats, error) {
	st := stepStats{weights: map[string]float64{}}
	if err := tr.stepper.step(&st); err != nil {
		return st, err
	}
	st.lr = tr.sched.LR(tr.step - tr.phases[tr.phase].start)
	st.gradNorm = tr.opt.StepClipped(st.lr, tr.cfg.Clip)
	tr.zeroGrad()
	return st, nil
}

// logStep writes a "train" event every LogEvery steps and at the last.
func (tr *Trainer) logStep(st stepStats) error {
	tr.log.window(st.padded)
	if tr.step%tr.cfg.LogEvery != 0 && tr.step != tr.cfg.Steps {
		tr.log.set(tr.step)
		return nil
	}
	tokPerSec := tr.log.rate()
	desc := tr.lossString()
	ev := map[string]any{"event": "train", "step": tr.step, "lr": st.lr, "grad_norm": st.gradNorm,
		"loss": tr.lossMap(), "weights": st.weights, "padded_tokens_per_sec": tokPerSec, "tokens": tr.tokens}
	if tr.el != nil {
		desc, ev["electra"] = tr.electraLog()
	}
	tr.log.describe(fmt.Sprintf("%s %.0f tok/s", desc, tokPerSec))
	tr.log.set(tr.step)
	return tr.metrics.write(ev)
}

// finish saves last/ (even when ctx was cancelled: Ctrl-C saves), makes sure
// best/ exists, and writes the summary.
func (tr *Trainer) finish(ctx context.Context, stopped string, wall time.Duration) (*Summary, error) {
	cfg := &tr.cfg
	if err := tr.saveLast(ctx); err != nil {
		return nil, err
	}
	if tr.bestStep < 0 { // never evaluated: the last model is the best we have
		if err := checkpoint.Save(storage.Dir(ctx, storage.Join(cfg.Out, "best")), tr.m, tr.meta); err != nil {
			return nil, err
		}
	}
	s := &Summary{Steps: tr.step, Stopped: stopped, BestStep: tr.bestStep, BestScore: tr.best, Best: tr.bestEval,
		Last: tr.lastEval, Tokens: tr.tokens, PaddedTokens: tr.padded, TrainSeconds: tr.trainSec,
		WallSeconds: wall.Seconds(), Strategy: tr.strat.Name(), StepMode: cfg.StepMode, Electra: tr.elLast}
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
	s.Rates = rateMap(tr.drawnNames(), tr.sampler.Rates())
	tr.sharingSummary(s)
	var err error
	if s.Charts, err = writeSharingCharts(ctx, cfg.Out, names, s); err != nil {
		return nil, fmt.Errorf("sharing charts: %w", err)
	}
	if err := tr.metrics.write(map[string]any{"event": "end", "summary": s}); err != nil {
		return nil, err
	}
	b, err := json.MarshalIndent(s, "", "  ")
	if err != nil {
		return nil, err
	}
	if err := storage.WriteFile(ctx, storage.Join(cfg.Out, "summary.json"), append(b, '\n')); err != nil {
		return nil, err
	}
	tr.logf("%s after %d steps: %.0f tokens/s (%.0f padded), %s", stopped, tr.step, s.TokensPerSec, s.PaddedPerSec, s.BestText(cfg.SelectMetric))
	return s, nil
}

// writeJSON appends one event to metrics.jsonl.
func (tr *Trainer) writeJSON(v any) error { return tr.metrics.write(v) }

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

package trainer

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"math"

	"github.com/taskweave/taskweave/io/storage"
	"github.com/taskweave/taskweave/model"
	"github.com/taskweave/taskweave/model/checkpoint"
	"github.com/taskweave/taskweave/trainer/mixture"
)

const (
	stateTensors = "trainer_state.safetensors"
	stateJSON    = "trainer_state.json"
	// stateVersion 2: the strategy state is {weighting, combiner}.
	stateVersion = 2
)

// trainerState is trainer_state.json: everything besides weights and
// optimizer moments that the next step depends on. Floats are float64 and
// Go's JSON encoding round-trips them exactly.
type trainerState struct {
	FormatVersion int                           `json:"format_version"`
	Step          int                           `json:"step"`
	AdamWStep     int                           `json:"adamw_step"`
	TensorsSHA256 string                        `json:"tensors_sha256"`
	ModelRNG      model.RNGState                `json:"model_rng"`
	Sampler       mixture.State                 `json:"sampler"`
	Batches       map[string]int64              `json:"batches"` // batches drawn per task stream
	Strategy      string                        `json:"strategy"`
	StrategyState json.RawMessage               `json:"strategy_state"`
	BestScore     *float64                      `json:"best_score,omitempty"`
	BestStep      int                           `json:"best_step"`
	SinceBest     int                           `json:"since_best"`
	BestEval      map[string]map[string]float64 `json:"best_eval,omitempty"`
	LastEval      map[string]map[string]float64 `json:"last_eval,omitempty"`
	LossEMA       map[string]float64            `json:"loss_ema"`
	Tokens        int64                         `json:"tokens"`
	PaddedTokens  int64                         `json:"padded_tokens"`
	TrainSeconds  float64                       `json:"train_seconds"`
	Steps         int                           `json:"total_steps"`
	Seed          uint64                        `json:"seed"`
	StepMode      string                        `json:"step_mode"`
	Mixture       string                        `json:"mixture"`
	BatchSize     int                           `json:"batch_size"`
	BatchTokens   int                           `json:"batch_tokens"`
	Accumulate    int                           `json:"accumulate"`
	// Phase is the phase whose sampler and strategy state this is;
	// PhaseEnds the step each phase ends at (a check that the job's phases
	// are the same on resume).
	Phase     int   `json:"phase"`
	PhaseEnds []int `json:"phase_ends"`
	// GeneratorRNG is ELECTRA's generator's dropout stream (its weights
	// are in the state tensors, under their own names).
	GeneratorRNG *model.RNGState `json:"generator_rng,omitempty"`
}

// saveLast writes out/last: the optimizer moments, the model checkpoint
// (its config.json records the step), and trainer_state.json last, which
// names the step and the moments' sha256, so a save cut short is detected
// on resume.
func (tr *Trainer) saveLast(ctx context.Context) error {
	// The log first: a resumed run finds it as complete as its state.
	if err := tr.metrics.flush(); err != nil {
		return err
	}
	dir, err := tr.last.begin(tr.step)
	if err != nil {
		return fmt.Errorf("saving last/: %w", err)
	}
	fs := storage.Dir(ctx, dir)
	os := tr.opt.State()
	ts := tr.stateTensors(os)
	// Sized up front: the moments are twice the model (86 MB for mini), and
	// growing a buffer to that by doubling cost 0.7 s of a 150-step run's profile.
	var buf bytes.Buffer
	size := 1 << 16
	for _, t := range ts {
		size += 4*len(t.Data) + 128 + len(t.Name)
	}
	buf.Grow(size)
	if err := checkpoint.WriteSafetensors(&buf, ts, map[string]string{"step": fmt.Sprint(tr.step)}); err != nil {
		return err
	}
	sum := sha256.Sum256(buf.Bytes())
	if err := storage.WriteFile(ctx, storage.Join(dir, stateTensors), buf.Bytes()); err != nil {
		return fmt.Errorf("saving trainer state: %w", err)
	}
	meta := tr.meta
	meta.Extra = map[string]any{}
	for k, v := range tr.meta.Extra {
		meta.Extra[k] = v
	}
	meta.Extra["step"] = tr.step
	if err := checkpoint.Save(fs, tr.m, meta); err != nil {
		return err
	}
	st := trainerState{FormatVersion: stateVersion, Step: tr.step, AdamWStep: os.Step, TensorsSHA256: hex.EncodeToString(sum[:]),
		ModelRNG: tr.m.RNGState(), Sampler: tr.sampler.State(), Batches: map[string]int64{}, Strategy: tr.strat.Name(),
		BestStep: tr.bestStep, SinceBest: tr.sinceBest, BestEval: tr.bestEval, LastEval: tr.lastEval, LossEMA: tr.lossMap(),
		Tokens: tr.tokens, PaddedTokens: tr.padded, TrainSeconds: tr.trainSec, Steps: tr.cfg.Steps, Seed: tr.cfg.Seed,
		StepMode: tr.cfg.StepMode, Mixture: tr.cfg.Mixture.Name, BatchSize: tr.cfg.BatchSize, BatchTokens: tr.cfg.BatchTokens,
		Accumulate: tr.cfg.Accumulate, Phase: tr.phase, PhaseEnds: tr.phaseEnds()}
	if tr.bestStep >= 0 {
		b := tr.best
		st.BestScore = &b
	}
	if tr.el != nil {
		g := tr.el.Gen.RNGState()
		st.GeneratorRNG = &g
	}
	for i, t := range tr.tasks {
		st.Batches[t.name] = tr.streams[i].drawn
		if h, ok := tr.heldout[i]; ok {
			st.Batches[heldOutKey(t.name)] = h.drawn
		}
	}
	ss, err := tr.strat.State()
	if err != nil {
		return err
	}
	st.StrategyState = ss
	b, err := json.MarshalIndent(st, "", "  ")
	if err != nil {
		return err
	}
	if err := storage.WriteFile(ctx, storage.Join(dir, stateJSON), append(b, '\n')); err != nil {
		return fmt.Errorf("saving trainer state: %w", err)
	}
	if err := tr.last.commit(ctx, tr.step); err != nil {
		return err
	}
	tr.logf("saved %s at step %d", tr.last.dir(), tr.step)
	return nil
}

// stateTensors are what trainer_state.safetensors holds: the optimizer's
// moments and, with ELECTRA, the generator's own weights.
func (tr *Trainer) stateTensors(os model.AdamWState) []*checkpoint.Tensor {
	var ts []*checkpoint.Tensor
	for i, n := range os.Names {
		ts = append(ts, &checkpoint.Tensor{Name: "adamw.m." + n, DType: "F32", Shape: []int{len(os.M[i])}, Data: os.M[i]},
			&checkpoint.Tensor{Name: "adamw.v." + n, DType: "F32", Shape: []int{len(os.V[i])}, Data: os.V[i]})
	}
	if tr.el != nil {
		for _, p := range tr.el.GeneratorParams() {
			ts = append(ts, &checkpoint.Tensor{Name: p.Name, DType: "F32", Shape: p.Shape, Data: p.W})
		}
	}
	return ts
}

// loadState restores a run from out/last (the model itself was loaded in
// setup) and replays every task stream to its saved position.
func (tr *Trainer) loadState(ctx context.Context, dir string) error {
	p := storage.Join(dir, stateJSON)
	b, err := storage.ReadFile(ctx, p)
	if err != nil {
		return fmt.Errorf("--resume: %w (no trainer state: the run was not saved by this trainer)", err)
	}
	var st trainerState
	if err := json.Unmarshal(b, &st); err != nil {
		return fmt.Errorf("--resume: %s: %w", p, err)
	}
	if st.FormatVersion != stateVersion {
		return fmt.Errorf("--resume: %s has format_version %d; this trainer resumes version %d only (start the run again)", p, st.FormatVersion, stateVersion)
	}
	c := &tr.cfg
	if st.PhaseEnds == nil {
		st.PhaseEnds = []int{st.Steps} // saved before phases existed: one phase
	}
	if fmt.Sprint(st.PhaseEnds) != fmt.Sprint(tr.phaseEnds()) {
		return fmt.Errorf("--resume: %s records phases ending at steps %v but the job's train.phases end at %v; an exact resume needs the same phases", p, st.PhaseEnds, tr.phaseEnds())
	}
	if st.Phase != tr.phase {
		if err := tr.enterPhase(st.Phase); err != nil {
			return fmt.Errorf("--resume: %w", err)
		}
	}
	for _, chk := range []struct {
		key       string
		got, want any
	}{
		{"strategy", st.Strategy, tr.strat.Name()}, {"step_mode", st.StepMode, c.StepMode}, {"mixture", st.Mixture, c.Mixture.Name},
		{"seed", st.Seed, c.Seed}, {"batch_size", st.BatchSize, c.BatchSize}, {"batch_tokens", st.BatchTokens, c.BatchTokens},
		{"accumulate", st.Accumulate, c.Accumulate}, {"steps", st.Steps, c.Steps},
	} {
		if fmt.Sprint(chk.got) != fmt.Sprint(chk.want) {
			return fmt.Errorf("--resume: %s records train.%s = %v but the job now says %v; an exact resume needs the same settings", p, chk.key, chk.got, chk.want)
		}
	}
	if err := tr.loadMoments(ctx, dir, p, st.TensorsSHA256, st.AdamWStep); err != nil {
		return err
	}
	_, meta, err := checkpoint.Load(storage.Dir(ctx, dir))
	if err != nil {
		return fmt.Errorf("--resume: %w", err)
	}
	if s, ok := meta.Extra["step"].(float64); !ok || int(s) != st.Step {
		return fmt.Errorf("--resume: the checkpoint in %s is from step %v but %s from step %d (a save was cut short)", dir, meta.Extra["step"], p, st.Step)
	}
	tr.step = st.Step
	tr.m.SetRNGState(st.ModelRNG)
	if tr.el != nil {
		if st.GeneratorRNG == nil {
			return fmt.Errorf("--resume: %s has no generator_rng: it was not saved by an ELECTRA run", p)
		}
		tr.el.Gen.SetRNGState(*st.GeneratorRNG)
	}
	tr.sampler.SetState(st.Sampler)
	if err := tr.strat.SetState(st.StrategyState); err != nil {
		return fmt.Errorf("--resume: %w", err)
	}
	if st.BestScore != nil {
		tr.best = *st.BestScore
	}
	tr.bestStep, tr.sinceBest, tr.bestEval, tr.lastEval = st.BestStep, st.SinceBest, st.BestEval, st.LastEval
	tr.tokens, tr.padded, tr.trainSec = st.Tokens, st.PaddedTokens, st.TrainSeconds
	if err := tr.replayStreams(&st); err != nil {
		return err
	}
	tr.logf("resumed from %s at step %d", dir, tr.step)
	return nil
}

// loadMoments restores AdamW's moments from trainer_state.safetensors in
// dir, after checking it is the file the state JSON (at p) recorded.
func (tr *Trainer) loadMoments(ctx context.Context, dir, p, sha string, step int) error {
	tb, err := storage.ReadFile(ctx, storage.Join(dir, stateTensors))
	if err != nil {
		return fmt.Errorf("--resume: %w", err)
	}
	if sum := sha256.Sum256(tb); hex.EncodeToString(sum[:]) != sha {
		return fmt.Errorf("--resume: %s does not match %s (a save was cut short); resume from an earlier copy or start again", stateTensors, p)
	}
	ts, _, err := checkpoint.ReadSafetensors(bytes.NewReader(tb), stateTensors)
	if err != nil {
		return fmt.Errorf("--resume: %w", err)
	}
	byName := map[string][]float32{}
	for _, t := range ts {
		byName[t.Name] = t.Data
	}
	if err := tr.loadGenerator(byName); err != nil {
		return err
	}
	os := model.AdamWState{Step: step}
	for _, prm := range tr.trainable() {
		m, v := byName["adamw.m."+prm.Name], byName["adamw.v."+prm.Name]
		if m == nil || v == nil {
			return fmt.Errorf("--resume: %s has no optimizer moments for %s", stateTensors, prm.Name)
		}
		os.Names = append(os.Names, prm.Name)
		os.M, os.V = append(os.M, m), append(os.V, v)
	}
	if err := tr.opt.SetState(os); err != nil {
		return fmt.Errorf("--resume: %w", err)
	}
	return nil
}

// replayStreams restores each task's loss average and draws its batch
// streams (and held-out streams) up to where the saved run was.
func (tr *Trainer) replayStreams(st *trainerState) error {
	for i, t := range tr.tasks {
		if v, ok := st.LossEMA[t.name]; ok {
			tr.lossEMA[i] = v
		} else {
			tr.lossEMA[i] = math.NaN()
		}
		n := st.Batches[t.name]
		for tr.streams[i].drawn < n {
			if _, err := tr.streams[i].Next(); err != nil {
				return fmt.Errorf("--resume: replaying task %s's batches: %w", t.name, err)
			}
		}
		if h, ok := tr.heldout[i]; ok {
			for n := st.Batches[heldOutKey(t.name)]; h.drawn < n; {
				if _, err := h.Next(); err != nil {
					return fmt.Errorf("--resume: replaying task %s's held-out batches: %w", t.name, err)
				}
			}
		}
	}
	return nil
}

package trainer

import (
	"context"
	"fmt"
	"hash/fnv"
	"math"
	"strings"

	"github.com/taskweave/taskweave/model"
)

// Auto-λ (strategy auto_lambda) needs, after every step, the primary
// tasks' loss on held-out data. It comes from a slice of each primary
// task's train split that the run holds back (never the dev split, which
// selects the model): a row is held out when a hash of its task and
// sentence id falls in the first Holdout of the hash range, so the slice
// is the same in every run and every epoch, and all windows of a long
// sentence fall on the same side. The primary tasks' training streams skip
// those rows; one more stream per primary task reads only them.

// heldOut reports whether example id of task is in the held-back slice.
func heldOut(task, id string, holdout float64) bool {
	id, _, _ = strings.Cut(id, "#") // windows of one sentence: "<id>#<window>"
	h := fnv.New64a()
	h.Write([]byte(task))
	h.Write([]byte{0})
	h.Write([]byte(id))
	return float64(h.Sum64()%1_000_000) < holdout*1_000_000
}

// heldOutSalt seeds the held-out streams apart from the training streams.
const heldOutSalt = 0x686f6c646f7574

// setupHeldOut splits the primary tasks' train streams (global task
// indexes primary) into training rows and held-out rows.
func (tr *Trainer) setupHeldOut(ctx context.Context, primary []int) {
	tr.heldout = map[int]*stream{}
	h := tr.cfg.Holdout
	for _, k := range primary {
		name := tr.tasks[k].name
		tr.streams[k].keep = func(id string) bool { return !heldOut(name, id, h) }
		cfg := tr.bcfg
		cfg.shuffle, cfg.pool = min(cfg.shuffle, 256), min(cfg.pool, 4)
		s := newStream(ctx, tr.tasks[k], cfg, tr.cfg.Seed^heldOutSalt)
		s.keep = func(id string) bool { return heldOut(name, id, h) }
		tr.heldout[k] = s
	}
}

// hypergradient measures Auto-λ's ∂L_primary(θ′)/∂λ_i for every task of
// the step (Liu et al. 2022, the finite-difference form):
//
//  1. θ′ = θ − α·Σ_i w_i·g_i, a virtual SGD step of the shared parameters
//     with the step's learning rate α and task gradients g_i;
//  2. v = ∇_θ′ of the primary tasks' mean loss on one held-out batch each;
//  3. ε = 0.01/‖v‖ and θ± = θ ± ε·v;
//  4. h_i = −α·(ℓ_i(θ⁺) − ℓ_i(θ⁻))/(2ε), ℓ_i on the step's own batches of
//     task i.
//
// Everything runs without dropout (a difference of two losses under
// different dropout masks would be noise) and leaves θ as it found it; the
// gradients in the model are clobbered (the stepper holds its own copies).
func (s *allTasksStepper) hypergradient(w []float64, alpha float64, primary []int) ([]float64, error) {
	tr := s.tr
	m := tr.m
	m.SetTraining(false)
	defer m.SetTraining(true)
	theta := s.shared.weights(s.theta)
	s.theta = theta
	d := s.scratch(0)
	clear(d)
	for k, g := range s.grads {
		for j, v := range g {
			d[j] += float32(w[k]) * v
		}
	}
	s.shared.setWeights(theta, d, float32(-alpha)) // θ′
	m.ZeroGrad()
	for _, k := range primary {
		b, err := tr.heldout[k].Next()
		if err != nil {
			return nil, fmt.Errorf("auto_lambda: held-out batch of %s: %w", tr.tasks[k].name, err)
		}
		if _, err := m.Forward(b); err != nil {
			return nil, err
		}
		if err := m.Backward(float32(1 / float64(len(primary)))); err != nil {
			return nil, err
		}
	}
	v := s.scratch(1)
	s.shared.gather(v)
	hyper := make([]float64, len(s.tasks))
	nv := 0.0
	for _, x := range v {
		nv += float64(x) * float64(x)
	}
	nv = math.Sqrt(nv)
	if nv == 0 || alpha == 0 {
		s.shared.setWeights(theta, nil, 0)
		m.ZeroGrad()
		return hyper, nil
	}
	eps := 0.01 / nv
	loss := func(sign float64) ([]float64, error) {
		s.shared.setWeights(theta, v, float32(sign*eps))
		return s.stepLosses()
	}
	plus, err := loss(1)
	if err != nil {
		return nil, err
	}
	minus, err := loss(-1)
	if err != nil {
		return nil, err
	}
	for k := range hyper {
		hyper[k] = -alpha * (plus[k] - minus[k]) / (2 * eps)
	}
	s.shared.setWeights(theta, nil, 0)
	m.ZeroGrad()
	return hyper, nil
}

// stepLosses is each task's mean loss on the step's own batches, at the
// model's current weights: one forward pass per batch, a group's batches
// (the same input, one per task of it) through one encoder pass.
func (s *allTasksStepper) stepLosses() ([]float64, error) {
	tr, m := s.tr, s.tr.m
	out := make([]float64, len(s.tasks))
	for k, bs := range s.batches {
		t := tr.tasks[s.idx[k]]
		if t.leader != nil {
			continue // with its group's first task
		}
		pos := []int{k}
		if len(t.members) > 0 {
			pos = tr.groupOf(s.idx[k])
		}
		for j := range bs {
			group := make([]*model.Batch, len(pos))
			for i, a := range pos {
				group[i] = s.batches[a][j]
			}
			outs, err := forwardAll(m, group)
			if err != nil {
				return nil, err
			}
			for i, a := range pos {
				out[a] += float64(outs[i].Loss) / float64(len(bs))
			}
		}
	}
	return out, nil
}

// forwardAll runs Forward on a single batch (a task alone, as it always
// has) and ForwardGroup on a group's.
func forwardAll(m *model.Model, bs []*model.Batch) ([]*model.Output, error) {
	if len(bs) > 1 {
		return m.ForwardGroup(bs)
	}
	o, err := m.Forward(bs[0])
	return []*model.Output{o}, err
}

// scratch returns the stepper's i-th buffer of the shared size.
func (s *allTasksStepper) scratch(i int) []float32 {
	for len(s.buf) <= i {
		s.buf = append(s.buf, make([]float32, s.shared.size))
	}
	return s.buf[i]
}

// heldOutKey names a held-out stream in trainer_state.json's batch counts.
func heldOutKey(task string) string { return "heldout/" + task }

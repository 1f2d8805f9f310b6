package model

import (
	"fmt"
	"math"
)

// AdamWConfig holds AdamW's hyper-parameters. LR is the default rate; Step
// takes the rate of the current step (from a Schedule) explicitly.
type AdamWConfig struct {
	LR, Beta1, Beta2, Eps, WeightDecay float64
}

// DefaultAdamW is BERT fine-tuning's usual setting.
var DefaultAdamW = AdamWConfig{LR: 5e-5, Beta1: 0.9, Beta2: 0.999, Eps: 1e-6, WeightDecay: 0.01}

// AdamW is Adam with decoupled weight decay (Loshchilov & Hutter), in the
// update order of torch.optim.AdamW: decay the weight, update the moments,
// then step by lr·m̂/(√v̂+eps). Parameters whose Decay is false (biases,
// LayerNorm) get no weight decay.
type AdamW struct {
	LR, Beta1, Beta2, Eps, WeightDecay float64

	params []*Param
	m, v   [][]float32
	step   int
}

// AdamWState is the optimizer state needed to resume: the step count and
// both moments of every parameter, by name.
type AdamWState struct {
	Step  int
	Names []string
	M, V  [][]float32
}

// NewAdamW creates the optimizer with zero moments for params.
func NewAdamW(params []*Param, cfg AdamWConfig) *AdamW {
	o := &AdamW{LR: cfg.LR, Beta1: cfg.Beta1, Beta2: cfg.Beta2, Eps: cfg.Eps, WeightDecay: cfg.WeightDecay, params: params}
	o.m = make([][]float32, len(params))
	o.v = make([][]float32, len(params))
	for i, p := range params {
		o.m[i] = make([]float32, len(p.W))
		o.v[i] = make([]float32, len(p.W))
	}
	return o
}

// Steps reports how many updates have been applied.
func (o *AdamW) Steps() int { return o.step }

// Step applies one update with learning rate lr using the gradients in G.
// It does not clear G.
func (o *AdamW) Step(lr float64) {
	o.step++
	t := float64(o.step)
	bc1 := 1 - math.Pow(o.Beta1, t)
	bc2sqrt := math.Sqrt(1 - math.Pow(o.Beta2, t))
	stepSize := float32(lr / bc1)
	b1, b2 := float32(o.Beta1), float32(o.Beta2)
	c1, c2 := float32(1-o.Beta1), float32(1-o.Beta2)
	eps := float32(o.Eps)
	inv2 := float32(1 / bc2sqrt)
	for i, p := range o.params {
		decay := float32(1)
		if p.Decay {
			decay = float32(1 - lr*o.WeightDecay)
		}
		w, g, m, v := p.W, p.G, o.m[i], o.v[i]
		parallelFor(len(w), 1<<15, func(lo, hi int) {
			adamwRange(w[lo:hi], g[lo:hi], m[lo:hi], v[lo:hi], b1, b2, c1, c2, inv2, eps, decay, stepSize)
		})
	}
}

// State copies the optimizer state out for a checkpoint.
func (o *AdamW) State() AdamWState {
	s := AdamWState{Step: o.step, Names: make([]string, len(o.params)), M: make([][]float32, len(o.params)), V: make([][]float32, len(o.params))}
	for i, p := range o.params {
		s.Names[i] = p.Name
		s.M[i] = append([]float32(nil), o.m[i]...)
		s.V[i] = append([]float32(nil), o.v[i]...)
	}
	return s
}

// SetState restores a state saved by State. Every parameter of the optimizer
// must be present with the same size.
func (o *AdamW) SetState(s AdamWState) error {
	if len(s.M) != len(s.Names) || len(s.V) != len(s.Names) {
		return fmt.Errorf("model: AdamW state has %d names, %d first and %d second moments; they must match", len(s.Names), len(s.M), len(s.V))
	}
	idx := make(map[string]int, len(s.Names))
	for i, n := range s.Names {
		idx[n] = i
	}
	for i, p := range o.params {
		j, ok := idx[p.Name]
		if !ok {
			return fmt.Errorf("model: AdamW state has no moments for parameter %s", p.Name)
		}
		if len(s.M[j]) != len(p.W) || len(s.V[j]) != len(p.W) {
			return fmt.Errorf("model: AdamW state for %s has %d/%d values, the parameter has %d", p.Name, len(s.M[j]), len(s.V[j]), len(p.W))
		}
		copy(o.m[i], s.M[j])
		copy(o.v[i], s.V[j])
	}
	o.step = s.Step
	return nil
}

// ClipGradNorm scales all gradients so that their global L2 norm is at most
// max, like torch.nn.utils.clip_grad_norm_, and returns the norm before
// clipping. max <= 0 only measures.
func ClipGradNorm(params []*Param, max float64) (norm float64) {
	var ss float64
	for _, p := range params {
		var s float64
		for _, g := range p.G {
			s += float64(g) * float64(g)
		}
		ss += s
	}
	norm = math.Sqrt(ss)
	if max > 0 && norm > max {
		c := float32(max / (norm + 1e-6))
		for _, p := range params {
			for j := range p.G {
				p.G[j] *= c
			}
		}
	}
	return norm
}

// Schedule is linear warm-up from 0 to Peak over Warmup steps, then linear
// decay to 0 at Total steps (Hugging Face's get_linear_schedule_with_warmup).
type Schedule struct {
	Peak          float64
	Warmup, Total int
}

// LR is the learning rate for the update that follows step completed
// updates (step counts from 0).
func (s Schedule) LR(step int) float64 {
	if step < s.Warmup {
		return s.Peak * float64(step) / float64(s.Warmup)
	}
	if s.Total <= s.Warmup {
		return s.Peak
	}
	f := float64(s.Total-step) / float64(s.Total-s.Warmup)
	return s.Peak * math.Max(0, f)
}

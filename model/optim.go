package model

import (
	"fmt"
	"math"

	"github.com/taskweave/taskweave/model/kernels"
)

// AdamWConfig holds AdamW's hyper-parameters. LR is the default rate; Step
// takes the rate of the current step (from a Schedule) explicitly.
type AdamWConfig struct {
	LR, Beta1, Beta2, Eps, WeightDecay float64
	// LazyRows updates the word embeddings by rows: only the rows a batch
	// used, the others caught up when next used or read (see lazy.go). LR
	// must then be the largest rate any step will use.
	LazyRows bool
}

// DefaultAdamW is BERT fine-tuning's usual setting.
var DefaultAdamW = AdamWConfig{LR: 5e-5, Beta1: 0.9, Beta2: 0.999, Eps: 1e-6, WeightDecay: 0.01}

// AdamW is Adam with decoupled weight decay (Loshchilov & Hutter), in the
// update order of torch.optim.AdamW: decay the weight, update the moments,
// then step by lr·m̂/(√v̂+eps). Parameters whose Decay is false (biases,
// LayerNorm) get no weight decay.
type AdamW struct {
	LR, Beta1, Beta2, Eps, WeightDecay float64

	params  []*Param
	m, v    [][]float32
	step    int
	spans   spans     // the densely updated parameters cut into pieces for the cores
	partial []float64 // sumSquares' per-span sums

	lazy   []*lazyParam // LazyRows: the parameters updated by rows
	hist   idleHist     // LazyRows: the constants of the steps some row is behind on
	theta2 float32      // LazyRows: θ², see lazy.go
	one    []float32
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
	o.spans = newSpans(params)
	if cfg.LazyRows {
		o.setupLazy()
	}
	return o
}

// Steps reports how many updates have been applied.
func (o *AdamW) Steps() int { return o.step }

// Step applies one update with learning rate lr using the gradients in G.
// It does not clear G.
func (o *AdamW) Step(lr float64) { o.update(lr, 1) }

// StepClipped is ClipGradNorm followed by Step in two passes over memory
// instead of four: one multi-threaded pass measures the global gradient norm,
// and the update folds the clipping scale into its read of the gradient, so
// G is left as it was (unscaled). It returns the norm before clipping;
// clip <= 0 only measures.
func (o *AdamW) StepClipped(lr, clip float64) (norm float64) {
	norm = math.Sqrt(o.sumSquares())
	o.update(lr, clipScale(norm, clip))
	return norm
}

// clipScale is torch.nn.utils.clip_grad_norm_'s factor: max/(norm+1e-6)
// when the norm exceeds max, else 1.
func clipScale(norm, max float64) float32 {
	if max > 0 && norm > max {
		return float32(max / (norm + 1e-6))
	}
	return 1
}

func (o *AdamW) update(lr float64, scale float32) {
	o.checkLazyLR(lr)
	o.step++
	t := float64(o.step)
	bc1 := 1 - math.Pow(o.Beta1, t)
	bc2sqrt := math.Sqrt(1 - math.Pow(o.Beta2, t))
	k := kernels.AdamWConsts{B1: float32(o.Beta1), B2: float32(o.Beta2), C1: float32(1 - o.Beta1), C2: float32(1 - o.Beta2),
		Inv2: float32(1 / bc2sqrt), Eps: float32(o.Eps), Step: float32(lr / bc1), Scale: scale}
	decayed := float32(1 - lr*o.WeightDecay)
	o.spans.run(func(s span) {
		p := o.params[s.p]
		k := k
		k.Decay = 1
		if p.Decay {
			k.Decay = decayed
		}
		kernels.AdamW(p.W[s.lo:s.hi], p.G[s.lo:s.hi], o.m[s.p][s.lo:s.hi], o.v[s.p][s.lo:s.hi], k)
	})
	if len(o.lazy) > 0 {
		o.lazyUpdate(k, decayed)
	}
}

// sumSquares is Σ g² over every gradient, in float64. Each span's partial
// sum lands in its own slot and the slots are added in order, so the result
// does not depend on how the spans were shared out between cores.
func (o *AdamW) sumSquares() float64 {
	if len(o.partial) != len(o.spans) {
		o.partial = make([]float64, len(o.spans))
	}
	o.spans.runIndexed(func(i int, s span) {
		o.partial[i] = kernels.SumSquares(o.params[s.p].G[s.lo:s.hi])
	})
	var ss float64
	for _, v := range o.partial {
		ss += v
	}
	return ss + o.lazySumSquares()
}

// State copies the optimizer state out for a checkpoint (after Flush: every
// row current).
func (o *AdamW) State() AdamWState {
	o.Flush()
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
	for _, lp := range o.lazy {
		for r := range lp.last {
			lp.last[r] = int32(s.Step)
		}
	}
	o.hist.reset(s.Step)
	return nil
}

// ClipGradNorm scales all gradients so that their global L2 norm is at most
// max, like torch.nn.utils.clip_grad_norm_, and returns the norm before
// clipping. max <= 0 only measures. The trainer uses AdamW.StepClipped,
// which does the same without rewriting G.
func ClipGradNorm(params []*Param, max float64) (norm float64) {
	sp := newSpans(params)
	partial := make([]float64, len(sp))
	sp.runIndexed(func(i int, s span) { partial[i] = kernels.SumSquares(params[s.p].G[s.lo:s.hi]) })
	var ss float64
	for _, v := range partial {
		ss += v
	}
	norm = math.Sqrt(ss)
	if c := clipScale(norm, max); c != 1 {
		sp.run(func(s span) { kernels.Scale(params[s.p].G[s.lo:s.hi], c) })
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

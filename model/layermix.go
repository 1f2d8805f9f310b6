package model

import (
	"math"

	"github.com/taskweave/taskweave/model/kernels"
)

// Layer attention (the scalar mix of ELMo, Peters et al. 2018): a task's
// head reads mix = γ·Σ_j softmax(w)_j·hs[j] over the embeddings' output
// (j = 0) and every encoder layer's, instead of one layer. w and γ are the
// task's; at initialisation w = 0 (every layer weighs the same) and γ = 1.
// `layer: k` is the special case of a one-hot softmax without γ.

// layerMix is one task's layer attention.
type layerMix struct {
	w, scale *Param // [L+1], [1]
	s        []float64
}

// weights returns softmax(w).
func (x *layerMix) weights() []float64 {
	s := make([]float64, len(x.w.W))
	mx := math.Inf(-1)
	for _, v := range x.w.W {
		mx = math.Max(mx, float64(v))
	}
	var sum float64
	for j, v := range x.w.W {
		s[j] = math.Exp(float64(v) - mx)
		sum += s[j]
	}
	for j := range s {
		s[j] /= sum
	}
	return s
}

// mixForward writes out = γ·Σ_j s_j·hs[j] over the first n values of each
// layer's output.
func mixForward(x *layerMix, hs [][]float32, n int, out []float32) {
	x.s = x.weights()
	g := float64(x.scale.W[0])
	coef := make([]float32, len(hs))
	for j := range coef {
		coef[j] = float32(g * x.s[j])
	}
	kernels.ParallelFor(n, 1<<14, func(lo, hi int) {
		o := out[lo:hi]
		for i := range o {
			o[i] = 0
		}
		for j, h := range hs {
			c, hj := coef[j], h[lo:hi]
			for i, v := range hj {
				o[i] += c * v
			}
		}
	})
}

// mixBackward adds the gradients of w and γ from dmix = dL/d(mix) and
// returns the coefficient γ·s_j with which dmix flows into hs[j].
func mixBackward(x *layerMix, hs [][]float32, n int, dmix []float32) []float32 {
	c := make([]float64, len(hs))
	for j, h := range hs {
		c[j] = dot64(h[:n], dmix[:n])
	}
	g := float64(x.scale.W[0])
	var sc float64 // Σ_k s_k·c_k
	for j := range c {
		sc += x.s[j] * c[j]
	}
	x.scale.G[0] += float32(sc)
	for j := range c {
		// d/dw_j of γ·Σ_k s_k c_k = γ·s_j·(c_j − Σ_k s_k c_k)
		x.w.G[j] += float32(g * x.s[j] * (c[j] - sc))
	}
	coef := make([]float32, len(hs))
	for j := range coef {
		coef[j] = float32(g * x.s[j])
	}
	return coef
}

// dot64 is Σ a_i·b_i accumulated in float64.
func dot64(a, b []float32) float64 {
	var parts [8]float64
	w := len(parts)
	kernels.ParallelFor(w, 1, func(lo, hi int) {
		for k := lo; k < hi; k++ {
			a0, a1 := len(a)*k/w, len(a)*(k+1)/w
			var s float64
			for i := a0; i < a1; i++ {
				s += float64(a[i]) * float64(b[i])
			}
			parts[k] = s
		}
	})
	var s float64
	for _, p := range parts {
		s += p
	}
	return s
}

// axpy adds c·x to y.
func axpy(c float32, x, y []float32) {
	kernels.ParallelFor(len(y), 1<<15, func(lo, hi int) {
		for i := lo; i < hi; i++ {
			y[i] += c * x[i]
		}
	})
}

// LayerWeights returns task's learned layer attention: softmax weights over
// the embeddings (index 0) and layers 1..L, and the scale γ; ok is false
// when the task has no layer attention.
func (m *Model) LayerWeights(task string) (weights []float64, scale float64, ok bool) {
	h, found := m.byTask[task]
	if !found || h.path == nil || h.path.mix == nil {
		return nil, 0, false
	}
	return h.path.mix.weights(), float64(h.path.mix.scale.W[0]), true
}

// mulScalar writes dst = c·x.
func mulScalar(dst, x []float32, c float32) {
	kernels.ParallelFor(len(dst), 1<<15, func(lo, hi int) {
		for i := lo; i < hi; i++ {
			dst[i] = c * x[i]
		}
	})
}

// headInput is what h's head reads: its layer's output, or its layer mix.
func (m *Model) headInput(h *head) []float32 {
	if h.path.mix != nil {
		return m.st.mix
	}
	return m.st.hs[h.layer]
}

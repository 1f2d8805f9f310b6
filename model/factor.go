package model

import (
	"runtime"

	"github.com/taskweave/taskweave/model/kernels"
)

// Low-rank task factors. Task t's matrix is W_t = W + A·B (A [out,r],
// B [r,in]). A batch of task t merges W_t into a scratch matrix and runs
// the layer's product with it, so the forward pass costs what hard sharing
// costs plus the merge (out·in·r multiply-adds, about r/n of the product
// over n tokens). The backward pass forms the batch's dW_t = dyᵀ·x in
// scratch (the product hard sharing does into W.G) and folds it into the
// three parameters: dW += dW_t, dA += dW_t·Bᵀ, dB += Aᵀ·dW_t. W itself is
// never changed, so another task's batch runs the shared matrix, and the
// export's merged matrix (Merged) is bit for bit the one the forward used.

// mergeInto writes dst = W + A·B.
func mergeInto(dst []float32, w *linear, f *factor) {
	copy(dst, w.w.W)
	kernels.Gemm(false, false, w.out, w.in, f.r, 1, f.a.W, f.r, f.b.W, w.in, 1, dst, w.in)
}

// foldGrad adds the gradient dW_t of a merged matrix into W, A and B.
func foldGrad(dwt []float32, w *linear, f *factor) {
	if !w.w.Frozen {
		addMulInto(w.w.G, w.w.G, dwt, nil)
	}
	kernels.Gemm(false, true, w.out, f.r, w.in, 1, dwt, w.in, f.b.W, w.in, 1, f.a.G, f.r)
	kernels.Gemm(true, false, f.r, w.in, w.out, 1, f.a.W, f.r, dwt, w.in, 1, f.b.G, w.in)
}

// factorScratch is one merged matrix: W_t and dW_t for the layer being run.
type factorScratch struct {
	w linear
	p Param
}

// pathLinear returns the linear of matrix mi in layer l on the batch's
// task path: the shared one, or one whose weight is W_t merged into
// scratch. With forBackward, the scratch gradient is cleared for
// linearBackward to fill, and the factor is returned for foldGrad.
func (m *Model) pathLinear(l int, mi linearID, forBackward bool) (linear, *factor) {
	w := m.layers[l].matrix(mi)
	f := m.factor(l, mi)
	if f == nil {
		return *w, nil
	}
	st := &m.st
	for len(st.merged) < len(FactorMatrices) {
		st.merged = append(st.merged, &factorScratch{})
	}
	s := st.merged[mi]
	grow(&s.p.W, w.out*w.in)
	mergeInto(s.p.W, w, f)
	if forBackward {
		clear(grow(&s.p.G, w.out*w.in))
	}
	s.w = linear{w: &s.p, b: w.b, in: w.in, out: w.out}
	return s.w, f
}

// factor returns the batch's task factor of matrix mi in layer l, or nil.
func (m *Model) factor(l int, mi linearID) *factor {
	p := m.st.head.path
	if p.factors == nil {
		return nil
	}
	return p.factors[l][mi]
}

// linearForwardPath is linearForward on the batch's task path.
func (m *Model) linearForwardPath(l int, mi linearID, x []float32, y []float32) {
	lin, _ := m.pathLinear(l, mi, false)
	linearForward(lin, x, m.st.N, y)
}

// qkvForward writes Q, K and V of layer l side by side into qkv [N,3H]
// with one product over the stacked matrices: a third of the calls, on a
// product three times wider, which BLAS runs much nearer its peak on short
// batches. A task with factors there multiplies by a stacked copy with its
// merged matrices in place, so its Q, K and V are bit for bit those of the
// export, whose merged matrices are stacked like any others.
func (m *Model) qkvForward(l int, x, qkv []float32) {
	lin := m.layers[l].qkv
	if m.qkvFactored(l) {
		lin = m.qkvMerged(l)
	}
	linearForwardLd(lin, x, m.st.N, qkv, 3*m.cfg.HiddenSize)
}

// qkvBackward is linearBackward for Q, K and V from dqkv [N,3H], adding
// their input gradient into dx.
func (m *Model) qkvBackward(l int, x, dqkv, dx []float32) {
	L, N, H := m.layers[l], m.st.N, m.cfg.HiddenSize
	wf, bf := L.q.w.Frozen, L.q.b.Frozen
	uniform := L.k.w.Frozen == wf && L.v.w.Frozen == wf && L.k.b.Frozen == bf && L.v.b.Frozen == bf
	if !m.qkvFactored(l) && uniform {
		L.qkv.w.Frozen, L.qkv.b.Frozen = wf, bf
		linearBackwardLd(L.qkv, x, dqkv, 3*H, N, dx, true)
		return
	}
	// The stacked scratch: dW_t of all three in one product, then each goes
	// to its own parameters (and factors).
	lin := m.qkvMerged(l)
	kernels.Gemm(true, false, 3*H, H, N, 1, dqkv, 3*H, x, H, 0, lin.w.G, H)
	for mi := linQuery; mi <= linValue; mi++ {
		w, dwt := L.matrix(mi), lin.w.G[int(mi)*H*H:int(mi+1)*H*H]
		if f := m.factor(l, mi); f != nil {
			foldGrad(dwt, w, f)
		} else if !w.w.Frozen {
			addMulInto(w.w.G, w.w.G, dwt, nil)
		}
		if !w.b.Frozen {
			colSumAddLd(dqkv[int(mi)*H:], N, H, 3*H, w.b.G, runtime.GOMAXPROCS(0))
		}
	}
	kernels.Gemm(false, false, N, H, 3*H, 1, dqkv, 3*H, lin.w.W, H, 1, dx, H)
}

// qkvFactored reports whether the batch's task has a factor on Q, K or V of layer l.
func (m *Model) qkvFactored(l int) bool {
	return m.factor(l, linQuery) != nil || m.factor(l, linKey) != nil || m.factor(l, linValue) != nil
}

// qkvMerged returns layer l's stacked Q, K and V on the batch's task path in
// scratch: W + A·B where the task has a factor, W elsewhere; the bias is the
// shared one. Its gradient array is scratch too.
func (m *Model) qkvMerged(l int) linear {
	L, H, st := m.layers[l], m.cfg.HiddenSize, &m.st
	s := &st.qkvScratch
	grow(&s.p.W, 3*H*H)
	grow(&s.p.G, 3*H*H)
	for mi := linQuery; mi <= linValue; mi++ {
		w, dst := L.matrix(mi), s.p.W[int(mi)*H*H:int(mi+1)*H*H]
		if f := m.factor(l, mi); f != nil {
			mergeInto(dst, w, f)
		} else {
			copy(dst, w.w.W)
		}
	}
	s.w = linear{w: &s.p, b: L.qkv.b, in: H, out: 3 * H}
	return s.w
}

// linearBackwardPath is linearBackward on the batch's task path.
func (m *Model) linearBackwardPath(l int, mi linearID, x, dy, dx []float32, accumulate bool) {
	lin, f := m.pathLinear(l, mi, true)
	linearBackward(lin, x, dy, m.st.N, dx, accumulate)
	if f != nil {
		foldGrad(lin.w.G, m.layers[l].matrix(mi), f)
	}
}

// Merged returns W + A·B for factor matrix mi of layer l on task's path
// ([out,in], a new slice), or nil when the task has no factor there.
func (m *Model) Merged(task string, l int, mi int) []float32 {
	h, ok := m.byTask[task]
	if !ok || h.path == nil || h.path.factors == nil || l < 0 || l >= len(m.layers) || mi < 0 || mi >= len(FactorMatrices) {
		return nil
	}
	f := h.path.factors[l][mi]
	if f == nil {
		return nil
	}
	w := m.layers[l].matrix(linearID(mi))
	out := make([]float32, len(w.w.W))
	mergeInto(out, w, f)
	return out
}

// matrix returns the layer's linear mi.
func (l *encLayer) matrix(mi linearID) *linear {
	return [...]*linear{&l.q, &l.k, &l.v, &l.o, &l.inter, &l.out}[mi]
}

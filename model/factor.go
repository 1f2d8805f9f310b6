package model

// Low-rank task factors. Task t's matrix is W_t = W + A·B (A [out,r],
// B [r,in]); instead of forming W_t, the factor adds its low-rank path to
// the shared product: y += (x·Bᵀ)·Aᵀ. That costs 2·n·r·(in+out) flops
// against the shared product's 2·n·in·out and keeps W untouched, so a batch
// of another task, or of a task without factors, runs the shared model.

// factorForward adds (x·Bᵀ)·Aᵀ to y[n,out] and keeps t = x·Bᵀ [n,r] for
// the backward pass.
func factorForward(f *factor, x []float32, n, in, out int, t, y []float32) {
	gemm(false, true, n, f.r, in, 1, x, in, f.b.W, in, 0, t, f.r)
	gemm(false, true, n, out, f.r, 1, t, f.r, f.a.W, f.r, 1, y, out)
}

// factorBackward adds dA += dyᵀ·t, dB += (dy·A)ᵀ·x and dx += (dy·A)·B;
// dt [n,r] is scratch.
func factorBackward(f *factor, x, t, dy []float32, n, in, out int, dt, dx []float32) {
	if !f.a.Frozen {
		gemm(true, false, out, f.r, n, 1, dy, out, t, f.r, 1, f.a.G, f.r)
	}
	gemm(false, false, n, f.r, out, 1, dy, out, f.a.W, f.r, 0, dt, f.r)
	gemm(true, false, f.r, in, n, 1, dt, f.r, x, in, 1, f.b.G, in)
	gemm(false, false, n, in, f.r, 1, dt, f.r, f.b.W, in, 1, dx, in)
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
	w := m.layers[l].matrix(mi)
	out := append([]float32(nil), w.w.W...)
	gemm(false, false, w.out, w.in, f.r, 1, f.a.W, f.r, f.b.W, w.in, 1, out, w.in)
	return out
}

// matrix returns the linear of factor matrix mi.
func (l *encLayer) matrix(mi int) *linear {
	return [...]*linear{&l.q, &l.k, &l.v, &l.o, &l.inter, &l.out}[mi]
}

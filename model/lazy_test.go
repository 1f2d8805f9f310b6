package model

import (
	"math"
	"math/rand/v2"
	"testing"
)

// lazyFixture is an embedding-like parameter of V rows by H (with a row set,
// as the model's word embeddings have) and a dense one, plus a schedule of
// row use with long idle stretches. H is a multiple of 16, as every model
// size's hidden width is: a row then falls entirely in the C kernels' vector
// body, as it does in the dense pass (a ragged tail may round differently).
type lazyFixture struct {
	V, H  int
	steps int
	sched Schedule
	cfg   AdamWConfig
}

func (f lazyFixture) params() []*Param {
	r := rand.New(rand.NewPCG(11, 12))
	emb := &Param{Name: "emb", W: randVec(r, f.V*f.H, 0.05), G: make([]float32, f.V*f.H), Decay: true, rows: newRowSet(f.V, f.H)}
	dense := &Param{Name: "dense", W: randVec(r, 37, 0.05), G: make([]float32, 37), Decay: true}
	bias := &Param{Name: "bias", W: randVec(r, 5, 0.05), G: make([]float32, 5)}
	return []*Param{emb, dense, bias}
}

// used reports whether row r has a gradient at step s (0-based): row r with
// probability 0.75^r, the last row only at steps 3 and 450 (an idle stretch
// longer than the Adam phase), the one before it only at step 2, the one
// before that never.
func (f lazyFixture) used(r *rand.Rand, row, s int) bool {
	switch row {
	case f.V - 1:
		return s == 3 || s == 450
	case f.V - 2:
		return s == 2
	case f.V - 3:
		return false
	}
	return r.Float64() < math.Pow(0.75, float64(row))
}

// grads writes step s's gradients (the same stream for every run).
func (f lazyFixture) grads(ps []*Param, s int) {
	r := rand.New(rand.NewPCG(uint64(s), 99))
	emb := ps[0]
	emb.rows.clearGrad(emb.G)
	emb.rows.reset()
	for row := 0; row < f.V; row++ {
		if f.used(r, row, s) {
			emb.rows.add(int32(row))
			for j := row * f.H; j < (row+1)*f.H; j++ {
				emb.G[j] = float32(r.NormFloat64() * 1e-2)
			}
		}
	}
	for _, p := range ps[1:] {
		for j := range p.G {
			p.G[j] = float32(r.NormFloat64() * 1e-2)
		}
	}
}

var lazyCase = lazyFixture{V: 40, H: 32, steps: 600, sched: Schedule{Peak: 1e-3, Warmup: 30, Total: 650},
	cfg: AdamWConfig{LR: 1e-3, Beta1: 0.9, Beta2: 0.999, Eps: 1e-6, WeightDecay: 0.01}}

// run trains for steps [from, to), clipping at clip (1 bites: the
// gradients' norm is about 1.3), and calls flushAt's steps' Flush.
func (f lazyFixture) run(ps []*Param, o *AdamW, from, to int, clip float64, flushAt map[int]bool) []float64 {
	var norms []float64
	for s := from; s < to; s++ {
		f.grads(ps, s)
		norms = append(norms, o.StepClipped(f.sched.LR(s), clip))
		if flushAt[s] {
			o.Flush()
		}
	}
	return norms
}

// TestLazyAdamWMatchesDense: 600 steps of lazy and dense AdamW on the same
// gradients, unclipped. The moments agree exactly; the weights within
// lazyTol per idle stretch (the dropped Adam terms of elements whose m has
// decayed, see lazy.go), here at most 1e-9 over the run; the gradient norms
// to float64 rounding (their sums are grouped differently, which is also
// why clipping, whose float32 scale may then differ in its last bit, is
// left out of the exact comparison and checked by the resume test).
func TestLazyAdamWMatchesDense(t *testing.T) {
	f := lazyCase
	dense, lazy := f.params(), f.params()
	od := NewAdamW(dense, f.cfg)
	lc := f.cfg
	lc.LazyRows = true
	ol := NewAdamW(lazy, lc)
	if len(ol.lazy) != 1 || ol.theta2 == 0 {
		t.Fatalf("lazy optimizer has %d row-wise parameters, θ² = %g", len(ol.lazy), ol.theta2)
	}
	nd := f.run(dense, od, 0, f.steps, 0, nil)
	nl := f.run(lazy, ol, 0, f.steps, 0, map[int]bool{123: true, 300: true})
	for i := range nd {
		if math.Abs(nd[i]-nl[i]) > 1e-12*nd[i] {
			t.Fatalf("step %d: gradient norm dense %.17g, lazy %.17g", i, nd[i], nl[i])
		}
	}
	if ol.lazy[0].last[f.V-1] >= int32(f.steps) {
		t.Fatal("the idle rows are already current before Flush: the lazy path was not taken")
	}
	ol.Flush()
	var worst float64
	for i := range dense {
		for j := range dense[i].W {
			if od.m[i][j] != ol.m[i][j] || od.v[i][j] != ol.v[i][j] {
				t.Fatalf("%s[%d]: moments dense %g,%g lazy %g,%g; they must agree exactly", dense[i].Name, j, od.m[i][j], od.v[i][j], ol.m[i][j], ol.v[i][j])
			}
			worst = math.Max(worst, math.Abs(float64(dense[i].W[j]-lazy[i].W[j])))
		}
	}
	t.Logf("largest weight difference lazy vs dense after %d steps: %.3g", f.steps, worst)
	if worst > 1e-9 {
		t.Fatalf("weights differ by up to %g, above the 1e-9 the dropped terms allow", worst)
	}
	// Without dropping (θ = 0) the catch-up is the dense update itself.
	exact := NewAdamW(f.params(), lc)
	exact.theta2 = 0
	ps := exact.params
	f.run(ps, exact, 0, f.steps, 0, nil)
	exact.Flush()
	for i := range dense {
		for j := range dense[i].W {
			if dense[i].W[j] != ps[i].W[j] {
				t.Fatalf("θ = 0: %s[%d] dense %g, lazy %g; they must agree exactly", dense[i].Name, j, dense[i].W[j], ps[i].W[j])
			}
		}
	}
}

// TestLazyAdamWResumeIsExact: saving (State flushes every row), restoring
// into a fresh optimizer and going on equals the uninterrupted run bit for
// bit, and so does a run that flushes at other steps: the catch-up does not
// depend on where it is cut.
func TestLazyAdamWResumeIsExact(t *testing.T) {
	f := lazyCase
	cfg := f.cfg
	cfg.LazyRows = true
	straight := f.params()
	os := NewAdamW(straight, cfg)
	f.run(straight, os, 0, f.steps, 1, nil)
	os.Flush()

	resumed := f.params()
	o1 := NewAdamW(resumed, cfg)
	f.run(resumed, o1, 0, 333, 1, nil)
	st := o1.State()
	saved := make([][]float32, len(resumed))
	for i, p := range resumed {
		saved[i] = append([]float32(nil), p.W...)
	}
	fresh := f.params() // a new process: weights from the checkpoint, moments from the state
	for i, p := range fresh {
		copy(p.W, saved[i])
	}
	o2 := NewAdamW(fresh, cfg)
	if err := o2.SetState(st); err != nil {
		t.Fatal(err)
	}
	f.run(fresh, o2, 333, f.steps, 1, nil)
	o2.Flush()

	flushed := f.params()
	o3 := NewAdamW(flushed, cfg)
	f.run(flushed, o3, 0, f.steps, 1, map[int]bool{1: true, 7: true, 100: true, 449: true, 451: true})
	o3.Flush()

	for _, c := range []struct {
		name string
		ps   []*Param
		o    *AdamW
	}{{"resumed at 333", fresh, o2}, {"flushed at 1, 7, 100, 449, 451", flushed, o3}} {
		for i := range straight {
			for j := range straight[i].W {
				if math.Float32bits(straight[i].W[j]) != math.Float32bits(c.ps[i].W[j]) ||
					math.Float32bits(os.m[i][j]) != math.Float32bits(c.o.m[i][j]) || math.Float32bits(os.v[i][j]) != math.Float32bits(c.o.v[i][j]) {
					t.Fatalf("%s: %s[%d] w,m,v %g,%g,%g; uninterrupted %g,%g,%g", c.name, straight[i].Name, j,
						c.ps[i].W[j], c.o.m[i][j], c.o.v[i][j], straight[i].W[j], os.m[i][j], os.v[i][j])
				}
			}
		}
	}
}

// TestLazyAdamWRefusesLRAbovePeak: the drop bound assumes lr <= LR.
func TestLazyAdamWRefusesLRAbovePeak(t *testing.T) {
	cfg := lazyCase.cfg
	cfg.LazyRows = true
	o := NewAdamW(lazyCase.params(), cfg)
	defer func() {
		if recover() == nil {
			t.Fatal("a step at twice the peak LR was accepted")
		}
	}()
	o.Step(2 * cfg.LR)
}

// TestZeroGradClearsUsedRows: Backward marks the word-embedding rows it
// writes, ZeroGrad clears exactly those, and every gradient ends at zero;
// MarkNonzeroRows finds rows written outside Backward.
func TestZeroGradClearsUsedRows(t *testing.T) {
	m, b := fdModel(t), fdBatch("ner")
	if _, err := m.Forward(b); err != nil {
		t.Fatal(err)
	}
	if err := m.Backward(1); err != nil {
		t.Fatal(err)
	}
	w := m.Param("embeddings.word_embeddings.weight")
	H := w.rows.width
	for r := 0; r < len(w.rows.mark); r++ {
		nonzero := false
		for _, g := range w.G[r*H : (r+1)*H] {
			nonzero = nonzero || g != 0
		}
		if nonzero && !w.rows.mark[r] {
			t.Fatalf("row %d has a gradient but is not marked", r)
		}
	}
	m.ZeroGrad()
	for _, p := range m.Params() {
		for j, g := range p.G {
			if g != 0 {
				t.Fatalf("%s[%d] = %g after ZeroGrad", p.Name, j, g)
			}
		}
	}
	if len(w.rows.list) != 0 {
		t.Fatalf("ZeroGrad left %d rows marked", len(w.rows.list))
	}
	w.G[3*H+1] = 0.5
	w.MarkNonzeroRows()
	if len(w.rows.list) != 1 || w.rows.list[0] != 3 {
		t.Fatalf("MarkNonzeroRows marked %v, want [3]", w.rows.list)
	}
	m.ZeroGrad()
	if w.G[3*H+1] != 0 {
		t.Fatal("ZeroGrad left the row MarkNonzeroRows found")
	}
	// The tied masked-LM decoder writes every row.
	if _, err := m.Forward(fdBatch("mlm")); err != nil {
		t.Fatal(err)
	}
	if err := m.Backward(1); err != nil {
		t.Fatal(err)
	}
	if !w.rows.all {
		t.Fatal("a masked-LM backward pass did not mark every word-embedding row")
	}
}

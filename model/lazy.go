package model

import (
	"fmt"
	"math"

	"github.com/taskweave/taskweave/model/kernels"
)

// Lazy AdamW for the word embeddings (AdamWConfig.LazyRows).
//
// A batch looks up a few hundred of the vocabulary's rows, yet dense AdamW
// streams every row's weight and both moments through memory at every
// step. The lazy optimizer updates, at step t, only the rows whose gradient
// may be nonzero (Param.rows), exactly as dense AdamW does. A row it skips
// remembers the step it is current to, and is brought forward through the
// skipped steps before anything reads it: the forward pass asks for the
// rows of its batch (rowSet.prepare, every row for the tied masked-LM
// decoder), evaluation and State (a save) call Flush. The model therefore
// always computes with the weights dense AdamW would hold.
//
// What dense AdamW does to a row with zero gradient at step j is
//
//	m ← β₁m;  v ← β₂v;  w ← w·(1 − lr_j·wd) − (lr_j/(1−β₁ʲ))·m / (√v/√(1−β₂ʲ) + eps)
//
// and the catch-up replays exactly these float32 operations, step by step,
// with each step's own lr and bias corrections (kept per step since the
// oldest row that is behind). The moments and the weight decay therefore
// come out bit for bit as the dense optimizer's. The one thing it leaves
// out is the Adam term of elements whose first moment has decayed to
// nothing: once |m| ≤ θ·√v that element's remaining zero-gradient steps
// apply only w ← w·(1 − lr_j·wd) (m and v still decay). The dropped terms
// are bounded: with no gradient |m|/√v shrinks by ρ = β₁/√β₂ per step,
// 1/(1−β₁ʲ) ≤ 1/(1−β₁), √(1−β₂ʲ) ≤ 1 and lr_j ≤ LR (the schedule's peak,
// AdamWConfig.LR), so the sum of every term dropped from one idle stretch
// of an element is at most LR·θ/((1−β₁)(1−ρ)). θ is chosen to make that
// lazyTol = 1e-10 per weight per idle stretch, a tenth of the float32
// spacing of a weight of magnitude 0.01. (With β₁² ≥ β₂ there is no such
// bound and nothing is dropped.) An element leaves the Adam phase after
// about log(7.3/θ)/log(1/ρ) idle steps (|m|/√v ≤ 7.3 for any gradient
// history at β = 0.9, 0.999): ~220 steps at lr 1e-3.
//
// Because the catch-up is the same sequence of operations however it is
// cut, bringing rows forward at a save (or an evaluation) does not change
// the trajectory: a resumed run equals the uninterrupted one bit for bit.
// A row that a batch uses costs its catch-up (O(steps behind · width),
// in registers) plus one dense update; the rest cost nothing until the
// next Flush. In the tests the dropped terms never reached a weight's
// rounding: lazy and dense runs end bit-identical (TestLazyAdamWMatchesDense,
// trainer's TestSparseEmbeddingsMatchDense); the tolerances there are the
// bound above, not what was observed.

// lazyTol bounds the Adam terms a catch-up may drop, per weight and idle
// stretch (see above).
const lazyTol = 1e-10

// lazyParam is a parameter updated by rows.
type lazyParam struct {
	p     int     // index in AdamW.params
	width int     // row length
	last  []int32 // per row: the step it is current to
	seen  []bool  // prepareRows' scratch
	todo  []int32
}

// idleHist holds each step's float32 constants, exactly as update computed
// them, for the steps after base.
type idleHist struct {
	base              int
	decay, step, inv2 []float32
}

func (h *idleHist) reset(base int) {
	h.base = base
	h.decay, h.step, h.inv2 = h.decay[:0], h.step[:0], h.inv2[:0]
}

// lazyTheta is θ for the configured hyper-parameters (0: never drop).
func (o *AdamW) lazyTheta() float32 {
	rho := o.Beta1 / math.Sqrt(o.Beta2)
	if rho >= 1 || o.LR <= 0 {
		return 0
	}
	return float32(lazyTol * (1 - o.Beta1) * (1 - rho) / o.LR)
}

// setupLazy marks the parameters with a row set for row-wise updates.
func (o *AdamW) setupLazy() {
	for i, p := range o.params {
		if p.rows != nil {
			o.lazy = append(o.lazy, &lazyParam{p: i, width: p.rows.width, last: make([]int32, len(p.W)/p.rows.width)})
		}
	}
	// The dense passes skip the lazy parameters.
	isLazy := map[int]bool{}
	for _, lp := range o.lazy {
		isLazy[lp.p] = true
	}
	var sp spans
	for _, s := range o.spans {
		if !isLazy[s.p] {
			sp = append(sp, s)
		}
	}
	o.spans = sp
	th := o.lazyTheta()
	o.theta2 = th * th
	for _, lp := range o.lazy {
		lp.seen = make([]bool, len(lp.last))
		o.params[lp.p].rows.read = func(rows []int32) { o.prepareRows(lp, rows) }
	}
}

// prepareRows brings rows (nil: every row) of lp to the current step before
// a forward pass reads them, so that the model computes with the weights
// dense AdamW would hold.
func (o *AdamW) prepareRows(lp *lazyParam, rows []int32) {
	if rows == nil {
		o.Flush()
		return
	}
	behind := lp.todo[:0]
	for _, r := range rows {
		if int(lp.last[r]) < o.step && !lp.seen[r] {
			lp.seen[r] = true
			behind = append(behind, r)
		}
	}
	lp.todo = behind
	kernels.ParallelFor(len(behind), 16, func(lo, hi int) {
		for _, r := range behind[lo:hi] {
			o.catchUp(lp, int(r), o.step)
		}
	})
	for _, r := range behind {
		lp.seen[r] = false
	}
}

// catchUp brings row r of lp forward from its step to step `to`.
func (o *AdamW) catchUp(lp *lazyParam, r, to int) {
	from := int(lp.last[r])
	if from >= to {
		return
	}
	p := o.params[lp.p]
	a, b := r*lp.width, (r+1)*lp.width
	h := &o.hist
	i, j := from-h.base, to-h.base
	decay := h.decay[i:j]
	if !p.Decay {
		decay = o.ones(j - i)
	}
	kernels.AdamWIdle(p.W[a:b], o.m[lp.p][a:b], o.v[lp.p][a:b], decay, h.step[i:j], h.inv2[i:j],
		float32(o.Beta1), float32(o.Beta2), float32(o.Eps), o.theta2)
	lp.last[r] = int32(to)
}

func (o *AdamW) ones(n int) []float32 {
	for len(o.one) < n {
		o.one = append(o.one, 1)
	}
	return o.one[:n]
}

// lazyUpdate is update's part for the row-wise parameters at step o.step:
// the rows with a gradient are brought to the previous step and updated
// with constants k; the others wait.
func (o *AdamW) lazyUpdate(k kernels.AdamWConsts, decayed float32) {
	t := o.step
	o.hist.decay = append(o.hist.decay, decayed)
	o.hist.step = append(o.hist.step, k.Step)
	o.hist.inv2 = append(o.hist.inv2, k.Inv2)
	for _, lp := range o.lazy {
		p := o.params[lp.p]
		k := k
		k.Decay = 1
		if p.Decay {
			k.Decay = decayed
		}
		one := func(r int) {
			o.catchUp(lp, r, t-1)
			a, b := r*lp.width, (r+1)*lp.width
			kernels.AdamW(p.W[a:b], p.G[a:b], o.m[lp.p][a:b], o.v[lp.p][a:b], k)
			lp.last[r] = int32(t)
		}
		if p.rows.all {
			kernels.ParallelFor(len(lp.last), 64, func(lo, hi int) {
				for r := lo; r < hi; r++ {
					one(r)
				}
			})
			continue
		}
		rows := p.rows.list
		kernels.ParallelFor(len(rows), 32, func(lo, hi int) {
			for _, r := range rows[lo:hi] {
				one(int(r))
			}
		})
	}
}

// lazySumSquares is Σ g² over the row-wise parameters' rows with a gradient
// (the others are zero), in a fixed order.
func (o *AdamW) lazySumSquares() float64 {
	var ss float64
	for _, lp := range o.lazy {
		p := o.params[lp.p]
		if p.rows.all {
			ss += kernels.SumSquares(p.G)
			continue
		}
		rows := p.rows.list
		part := make([]float64, len(rows))
		kernels.ParallelFor(len(rows), 64, func(lo, hi int) {
			for i := lo; i < hi; i++ {
				r := int(rows[i])
				part[i] = kernels.SumSquares(p.G[r*lp.width : (r+1)*lp.width])
			}
		})
		for _, v := range part {
			ss += v
		}
	}
	return ss
}

// Flush brings every row of the lazily updated parameters to the current
// step, so that the weights and moments are what dense AdamW would hold
// (up to the dropped terms, see lazy.go). Evaluation and State call it; it
// does not change later updates. Without LazyRows it does nothing.
func (o *AdamW) Flush() {
	for _, lp := range o.lazy {
		kernels.ParallelFor(len(lp.last), 64, func(lo, hi int) {
			for r := lo; r < hi; r++ {
				o.catchUp(lp, r, o.step)
			}
		})
	}
	o.hist.reset(o.step)
}

// checkLazyLR refuses a rate above the peak the drop bound assumes.
func (o *AdamW) checkLazyLR(lr float64) {
	if len(o.lazy) > 0 && lr > o.LR {
		panic(fmt.Sprintf("model: lazy AdamW stepped with lr %g above its peak LR %g (AdamWConfig.LR bounds the catch-up's dropped terms)", lr, o.LR))
	}
}

package model

import (
	"math"
	"math/rand/v2"
	"strings"
	"testing"
)

// Finite-difference checks: for every parameter tensor, the derivative of
// the loss along a direction, measured by central differences, must match
// the analytic gradient's projection on it. Two directions per tensor: a
// random one (catches errors in any component) and the gradient's own
// (large signal). Dropout stays on with the stream rewound before each
// evaluation, so every evaluation sees the same masks.

// fdConfig is the small encoder of the finite-difference checks.
var fdConfig = Config{VocabSize: 23, HiddenSize: 8, NumHiddenLayers: 2, NumAttentionHeads: 2, IntermediateSize: 12,
	MaxPositionEmbeddings: 8, TypeVocabSize: 2, LayerNormEps: 1e-12, HiddenDropoutProb: 0.1,
	AttentionProbsDropoutProb: 0.1, HiddenAct: "gelu"}

func fdModel(t *testing.T) *Model {
	t.Helper()
	m, err := New(fdConfig, []HeadSpec{
		{Task: "cls", Kind: SequenceClassification, NumLabels: 3},
		{Task: "ner", Kind: TokenClassification, NumLabels: 4, Layer: 1},
		{Task: "sts", Kind: SequenceRegression, NumLabels: 1},
		{Task: "mlm", Kind: MaskedLM},
		{Task: "cls1", Kind: SequenceClassification, NumLabels: 2, Layer: 1},
	}, 3)
	if err != nil {
		t.Fatal(err)
	}
	perturb(m)
	return m
}

// perturb adds larger weights than BERT's init, so that every path carries
// signal (soft sharing's factor B and adapter up projections start at 0).
func perturb(m *Model) {
	r := rand.New(rand.NewPCG(5, 6))
	for _, p := range m.Params() {
		for i := range p.W {
			p.W[i] += float32(r.NormFloat64() * 0.3)
		}
	}
}

func fdBatch(task string) *Batch {
	B, T := 3, 6
	b := &Batch{Task: task, B: B, T: T,
		InputIDs:     []int32{2, 5, 7, 9, 11, 3, 2, 13, 17, 3, 0, 0, 2, 19, 3, 0, 0, 0},
		TokenTypeIDs: []int32{0, 0, 0, 1, 1, 1, 0, 0, 0, 0, 0, 0, 0, 1, 0, 0, 0, 0},
		Mask:         []int32{1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 0, 0, 1, 1, 1, 0, 0, 0},
	}
	switch task {
	case "cls":
		b.Labels = []int32{0, 2, 1}
	case "cls1":
		b.Labels = []int32{1, IgnoreIndex, 0}
	case "sts":
		b.Targets = []float32{0.5, -1.25, 2}
	case "ner":
		b.TokenLabels = []int32{-100, 1, 3, 0, 2, -100, -100, 2, 1, -100, -100, -100, -100, 3, -100, -100, -100, -100}
	case "mlm":
		b.TokenLabels = []int32{-100, 4, -100, 22, -100, -100, -100, -100, 8, -100, -100, -100, -100, 6, -100, -100, -100, -100}
	}
	return b
}

func TestFiniteDifferences(t *testing.T) {
	for _, task := range []string{"cls", "ner", "sts", "mlm", "cls1"} {
		t.Run(task, func(t *testing.T) {
			m := fdModel(t)
			h := m.byTask[task]
			checkFD(t, m, fdBatch(task), func(name string) bool {
				if strings.HasPrefix(name, "heads.") || strings.HasPrefix(name, "cls.") {
					return strings.HasPrefix(name, headPrefix(h.spec))
				}
				if strings.HasPrefix(name, "pooler.") {
					return h.spec.Kind == SequenceClassification || h.spec.Kind == SequenceRegression
				}
				for l := h.layer; l < m.cfg.NumHiddenLayers; l++ {
					if strings.HasPrefix(name, "encoder.layer."+string(rune('0'+l))+".") {
						return false
					}
				}
				return true
			})
		})
	}
}

// checkFD runs b forward and backward with dropout on, then compares every
// parameter's analytic gradient with central differences along two
// directions; reach says which parameters b's loss depends on (the others
// must get exactly zero gradient).
func checkFD(t *testing.T, m *Model, b *Batch, reach func(name string) bool) {
	t.Helper()
	m.SetTraining(true)
	start := m.RNGState()
	loss := func() float64 {
		m.SetRNGState(start)
		out, err := m.Forward(b)
		if err != nil {
			t.Fatal(err)
		}
		return float64(out.Loss)
	}
	m.ZeroGrad()
	loss()
	if err := m.Backward(1); err != nil {
		t.Fatal(err)
	}
	checkGradients(t, b.Task, m.Params(), loss, reach)
}

// checkGradients compares the gradients in params (left by a backward pass
// of loss) with central differences of loss along two directions per
// tensor; reach says which parameters the loss depends on (the others must
// have exactly zero gradient).
func checkGradients(t *testing.T, what string, params []*Param, loss func() float64, reach func(name string) bool) {
	t.Helper()
	r := rand.New(rand.NewPCG(9, 9))
	checked, worst := 0, 0.0
	for _, p := range params {
		g := append([]float32(nil), p.G...)
		if !reach(p.Name) {
			if n := l2(g); n != 0 {
				t.Errorf("%s: the %s loss cannot reach it, yet its gradient norm is %g", p.Name, what, n)
			}
			continue
		}
		if strings.HasSuffix(p.Name, "attention.self.key.bias") {
			// Softmax ignores a per-row constant: the gradient is zero
			// up to rounding, and a difference quotient measures noise.
			if n := l2(g); n > 1e-5 {
				t.Errorf("%s: gradient norm %g, want ~0", p.Name, n)
			}
			continue
		}
		gn := l2(g)
		if gn == 0 {
			t.Errorf("%s: zero gradient on a reachable parameter", p.Name)
			continue
		}
		rnd := make([]float64, len(g))
		for i := range rnd {
			rnd[i] = r.NormFloat64()
		}
		grad := make([]float64, len(g))
		for i := range grad {
			grad[i] = float64(g[i])
		}
		for di, dir := range [][]float64{rnd, grad} {
			var fp, fm float64
			var vn float64
			for _, v := range dir {
				vn += v * v
			}
			vn = math.Sqrt(vn)
			var analytic float64
			for i := range dir {
				dir[i] /= vn
				analytic += dir[i] * float64(g[i])
			}
			const step = 1e-2
			w0 := append([]float32(nil), p.W...)
			diff := func(h float64) float64 {
				for _, s := range []float64{1, -1} {
					for i := range p.W {
						p.W[i] = w0[i] + float32(s*h*dir[i])
					}
					if s > 0 {
						fp = loss()
					} else {
						fm = loss()
					}
				}
				copy(p.W, w0)
				return (fp - fm) / (2 * h)
			}
			// Richardson extrapolation cancels the O(step²) term of the
			// central difference, which large weights (soft-sharing paths on
			// top of the encoder) make visible at step 1e-2.
			numeric := (4*diff(step/2) - diff(step)) / 3
			// Budget: 1e-3 relative for the O(step⁴) term, plus float32
			// rounding of the loss (~1e-7 relative) over the steps.
			tol := 1e-3*math.Abs(analytic) + 6e-7*math.Max(1, math.Abs(fp))/step
			d := math.Abs(numeric - analytic)
			worst = math.Max(worst, d/tol)
			if d > tol {
				t.Errorf("%s (direction %d): numeric %.6g, analytic %.6g, |diff| %.3g > tol %.3g", p.Name, di, numeric, analytic, d, tol)
			}
		}
		checked++
	}
	t.Logf("%s: %d parameter tensors checked, worst |diff|/tol %.2f", what, checked, worst)
}

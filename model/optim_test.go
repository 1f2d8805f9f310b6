package model

import (
	"fmt"
	"math"
	"math/rand/v2"
	"runtime"
	"slices"
	"strings"
	"testing"
)

func TestSchedule(t *testing.T) {
	s := Schedule{Peak: 1e-3, Warmup: 10, Total: 110}
	for _, c := range []struct {
		step int
		want float64
	}{{0, 0}, {5, 5e-4}, {10, 1e-3}, {60, 5e-4}, {110, 0}, {200, 0}} {
		if got := s.LR(c.step); math.Abs(got-c.want) > 1e-12 {
			t.Errorf("LR(%d) = %g, want %g", c.step, got, c.want)
		}
	}
	if got := (Schedule{Peak: 2e-5}).LR(7); got != 2e-5 {
		t.Errorf("constant schedule LR = %g, want 2e-5", got)
	}
}

func TestClipGradNorm(t *testing.T) {
	a := &Param{Name: "a", G: []float32{3, 0}}
	b := &Param{Name: "b", G: []float32{0, 4}}
	if n := ClipGradNorm([]*Param{a, b}, 10); math.Abs(n-5) > 1e-9 || a.G[0] != 3 {
		t.Fatalf("norm %g, G %v: clipping below the threshold must not change gradients", n, a.G)
	}
	n := ClipGradNorm([]*Param{a, b}, 1)
	if math.Abs(n-5) > 1e-9 {
		t.Fatalf("norm before clipping %g, want 5", n)
	}
	if after := GradNorm([]*Param{a, b}); math.Abs(after-1) > 1e-5 {
		t.Fatalf("norm after clipping %g, want 1", after)
	}
}

// TestAdamWResume: ten steps straight equal five steps, a State/SetState
// round trip into a fresh optimizer, and five more.
func TestAdamWResume(t *testing.T) {
	mk := func() []*Param {
		return []*Param{
			{Name: "w", W: []float32{0.5, -1, 2}, G: make([]float32, 3), Decay: true},
			{Name: "b", W: []float32{0.1}, G: make([]float32, 1)},
		}
	}
	grad := func(ps []*Param, step int) {
		for _, p := range ps {
			for i := range p.G {
				p.G[i] = float32(math.Sin(float64(step*7+i))) + p.W[i]
			}
		}
	}
	cfg := AdamWConfig{Beta1: 0.9, Beta2: 0.999, Eps: 1e-8, WeightDecay: 0.1}
	sched := Schedule{Peak: 1e-2, Warmup: 3, Total: 10}
	a := mk()
	oa := NewAdamW(a, cfg)
	for s := 0; s < 10; s++ {
		grad(a, s)
		oa.Step(sched.LR(s))
	}
	b := mk()
	ob := NewAdamW(b, cfg)
	for s := 0; s < 5; s++ {
		grad(b, s)
		ob.Step(sched.LR(s))
	}
	st := ob.State()
	ob2 := NewAdamW(b, cfg)
	if err := ob2.SetState(st); err != nil {
		t.Fatal(err)
	}
	for s := 5; s < 10; s++ {
		grad(b, s)
		ob2.Step(sched.LR(s))
	}
	for i := range a {
		for j := range a[i].W {
			if a[i].W[j] != b[i].W[j] {
				t.Fatalf("%s[%d]: straight %g, resumed %g", a[i].Name, j, a[i].W[j], b[i].W[j])
			}
		}
	}
	if ob2.Steps() != 10 {
		t.Fatalf("steps after resume %d, want 10", ob2.Steps())
	}
	st.Names[0] = "other"
	if err := NewAdamW(b, cfg).SetState(st); err == nil || !strings.Contains(err.Error(), "w") {
		t.Fatalf("SetState with a missing parameter: err = %v", err)
	}
}

// TestAdamWNoDecayOnBiasAndLayerNorm: with a zero gradient only weight decay
// moves a parameter, and only where Decay is set.
func TestAdamWNoDecayOnBiasAndLayerNorm(t *testing.T) {
	m, err := New(Config{VocabSize: 10, HiddenSize: 4, NumHiddenLayers: 1, NumAttentionHeads: 2, IntermediateSize: 8,
		MaxPositionEmbeddings: 8, TypeVocabSize: 2, LayerNormEps: 1e-12}, []HeadSpec{{Task: "t", Kind: TokenClassification, NumLabels: 3}}, 1)
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range m.Params() {
		for i := range p.W {
			p.W[i] = 1
		}
	}
	NewAdamW(m.Params(), AdamWConfig{Beta1: 0.9, Beta2: 0.999, Eps: 1e-8, WeightDecay: 0.5}).Step(0.1)
	for _, p := range m.Params() {
		noDecay := strings.HasSuffix(p.Name, ".bias") || strings.Contains(p.Name, "LayerNorm")
		want := float32(1 - 0.1*0.5)
		if noDecay {
			want = 1
		}
		if p.Decay == noDecay || p.W[0] != want {
			t.Errorf("%s: Decay=%v, weight after a zero-gradient step %g, want %g", p.Name, p.Decay, p.W[0], want)
		}
	}
}

// TestStepClippedMatchesClipThenStep: the fused pass gives the weights and
// moments of ClipGradNorm followed by Step, leaves G unscaled, and its norm
// does not depend on how many cores share the spans (the per-span sums are
// added in a fixed order).
func TestStepClippedMatchesClipThenStep(t *testing.T) {
	mk := func() []*Param {
		r := rand.New(rand.NewPCG(3, 4))
		var ps []*Param
		for i, n := range []int{3*spanLen + 17, 1, 768, spanLen} {
			p := &Param{Name: fmt.Sprint("p", i), W: randVec(r, n, 0.05), G: randVec(r, n, 0.01), Decay: i%2 == 0}
			ps = append(ps, p)
		}
		return ps
	}
	cfg := AdamWConfig{Beta1: 0.9, Beta2: 0.999, Eps: 1e-6, WeightDecay: 0.01}
	for _, clip := range []float64{0, 1, 1e6} {
		a, b := mk(), mk()
		oa, ob := NewAdamW(a, cfg), NewAdamW(b, cfg)
		var na, nb float64
		for s := 0; s < 3; s++ {
			na = ClipGradNorm(a, clip)
			oa.Step(1e-3)
			g0 := append([]float32(nil), b[0].G...)
			nb = ob.StepClipped(1e-3, clip)
			if !slices.Equal(g0, b[0].G) {
				t.Fatalf("clip %g: StepClipped changed G", clip)
			}
			for i := range a { // the unfused path rewrote G; put the originals back
				copy(a[i].G, b[i].G)
			}
		}
		if math.Abs(na-nb) > 1e-12*na {
			t.Fatalf("clip %g: norm %.17g fused, %.17g unfused", clip, nb, na)
		}
		for i := range a {
			for j := range a[i].W {
				if !closeTo(b[i].W[j], float64(a[i].W[j]), 1e-9, 1e-6) || !closeTo(ob.m[i][j], float64(oa.m[i][j]), 1e-12, 1e-6) {
					t.Fatalf("clip %g %s[%d]: fused w,m %g,%g; unfused %g,%g", clip, a[i].Name, j, b[i].W[j], ob.m[i][j], a[i].W[j], oa.m[i][j])
				}
			}
		}
	}
	ps := mk()
	o := NewAdamW(ps, cfg)
	want := o.sumSquares()
	defer runtime.GOMAXPROCS(runtime.GOMAXPROCS(1))
	if got := o.sumSquares(); got != want {
		t.Fatalf("Σg² on one core %.17g, on all %.17g: the sum must not depend on the core count", got, want)
	}
	runtime.GOMAXPROCS(4)
	if got := o.sumSquares(); got != want {
		t.Fatalf("Σg² on four workers %.17g, on all %.17g", got, want)
	}
}

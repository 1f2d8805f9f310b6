package multitask

import (
	"math"
	"strings"
	"testing"
)

// TestFAMOHandWorked follows FAMO through four steps worked by hand
// (β = 0.5, γ = 0.1, two tasks; the third step is a sampled one where only
// task a has a batch):
//
//	start:  ξ = (0, 0), nothing seen: weights (1, 1)
//	step 1: L = (2, 1): first sight, δ = 0, ξ stays 0.
//	        z = (½, ½), z/L = (¼, ½) → weights 2·(⅓, ⅔) = (0.6667, 1.3333)
//	step 2: L = (1, 0.8): δ = (ln 2, ln 1.25) = (0.693147, 0.223144),
//	        z·δ = 0.458145, Jᵀδ = z∘(δ − z·δ) = (0.117501, −0.117501),
//	        ξ = −½·Jᵀδ = (−0.0587505, 0.0587505)
//	        z = (0.470658, 0.529342), z/L = (0.470658, 0.661677)
//	        → weights (0.831306, 1.168694)
//	step 3: L = (0.5, —): δ = (ln 2, 0), z·δ = 0.326236,
//	        Jᵀδ + γξ = (0.172690 − 0.005875, −0.172690 + 0.005875),
//	        ξ = (−0.142158, 0.142158); task b keeps its last loss 0.8
//	        → weights (1.092578, 0.907422)
//	step 4: L = (0.6, 0.4) → ξ = (−0.0277985, 0.0277985), weights (0.773468, 1.226532)
func TestFAMOHandWorked(t *testing.T) {
	s := mustNew(t, Config{Name: "famo", Tasks: []string{"a", "b"}, LR: 0.5, Gamma: 0.1})
	f := s.weighting.(*FAMO)
	steps := []struct {
		losses      []float64
		xi, weights []float64
	}{
		{[]float64{2, 1}, []float64{0, 0}, []float64{0.666667, 1.333333}},
		{[]float64{1, 0.8}, []float64{-0.0587505, 0.0587505}, []float64{0.831306, 1.168694}},
		{[]float64{0.5, nan}, []float64{-0.142158, 0.142158}, []float64{1.092578, 0.907422}},
		{[]float64{0.6, 0.4}, []float64{-0.0277985, 0.0277985}, []float64{0.773468, 1.226532}},
	}
	near(t, "weights before any step", s.Weights(), []float64{1, 1}, 0)
	for i, st := range steps {
		update(t, s, st.losses, nil)
		near(t, "xi after step "+string(rune('1'+i)), f.Xi, st.xi, 1e-6)
		near(t, "weights after step "+string(rune('1'+i)), s.Weights(), st.weights, 1e-6)
	}
}

// A task whose loss stops falling gains weight: over 50 steps a's loss
// falls by 10% a step while b's stays put, so b's logit rises.
func TestFAMOFavoursTheSlowTask(t *testing.T) {
	s := mustNew(t, Config{Name: "famo", Tasks: []string{"a", "b"}, LR: 0.5, Gamma: 0})
	f := s.weighting.(*FAMO)
	la := 1.0
	for i := 0; i < 50; i++ {
		update(t, s, []float64{la, 1}, nil)
		la *= 0.9
	}
	if !(f.Xi[1] > f.Xi[0]+1) {
		t.Fatalf("logits %v: the task whose loss did not fall should have gained", f.Xi)
	}
}

func TestFAMORejectsNegativeLossAndGamma(t *testing.T) {
	if _, err := New(Config{Name: "famo", Tasks: []string{"a"}, LR: 0.1, Gamma: -1}); err == nil || !strings.Contains(err.Error(), "strategy.gamma") {
		t.Fatalf("gamma -1: err %v, want one naming strategy.gamma", err)
	}
	s := mustNew(t, Config{Name: "famo", Tasks: []string{"a"}, LR: 0.1})
	if err := s.Update(Step{Losses: []float64{-0.5}}); err == nil {
		t.Fatal("a negative loss was accepted")
	}
	if math.IsNaN(s.Weights()[0]) {
		t.Fatal("NaN weight")
	}
}

// Auto-λ's weight update, by hand: Adam's first steps move each λ by the
// learning rate against the sign of its hypergradient (m̂/√v̂ = ±1 while
// the hypergradient keeps its value), and λ stops at 0.
func TestAutoLambdaUpdate(t *testing.T) {
	s := mustNew(t, Config{Name: "auto_lambda", Tasks: []string{"a", "b", "c"}, LR: 0.1, Primary: []string{"a"}})
	if p, ok := s.Meta(); !ok || len(p) != 1 || p[0] != 0 {
		t.Fatalf("Meta() = %v, %v; want [0], true", p, ok)
	}
	f := s.weighting.(*AutoLambda)
	for i, want := range [][]float64{{0.9, 1.1, 1}, {0.8, 1.2, 1}} {
		if err := s.Update(Step{Losses: []float64{1, 1, 1}, Hyper: []float64{0.5, -2, 0}}); err != nil {
			t.Fatal(err)
		}
		near(t, "lambda after step "+string(rune('1'+i)), f.Lambda, want, 1e-6)
	}
	near(t, "weights", s.Weights(), []float64{0.8, 1.2, 1}, 1e-6)
	big := mustNew(t, Config{Name: "auto_lambda", Tasks: []string{"a", "b"}, LR: 1, Primary: []string{"b"}})
	for range 2 { // Adam's steps are about lr long: the second crosses 0
		if err := big.Update(Step{Losses: []float64{1, 1}, Hyper: []float64{1, -1}}); err != nil {
			t.Fatal(err)
		}
	}
	near(t, "clamped weights", big.Weights(), []float64{0, 2}, 1e-9)
	if err := big.Update(Step{Losses: []float64{1, 1}}); err == nil {
		t.Fatal("an update without hypergradients was accepted")
	}
	if _, err := New(Config{Name: "auto_lambda", Tasks: []string{"a"}, LR: 0.1, Primary: []string{"z"}}); err == nil || !strings.Contains(err.Error(), `"z"`) {
		t.Fatalf("unknown primary: %v", err)
	}
}

package multitask

import (
	"math"
	"slices"
	"testing"
)

func near(t *testing.T, what string, got, want []float64, tol float64) {
	t.Helper()
	if len(got) != len(want) {
		t.Fatalf("%s: got %d values %v, want %d %v", what, len(got), got, len(want), want)
	}
	for i := range got {
		if math.Abs(got[i]-want[i]) > tol {
			t.Fatalf("%s[%d] = %.8g, want %.8g (all: %v)", what, i, got[i], want[i], got)
		}
	}
}

func f64(v []float32) []float64 {
	out := make([]float64, len(v))
	for i, x := range v {
		out[i] = float64(x)
	}
	return out
}

func mustNew(t *testing.T, c Config) Strategy {
	t.Helper()
	s, err := New(c)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func combine(t *testing.T, s Strategy, in Input) Result {
	t.Helper()
	r, err := s.Combine(in)
	if err != nil {
		t.Fatal(err)
	}
	// Shared may be the strategy's scratch, overwritten by its next Combine;
	// tests keep results across steps.
	r.Shared = slices.Clone(r.Shared)
	return r
}

func TestEqualAndStatic(t *testing.T) {
	cases := []struct {
		name   string
		static []float64
		tasks  []int
		losses []float64
		w      []float64
		loss   float64
	}{
		{"equal", nil, []int{0, 1}, []float64{2, 3}, []float64{1, 1}, 5},
		{"static", []float64{0.5, 2}, []int{0, 1}, []float64{2, 3}, []float64{0.5, 2}, 7},
		{"static", []float64{0.5, 2}, []int{1}, []float64{3}, []float64{2}, 6}, // sampled mode: one task
	}
	for _, c := range cases {
		s := mustNew(t, Config{Name: c.name, Tasks: []string{"a", "b"}, Static: c.static})
		r := combine(t, s, Input{Tasks: c.tasks, Losses: c.losses})
		near(t, c.name+" weights", r.Weights, c.w, 0)
		near(t, c.name+" loss", []float64{r.Loss}, []float64{c.loss}, 1e-12)
	}
}

func TestLossVariance(t *testing.T) {
	s := mustNew(t, Config{Name: "loss_variance", Tasks: []string{"a", "b"}, Window: 3})
	// Fewer than two losses: equal shares.
	r := combine(t, s, Input{Tasks: []int{0, 1}, Losses: []float64{1, 2}})
	near(t, "first", r.Weights, []float64{0.5, 0.5}, 0)
	combine(t, s, Input{Tasks: []int{0, 1}, Losses: []float64{2, 2}})
	r = combine(t, s, Input{Tasks: []int{0, 1}, Losses: []float64{3, 5}})
	// Var(1,2,3) = 2/3, Var(2,2,5) = 2: λ_a = sqrt(2/3)/(sqrt(2/3)+sqrt(2)) = 1/(1+√3).
	a := 1 / (1 + math.Sqrt(3))
	near(t, "window full", r.Weights, []float64{a, 1 - a}, 1e-12)
	// The window slides: task a's window becomes (2,3,4), Var 2/3; b's (2,5,2), Var 2.
	r = combine(t, s, Input{Tasks: []int{0, 1}, Losses: []float64{4, 2}})
	near(t, "window slid", r.Weights, []float64{a, 1 - a}, 1e-12)
	// b constant over the window: all weight on a.
	for i := 0; i < 3; i++ {
		r = combine(t, s, Input{Tasks: []int{0, 1}, Losses: []float64{float64(i), 7}})
	}
	near(t, "b constant", r.Weights, []float64{1, 0}, 0)
}

func TestUncertainty(t *testing.T) {
	s := mustNew(t, Config{Name: "uncertainty", Tasks: []string{"a", "b"}, LR: 0.1})
	r := combine(t, s, Input{Tasks: []int{0, 1}, Losses: []float64{2, 0.5}})
	// s = 0: weights ½, loss ½·2 + ½·0.5 + 0.
	near(t, "weights", r.Weights, []float64{0.5, 0.5}, 0)
	near(t, "loss", []float64{r.Loss}, []float64{1.25}, 1e-12)
	// ∂/∂s_a = −½·2 + ½ = −0.5 → s_a = 0.05; ∂/∂s_b = −0.25 + 0.5 → s_b = −0.025.
	u := s.(*Uncertainty)
	near(t, "s", u.S, []float64{0.05, -0.025}, 1e-15)
	near(t, "next weights", s.Weights(), []float64{0.5 * math.Exp(-0.05), 0.5 * math.Exp(0.025)}, 1e-15)
	r = combine(t, s, Input{Tasks: []int{1}, Losses: []float64{1}})
	near(t, "sampled loss", []float64{r.Loss}, []float64{0.5*math.Exp(0.025)*1 + 0.5*-0.025}, 1e-15)
}

func TestGradNorm(t *testing.T) {
	s := mustNew(t, Config{Name: "gradnorm", Tasks: []string{"a", "b"}, LR: 0.1})
	g := [][]float32{{3, 4}, {0, 1}} // ‖·‖ = 5 and 1
	r := combine(t, s, Input{Tasks: []int{0, 1}, Losses: []float64{2, 4}, Grads: g})
	near(t, "step 1 weights", r.Weights, []float64{1, 1}, 0)
	// G = (5, 1), Ḡ = 3, ratios 1 → targets 3: w_a −= 0.1·5, w_b += 0.1·1 → (0.5, 1.1), ×2/1.6.
	near(t, "after step 1", s.Weights(), []float64{0.625, 1.375}, 1e-12)
	r = combine(t, s, Input{Tasks: []int{0, 1}, Losses: []float64{1, 3}, Grads: g})
	near(t, "step 2 weights", r.Weights, []float64{0.625, 1.375}, 1e-12)
	// L̃ = (0.5, 0.75), r = (0.8, 1.2); G = (3.125, 1.375), Ḡ = 2.25;
	// targets 2.25·0.8^1.5 = 1.61 < 3.125 and 2.25·1.2^1.5 = 2.96 > 1.375
	// → (0.125, 1.475), ×2/1.6.
	near(t, "after step 2", s.Weights(), []float64{0.15625, 1.84375}, 1e-12)
	if sum := s.Weights()[0] + s.Weights()[1]; math.Abs(sum-2) > 1e-12 {
		t.Fatalf("weights sum to %v, want 2 (number of tasks)", sum)
	}
	// Only the last shared layer's gradient drives the weights when given.
	s2 := mustNew(t, Config{Name: "gradnorm", Tasks: []string{"a", "b"}, LR: 0.1})
	combine(t, s2, Input{Tasks: []int{0, 1}, Losses: []float64{2, 4},
		Grads: [][]float32{{100, 0, 3, 4}, {0, 100, 0, 1}}, LastShared: g})
	near(t, "last shared layer", s2.Weights(), []float64{0.625, 1.375}, 1e-12)
	if _, err := s.Combine(Input{Tasks: []int{0, 1}, Losses: []float64{1, 1}}); err == nil {
		t.Fatal("gradnorm without gradients: no error")
	}
}

func TestGradNormalize(t *testing.T) {
	s := mustNew(t, Config{Name: "gradient_normalization", Tasks: []string{"a", "b"}})
	r := combine(t, s, Input{Tasks: []int{0, 1}, Losses: []float64{1, 1},
		Grads: [][]float32{{3, 4}, {0, -1}}})
	// G = (3, 3), ‖G‖ = 3√2, Σ‖g‖ = 6; ĝ_a = (0.6, 0.8)·√2/2, ĝ_b = (0, −1)·√2/2.
	h := math.Sqrt2 / 2
	near(t, "combined", f64(r.Shared), []float64{0.6 * h, 0.8*h - h}, 1e-6)
	near(t, "weights", r.Weights, []float64{3 * math.Sqrt2 / 30, 3 * math.Sqrt2 / 6}, 1e-12)
	near(t, "head weights", r.HeadWeights, []float64{1, 1}, 0)
}

func TestDWA(t *testing.T) {
	s := mustNew(t, Config{Name: "dwa", Tasks: []string{"a", "b"}, Window: 1, Temperature: 2})
	r := combine(t, s, Input{Tasks: []int{0, 1}, Losses: []float64{2, 4}})
	near(t, "step 1", r.Weights, []float64{1, 1}, 0)
	r = combine(t, s, Input{Tasks: []int{0, 1}, Losses: []float64{1, 4}})
	near(t, "step 2", r.Weights, []float64{1, 1}, 0)
	r = combine(t, s, Input{Tasks: []int{0, 1}, Losses: []float64{1, 1}})
	// r = (0.5, 1): w_i = 2·exp(r_i/2)/Σ exp(r_j/2).
	ea, eb := math.Exp(0.25), math.Exp(0.5)
	near(t, "step 3", r.Weights, []float64{2 * ea / (ea + eb), 2 * eb / (ea + eb)}, 1e-12)

	// Window 2 averages: periods (2,4)+(4,4) → (3,4), then (1,4)+(2,4) → (1.5,4).
	s = mustNew(t, Config{Name: "dwa", Tasks: []string{"a", "b"}, Window: 2, Temperature: 2})
	for _, l := range [][]float64{{2, 4}, {4, 4}, {1, 4}, {2, 4}} {
		combine(t, s, Input{Tasks: []int{0, 1}, Losses: l})
	}
	near(t, "window 2", s.Weights(), []float64{2 * ea / (ea + eb), 2 * eb / (ea + eb)}, 1e-12)
}

func TestPCGrad(t *testing.T) {
	cases := []struct {
		name  string
		grads [][]float32
		want  []float64
	}{
		// g_a·g_b = −1: g_a' = g_a + ½·g_b = (0.5, 0.5); g_b' = g_b + g_a = (0, 1).
		{"conflict", [][]float32{{1, 0}, {-1, 1}}, []float64{0.5, 1.5}},
		{"no conflict", [][]float32{{1, 0}, {1, 1}}, []float64{2, 1}},
		{"opposite", [][]float32{{1, 0}, {-2, 0}}, []float64{0, 0}},
	}
	for _, c := range cases {
		s := mustNew(t, Config{Name: "pcgrad", Tasks: []string{"a", "b"}, Seed: 7})
		r := combine(t, s, Input{Tasks: []int{0, 1}, Losses: []float64{1, 1}, Grads: c.grads})
		near(t, c.name, f64(r.Shared), c.want, 1e-6)
	}
}

// With three tasks the projection order matters; the combined gradient must
// be the one of the order the seeded generator draws, reproducibly.
func TestPCGradOrderSeeded(t *testing.T) {
	g := [][]float32{{1, 0, 0}, {-1, 1, 0}, {-0.5, -1, 1}}
	run := func(seed uint64, steps int) [][]float64 {
		s := mustNew(t, Config{Name: "pcgrad", Tasks: []string{"a", "b", "c"}, Seed: seed})
		var out [][]float64
		for i := 0; i < steps; i++ {
			out = append(out, f64(combine(t, s, Input{Tasks: []int{0, 1, 2}, Losses: []float64{1, 1, 1}, Grads: g}).Shared))
		}
		return out
	}
	a, b := run(1, 20), run(1, 20)
	distinct := map[[3]float64]bool{}
	for i := range a {
		near(t, "same seed", a[i], b[i], 0)
		distinct[[3]float64{a[i][0], a[i][1], a[i][2]}] = true
	}
	if len(distinct) < 2 {
		t.Fatalf("20 steps gave one combined gradient %v; the task order is not random", a[0])
	}
}

// Every strategy continues identically after State/SetState into a fresh copy.
func TestStateRoundTrip(t *testing.T) {
	losses := [][]float64{{2, 3}, {1.5, 2.5}, {1.2, 2.9}, {0.9, 2.0}, {0.8, 2.2}, {0.7, 1.1}}
	grads := [][][]float32{{{1, 2}, {-1, 0.5}}, {{0.5, 1}, {-2, 1}}, {{1, -1}, {1, 1}}}
	for _, name := range Names {
		cfg := Config{Name: name, Tasks: []string{"a", "b"}, Static: []float64{1, 2}, Window: 2, Seed: 3}
		full, half := mustNew(t, cfg), mustNew(t, cfg)
		var want, got []Result
		for i, l := range losses {
			in := Input{Tasks: []int{0, 1}, Losses: l, Grads: grads[i%3]}
			want = append(want, combine(t, full, in))
			if i == 3 {
				st, err := half.State()
				if err != nil {
					t.Fatal(err)
				}
				half = mustNew(t, cfg)
				if err := half.SetState(st); err != nil {
					t.Fatalf("%s: %v", name, err)
				}
			}
			got = append(got, combine(t, half, in))
		}
		for i := range want {
			near(t, name+" weights", got[i].Weights, want[i].Weights, 0)
			near(t, name+" shared", f64(got[i].Shared), f64(want[i].Shared), 0)
		}
	}
}

// RequiresAllTasks is what validation uses before any strategy exists; it
// must agree with what each built strategy says it needs.
func TestRequiresAllTasksMatchesNeedsGradients(t *testing.T) {
	for _, name := range Names {
		s, err := New(Config{Name: name, Tasks: []string{"a", "b"}, Static: []float64{1, 1}, Alpha: 1.5, Window: 20, Temperature: 2, LR: 0.025})
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		if got, want := RequiresAllTasks(name), s.NeedsGradients(); got != want {
			t.Errorf("RequiresAllTasks(%q) = %v, but the strategy's NeedsGradients = %v", name, got, want)
		}
	}
}

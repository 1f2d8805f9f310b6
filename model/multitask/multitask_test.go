package multitask

import (
	"math"
	"strings"
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

func mustNew(t *testing.T, c Config) *Strategy {
	t.Helper()
	s, err := New(c)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func update(t *testing.T, s *Strategy, losses []float64, last [][]float32) {
	t.Helper()
	// A hypergradient for auto_lambda: any deterministic function of the step.
	hyper := make([]float64, len(losses))
	for i, l := range losses {
		if !math.IsNaN(l) {
			hyper[i] = 0.1 * float64(i+1) * (l - 1)
		}
	}
	if err := s.Update(Step{Losses: losses, LastShared: last, Hyper: hyper}); err != nil {
		t.Fatal(err)
	}
}

func combine(t *testing.T, s *Strategy, grads [][]float32) []float64 {
	t.Helper()
	out, err := s.Combine(grads, s.Weights())
	if err != nil {
		t.Fatal(err)
	}
	return f64(out)
}

var nan = math.NaN()

func TestValidate(t *testing.T) {
	ab := []string{"a", "b"}
	for _, c := range []struct {
		cfg  Config
		want string // "" = valid
	}{
		{Config{Name: "equal", Tasks: ab}, ""},
		{Config{Name: "static", Tasks: ab, Static: []float64{0, 1}}, ""}, // a weight of 0 is a value
		{Config{Name: "uncertainty", Tasks: ab, LR: 0}, ""},              // lr 0: fixed weights
		{Config{Name: "gradnorm", Tasks: ab, Alpha: 0, LR: 0.1}, ""},     // α 0: equal norms
		{Config{Name: "dwa", Tasks: ab, Window: 1, Temperature: 2}, ""},
		{Config{Name: "loss_variance", Tasks: ab, Window: 2}, ""},
		{Config{Name: "", Tasks: ab}, `train.strategy.name: "" is not allowed`},
		{Config{Name: "mean", Tasks: ab}, "use one of equal, static"},
		{Config{Name: "equal"}, "no tasks"},
		{Config{Name: "static", Tasks: ab, Static: []float64{1}}, "one weight per task"},
		{Config{Name: "static", Tasks: ab, Static: []float64{-1, 1}}, "tasks[0].weight: -1 is out of range; use weight >= 0"},
		{Config{Name: "static", Tasks: ab, Static: []float64{0, 0}}, "every task weight is 0"},
		{Config{Name: "loss_variance", Tasks: ab, Window: 1}, "train.strategy.window: 1; loss_variance needs window >= 2"},
		{Config{Name: "dwa", Tasks: ab, Window: 0, Temperature: 2}, "train.strategy.window: 0 is out of range; use window >= 1"},
		{Config{Name: "dwa", Tasks: ab, Window: 3, Temperature: 0}, "train.strategy.temperature: 0 is out of range; use temperature > 0"},
		{Config{Name: "gradnorm", Tasks: ab, Alpha: -1, LR: 0.1}, "train.strategy.alpha: -1 is out of range"},
		{Config{Name: "gradnorm", Tasks: ab, Alpha: 1.5, LR: -0.1}, "train.strategy.lr: -0.1 is out of range; use 0 <= lr <= 1"},
		{Config{Name: "famo", Tasks: ab, LR: 1.5}, "train.strategy.lr: 1.5 is out of range"},
		{Config{Name: "uncertainty", Tasks: ab, LR: math.NaN()}, "train.strategy.lr: NaN is out of range"},
		{Config{Name: "uncertainty", Tasks: ab, Regression: []bool{true}}, "1 regression flags for 2 tasks"},
	} {
		err := c.cfg.Validate()
		switch {
		case c.want == "" && err != nil:
			t.Errorf("%+v: %v", c.cfg, err)
		case c.want != "" && (err == nil || !strings.Contains(err.Error(), c.want)):
			t.Errorf("%+v: error %v, want one containing %q", c.cfg, err, c.want)
		}
	}
}

func TestEqualAndStatic(t *testing.T) {
	for _, c := range []struct {
		name   Name
		static []float64
		w      []float64
	}{
		{"equal", nil, []float64{1, 1}},
		{"static", []float64{0.5, 2}, []float64{0.4, 1.6}}, // ×2/2.5
		{"static", []float64{1, 1}, []float64{1, 1}},
	} {
		s := mustNew(t, Config{Name: c.name, Tasks: []string{"a", "b"}, Static: c.static})
		near(t, string(c.name)+" weights", s.Weights(), c.w, 1e-15)
		update(t, s, []float64{2, nan}, nil)
		near(t, string(c.name)+" weights after a step", s.Weights(), c.w, 1e-15)
		near(t, string(c.name)+" sum", combine(t, s, [][]float32{{1, 0}, {0, 1}}), c.w, 1e-7)
	}
}

func TestLossVariance(t *testing.T) {
	s := mustNew(t, Config{Name: "loss_variance", Tasks: []string{"a", "b"}, Window: 3})
	// Fewer than two losses: equal weights.
	near(t, "start", s.Weights(), []float64{1, 1}, 0)
	update(t, s, []float64{1, 2}, nil)
	near(t, "one step", s.Weights(), []float64{1, 1}, 0)
	update(t, s, []float64{2, 2}, nil)
	update(t, s, []float64{3, 5}, nil)
	// Var(1,2,3) = 2/3, Var(2,2,5) = 2: σ_a/(σ_a+σ_b) = 1/(1+√3), times n = 2.
	a := 2 / (1 + math.Sqrt(3))
	near(t, "window full", s.Weights(), []float64{a, 2 - a}, 1e-12)
	// The window slides: a (2,3,4) Var 2/3; b (2,5,2) Var 2.
	update(t, s, []float64{4, 2}, nil)
	near(t, "window slid", s.Weights(), []float64{a, 2 - a}, 1e-12)
	// b constant over the window: all weight on a.
	for i := 0; i < 3; i++ {
		update(t, s, []float64{float64(i), 7}, nil)
	}
	near(t, "b constant", s.Weights(), []float64{2, 0}, 1e-12)

	// The window counts optimizer steps, also those in which a task had no
	// batch (sampled mode): b's losses of steps 1 and 2 leave the 3-step
	// window at steps 4 and 5, so b is back to one loss and weights equal.
	s = mustNew(t, Config{Name: "loss_variance", Tasks: []string{"a", "b"}, Window: 3})
	for _, l := range [][]float64{{1, 1}, {2, 3}, {3, nan}, {4, nan}} {
		update(t, s, l, nil)
	}
	near(t, "b has one loss in its window", s.Weights(), []float64{1, 1}, 0)
	update(t, s, []float64{nan, 5}, nil)
	update(t, s, []float64{5, 9}, nil)
	// Steps 4..6: a (4, 5) Var 1/4, b (5, 9) Var 4: σ 0.5 and 2.
	near(t, "sparse windows", s.Weights(), []float64{2 * 0.5 / 2.5, 2 * 2 / 2.5}, 1e-12)
}

// Kendall et al.: classification exp(−s)·L + s/2, regression
// ½·exp(−s)·L + s/2; weights are the factors normalised to sum to n.
func TestUncertainty(t *testing.T) {
	s := mustNew(t, Config{Name: "uncertainty", Tasks: []string{"cls", "reg"}, Regression: []bool{false, true}, LR: 0.1})
	// s = 0: factors 1 and ½ → 2·(1, ½)/1.5.
	near(t, "start", s.Weights(), []float64{4.0 / 3, 2.0 / 3}, 1e-15)
	update(t, s, []float64{2, 0.5}, nil)
	// ∂/∂s_cls = −1·2 + ½ = −1.5 → s = 0.15; ∂/∂s_reg = −½·0.5 + ½ = 0.25 → s = −0.025.
	u := s.weighting.(*Uncertainty)
	near(t, "s", u.S, []float64{0.15, -0.025}, 1e-15)
	ca, cb := math.Exp(-0.15), 0.5*math.Exp(0.025)
	near(t, "next weights", s.Weights(), []float64{2 * ca / (ca + cb), 2 * cb / (ca + cb)}, 1e-15)
	// A task without a batch this step keeps its s.
	update(t, s, []float64{nan, 1}, nil)
	near(t, "sampled step", u.S, []float64{0.15, -0.025 - 0.1*(-0.5*math.Exp(0.025)+0.5)}, 1e-15)
	// All classification: equal factors at s = 0 give weights 1.
	near(t, "classification only", mustNew(t, Config{Name: "uncertainty", Tasks: []string{"a", "b"}, LR: 0.1}).Weights(), []float64{1, 1}, 0)
}

func TestGradNorm(t *testing.T) {
	s := mustNew(t, Config{Name: "gradnorm", Tasks: []string{"a", "b"}, Alpha: 1.5, LR: 0.1})
	g := [][]float32{{3, 4}, {0, 1}} // ‖·‖ = 5 and 1
	near(t, "step 1 weights", s.Weights(), []float64{1, 1}, 0)
	update(t, s, []float64{2, 4}, g)
	// G = (5, 1), Ḡ = 3, ratios 1 → targets 3: w_a −= 0.1·5, w_b += 0.1·1 → (0.5, 1.1), ×2/1.6.
	near(t, "after step 1", s.Weights(), []float64{0.625, 1.375}, 1e-12)
	update(t, s, []float64{1, 3}, g)
	// L̃ = (0.5, 0.75), r = (0.8, 1.2); G = (3.125, 1.375), Ḡ = 2.25;
	// targets 2.25·0.8^1.5 = 1.61 < 3.125 and 2.25·1.2^1.5 = 2.96 > 1.375
	// → (0.125, 1.475), ×2/1.6.
	near(t, "after step 2", s.Weights(), []float64{0.15625, 1.84375}, 1e-12)
	if err := s.Update(Step{Losses: []float64{1, 1}}); err == nil {
		t.Fatal("gradnorm without the last shared layer's gradients: no error")
	}
	if err := s.Update(Step{Losses: []float64{1, nan}, LastShared: g}); err == nil {
		t.Fatal("gradnorm with a task missing: no error")
	}
}

// Gradient normalisation keeps the seed's formula; its output norm is
// ‖Σ u_i‖·‖G‖/Σ‖g_j‖ (u_i unit directions): n for parallel gradients, 1
// for orthogonal ones of equal norm, 0 for opposite ones.
func TestGradNormalize(t *testing.T) {
	s := mustNew(t, Config{Name: "gradient_normalization", Tasks: []string{"a", "b"}})
	// G = (3, 3), ‖G‖ = 3√2, Σ‖g‖ = 6; ĝ_a = (0.6, 0.8)·√2/2, ĝ_b = (0, −1)·√2/2.
	h := math.Sqrt2 / 2
	near(t, "combined", combine(t, s, [][]float32{{3, 4}, {0, -1}}), []float64{0.6 * h, 0.8*h - h}, 1e-6)
	near(t, "weights", s.Weights(), []float64{1, 1}, 0)
	for _, c := range []struct {
		name  string
		grads [][]float32
		norm  float64
	}{
		{"parallel", [][]float32{{3, 4}, {30, 40}}, 2},
		{"orthogonal", [][]float32{{2, 0}, {0, 2}}, 1},
		{"opposite", [][]float32{{1, 0}, {-5, 0}}, 0},
	} {
		out := combine(t, s, c.grads)
		near(t, string(c.name)+" norm", []float64{math.Hypot(out[0], out[1])}, []float64{c.norm}, 1e-6)
	}
}

func TestDWA(t *testing.T) {
	s := mustNew(t, Config{Name: "dwa", Tasks: []string{"a", "b"}, Window: 1, Temperature: 2})
	near(t, "step 1", s.Weights(), []float64{1, 1}, 0)
	update(t, s, []float64{2, 4}, nil)
	near(t, "step 2", s.Weights(), []float64{1, 1}, 0)
	update(t, s, []float64{1, 4}, nil)
	// r = (0.5, 1): w_i = 2·exp(r_i/2)/Σ exp(r_j/2).
	ea, eb := math.Exp(0.25), math.Exp(0.5)
	want := []float64{2 * ea / (ea + eb), 2 * eb / (ea + eb)}
	near(t, "step 3", s.Weights(), want, 1e-12)

	// Window 2 averages over two optimizer steps: (2,4)+(4,4) → (3,4), then
	// (1,4)+(2,4) → (1.5,4).
	s = mustNew(t, Config{Name: "dwa", Tasks: []string{"a", "b"}, Window: 2, Temperature: 2})
	for _, l := range [][]float64{{2, 4}, {4, 4}, {1, 4}, {2, 4}} {
		update(t, s, l, nil)
	}
	near(t, "window 2", s.Weights(), want, 1e-12)

	// Sampled mode: a period is still Window optimizer steps; a task's mean
	// is over the steps it had a batch in.
	s = mustNew(t, Config{Name: "dwa", Tasks: []string{"a", "b"}, Window: 2, Temperature: 2})
	for _, l := range [][]float64{{3, nan}, {nan, 4}, {1.5, nan}, {nan, 4}} {
		update(t, s, l, nil)
	}
	near(t, "sampled window 2", s.Weights(), want, 1e-12)
}

func TestPCGrad(t *testing.T) {
	cases := []struct {
		name   string
		static []float64
		grads  [][]float32
		want   []float64
	}{
		// g_a·g_b = −1: g_a' = g_a + ½·g_b = (0.5, 0.5); g_b' = g_b + g_a = (0, 1).
		{"conflict", nil, [][]float32{{1, 0}, {-1, 1}}, []float64{0.5, 1.5}},
		{"no conflict", nil, [][]float32{{1, 0}, {1, 1}}, []float64{2, 1}},
		{"opposite", nil, [][]float32{{1, 0}, {-2, 0}}, []float64{0, 0}},
	}
	for _, c := range cases {
		s := mustNew(t, Config{Name: "pcgrad", Tasks: []string{"a", "b"}, Seed: 7})
		near(t, c.name, combine(t, s, c.grads), c.want, 1e-6)
	}
	// Weighted: v_a = 2·(1,0), v_b = (−1,1); v_a·v_b = −2: v_a' = v_a + v_b = (1,1),
	// v_b' = v_b + ½·v_a = (0,1).
	p := NewPCGrad(7)
	out, err := p.Combine([][]float32{{1, 0}, {-1, 1}}, []float64{2, 1})
	if err != nil {
		t.Fatal(err)
	}
	near(t, "weighted", f64(out), []float64{1, 2}, 1e-6)
	ws, _ := WeightedSum{}.Combine([][]float32{{1, 0}, {-1, 1}}, []float64{2, 1})
	near(t, "weighted sum", f64(ws), []float64{1, 1}, 0)
}

// With three tasks the projection order matters; the combined gradient must
// be the one of the order the seeded generator draws, reproducibly.
func TestPCGradOrderSeeded(t *testing.T) {
	g := [][]float32{{1, 0, 0}, {-1, 1, 0}, {-0.5, -1, 1}}
	run := func(seed uint64, steps int) [][]float64 {
		s := mustNew(t, Config{Name: "pcgrad", Tasks: []string{"a", "b", "c"}, Seed: seed})
		var out [][]float64
		for i := 0; i < steps; i++ {
			out = append(out, combine(t, s, g))
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

func fullConfig(name Name, tasks []string) Config {
	st := make([]float64, len(tasks))
	for i := range st {
		st[i] = float64(i + 1)
	}
	return Config{Name: name, Tasks: tasks, Regression: make([]bool, len(tasks)), Static: st, Alpha: 1.5, Window: 2,
		Temperature: 2, LR: 0.1, Gamma: 0.01, Seed: 3, Primary: tasks[:1]}
}

// One normalisation for all: after any history, every strategy's weights
// sum to the number of tasks.
func TestWeightsSumToNumberOfTasks(t *testing.T) {
	tasks := []string{"a", "b", "c"}
	for _, name := range Names {
		s := mustNew(t, fullConfig(name, tasks))
		for step := 0; step < 7; step++ {
			l := []float64{1 + 0.3*float64(step%3), 2 / float64(step+1), 0.5 + 0.1*float64(step)}
			update(t, s, l, [][]float32{{1, float32(step)}, {0.5, 2}, {-1, 0.25}})
			sum := 0.0
			for _, w := range s.Weights() {
				sum += w
			}
			if math.Abs(sum-3) > 1e-12 {
				t.Fatalf("%s after step %d: weights %v sum to %v, want 3", name, step, s.Weights(), sum)
			}
		}
	}
}

// Every strategy continues identically after State/SetState into a fresh copy.
func TestStateRoundTrip(t *testing.T) {
	losses := [][]float64{{2, 3}, {1.5, 2.5}, {1.2, 2.9}, {0.9, 2.0}, {0.8, 2.2}, {0.7, 1.1}}
	grads := [][][]float32{{{1, 2}, {-1, 0.5}}, {{0.5, 1}, {-2, 1}}, {{1, -1}, {1, 1}}}
	for _, name := range Names {
		cfg := fullConfig(name, []string{"a", "b"})
		full, half := mustNew(t, cfg), mustNew(t, cfg)
		for i, l := range losses {
			g := grads[i%3]
			want, got := combine(t, full, g), combine(t, half, g)
			near(t, string(name)+" weights", half.Weights(), full.Weights(), 0)
			near(t, string(name)+" shared", got, want, 0)
			update(t, full, l, g)
			update(t, half, l, g)
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
		}
	}
}

// RequiresAllTasks is what validation uses before any strategy exists; it
// must agree with what each built strategy needs.
func TestRequiresAllTasks(t *testing.T) {
	for _, name := range Names {
		s := mustNew(t, fullConfig(name, []string{"a", "b"}))
		if got, want := RequiresAllTasks(name), s.RequiresAllTasks(); got != want {
			t.Errorf("RequiresAllTasks(%q) = %v, but the strategy needs all tasks: %v", name, got, want)
		}
	}
}

package trainer

import (
	"context"
	"math"
	"path/filepath"
	"testing"

	"github.com/taskweave/taskweave/model"
	"github.com/taskweave/taskweave/model/multitask"
)

// newTestTrainer builds a trainer for cfg without running it.
func newTestTrainer(t *testing.T, cfg Config) *Trainer {
	t.Helper()
	if err := cfg.Validate(); err != nil {
		t.Fatal(err)
	}
	tr := &Trainer{cfg: cfg, log: newProgress(nil, nil), best: math.Inf(-1), bestStep: -1}
	if err := tr.setup(context.Background()); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { tr.metrics.close() })
	return tr
}

// fullGrad copies every parameter's gradient.
func fullGrad(m *model.Model) [][]float64 {
	var out [][]float64
	for _, p := range m.Params() {
		g := make([]float64, len(p.G))
		for i, v := range p.G {
			g[i] = float64(v)
		}
		out = append(out, g)
	}
	return out
}

// flat joins the gradients of the encoder parameters (the first nEnc).
func flat(g [][]float64, nEnc int) []float64 {
	var out []float64
	for _, v := range g[:nEnc] {
		out = append(out, v...)
	}
	return out
}

func dot64(a, b []float64) float64 {
	s := 0.0
	for i := range a {
		s += a[i] * b[i]
	}
	return s
}

// combineByHand is each combination's formula, written independently of
// model/multitask: the weighted sum; gradient normalisation
// Σ v_i/‖v_i‖·‖Σv‖/Σ‖v_j‖; PCGrad for two tasks (where the projection order
// does not matter). v_i = w_i·g_i.
func combineByHand(name string, g [][]float64, w []float64) []float64 {
	v := make([][]float64, len(g))
	for k := range g {
		v[k] = make([]float64, len(g[k]))
		for i := range g[k] {
			v[k][i] = w[k] * g[k][i]
		}
	}
	out := make([]float64, len(g[0]))
	switch name {
	case "gradient_normalization":
		total := make([]float64, len(out))
		sumN := 0.0
		for k := range v {
			for i := range v[k] {
				total[i] += v[k][i]
			}
			sumN += math.Sqrt(dot64(v[k], v[k]))
		}
		tn := math.Sqrt(dot64(total, total))
		for k := range v {
			c := tn / (math.Sqrt(dot64(v[k], v[k])) * sumN)
			for i := range out {
				out[i] += c * v[k][i]
			}
		}
	case "pcgrad":
		a, b := v[0], v[1]
		p, aa, bb := dot64(a, b), dot64(a, a), dot64(b, b)
		for i := range out {
			out[i] = a[i] + b[i]
			if p < 0 {
				out[i] -= p/bb*b[i] + p/aa*a[i]
			}
		}
	default:
		for k := range v {
			for i := range out {
				out[i] += v[k][i]
			}
		}
	}
	return out
}

// closeTo fails when got and want differ by more than 1e-4 of want's largest
// magnitude (float32 accumulation against float64).
func closeTo(t *testing.T, what string, got, want []float64) {
	t.Helper()
	scale := 0.0
	for _, v := range want {
		scale = math.Max(scale, math.Abs(v))
	}
	if scale == 0 {
		t.Fatalf("%s: the expected gradient is zero; the test would be vacuous", what)
	}
	for i := range got {
		if math.Abs(got[i]-want[i]) > 1e-4*scale {
			t.Fatalf("%s[%d] = %g, want %g (scale %g)", what, i, got[i], want[i], scale)
		}
	}
}

// For every strategy and step mode, the gradient the trainer leaves in the
// parameters (before clipping and the optimizer) is the strategy's weights
// applied by hand to each task's gradient, computed here by a second,
// identical trainer that runs the same batches one task at a time.
func TestStepGradientIsTheStrategys(t *testing.T) {
	data := synthData(t, 96)
	cases := []struct{ mode, strategy string }{
		{"sampled", "equal"}, {"sampled", "static"}, {"sampled", "loss_variance"}, {"sampled", "uncertainty"}, {"sampled", "dwa"},
		{"all", "equal"}, {"all", "static"}, {"all", "loss_variance"}, {"all", "uncertainty"}, {"all", "dwa"},
		{"all", "gradnorm"}, {"all", "gradient_normalization"}, {"all", "pcgrad"},
	}
	for _, c := range cases {
		t.Run(c.mode+"-"+c.strategy, func(t *testing.T) {
			cfg := baseConfig(data, filepath.Join(t.TempDir(), "run"))
			cfg.StepMode, cfg.Strategy.Name, cfg.Strategy.Window, cfg.Accumulate = c.mode, multitask.Name(c.strategy), 2, 3
			cfg.Dropout, cfg.Steps, cfg.Tasks[0].Weight = 0, 20, 3
			a, b := newTestTrainer(t, cfg), newTestTrainer(t, cfg)
			for i := 0; i < 6; i++ { // give the strategies a history
				for _, tr := range []*Trainer{a, b} {
					if _, err := tr.trainStep(); err != nil {
						t.Fatal(err)
					}
					tr.step++
				}
			}
			w := a.strat.Weights()
			if c.strategy != "equal" && c.strategy != "gradient_normalization" && c.strategy != "pcgrad" && w[0] == w[1] {
				t.Fatalf("weights %v are equal after 6 steps; the check would not tell weights apart", w)
			}
			nEnc := len(a.m.EncoderParams())
			nParams := len(a.m.Params())

			// What the trainer does.
			if err := a.stepper.step(&stepStats{weights: map[string]float64{}}); err != nil {
				t.Fatal(err)
			}
			got := fullGrad(a.m)

			// The same batches by hand: each micro-batch's own gradient.
			want := make([][]float64, nParams)
			for i, p := range b.m.Params() {
				want[i] = make([]float64, len(p.G))
			}
			addScaled := func(dst, src [][]float64, from, to int, c float64) {
				for i := from; i < to; i++ {
					for j := range src[i] {
						dst[i][j] += c * src[i][j]
					}
				}
			}
			micro := func(k int) [][]float64 {
				b.m.ZeroGrad()
				batch, err := b.streams[k].Next()
				if err != nil {
					t.Fatal(err)
				}
				if _, err := b.m.Forward(batch); err != nil {
					t.Fatal(err)
				}
				if err := b.m.Backward(1); err != nil {
					t.Fatal(err)
				}
				return fullGrad(b.m)
			}
			acc := float64(cfg.Accumulate)
			if c.mode == "sampled" {
				for range cfg.Accumulate {
					k := b.sampler.Next()
					addScaled(want, micro(k), 0, nParams, w[k]/acc)
				}
			} else {
				var shared [][]float64
				for k := range b.tasks {
					g := make([][]float64, nParams)
					for i := range g {
						g[i] = make([]float64, len(want[i]))
					}
					for range cfg.Accumulate {
						addScaled(g, micro(k), 0, nParams, 1/acc)
					}
					shared = append(shared, flat(g, nEnc))
					addScaled(want, g, nEnc, nParams, w[k]) // heads: the task's weight
				}
				comb := combineByHand(c.strategy, shared, w)
				o := 0
				for i := 0; i < nEnc; i++ {
					copy(want[i], comb[o:o+len(want[i])])
					o += len(want[i])
				}
			}
			closeTo(t, "shared gradient", flat(got, nEnc), flat(want, nEnc))
			var gh, wh []float64
			for i := nEnc; i < nParams; i++ {
				gh, wh = append(gh, got[i]...), append(wh, want[i]...)
			}
			closeTo(t, "head gradients", gh, wh)
		})
	}
}

// GradNorm's W must be a layer every task's gradient reaches. With a head
// on layer 1 of 2, the top layer gets nothing from that task, so W is
// layer 1 (index 0), where both tasks' gradients are non-zero.
func TestGradNormSharedLayer(t *testing.T) {
	for _, c := range []struct {
		layers []int
		want   int
	}{{[]int{0, 0}, 1}, {[]int{1, 0}, 0}, {[]int{2, 1}, 0}, {[]int{2, 2}, 1}} {
		tasks := []*taskData{{layer: c.layers[0]}, {layer: c.layers[1]}}
		if got := lastSharedLayer(tasks, 2); got != c.want {
			t.Errorf("layers %v: last shared layer %d, want %d", c.layers, got, c.want)
		}
	}
	data := synthData(t, 64)
	cfg := baseConfig(data, filepath.Join(t.TempDir(), "run"))
	cfg.StepMode, cfg.Strategy.Name, cfg.Tasks[0].Layer = "all", "gradnorm", 1
	tr := newTestTrainer(t, cfg)
	if err := tr.stepper.step(&stepStats{weights: map[string]float64{}}); err != nil {
		t.Fatal(err)
	}
	s := tr.stepper.(*allTasksStepper)
	for k, task := range tr.tasks {
		if n := norm32(s.lastG[k]); n == 0 {
			t.Errorf("task %s (layer %d): zero gradient on GradNorm's W", task.name, task.layer)
		}
	}
	// The top layer, the W of hard sharing, gets nothing from the layer-1
	// task: what GradNorm used to read.
	top := newParamGroup(tr.m.LayerParams(1))
	buf := make([]float32, top.size)
	tr.m.ZeroGrad()
	batch, err := tr.streams[0].Next()
	if err != nil {
		t.Fatal(err)
	}
	if _, err := tr.m.Forward(batch); err != nil {
		t.Fatal(err)
	}
	if err := tr.m.Backward(1); err != nil {
		t.Fatal(err)
	}
	top.gather(buf)
	if n := norm32(buf); n != 0 {
		t.Fatalf("the top layer has gradient norm %g from a head on layer 1; the check is moot", n)
	}
}

func norm32(v []float32) float64 {
	s := 0.0
	for _, x := range v {
		s += float64(x) * float64(x)
	}
	return math.Sqrt(s)
}

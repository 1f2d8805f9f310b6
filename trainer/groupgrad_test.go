package trainer

import (
	"math"
	"path/filepath"
	"testing"

	"github.com/taskweave/taskweave/model/multitask"
)

// The strategies that need each task's gradient get a group's from one
// forward pass per batch: after a step of PCGrad, GradNorm, gradient
// normalisation and Auto-λ over "sent" and the group ner + ner2 (ner2 at
// layer 1, reading ner's rows), every task's shared, GradNorm-layer and
// head gradients equal those of a separate Forward and Backward of that
// task's own batches (the step's, recorded by the stepper), within 1e-5 of
// the gradient's norm (float32 sums in another order: the model's group
// test measures the same bound), and the encoder ran once per batch of the
// group: Accumulate passes for it, Accumulate for sent, and for Auto-λ one
// per held-out batch plus two per batch again for θ±.
func TestGroupTaskGradientsFromOnePass(t *testing.T) {
	data := synthData(t, 96)
	addMember(t, data)
	for _, strategy := range []multitask.Name{"pcgrad", "gradnorm", "gradient_normalization", "auto_lambda"} {
		t.Run(string(strategy), func(t *testing.T) {
			cfg := baseConfig(data, filepath.Join(t.TempDir(), "run"))
			cfg.Tasks = append(cfg.Tasks, TaskOptions{Name: "ner2", Weight: 1, Layer: 1, InputFrom: "ner"})
			cfg.StepMode, cfg.Strategy.Name, cfg.Accumulate, cfg.Dropout = "all", strategy, 2, 0
			if strategy == "auto_lambda" {
				cfg.Strategy.Primary, cfg.Holdout = []string{"ner"}, 0.2
			}
			tr := newTestTrainer(t, cfg)
			for range 2 { // a history for the strategies that keep one
				if _, err := tr.trainStep(); err != nil {
					t.Fatal(err)
				}
				tr.step++
			}
			before := tr.m.EncoderPasses()
			if err := tr.stepper.step(&stepStats{weights: map[string]float64{}}); err != nil {
				t.Fatal(err)
			}
			passes := tr.m.EncoderPasses() - before
			want := uint64(2 * cfg.Accumulate) // sent's batches, the group's batches
			if strategy == "auto_lambda" {
				want += uint64(len(cfg.Strategy.Primary)) + 2*want
			}
			if passes != want {
				t.Errorf("%d encoder passes in the step, want %d (one per batch of the group)", passes, want)
			}
			checkTaskGradients(t, tr)
		})
	}
}

// checkTaskGradients recomputes each task's gradients from its recorded
// batches with a Forward and Backward per batch and compares them with the
// stepper's copies.
func checkTaskGradients(t *testing.T, tr *Trainer) {
	t.Helper()
	s := tr.stepper.(*allTasksStepper)
	for k, task := range s.tasks {
		if len(s.batches[k]) != tr.cfg.Accumulate {
			t.Fatalf("task %s: %d batches recorded, want %d", task.name, len(s.batches[k]), tr.cfg.Accumulate)
		}
		tr.m.ZeroGrad()
		for _, b := range s.batches[k] {
			if _, err := tr.m.Forward(b); err != nil {
				t.Fatal(err)
			}
			if err := tr.m.Backward(float32(1 / float64(len(s.batches[k])))); err != nil {
				t.Fatal(err)
			}
		}
		for _, c := range []struct {
			what string
			g    paramGroup
			got  []float32
		}{{"shared", s.shared, s.grads[k]}, {"GradNorm layer", s.last, s.lastG[k]}, {"head", s.heads[k], s.headG[k]}} {
			want := make([]float32, c.g.size)
			c.g.gather(want)
			if d, n := diffNorm(c.got, want); d > 1e-5*n || n == 0 {
				t.Errorf("task %s: %s gradient differs from a separate pass by %.3g (norm %.3g)", task.name, c.what, d, n)
			}
		}
	}
}

func diffNorm(a, b []float32) (d, n float64) {
	for i := range a {
		x := float64(a[i] - b[i])
		d += x * x
		n += float64(b[i]) * float64(b[i])
	}
	return math.Sqrt(d), math.Sqrt(n)
}

package trainer

import (
	"context"
	"math"
	"os"
	"path/filepath"
	"testing"

	"github.com/taskweave/taskweave/model"
	"github.com/taskweave/taskweave/model/multitask"
)

// withSharing gives baseConfig's tasks every soft-sharing mode.
func withSharing(cfg Config) Config {
	cfg.Sharing = model.Sharing{Basis: "shared", Experts: 2, ExpertLayers: 1}
	cfg.Tasks = []TaskOptions{
		{Name: "sent", Weight: 1, Sharing: model.TaskSharing{Rank: 2, Matrices: model.FactorMatrices, Adapter: 4}},
		{Name: "ner", Weight: 1, Sharing: model.TaskSharing{Rank: 2, Matrices: []string{model.MatQuery, model.MatValue}, LayerAttention: true}},
	}
	return cfg
}

// --resume is exact with soft sharing too: task parameters, the shared
// basis, experts and gates resume with their optimizer moments, in both
// step modes (step_mode: all splits gradients into shared and per-task
// parts, which must include the tasks.<task>.… parameters).
func TestResumeIsExactWithSharing(t *testing.T) {
	data := synthData(t, 96)
	for _, c := range []struct{ mode, strategy string }{{"sampled", "equal"}, {"all", "pcgrad"}} {
		t.Run(c.mode, func(t *testing.T) {
			ctx := context.Background()
			full := withSharing(baseConfig(data, filepath.Join(t.TempDir(), "full")))
			full.StepMode, full.Strategy.Name = c.mode, multitask.Name(c.strategy)
			if _, err := Train(ctx, full); err != nil {
				t.Fatal(err)
			}
			_, halfOut := resumedInHalves(t, ctx, full)
			sameState(t, full.Out, halfOut)
			fw := loadWeights(t, filepath.Join(full.Out, "last"))
			// The task parameters trained (B starts at 0).
			for _, p := range fw {
				if p.Name == "tasks.sent.encoder.layer.0.attention.self.query.factor_b" || p.Name == "tasks.ner.encoder.layer.1.attention.self.value.factor_b" {
					if l2(p.W) == 0 {
						t.Errorf("%s never moved from 0", p.Name)
					}
				}
			}
			// A job whose sharing differs cannot resume the run.
			other := full
			other.Out, other.Resume = halfOut, true
			other.Sharing.Experts = 3
			if _, err := Train(ctx, other); err == nil {
				t.Error("resumed with 3 experts a run saved with 2")
			}
		})
	}
}

func l2(w []float32) float64 {
	var s float64
	for _, v := range w {
		s += float64(v) * float64(v)
	}
	return math.Sqrt(s)
}

// Adapters and factors on a frozen imported encoder learn both tasks, train
// a small fraction of the weights, and report layer weights and gates
// (summing to 1) with their charts. (The fixture's encoder is random, not
// pretrained: adapters alone, 8 wide, left sent at chance; its rank-4
// factors reach 0.95.)
func TestFrozenEncoderSoftSharingLearns(t *testing.T) {
	hf := hfFixture(t)
	data := synthDataWith(t, 512, 120, true)
	cfg := baseConfig(data, filepath.Join(t.TempDir(), "run"))
	cfg.Init, cfg.Size = hf, ""
	cfg.StepMode, cfg.Steps, cfg.BatchSize, cfg.LR, cfg.Warmup, cfg.EvalEvery, cfg.LogEvery = "all", 300, 16, 5e-3, 0.1, 300, 1
	cfg.Sharing = model.Sharing{FreezeShared: true, Experts: 2, ExpertLayers: 1, Basis: "per_task"}
	cfg.Tasks = []TaskOptions{
		{Name: "sent", Weight: 1, Sharing: model.TaskSharing{Adapter: 8, Rank: 4, Matrices: model.FactorMatrices}},
		{Name: "ner", Weight: 1, Sharing: model.TaskSharing{Adapter: 8, LayerAttention: true}},
	}
	s, err := Train(context.Background(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	chance := majority(t, data, "sent")
	t.Logf("sharing %s: %d of %d weights trainable; sent accuracy %.3f (chance %.3f), ner entity F1 %.3f; layer weights %v; gates %v",
		s.Sharing, s.Parameters.Trainable, s.Parameters.Total, s.Last["sent"]["accuracy"], chance, s.Last["ner"]["entity_f1"], s.LayerWeights, s.Gates)
	if s.Sharing != "factorization/per_task+layer_attention+adapters+moe+frozen" {
		t.Errorf("sharing %q", s.Sharing)
	}
	if s.Parameters.Trainable*4 > s.Parameters.Total {
		t.Errorf("%d of %d weights trainable; freeze_shared should leave adapters, heads, LayerNorms and gates", s.Parameters.Trainable, s.Parameters.Total)
	}
	if acc := s.Last["sent"]["accuracy"]; acc < chance+0.3*(1-chance) {
		t.Errorf("sent accuracy %.3f does not beat chance %.3f by 30%% of the remaining margin", acc, chance)
	}
	if f1 := s.Last["ner"]["entity_f1"]; f1 < 0.5 {
		t.Errorf("ner entity F1 %.3f, want >= 0.5 (chance is near 0)", f1)
	}
	sum := func(v []float64) float64 {
		var s float64
		for _, x := range v {
			s += x
		}
		return s
	}
	if lw, ok := s.LayerWeights["ner"]; !ok || len(lw.Weights) != 3 || math.Abs(sum(lw.Weights)-1) > 1e-6 {
		t.Errorf("ner layer weights %+v; want 3 weights summing to 1", lw)
	}
	if _, ok := s.LayerWeights["sent"]; ok {
		t.Error("sent has no layer attention but reports layer weights")
	}
	for _, task := range []string{"sent", "ner"} {
		g := s.Gates[task]["layer_2"]
		if len(g) != 2 || math.Abs(sum(g)-1) > 1e-6 {
			t.Errorf("%s gates %v; want 2 probabilities summing to 1 for layer 2", task, s.Gates[task])
		}
	}
	for _, c := range []string{"layer_weights.png", "gates.png"} {
		if fi, err := os.Stat(filepath.Join(cfg.Out, c)); err != nil || fi.Size() == 0 {
			t.Errorf("chart %s: %v", c, err)
		}
	}
	if len(s.Charts) != 2 {
		t.Errorf("summary charts %v", s.Charts)
	}
}

package trainer

import (
	"context"
	"path/filepath"
	"testing"

	"github.com/taskweave/taskweave/io/shards"
)

// majority is the accuracy of always predicting the most frequent label of
// a task's validation split: chance for a sentence classifier.
func majority(t *testing.T, data, task string) float64 {
	t.Helper()
	rows, err := shards.ReadAll(context.Background(), filepath.Join(data, task, "validation", "part-00000-of-00001.parquet"))
	if err != nil {
		t.Fatal(err)
	}
	count := map[int32]int{}
	best := 0
	for _, r := range rows {
		count[r.Label]++
		best = max(best, count[r.Label])
	}
	return float64(best) / float64(len(rows))
}

// Training learns: on the balanced synthetic two-task corpus a small model
// (300 steps, seconds) halves its losses and beats chance by a clear margin
// on the dev split: sentence accuracy at least halfway from the
// majority-class rate (0.5) to 1, entity F1 at least 0.8 (chance: near 0).
func TestTrainingLearns(t *testing.T) {
	// The PyTorch reference's fixture (hidden 32, two layers) as the
	// starting point keeps this a few seconds: "tiny" is 16 times bigger.
	hf := hfFixture(t)
	data := synthDataWith(t, 512, 120, true)
	cfg := baseConfig(data, filepath.Join(t.TempDir(), "run"))
	cfg.Init, cfg.Size = hf, ""
	cfg.StepMode, cfg.Steps, cfg.BatchSize, cfg.LR, cfg.Warmup, cfg.EvalEvery, cfg.LogEvery = "all", 300, 16, 5e-3, 0.1, 300, 1
	s, err := Train(context.Background(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	evs := readEvents(t, cfg.Out)
	first, last := evs[1]["loss"].(map[string]any), map[string]any{}
	for _, ev := range evs {
		if ev["event"] == "train" {
			last = ev["loss"].(map[string]any)
		}
	}
	chance := majority(t, data, "sent")
	t.Logf("loss %v -> %v; sent accuracy %.3f (chance %.3f), ner entity F1 %.3f", first, last, s.Last["sent"]["accuracy"], chance, s.Last["ner"]["entity_f1"])
	for _, task := range []string{"sent", "ner"} {
		if f, l := first[task].(float64), last[task].(float64); l > 0.5*f {
			t.Errorf("%s: loss %.3f at step 1, %.3f (moving average) at step %d: it did not halve", task, f, l, cfg.Steps)
		}
	}
	if acc := s.Last["sent"]["accuracy"]; acc < chance+0.5*(1-chance) {
		t.Errorf("sent accuracy %.3f does not beat chance %.3f by half the remaining margin", acc, chance)
	}
	if f1 := s.Last["ner"]["entity_f1"]; f1 < 0.8 {
		t.Errorf("ner entity F1 %.3f, want >= 0.8 (chance is near 0)", f1)
	}
}

package scoring

import (
	"math"
	"testing"

	"github.com/taskweave/taskweave/model"
)

// TestBaselines: each baseline is the figure its trivial predictor really
// scores. The gold labels are scored twice, once with the trivial
// predictions run through the same accumulator, and every baseline must
// equal that run's metric of the same name; the values are also checked
// by hand. Split in two and merged, the counts give the same baselines.
func TestBaselines(t *testing.T) {
	posTask := Task{Name: "pos", Kind: model.TokenClassification, Labels: []string{"DET", "NOUN", "VERB"}, TagScheme: "none"}
	cases := []struct {
		task    Task
		gold    []Prediction
		trivial func(Prediction) Prediction // the predictor the baselines describe
		want    map[string]float64          // by hand
	}{
		// Gold classes a, b, b, c, b: b has 3 of 5. Macro F1: b's F1 2·0.6/1.6 = 0.75 over 3 classes.
		{clsTask, []Prediction{{Gold: 0}, {Gold: 1}, {Gold: 1}, {Gold: 2}, {Gold: 1}, {Gold: -1}},
			func(p Prediction) Prediction { p.Pred = 1; return p },
			map[string]float64{Accuracy: 0.6, MacroF1: 0.25, MCC: 0}},
		// Gold 1, 2, 6: mean 3, variance (4+1+9)/3.
		{regTask, []Prediction{{GoldValue: 1}, {GoldValue: 2}, {GoldValue: 6}},
			func(p Prediction) Prediction { p.PredValue = 3; return p },
			map[string]float64{MSE: 14.0 / 3, Pearson: 0, Spearman: 0}},
		// 7 words, 4 of them O.
		{nerTask, []Prediction{
			{Words: []string{"a", "b", "c"}, GoldTags: []string{"B-PER", "O", "B-LOC"}},
			{Words: []string{"d", "e", "f", "g"}, GoldTags: []string{"O", "B-PER", "O", "O"}}},
			func(p Prediction) Prediction { p.PredTags = []string{"O", "O", "O", "O"}[:len(p.Words)]; return p },
			map[string]float64{EntityPrecision: 0, EntityRecall: 0, EntityF1: 0, TokenAccuracy: 4.0 / 7}},
		// NOUN 3 of 5.
		{posTask, []Prediction{
			{Words: []string{"a", "b"}, GoldTags: []string{"DET", "NOUN"}},
			{Words: []string{"c", "d", "e"}, GoldTags: []string{"NOUN", "VERB", "NOUN"}}},
			func(p Prediction) Prediction { p.PredTags = []string{"NOUN", "NOUN", "NOUN"}[:len(p.Words)]; return p },
			map[string]float64{TokenAccuracy: 0.6}},
	}
	for _, c := range cases {
		t.Run(c.task.Name, func(t *testing.T) {
			var trivial Acc
			halves := [2]Acc{}
			for i := range halves {
				halves[i], _ = NewAcc(c.task)
			}
			trivial, _ = NewAcc(c.task)
			for i, p := range c.gold {
				p.Task = c.task.Name
				p = c.trivial(p)
				if err := trivial.Add(p); err != nil {
					t.Fatal(err)
				}
				if err := halves[i%2].Add(p); err != nil {
					t.Fatal(err)
				}
			}
			r := trivial.Result()
			if len(r.Baselines) != len(c.want) {
				t.Fatalf("baselines %+v; want one for each of %v", r.Baselines, c.want)
			}
			for _, b := range r.Baselines {
				got, ok := r.Metric(b.Metric)
				if !ok || math.Abs(got-b.Value) > 1e-12 || math.Abs(c.want[b.Metric]-b.Value) > 1e-12 {
					t.Errorf("%s: baseline %v (%s: %s); the %s predictor scores %v, by hand %v", b.Metric, b.Value, b.Name, b.Rule, b.Name, got, c.want[b.Metric])
				}
			}
			if err := halves[0].Merge(halves[1]); err != nil {
				t.Fatal(err)
			}
			for _, b := range halves[0].Result().Baselines {
				if w, _ := r.Baseline(b.Metric); w != b {
					t.Errorf("merged halves: %+v, whole: %+v", b, w)
				}
			}
		})
	}
	mlm, _ := NewAcc(Task{Name: "mlm", Kind: model.MaskedLM})
	if b := mlm.Result().Baselines; b != nil {
		t.Errorf("masked LM baselines %+v; a masked LM has no one-prediction baseline", b)
	}
}

package evaluate

import (
	"strings"
	"testing"

	"github.com/taskweave/taskweave/model"
	"github.com/taskweave/taskweave/model/metrics"
	"github.com/taskweave/taskweave/model/scoring"
	"github.com/taskweave/taskweave/transforms/score"
)

// TestReportShowsLooseIOB2: the manifest's count of gold I- tags that start
// a chunk reaches report.md next to conlleval's ill-formed counts (before,
// preprocess counted them and nothing reported them).
func TestReportShowsLooseIOB2(t *testing.T) {
	e := &metrics.EntityResult{Scheme: metrics.IOB2, PerType: map[string]metrics.PRF{}, GoldInvalid: 3, PredInvalid: 1}
	rep := &Report{Split: "validation", Tasks: []TaskReport{{Task: "ner", Kind: "token_classification", TagScheme: "iob2", LooseIOB2: 3,
		Results: map[string]score.TaskMetrics{"model": {Result: scoring.Result{Entities: e, Examples: 5, Sentences: 5}}}}}}
	md := string(markdown(rep))
	for _, want := range []string{
		"Ill-formed iob2 tags: 3 gold, 1 predicted",
		"The source files of this split have 3 I- tags that start a chunk (loose IOB2, counted by preprocess)",
	} {
		if !strings.Contains(md, want) {
			t.Errorf("report.md lacks %q:\n%s", want, md)
		}
	}
}

// TestReportShowsBaselines (issue 26): each metric stands beside its
// trivial baseline, named, and report.md says what the baselines predict.
// The figures come from real accumulators of hand-made predictions: gold
// classes neg, pos, pos (majority pos, 2/3) and one sentence of tags
// B-PER O O (majority O, 2/3; no entity predicted scores 0).
func TestReportShowsBaselines(t *testing.T) {
	result := func(task scoring.Task, preds ...scoring.Prediction) score.TaskMetrics {
		a, err := scoring.NewAcc(task)
		if err != nil {
			t.Fatal(err)
		}
		for _, p := range preds {
			p.Task = task.Name
			if err := a.Add(p); err != nil {
				t.Fatal(err)
			}
		}
		return score.TaskMetrics{Model: "model", Result: a.Result()}
	}
	cls := scoring.Task{Name: "sst2", Kind: model.SequenceClassification, Labels: []string{"neg", "pos"}}
	ner := scoring.Task{Name: "ner", Kind: model.TokenClassification, Labels: []string{"O", "B-PER", "I-PER"}, TagScheme: "iob2"}
	rep := &Report{Split: "validation", Tasks: []TaskReport{
		{Task: "sst2", Kind: cls.Kind, Results: map[string]score.TaskMetrics{"model": result(cls,
			scoring.Prediction{Gold: 0, Pred: 0}, scoring.Prediction{Gold: 1, Pred: 0}, scoring.Prediction{Gold: 1, Pred: 1})}},
		{Task: "ner", Kind: ner.Kind, TagScheme: "iob2", Results: map[string]score.TaskMetrics{"model": result(ner,
			scoring.Prediction{Words: []string{"Ann", "sat", "down"}, GoldTags: []string{"B-PER", "O", "O"}, PredTags: []string{"B-PER", "O", "O"}})}},
	}}
	md := string(markdown(rep))
	for _, want := range []string{
		"| accuracy | 0.6667 | 0.6667 (majority class) |",
		"| mcc | 0.5000 | 0.0000 (constant) |",
		"Baselines (from this split's gold labels) — majority class: always predicts pos, the split's most frequent gold class; constant: any constant prediction scores 0.",
		"| entity_f1 | 1.0000 | 0.0000 (no entity) |",
		"| token_accuracy | 1.0000 | 0.6667 (majority tag) |",
		"— no entity: predicts no entity (every word O); majority tag: tags every word O, the split's most frequent gold tag.",
	} {
		if !strings.Contains(md, want) {
			t.Errorf("report.md lacks %q:\n%s", want, md)
		}
	}
}

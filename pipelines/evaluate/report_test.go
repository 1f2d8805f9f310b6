package evaluate

import (
	"strings"
	"testing"

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

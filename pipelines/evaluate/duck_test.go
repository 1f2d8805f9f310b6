package evaluate

import (
	"encoding/json"
	"os/exec"
	"path/filepath"
	"testing"

	"github.com/taskweave/taskweave/io/shards/duckcheck"
	"github.com/taskweave/taskweave/transforms/score"
)

// duckFigures is what tools/parquetcheck/evalcheck.mjs prints.
type duckFigures struct {
	Rows          int64   `json:"rows"`
	Accuracy      float64 `json:"accuracy"`
	MacroF1       float64 `json:"macro_f1"`
	Words         int64   `json:"words"`
	TokenAccuracy float64 `json:"token_accuracy"`
	GoldChunks    int64   `json:"gold_chunks"`
	PredChunks    int64   `json:"pred_chunks"`
	CorrectChunks int64   `json:"correct_chunks"`
	F1            float64 `json:"f1"`
	Pearson       float64 `json:"pearson"`
}

// duckCheck recomputes a task's figures from its predictions files with
// DuckDB and a separate JavaScript implementation of the metrics.
func duckCheck(t *testing.T, tr TaskReport, res score.TaskMetrics, dir string) {
	t.Helper()
	duckcheck.Require(t)
	tools, err := duckcheck.Dir()
	if err != nil {
		t.Fatal(err)
	}
	files, _ := filepath.Glob(filepath.Join(dir, "*.parquet"))
	args := []string{filepath.Join(tools, "evalcheck.mjs")}
	if tr.TagScheme == "iob1" || tr.TagScheme == "iob2" {
		args = append(args, "--scheme", tr.TagScheme)
	}
	for _, f := range files {
		a, _ := filepath.Abs(f)
		args = append(args, a)
	}
	cmd := exec.Command("node", args...)
	cmd.Dir = tools
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("node evalcheck.mjs: %v", err)
	}
	var d duckFigures
	if err := json.Unmarshal(out, &d); err != nil {
		t.Fatalf("evalcheck output %s: %v", out, err)
	}
	if d.Rows != res.Sentences {
		t.Errorf("%s: DuckDB reads %d rows, report has %d sentences", tr.Task, d.Rows, res.Sentences)
	}
	const eps = 1e-9
	bad := func(a, b float64) bool { return a-b > eps || b-a > eps }
	switch {
	case res.Class != nil:
		if bad(d.Accuracy, res.Class.Accuracy) || bad(d.MacroF1, res.Class.MacroF1) {
			t.Errorf("%s: DuckDB accuracy %v macro-F1 %v, report %v %v", tr.Task, d.Accuracy, d.MacroF1, res.Class.Accuracy, res.Class.MacroF1)
		}
	case res.Regression != nil:
		if bad(d.Pearson, res.Regression.Pearson) {
			t.Errorf("%s: DuckDB Pearson %v, report %v", tr.Task, d.Pearson, res.Regression.Pearson)
		}
	case res.Entities != nil:
		m := res.Entities.Micro
		if d.GoldChunks != m.Support || d.PredChunks != m.Predicted || d.CorrectChunks != m.Correct || bad(d.F1, m.F1) ||
			bad(d.TokenAccuracy, res.Entities.TokenAccuracy) || d.Words != res.Words {
			t.Errorf("%s: DuckDB %+v, report %+v (words %d)", tr.Task, d, m, res.Words)
		}
	case res.TokenAccuracy != nil:
		if bad(d.TokenAccuracy, *res.TokenAccuracy) || d.Words != res.Words {
			t.Errorf("%s: DuckDB token accuracy %v over %d words, report %v over %d", tr.Task, d.TokenAccuracy, d.Words, *res.TokenAccuracy, res.Words)
		}
	}
}

package trainer

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"math"
	"path/filepath"
	"testing"

	"github.com/taskweave/taskweave/io/storage"
)

// readEvents parses metrics.jsonl.
func readEvents(t *testing.T, out string) []map[string]any {
	t.Helper()
	b, err := storage.ReadFile(context.Background(), storage.Join(out, "metrics.jsonl"))
	if err != nil {
		t.Fatal(err)
	}
	var evs []map[string]any
	sc := bufio.NewScanner(bytes.NewReader(b))
	for sc.Scan() {
		var ev map[string]any
		if err := json.Unmarshal(sc.Bytes(), &ev); err != nil {
			t.Fatalf("metrics.jsonl line %d: %v", len(evs)+1, err)
		}
		evs = append(evs, ev)
	}
	return evs
}

// Regression: a run that never evaluated has a NaN best score; its "end"
// event used to fail to encode and vanish silently. It is written, with a
// null best score, in metrics.jsonl and summary.json alike.
func TestEndEventWithoutEvaluation(t *testing.T) {
	data := synthData(t, 64)
	cfg := baseConfig(data, filepath.Join(t.TempDir(), "run"))
	cfg.EvalEvery, cfg.Steps = 0, 2
	if _, err := Train(context.Background(), cfg); err != nil {
		t.Fatal(err)
	}
	evs := readEvents(t, cfg.Out)
	end := evs[len(evs)-1]
	if end["event"] != "end" {
		t.Fatalf("last event is %v, want end", end["event"])
	}
	sum := end["summary"].(map[string]any)
	if v, ok := sum["best_score"]; !ok || v != nil {
		t.Fatalf("end event best_score = %v (present %v), want null", v, ok)
	}
	s, err := ReadSummary(context.Background(), cfg.Out)
	if err != nil {
		t.Fatal(err)
	}
	if !math.IsNaN(s.BestScore) || s.BestStep != -1 || s.Steps != 2 {
		t.Fatalf("summary.json read back as best %v at %d after %d steps", s.BestScore, s.BestStep, s.Steps)
	}
}

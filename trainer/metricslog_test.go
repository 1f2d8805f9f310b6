package trainer

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"math"
	"path/filepath"
	"regexp"
	"strconv"
	"testing"

	"github.com/taskweave/taskweave/io/shards"
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

// TestEvalLogShowsBaselines (issue 26): the log's dev line puts each
// primary figure beside its trivial baseline, named: for sent the share
// of the majority class among the validation shard's gold labels
// (counted here from the shard), for ner the 0 of predicting no entity.
func TestEvalLogShowsBaselines(t *testing.T) {
	data := synthData(t, 64)
	rows, err := shards.ReadAll(context.Background(), filepath.Join(data, "sent/validation/part-00000-of-00001.parquet"))
	if err != nil {
		t.Fatal(err)
	}
	var pos int
	for _, r := range rows {
		pos += int(r.Label)
	}
	share := float64(max(pos, len(rows)-pos)) / float64(len(rows))
	var log bytes.Buffer
	cfg := baseConfig(data, filepath.Join(t.TempDir(), "run"))
	cfg.EvalEvery, cfg.Steps, cfg.Log = 2, 2, &log
	if _, err := Train(context.Background(), cfg); err != nil {
		t.Fatal(err)
	}
	m := regexp.MustCompile(`step 2 eval: ner entity_f1=[0-9.]+ \(no entity 0\.0000\) sent accuracy=[0-9.]+ \(majority class ([0-9.]+)\)`).FindStringSubmatch(log.String())
	if m == nil {
		t.Fatalf("no eval line with baselines in the log:\n%s", log.String())
	}
	if got, _ := strconv.ParseFloat(m[1], 64); math.Abs(got-share) > 5e-5 || share == 0.5 {
		t.Errorf("majority class baseline %s; the shard's gold labels give %.4f (%d of %d positive)", m[1], share, pos, len(rows))
	}
}

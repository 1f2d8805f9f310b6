package trainer

import (
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"testing"
)

func TestResultsTable(t *testing.T) {
	dir := t.TempDir()
	s := Summary{Steps: 100, Stopped: "finished", BestStep: 80, Strategy: "pcgrad", StepMode: "all",
		Best:         map[string]map[string]float64{"sst2": {"accuracy": 0.81234}},
		TrainSeconds: 60.4, WallSeconds: 75.6, TokensPerSec: 1234.4, PaddedPerSec: 1500.6}
	b, _ := json.Marshal(s)
	if err := os.WriteFile(filepath.Join(dir, "summary.json"), b, 0o644); err != nil {
		t.Fatal(err)
	}
	got, err := ReadSummary(context.Background(), dir)
	if err != nil {
		t.Fatal(err)
	}
	table := ResultsTable([]ResultRow{{Label: "mt", Dir: dir, Summary: got}}, [][2]string{{"sst2", "accuracy"}, {"conll", "entity_f1"}})
	want := "| run | strategy | step mode | sst2 accuracy | conll entity f1 | best step | steps | stopped | train s | wall s | tokens/s | padded tokens/s |\n" +
		"| --- | --- | --- | ---: | ---: | ---: | ---: | --- | ---: | ---: | ---: | ---: |\n" +
		"| mt | pcgrad | all | 0.8123 | — | 80 | 100 | finished | 60 | 76 | 1234 | 1501 |\n"
	if table != want {
		t.Fatalf("table:\n%s\nwant:\n%s", table, want)
	}
}

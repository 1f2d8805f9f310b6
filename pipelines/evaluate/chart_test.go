package evaluate

import (
	"context"
	"image/png"
	"os"
	"path/filepath"
	"reflect"
	"testing"

	"github.com/taskweave/taskweave/model/metrics"
	"github.com/taskweave/taskweave/model/scoring"
	"github.com/taskweave/taskweave/transforms/score"
)

// TestCharts (issue 26): scores.png had no value labels, a zero bar was
// invisible (the NER task looked missing) and token tasks had no chart.
// The series each chart draws are checked (a zero stays a bar, the entity
// task's per-type F1 is there, per checkpoint), and the PNGs are decoded:
// real images, wide enough for their bars and legend. Pixels are not
// compared; fonts and the plotting library may move them.
func TestCharts(t *testing.T) {
	ents := func(per, loc float64) *metrics.EntityResult {
		return &metrics.EntityResult{Types: []string{"PER", "LOC"}, PerType: map[string]metrics.PRF{"PER": {F1: per}, "LOC": {F1: loc}}}
	}
	rep := &Report{Split: "test", Models: []ModelInfo{{Name: "model"}, {Name: "compare"}}, Tasks: []TaskReport{
		{Task: "sst2", Results: map[string]score.TaskMetrics{
			"model":   {Result: scoring.Result{Primary: "accuracy", Score: 0.62}},
			"compare": {Result: scoring.Result{Primary: "accuracy", Score: 0.58}}}},
		{Task: "wnut17", Results: map[string]score.TaskMetrics{
			"model":   {Result: scoring.Result{Primary: "entity_f1", Score: 0, Entities: ents(0, 0)}},
			"compare": {Result: scoring.Result{Primary: "entity_f1", Score: 0.1, Entities: ents(0.2, 0)}}}},
	}}
	labels, groups := scoreSeries(rep)
	if want := []barGroup{{"model", []float64{0.62, 0}}, {"compare", []float64{0.58, 0.1}}}; len(labels) != 2 || !reflect.DeepEqual(groups, want) {
		t.Errorf("scores.png series %q %+v, want %+v", labels, groups, want)
	}
	labels, groups = labelF1Series(rep.Tasks[1], rep.Models)
	if want := []barGroup{{"model", []float64{0, 0}}, {"compare", []float64{0, 0.2}}}; !reflect.DeepEqual(labels, []string{"LOC", "PER"}) || !reflect.DeepEqual(groups, want) {
		t.Errorf("f1-wnut17.png series %q %+v, want [LOC PER] %+v", labels, groups, want)
	}
	if l, _ := labelF1Series(rep.Tasks[0], rep.Models); l != nil {
		t.Errorf("a classification task got a per-type F1 chart: %q", l)
	}
	lab, err := valueLabels([]float64{0.62, 0}, 0)
	if err != nil || !reflect.DeepEqual(lab.Labels, []string{"0.62", "0.00"}) {
		t.Errorf("value labels %v (%v); want 0.62 and the zero bar's 0.00", lab, err)
	}

	out := t.TempDir()
	if d := os.Getenv("TW_CHART_DIR"); d != "" {
		out = d // to look at the charts
	}
	names, err := writeCharts(context.Background(), out, rep)
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(names, []string{"scores.png", "f1-wnut17.png"}) {
		t.Fatalf("charts %q", names)
	}
	for _, n := range names {
		f, err := os.Open(filepath.Join(out, n))
		if err != nil {
			t.Fatal(err)
		}
		img, err := png.Decode(f)
		f.Close()
		if err != nil {
			t.Fatalf("%s: %v", n, err)
		}
		if b := img.Bounds(); b.Dx() < 5*96 || b.Dy() < 4*96 {
			t.Errorf("%s is %dx%d; want at least 5x4 inches at 96 dpi", n, b.Dx(), b.Dy())
		}
	}
}

package score

import (
	"context"
	"encoding/json"
	"fmt"
	"sort"
	"strings"

	"github.com/taskweave/taskweave/io/storage"
	"github.com/taskweave/taskweave/model/scoring"
)

// WritePredictionsFn writes the predictions of one (model, task, shard) as
// one Parquet file, sorted by example id, atomically.
type WritePredictionsFn struct {
	Out   string         // the report directory
	Tasks []scoring.Task // for the label names
}

// PredictionsPath is where the predictions of one shard of one task go:
// <out>/predictions/<task>/<part> for the evaluated model and
// <out>/compare/predictions/<task>/<part> for the --compare one.
func PredictionsPath(out, model, task, part string) string {
	if model == "model" {
		return storage.Join(out, "predictions", task, part)
	}
	return storage.Join(out, model, "predictions", task, part)
}

// ProcessElement writes one file.
func (f *WritePredictionsFn) ProcessElement(ctx context.Context, key string, iter func(*Prediction) bool) error {
	var preds []Prediction
	var p Prediction
	for iter(&p) {
		preds = append(preds, p)
		p = Prediction{}
	}
	if len(preds) == 0 {
		return nil
	}
	sort.Slice(preds, func(i, j int) bool { return preds[i].ExampleID < preds[j].ExampleID })
	first := preds[0]
	dst := PredictionsPath(f.Out, first.Model, first.Task, first.Part)
	if !strings.HasSuffix(dst, ".parquet") {
		dst += ".parquet"
	}
	w, err := storage.Create(ctx, dst)
	if err != nil {
		return err
	}
	defer storage.Abort(w)
	var labels []string
	for _, t := range f.Tasks {
		if t.Name == first.Task {
			labels = t.Labels
		}
	}
	if err := writePredictions(w, preds, labels); err != nil {
		return fmt.Errorf("score: writing %s: %w", dst, err)
	}
	return w.Close()
}

// WriteMetricsFn writes each (model, task)'s figures as JSON to
// <out>/_metrics/<model>/<task>.json, where the driver collects them for the
// report (this works the same whether the pipeline ran locally or remotely).
type WriteMetricsFn struct {
	Out string
}

// MetricsPath is where WriteMetricsFn puts one (model, task)'s figures.
func MetricsPath(out, model, task string) string {
	return storage.Join(out, "_metrics", model, task+".json")
}

// ProcessElement writes one file.
func (f *WriteMetricsFn) ProcessElement(ctx context.Context, key string, a scoring.Acc) error {
	model, _, _ := strings.Cut(key, "/")
	data, err := json.MarshalIndent(TaskMetrics{Model: model, Result: a.Result()}, "", "  ")
	if err != nil {
		return err
	}
	return storage.WriteFile(ctx, MetricsPath(f.Out, model, a.Task), append(data, '\n'))
}

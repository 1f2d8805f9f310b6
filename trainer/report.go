package trainer

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"

	"github.com/taskweave/taskweave/io/storage"
)

// ReadSummary reads a finished run's summary.json.
func ReadSummary(ctx context.Context, out string) (*Summary, error) {
	p := storage.Join(out, "summary.json")
	b, err := storage.ReadFile(ctx, p)
	if err != nil {
		return nil, err
	}
	var s Summary
	if err := json.Unmarshal(b, &s); err != nil {
		return nil, fmt.Errorf("%s: %w", p, err)
	}
	return &s, nil
}

// ResultRow is one run of a results table.
type ResultRow struct {
	Label string
	Dir   string
	*Summary
}

// metricCell is the best evaluation's metric of a task, or "—" when the
// task was not trained in that run.
func metricCell(s *Summary, task, metric string) string {
	if m, ok := s.Best[task]; ok {
		if v, ok := m[metric]; ok {
			return fmt.Sprintf("%.4f", v)
		}
	}
	return "—"
}

// ResultsTable formats runs as a Markdown table: one row per run with the
// given (task, metric) columns taken from the best evaluation, the steps,
// the wall time and the training throughput.
func ResultsTable(rows []ResultRow, cols [][2]string) string {
	var b strings.Builder
	b.WriteString("| run | strategy | step mode |")
	for _, c := range cols {
		fmt.Fprintf(&b, " %s %s |", c[0], strings.ReplaceAll(c[1], "_", " "))
	}
	b.WriteString(" best step | steps | stopped | train s | wall s | tokens/s | padded tokens/s |\n|---|---|---|")
	for range cols {
		b.WriteString("---:|")
	}
	b.WriteString("---:|---:|---|---:|---:|---:|---:|\n")
	for _, r := range rows {
		fmt.Fprintf(&b, "| %s | %s | %s |", r.Label, r.Strategy, r.StepMode)
		for _, c := range cols {
			fmt.Fprintf(&b, " %s |", metricCell(r.Summary, c[0], c[1]))
		}
		fmt.Fprintf(&b, " %d | %d | %s | %.0f | %.0f | %.0f | %.0f |\n", r.BestStep, r.Steps, r.Stopped,
			r.TrainSeconds, r.WallSeconds, r.TokensPerSec, r.PaddedPerSec)
	}
	return b.String()
}

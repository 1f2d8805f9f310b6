package trainer

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"

	"github.com/taskweave/taskweave/io/mdtable"
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
	tb := mdtable.New(mdtable.L("run"), mdtable.L("strategy"), mdtable.L("step mode"))
	for _, c := range cols {
		tb.Add(mdtable.R(c[0] + " " + strings.ReplaceAll(c[1], "_", " ")))
	}
	tb.Add(mdtable.R("best step"), mdtable.R("steps"), mdtable.L("stopped"), mdtable.R("train s"), mdtable.R("wall s"),
		mdtable.R("tokens/s"), mdtable.R("padded tokens/s"))
	for _, r := range rows {
		cells := []string{r.Label, r.Strategy, r.StepMode}
		for _, c := range cols {
			cells = append(cells, metricCell(r.Summary, c[0], c[1]))
		}
		cells = append(cells, fmt.Sprint(r.BestStep), fmt.Sprint(r.Steps), r.Stopped, fmt.Sprintf("%.0f", r.TrainSeconds),
			fmt.Sprintf("%.0f", r.WallSeconds), fmt.Sprintf("%.0f", r.TokensPerSec), fmt.Sprintf("%.0f", r.PaddedPerSec))
		tb.Row(cells...)
	}
	return tb.String()
}

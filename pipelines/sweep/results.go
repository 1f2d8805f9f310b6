package sweep

import (
	"context"
	"encoding/json"
	"fmt"
	"image/color"
	"sort"
	"strings"

	"github.com/apache/beam/sdks/v2/go/pkg/beam/register"
	"gonum.org/v1/plot"
	"gonum.org/v1/plot/plotter"
	"gonum.org/v1/plot/plotutil"
	"gonum.org/v1/plot/vg"

	"github.com/taskweave/taskweave/io/mdtable"
	"github.com/taskweave/taskweave/io/plotfile"
	"github.com/taskweave/taskweave/io/storage"
)

func init() {
	register.DoFn3x1[context.Context, int, func(*Result) bool, error](&WriteResultsFn{})
	register.Iter1[Result]()
}

// The files a sweep writes in its directory.
const (
	resultsJSON  = "results.json"
	resultsTable = "results.md"
	resultsChart = "results.png"
)

// WriteResultsFn gathers every trial's result and writes results.json (best
// first), results.md (the table) and results.png (the chart).
type WriteResultsFn struct {
	Dir     string
	Ranking Ranking
}

// ProcessElement writes the results of the one group of all trials.
func (f *WriteResultsFn) ProcessElement(ctx context.Context, _ int, results func(*Result) bool) error {
	var rs []Result
	var r Result
	for results(&r) {
		rs = append(rs, r)
	}
	Sort(rs)
	b, err := json.MarshalIndent(rs, "", "  ")
	if err != nil {
		return err
	}
	// The table and chart first: results.json is what the launcher waits
	// for, so it is written last.
	if err := storage.WriteFile(ctx, storage.Join(f.Dir, resultsTable), []byte(Table(rs, f.Ranking))); err != nil {
		return err
	}
	if err := writeChart(ctx, storage.Join(f.Dir, resultsChart), rs, f.Ranking); err != nil {
		return err
	}
	return storage.WriteFile(ctx, storage.Join(f.Dir, resultsJSON), append(b, '\n'))
}

// Sort orders results best first: by the ranking figure, then by trial id;
// failed trials last.
func Sort(rs []Result) {
	sort.SliceStable(rs, func(i, j int) bool {
		a, b := rs[i], rs[j]
		if a.Failed() != b.Failed() {
			return !a.Failed()
		}
		if !a.Failed() && a.Metric != b.Metric {
			return a.Metric > b.Metric
		}
		return a.Trial < b.Trial
	})
}

// tasks are the tasks with a figure in any result, sorted.
func tasks(rs []Result) []string {
	set := map[string]bool{}
	for _, r := range rs {
		for t := range r.Scores {
			set[t] = true
		}
	}
	out := make([]string, 0, len(set))
	for t := range set {
		out = append(out, t)
	}
	sort.Strings(out)
	return out
}

// Table writes results (already sorted) as a Markdown table: one row per
// trial with its settings, each task's primary metric and the ranking
// figure on the dev split, and what happened to it.
func Table(rs []Result, rk Ranking) string {
	tb := mdtable.New(mdtable.R("rank"), mdtable.L("trial"))
	if len(rs) > 0 {
		for _, s := range rs[0].Settings {
			tb.Add(mdtable.L(s.Key))
		}
	}
	ts := tasks(rs)
	for _, t := range ts {
		tb.Add(mdtable.R(t + " " + strings.ReplaceAll(rk.Primary[t], "_", " ")))
	}
	tb.Add(mdtable.R(fmt.Sprintf("%s (%s)", rk.Metric, rk.Split)), mdtable.R("steps"), mdtable.R("best step"), mdtable.L("stopped"),
		mdtable.R("train s"), mdtable.L("status"))
	for i, r := range rs {
		tb.Row(trialCells(i, r, ts)...)
	}
	return tb.String()
}

// trialCells are the cells of the trial ranked i (from 0).
func trialCells(i int, r Result, ts []string) []string {
	rank := fmt.Sprint(i + 1)
	if r.Failed() {
		rank = "—"
	}
	cells := []string{rank, r.Trial}
	for _, s := range r.Settings {
		cells = append(cells, s.Value)
	}
	for _, t := range ts {
		if v, ok := r.Scores[t]; ok {
			cells = append(cells, fmt.Sprintf("%.4f", v))
		} else {
			cells = append(cells, "—")
		}
	}
	if r.Failed() {
		return append(cells, "—", "—", "—", "—", "—", "failed: "+r.Error)
	}
	status := "trained"
	if r.Reused {
		status = "finished earlier (not retrained)"
	}
	return append(cells, fmt.Sprintf("%.4f", r.Metric), fmt.Sprint(r.Steps), fmt.Sprint(r.BestStep), r.Stopped,
		fmt.Sprintf("%.0f", r.Seconds), status)
}

// writeChart draws the figures per trial: one group of bars per trial
// (labelled with its settings), one bar per task's primary metric and one
// for the ranking figure. Failed trials keep their place, with no bars.
func writeChart(ctx context.Context, dst string, rs []Result, rk Ranking) error {
	byID := append([]Result(nil), rs...)
	sort.Slice(byID, func(i, j int) bool { return byID[i].Trial < byID[j].Trial })
	series := append(tasks(rs), rk.Metric)
	p := plot.New()
	p.Title.Text = fmt.Sprintf("Sweep: %s split, primary metric per task and %s", rk.Split, rk.Metric)
	p.Y.Label.Text = "score"
	p.Y.Min, p.Y.Max = 0, 1.25 // room above the bars for the legend
	w := vg.Points(max(4, 48/float64(len(series))))
	for i, name := range series {
		vals := make(plotter.Values, len(byID))
		for j, r := range byID {
			switch {
			case r.Failed():
			case i == len(series)-1:
				vals[j] = r.Metric
			default:
				vals[j] = r.Scores[name]
			}
		}
		bars, err := plotter.NewBarChart(vals, w)
		if err != nil {
			return err
		}
		bars.Color = plotutil.Color(i)
		if i == len(series)-1 {
			bars.Color = color.Gray{Y: 60}
		}
		bars.LineStyle.Width = 0
		bars.Offset = vg.Length(float64(i)-float64(len(series)-1)/2) * w
		p.Add(bars)
		label := name
		if i < len(series)-1 {
			label += " " + rk.Primary[name]
		}
		p.Legend.Add(label, bars)
	}
	labels := make([]string, len(byID))
	for j, r := range byID {
		var parts []string
		for _, s := range r.Settings {
			parts = append(parts, s.Value)
		}
		labels[j] = r.Trial + "\n" + strings.Join(parts, "\n")
		if r.Failed() {
			labels[j] += "\n(failed)"
		}
	}
	p.NominalX(labels...)
	p.X.Min, p.X.Max = -0.6, float64(len(byID))-0.4 // the outer groups' bars inside the frame
	p.Legend.Top = true
	return plotfile.SavePNG(ctx, p, dst, vg.Length(max(6, 1.1*float64(len(byID))))*vg.Inch, 4.5*vg.Inch)
}

package evaluate

import (
	"context"
	"fmt"
	"image/color"
	"slices"
	"sort"

	"gonum.org/v1/plot"
	"gonum.org/v1/plot/palette/moreland"
	"gonum.org/v1/plot/plotter"
	"gonum.org/v1/plot/vg"
	"gonum.org/v1/plot/vg/draw"

	"github.com/taskweave/taskweave/io/plotfile"
	"github.com/taskweave/taskweave/io/storage"
)

// writeCharts draws scores.png (each task's primary metric, one bar per
// checkpoint), confusion-<task>.png for each classification task and
// f1-<task>.png (F1 per entity type) for each entity task, and returns
// their names relative to out.
func writeCharts(ctx context.Context, out string, rep *Report) ([]string, error) {
	if len(rep.Tasks) == 0 {
		return nil, nil
	}
	var names []string
	labels, groups := scoreSeries(rep)
	if err := saveBars(ctx, storage.Join(out, "scores.png"), "Primary metric per task ("+rep.Split+")", "score", labels, groups); err != nil {
		return nil, err
	}
	names = append(names, "scores.png")
	for _, t := range rep.Tasks {
		labels, groups := labelF1Series(t, rep.Models)
		if len(labels) == 0 {
			continue
		}
		name := "f1-" + t.Task + ".png"
		if err := saveBars(ctx, storage.Join(out, name), "F1 per entity type: "+t.Task+" ("+rep.Split+")", "F1", labels, groups); err != nil {
			return nil, err
		}
		names = append(names, name)
	}
	for _, t := range rep.Tasks {
		m := t.Results["model"]
		if m.Class == nil || len(m.Class.Confusion) == 0 {
			continue
		}
		name := "confusion-" + t.Task + ".png"
		if err := confusionChart(ctx, storage.Join(out, name), t.Task, m.Labels, m.Class.Confusion); err != nil {
			return nil, err
		}
		names = append(names, name)
	}
	return names, nil
}

// barGroup is one checkpoint's bars, one value per category.
type barGroup struct {
	Model  string
	Values []float64
}

// scoreSeries is scores.png's input: each task's primary metric, per
// checkpoint.
func scoreSeries(rep *Report) ([]string, []barGroup) {
	var labels []string
	for _, t := range rep.Tasks {
		labels = append(labels, fmt.Sprintf("%s\n%s", t.Task, t.Results["model"].Primary))
	}
	var groups []barGroup
	for _, m := range rep.Models {
		g := barGroup{Model: m.Name}
		for _, t := range rep.Tasks {
			g.Values = append(g.Values, t.Results[m.Name].Score)
		}
		groups = append(groups, g)
	}
	return labels, groups
}

// labelF1Series is f1-<task>.png's input for an entity task: F1 per entity
// type (the union of the checkpoints' types), per checkpoint; none for
// other tasks.
func labelF1Series(t TaskReport, models []ModelInfo) ([]string, []barGroup) {
	var types []string
	for _, m := range models {
		if e := t.Results[m.Name].Entities; e != nil {
			for _, ty := range e.Types {
				if !slices.Contains(types, ty) {
					types = append(types, ty)
				}
			}
		}
	}
	if len(types) == 0 {
		return nil, nil
	}
	sort.Strings(types)
	var groups []barGroup
	for _, m := range models {
		e := t.Results[m.Name].Entities
		if e == nil {
			continue
		}
		g := barGroup{Model: m.Name}
		for _, ty := range types {
			g.Values = append(g.Values, e.PerType[ty].F1)
		}
		groups = append(groups, g)
	}
	return types, groups
}

// saveBars draws grouped bars on [0, 1] with each value written above its
// bar. A bar is outlined in its own colour, so a 0 shows as a line on the
// axis with "0.00" above it rather than as a gap; the y range leaves room
// above 1 for the labels and the legend, which sits inside the plot.
func saveBars(ctx context.Context, dst, title, ylabel string, labels []string, groups []barGroup) error {
	p := plot.New()
	p.Title.Text = title
	p.Y.Label.Text = ylabel
	p.Y.Min, p.Y.Max = 0, 1.25
	p.Y.Tick.Marker = plot.ConstantTicks([]plot.Tick{{Value: 0, Label: "0"}, {Value: 0.25, Label: "0.25"}, {Value: 0.5, Label: "0.5"}, {Value: 0.75, Label: "0.75"}, {Value: 1, Label: "1"}})
	colors := []color.Color{color.RGBA{R: 52, G: 101, B: 164, A: 255}, color.RGBA{R: 245, G: 121, B: 0, A: 255}}
	w := vg.Points(20)
	for i, g := range groups {
		bars, err := plotter.NewBarChart(plotter.Values(g.Values), w)
		if err != nil {
			return err
		}
		bars.Color = colors[i%len(colors)]
		bars.LineStyle.Color, bars.LineStyle.Width = bars.Color, vg.Points(1.5)
		off := float64(i) - float64(len(groups)-1)/2
		bars.Offset = vg.Length(off) * w
		p.Add(bars)
		p.Legend.Add(g.Model, bars)
		lab, err := valueLabels(g.Values, bars.Offset)
		if err != nil {
			return err
		}
		p.Add(lab)
	}
	p.Legend.Top = true
	p.NominalX(labels...)
	p.X.Min, p.X.Max = -0.75, float64(len(labels))-0.25 // the outer bars clear of the axes
	width := vg.Length(max(5, 1+float64(len(labels))*(0.5+0.35*float64(len(groups))))) * vg.Inch
	return plotfile.SavePNG(ctx, p, dst, width, 4*vg.Inch)
}

// valueLabels writes "0.62" above each bar, shifted as its bar is.
func valueLabels(vals []float64, offset vg.Length) (*plotter.Labels, error) {
	var xy plotter.XYLabels
	for j, v := range vals {
		xy.XYs = append(xy.XYs, plotter.XY{X: float64(j), Y: v + 0.03})
		xy.Labels = append(xy.Labels, fmt.Sprintf("%.2f", v))
	}
	lab, err := plotter.NewLabels(xy)
	if err != nil {
		return nil, err
	}
	for i := range lab.TextStyle {
		lab.TextStyle[i].XAlign = draw.XCenter
		lab.TextStyle[i].Font.Size = vg.Points(8)
	}
	lab.Offset = vg.Point{X: offset}
	return lab, nil
}

// confusionGrid is a confusion matrix as a heat map grid: column = predicted
// class, row = gold class (row 0 drawn at the top).
type confusionGrid struct{ m [][]int64 }

func (g confusionGrid) Dims() (int, int)   { return len(g.m), len(g.m) }
func (g confusionGrid) Z(c, r int) float64 { return float64(g.m[len(g.m)-1-r][c]) }
func (g confusionGrid) X(c int) float64    { return float64(c) }
func (g confusionGrid) Y(r int) float64    { return float64(r) }

func confusionChart(ctx context.Context, dst, task string, labels []string, m [][]int64) error {
	p := plot.New()
	p.Title.Text = "Confusion matrix: " + task
	p.X.Label.Text = "predicted"
	p.Y.Label.Text = "gold"
	pal := moreland.SmoothBlueRed()
	var hi float64
	for _, row := range m {
		for _, v := range row {
			hi = max(hi, float64(v))
		}
	}
	pal.SetMin(0)
	pal.SetMax(max(hi, 1))
	p.Add(plotter.NewHeatMap(confusionGrid{m}, pal.Palette(64)))
	n := len(m)
	var xt, yt []plot.Tick
	for i := 0; i < n; i++ {
		xt = append(xt, plot.Tick{Value: float64(i), Label: labelAt(labels, i)})
		yt = append(yt, plot.Tick{Value: float64(n - 1 - i), Label: labelAt(labels, i)})
	}
	p.X.Tick.Marker = plot.ConstantTicks(xt)
	p.Y.Tick.Marker = plot.ConstantTicks(yt)
	// The counts, written in each cell.
	var cells plotter.XYLabels
	for r := 0; r < n; r++ {
		for c := 0; c < n; c++ {
			cells.XYs = append(cells.XYs, plotter.XY{X: float64(c), Y: float64(n - 1 - r)})
			cells.Labels = append(cells.Labels, fmt.Sprint(m[r][c]))
		}
	}
	lab, err := plotter.NewLabels(cells)
	if err != nil {
		return err
	}
	p.Add(lab)
	side := vg.Length(max(3, 0.6*float64(n)+1.5)) * vg.Inch
	return plotfile.SavePNG(ctx, p, dst, side, side)
}

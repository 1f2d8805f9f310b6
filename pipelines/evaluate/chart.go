package evaluate

import (
	"context"
	"fmt"
	"image/color"

	"gonum.org/v1/plot"
	"gonum.org/v1/plot/palette/moreland"
	"gonum.org/v1/plot/plotter"
	"gonum.org/v1/plot/vg"

	"github.com/taskweave/taskweave/io/plotfile"
	"github.com/taskweave/taskweave/io/storage"
)

// writeCharts draws scores.png (each task's primary metric, one bar per
// checkpoint) and confusion-<task>.png for each classification task, and
// returns their names relative to out.
func writeCharts(ctx context.Context, out string, rep *Report) ([]string, error) {
	if len(rep.Tasks) == 0 {
		return nil, nil
	}
	var names []string
	p := plot.New()
	p.Title.Text = "Primary metric per task (" + rep.Split + ")"
	p.Y.Label.Text = "score"
	p.Y.Min, p.Y.Max = 0, 1
	var labels []string
	for _, t := range rep.Tasks {
		labels = append(labels, fmt.Sprintf("%s\n%s", t.Task, t.Results["model"].Primary))
	}
	colors := []color.Color{color.RGBA{R: 52, G: 101, B: 164, A: 255}, color.RGBA{R: 245, G: 121, B: 0, A: 255}}
	w := vg.Points(20)
	for i, m := range rep.Models {
		vals := make(plotter.Values, len(rep.Tasks))
		for j, t := range rep.Tasks {
			vals[j] = t.Results[m.Name].Score
		}
		bars, err := plotter.NewBarChart(vals, w)
		if err != nil {
			return nil, err
		}
		bars.Color = colors[i%len(colors)]
		bars.LineStyle.Width = 0
		bars.Offset = vg.Length(float64(i)-float64(len(rep.Models)-1)/2) * w
		p.Add(bars)
		p.Legend.Add(m.Name, bars)
	}
	p.Legend.Top = true
	p.NominalX(labels...)
	if err := plotfile.SavePNG(ctx, p, storage.Join(out, "scores.png"), vg.Length(max(4, 1.5*float64(len(rep.Tasks))))*vg.Inch, 4*vg.Inch); err != nil {
		return nil, err
	}
	names = append(names, "scores.png")

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

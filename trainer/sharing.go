package trainer

import (
	"context"
	"fmt"
	"image/color"

	"gonum.org/v1/plot"
	"gonum.org/v1/plot/plotter"
	"gonum.org/v1/plot/vg"

	"github.com/taskweave/taskweave/io/plotfile"
	"github.com/taskweave/taskweave/io/storage"
	"github.com/taskweave/taskweave/model"
)

// ParamCounts are the model's weights and how many of them train (fewer
// with model.sharing.freeze_shared).
type ParamCounts struct {
	Total     int `json:"total"`
	Trainable int `json:"trainable"`
}

// LayerWeights is one task's learned layer attention: softmax weights over
// the embeddings (index 0) and layers 1..L, and the scale γ.
type LayerWeights struct {
	Weights []float64 `json:"weights"`
	Scale   float64   `json:"scale"`
}

// sharingSummary fills the summary's soft-sharing figures from the final
// model: parameter counts, each task's layer weights, and each task's mean
// gate distribution per mixture-of-experts layer ("layer_<1-based>") over
// the tokens of the last evaluation.
func (tr *Trainer) sharingSummary(s *Summary) {
	s.Sharing = sharing(tr.tasks, tr.cfg.Sharing)
	s.Parameters = ParamCounts{Total: model.CountParams(tr.m.Params()), Trainable: model.CountParams(tr.m.Trainable())}
	for _, t := range tr.tasks {
		if w, g, ok := tr.m.LayerWeights(t.name); ok {
			if s.LayerWeights == nil {
				s.LayerWeights = map[string]LayerWeights{}
			}
			s.LayerWeights[t.name] = LayerWeights{Weights: w, Scale: g}
		}
		if d := tr.m.GateDistributions(t.name); d != nil {
			if s.Gates == nil {
				s.Gates = map[string]map[string][]float64{}
			}
			s.Gates[t.name] = map[string][]float64{}
			for l, p := range d {
				s.Gates[t.name][fmt.Sprintf("layer_%d", l+1)] = p
			}
		}
	}
}

// writeSharingCharts draws layer_weights.png (each task's weight per layer)
// and gates.png (each task's mean gate probability per layer and expert)
// into the run directory when the model has them, and returns their names.
func writeSharingCharts(ctx context.Context, out string, tasks []string, s *Summary) ([]string, error) {
	var names []string
	if len(s.LayerWeights) > 0 {
		var groups []string
		vals := map[string][]float64{}
		for _, t := range tasks {
			if lw, ok := s.LayerWeights[t]; ok {
				vals[t] = lw.Weights
				for len(groups) < len(lw.Weights) {
					groups = append(groups, fmt.Sprintf("layer %d", len(groups)))
				}
			}
		}
		groups[0] = "embeddings"
		if err := groupedBars(ctx, storage.Join(out, "layer_weights.png"), "Layer attention: softmax weight per layer", groups, tasks, vals); err != nil {
			return nil, err
		}
		names = append(names, "layer_weights.png")
	}
	if len(s.Gates) > 0 {
		var groups []string
		vals := map[string][]float64{}
		for _, t := range tasks {
			g, ok := s.Gates[t]
			if !ok {
				continue
			}
			var keys []string
			for k := range g {
				keys = append(keys, k)
			}
			sortLayers(keys)
			var v []float64
			var gs []string
			for _, k := range keys {
				for e, p := range g[k] {
					v = append(v, p)
					gs = append(gs, fmt.Sprintf("%s\nexpert %d", k, e))
				}
			}
			vals[t], groups = v, gs
		}
		if err := groupedBars(ctx, storage.Join(out, "gates.png"), "Mixture of experts: mean gate per task (last evaluation)", groups, tasks, vals); err != nil {
			return nil, err
		}
		names = append(names, "gates.png")
	}
	return names, nil
}

// sortLayers orders "layer_<n>" keys by n.
func sortLayers(keys []string) {
	n := func(k string) int {
		var x int
		fmt.Sscanf(k, "layer_%d", &x)
		return x
	}
	for i := 1; i < len(keys); i++ {
		for j := i; j > 0 && n(keys[j]) < n(keys[j-1]); j-- {
			keys[j], keys[j-1] = keys[j-1], keys[j]
		}
	}
}

// groupedBars draws one bar per series (task) in each group.
func groupedBars(ctx context.Context, dst, title string, groups, series []string, vals map[string][]float64) error {
	p := plot.New()
	p.Title.Text = title
	p.Y.Min, p.Y.Max = 0, 1
	colors := []color.Color{color.RGBA{R: 52, G: 101, B: 164, A: 255}, color.RGBA{R: 245, G: 121, B: 0, A: 255},
		color.RGBA{R: 78, G: 154, B: 6, A: 255}, color.RGBA{R: 117, G: 80, B: 123, A: 255}}
	w := vg.Points(12)
	var shown []string
	for _, s := range series {
		if _, ok := vals[s]; ok {
			shown = append(shown, s)
		}
	}
	for i, s := range shown {
		bars, err := plotter.NewBarChart(plotter.Values(vals[s]), w)
		if err != nil {
			return err
		}
		bars.Color = colors[i%len(colors)]
		bars.LineStyle.Width = 0
		bars.Offset = vg.Length(float64(i)-float64(len(shown)-1)/2) * w
		p.Add(bars)
		p.Legend.Add(s, bars)
	}
	p.Legend.Top = true
	p.NominalX(groups...)
	return plotfile.SavePNG(ctx, p, dst, vg.Length(max(5, 0.4*float64(len(groups)*len(shown))+2))*vg.Inch, 4*vg.Inch)
}

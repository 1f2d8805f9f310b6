package checkpoint

import (
	"fmt"
	"math"
	"slices"
	"strings"

	"github.com/taskweave/taskweave/model"
)

// assign copies tensors into m's parameters by name, refusing a missing
// tensor, a tensor with the wrong shape, and a tensor m has no place for.
// optional lists parameters that may be missing (they keep their init).
// file names the source in messages; rename maps a model name back to the
// name in the file.
func assign(m *model.Model, tensors map[string]*Tensor, file string, optional map[string]bool, cfg model.Config) error {
	used := map[string]bool{}
	var missing []string
	for _, p := range m.Params() {
		t, ok := tensors[p.Name]
		if !ok {
			if !optional[p.Name] {
				missing = append(missing, p.Name)
			}
			continue
		}
		used[p.Name] = true
		if !equalShape(t.Shape, p.Shape) {
			return fmt.Errorf("%s: tensor %s has shape %v but config.json (%s) needs %v; the weights and config.json do not belong together", file, t.Name, t.Shape, cfgSummary(cfg), p.Shape)
		}
		if t.Data == nil {
			return fmt.Errorf("%s: tensor %s has dtype %s; it must be a float tensor (F32, F16, BF16 or F64)", file, t.Name, t.DType)
		}
		// A NaN or Inf weight makes every prediction NaN, which argmax
		// turns into class 0: the model would be scored (and promoted) as
		// if it were sound.
		for i, v := range t.Data {
			if math.IsNaN(float64(v)) || math.IsInf(float64(v), 0) {
				return fmt.Errorf("%s: tensor %s holds %g at element %d (of %d): the weights are damaged or training diverged; load an earlier checkpoint", file, t.Name, v, i, len(t.Data))
			}
		}
		copy(p.W, t.Data)
	}
	if len(missing) > 0 {
		return fmt.Errorf("%s: %d tensors the model needs are missing, first %s (config.json: %s)", file, len(missing), strings.Join(missing[:min(len(missing), 3)], ", "), cfgSummary(cfg))
	}
	var unknown []string
	for name := range tensors {
		if !used[name] {
			unknown = append(unknown, tensors[name].Name)
		}
	}
	if len(unknown) > 0 {
		slices.Sort(unknown)
		return fmt.Errorf("%s: %d tensors have no place in the model: %s; if they are expected (other heads), list them in Options.IgnoreTensors", file, len(unknown), strings.Join(unknown[:min(len(unknown), 5)], ", "))
	}
	return nil
}

// checkSizes refuses a config.json whose sizes imply more encoder weights
// than the weights file holds, before model.New allocates them: a
// vocab_size of 2e9 or 100,000 layers would otherwise end in a fatal
// out-of-memory instead of the shape error assign gives. The pooler is left
// out (token models may lack one); heads are small and checked by assign.
func checkSizes(c model.Config, sh model.Sharing, tensors []*Tensor, where, file string) error {
	if err := c.Validate(); err != nil {
		return fmt.Errorf("checkpoint %s: %s: %w", where, ConfigFile, err)
	}
	H, I := float64(c.HiddenSize), float64(c.IntermediateSize)
	layer := 4*(H*H+H) + (H*I + I) + (I*H + H) + 4*H
	need := (float64(c.VocabSize)+float64(c.MaxPositionEmbeddings)+float64(c.TypeVocabSize)+2)*H + float64(c.NumHiddenLayers)*layer
	if sh.Experts > 1 { // experts beyond the first, in the top expert_layers layers
		need += float64(sh.Experts-1) * math.Min(float64(sh.ExpertLayers), float64(c.NumHiddenLayers)) * (2*H*I + H + I)
	}
	var have float64
	for _, t := range tensors {
		have += float64(len(t.Data))
	}
	if need > have {
		return fmt.Errorf("checkpoint %s: %s (%s) describes an encoder of %.4g weights but %s holds %.4g: the config and the weights do not belong together, or config.json is damaged; fix its sizes", where, ConfigFile, cfgSummary(c), need, file, have)
	}
	return nil
}

func cfgSummary(c model.Config) string {
	return fmt.Sprintf("vocab_size %d, hidden_size %d, num_hidden_layers %d, intermediate_size %d, max_position_embeddings %d, type_vocab_size %d",
		c.VocabSize, c.HiddenSize, c.NumHiddenLayers, c.IntermediateSize, c.MaxPositionEmbeddings, c.TypeVocabSize)
}

func equalShape(a, b []int) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

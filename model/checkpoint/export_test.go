package checkpoint

import (
	"math"
	"strings"
	"testing"

	"github.com/taskweave/taskweave/model"
)

// An exported task loads back through the Hugging Face importer and gives
// the identical logits of the task's path in the multi-task model: factors merged,
// a lower layer as a shorter encoder, a token model without a pooler.
func TestExportHF(t *testing.T) {
	cfg := model.Config{VocabSize: 12, HiddenSize: 8, NumHiddenLayers: 3, NumAttentionHeads: 2, IntermediateSize: 16,
		MaxPositionEmbeddings: 20, TypeVocabSize: 2, LayerNormEps: 1e-12, HiddenAct: "gelu"}
	m, err := model.NewWith(cfg, []model.HeadSpec{
		{Task: "sst2", Kind: model.SequenceClassification, NumLabels: 2, Sharing: model.TaskSharing{Rank: 2, Matrices: model.FactorMatrices}},
		{Task: "ner", Kind: model.TokenClassification, NumLabels: 3, Layer: 2, Sharing: model.TaskSharing{Rank: 2, Matrices: []string{model.MatValue, model.MatFFNOut}}},
		{Task: "sts", Kind: model.SequenceRegression},
	}, model.Sharing{Basis: "shared"}, 4)
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range m.Params() { // factors away from 0, logits spread
		for i := range p.W {
			p.W[i] += float32(math.Sin(float64(i*7+len(p.Name)))) * 0.3
		}
	}
	_, meta := sharedModel(t)
	meta.Tasks = []TaskInfo{{Name: "sst2", Labels: []string{"neg", "pos"}}, {Name: "ner", Labels: []string{"O", "B-X", "I-X"}}, {Name: "sts"}}
	b := &model.Batch{B: 2, T: 5, InputIDs: []int32{2, 5, 6, 7, 3, 2, 9, 3, 0, 0}, Mask: []int32{1, 1, 1, 1, 1, 1, 1, 1, 0, 0}}
	for _, c := range []struct {
		task, arch string
		layers     int
	}{{"sst2", "BertForSequenceClassification", 3}, {"ner", "BertForTokenClassification", 2}, {"sts", "BertForSequenceClassification", 3}} {
		t.Run(c.task, func(t *testing.T) {
			dir := t.TempDir()
			if err := ExportHF(LocalDir(dir), m, meta, c.task); err != nil {
				t.Fatal(err)
			}
			got, gmeta, err := LoadWith(LocalDir(dir), Options{TaskName: c.task})
			if err != nil {
				t.Fatal(err)
			}
			if got.Config().NumHiddenLayers != c.layers {
				t.Errorf("exported %d layers, want %d", got.Config().NumHiddenLayers, c.layers)
			}
			if h := got.Heads(); len(h) != 1 || h[0].Kind != m.Heads()[slicesIndex(m, c.task)].Kind {
				t.Errorf("heads %+v", h)
			}
			if info, _ := gmeta.Task(c.task); c.task == "sst2" && strings.Join(info.Labels, ",") != "neg,pos" {
				t.Errorf("labels %v", info.Labels)
			}
			bt := *b
			bt.Task = c.task
			want, err := m.Predict(&bt)
			if err != nil {
				t.Fatal(err)
			}
			have, err := got.Predict(&bt)
			if err != nil {
				t.Fatal(err)
			}
			var worst float64
			for i := range want {
				worst = math.Max(worst, math.Abs(float64(want[i]-have[i])))
			}
			// The model runs a factorized task on W + A·B merged as the
			// export merges it: the logits are identical, not just close.
			if worst != 0 {
				t.Errorf("exported logits differ from the task's path by %g", worst)
			}
			t.Logf("%s: max |logit diff| %.3g", c.task, worst)
		})
	}
}

func slicesIndex(m *model.Model, task string) int {
	for i, h := range m.Heads() {
		if h.Task == task {
			return i
		}
	}
	return -1
}

func TestExportHFRefusals(t *testing.T) {
	m, meta := sharedModel(t) // sst2: layer attention; ner: adapters; MoE layers
	for _, c := range []struct{ task, want string }{
		{"sst2", "layer_attention"}, {"ner", "adapters"}, {"pos", "no task"},
	} {
		err := ExportHF(memFS{}, m, meta, c.task)
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s: %v, want an error naming %q", c.task, err, c.want)
		}
	}
	cfg := m.Config()
	moe, err := model.NewWith(cfg, []model.HeadSpec{{Task: "a", Kind: model.SequenceClassification, NumLabels: 2}}, model.Sharing{Experts: 2, ExpertLayers: 1}, 1)
	if err != nil {
		t.Fatal(err)
	}
	fs := memFS{}
	if err := ExportHF(fs, moe, Meta{Vocab: meta.Vocab, Tasks: []TaskInfo{{Name: "a", Labels: []string{"x", "y"}}}}, "a"); err == nil || !strings.Contains(err.Error(), "experts") {
		t.Errorf("MoE model: %v", err)
	}
	if len(fs) != 0 {
		t.Errorf("a refused export wrote %d files", len(fs))
	}
}

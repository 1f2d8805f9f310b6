package checkpoint

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/taskweave/taskweave/model"
)

// sharedModel is a tiny model with every soft-sharing mode on some task.
func sharedModel(t *testing.T) (*model.Model, Meta) {
	t.Helper()
	cfg := model.Config{VocabSize: 12, HiddenSize: 8, NumHiddenLayers: 2, NumAttentionHeads: 2, IntermediateSize: 16,
		MaxPositionEmbeddings: 20, TypeVocabSize: 2, LayerNormEps: 1e-12, HiddenAct: "gelu"}
	m, err := model.NewWith(cfg, []model.HeadSpec{
		{Task: "sst2", Kind: model.SequenceClassification, NumLabels: 2,
			Sharing: model.TaskSharing{Rank: 2, Matrices: []string{model.MatQuery, model.MatFFNIn}, LayerAttention: true}},
		{Task: "ner", Kind: model.TokenClassification, NumLabels: 3,
			Sharing: model.TaskSharing{Rank: 2, Matrices: []string{model.MatValue}, Adapter: 3}},
	}, model.Sharing{Basis: "shared", Experts: 2, ExpertLayers: 1}, 42)
	if err != nil {
		t.Fatal(err)
	}
	for i, p := range m.Params() {
		for j := range p.W {
			p.W[j] = float32(i%7)/10 + float32(j%13)/100
		}
	}
	meta := Meta{
		Vocab:     []string{"[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]", "the", "cat", "sat", "##s", ".", "on", "mat"},
		Lowercase: true, MaxSeqLen: 20,
		Tasks: []TaskInfo{{Name: "sst2", Labels: []string{"negative", "positive"}}, {Name: "ner", Labels: []string{"O", "B-X", "I-X"}}},
	}
	return m, meta
}

// A soft-sharing model saves shared tensors under Hugging Face names and
// task ones under tasks.<task>.…, and loads back with every path intact.
func TestSaveLoadSharing(t *testing.T) {
	m, meta := sharedModel(t)
	dir := LocalDir(t.TempDir())
	if err := Save(dir, m, meta); err != nil {
		t.Fatal(err)
	}
	got, _, err := Load(dir)
	if err != nil {
		t.Fatal(err)
	}
	if got.Sharing() != m.Sharing() {
		t.Errorf("sharing %+v, saved %+v", got.Sharing(), m.Sharing())
	}
	names := map[string]bool{}
	for _, p := range got.Params() {
		names[p.Name] = true
		q := m.Param(p.Name)
		if q == nil {
			t.Fatalf("loaded %s, which the saved model has not", p.Name)
		}
		for i := range p.W {
			if p.W[i] != q.W[i] {
				t.Fatalf("%s[%d] = %g, saved %g", p.Name, i, p.W[i], q.W[i])
			}
		}
	}
	for _, want := range []string{
		"encoder.layer.0.attention.self.query.weight",
		"sharing.encoder.layer.0.attention.self.query.factor_a",
		"tasks.sst2.encoder.layer.1.attention.self.query.factor_b",
		"tasks.sst2.encoder.layer.0.intermediate.dense.factor_b",
		"tasks.sst2.layer_attention.weights",
		"tasks.ner.encoder.layer.1.output.adapter.up.weight",
		"sharing.encoder.layer.1.experts.1.intermediate.dense.weight",
		"tasks.ner.encoder.layer.1.moe.gate.weight",
	} {
		if !names[want] {
			t.Errorf("no tensor %s", want)
		}
	}
	// The FFN of the expert layer is a mixture: no factor there.
	if names["tasks.sst2.encoder.layer.1.intermediate.dense.factor_b"] {
		t.Error("a factor on an expert layer's FFN")
	}
	for _, task := range []string{"sst2", "ner"} {
		b := &model.Batch{Task: task, B: 2, T: 4, InputIDs: []int32{2, 5, 6, 3, 2, 7, 3, 0}, Mask: []int32{1, 1, 1, 1, 1, 1, 1, 0}}
		want, err := m.Predict(b)
		if err != nil {
			t.Fatal(err)
		}
		have, err := got.Predict(b)
		if err != nil {
			t.Fatal(err)
		}
		for i := range want {
			if want[i] != have[i] {
				t.Fatalf("%s: logit %d = %g after loading, %g before", task, i, have[i], want[i])
			}
		}
	}
}

// Starting from a Hugging Face encoder, the experts of a mixture-of-experts
// layer are copies of that layer's FFN and the task parameters keep their
// initialisation.
func TestImportEncoderIntoExperts(t *testing.T) {
	src, _ := tinyModel(t)
	dst, err := model.NewWith(src.Config(), []model.HeadSpec{{Task: "a", Kind: model.SequenceClassification, NumLabels: 2,
		Sharing: model.TaskSharing{Adapter: 2}}}, model.Sharing{Experts: 3, ExpertLayers: 2, FreezeShared: true}, 1)
	if err != nil {
		t.Fatal(err)
	}
	if err := ImportEncoder(dst, src); err != nil {
		t.Fatal(err)
	}
	for _, p := range dst.SharedParams() {
		name := p.Name
		if rest, ok := strings.CutPrefix(name, "sharing."); ok {
			l, e, _ := strings.Cut(rest, ".experts.")
			_, sub, _ := strings.Cut(e, ".")
			name = l + "." + sub
		}
		q := src.Param(name)
		for i := range p.W {
			if p.W[i] != q.W[i] {
				t.Fatalf("%s[%d] = %g, want %s's %g", p.Name, i, p.W[i], name, q.W[i])
			}
		}
	}
	trainable := model.CountParams(dst.Trainable())
	if all := model.CountParams(dst.Params()); trainable >= all/4 {
		t.Errorf("freeze_shared: %d of %d weights trainable; only adapters, heads, LayerNorms and gates should be", trainable, all)
	}
}

// A config.json whose sharing section claims more experts than the weights
// file holds is refused before the model is allocated.
func TestConfigHugeSharing(t *testing.T) {
	m, meta := sharedModel(t)
	dir := t.TempDir()
	if err := Save(LocalDir(dir), m, meta); err != nil {
		t.Fatal(err)
	}
	raw, err := os.ReadFile(filepath.Join(dir, ConfigFile))
	if err != nil {
		t.Fatal(err)
	}
	var cfg map[string]any
	if err := json.Unmarshal(raw, &cfg); err != nil {
		t.Fatal(err)
	}
	tw := cfg["taskweave"].(map[string]any)
	tw["sharing"].(map[string]any)["experts"] = 64
	tw["sharing"].(map[string]any)["expert_layers"] = 2
	editConfig(t, dir, map[string]any{"taskweave": tw})
	_, _, err = Load(LocalDir(dir))
	if err == nil || !strings.Contains(err.Error(), "describes an encoder") {
		t.Fatalf("64 experts in config.json over a file with 2: %v", err)
	}
}

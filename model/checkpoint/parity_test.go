package checkpoint

import (
	"encoding/json"
	"math"
	"os"
	"testing"

	"github.com/taskweave/taskweave/model"
)

// golden is testdata/ref/golden.json from ../shared/reference/bert_reference.py.
type golden struct {
	InputIDs      [][]int32     `json:"input_ids"`
	AttentionMask [][]int32     `json:"attention_mask"`
	TokenTypeIDs  [][]int32     `json:"token_type_ids"`
	LastHidden    [][][]float64 `json:"last_hidden_state"`
	Pooled        [][]float64   `json:"pooled_output"`
	SeqLogits     [][]float64   `json:"seq_cls_logits"`
	TokLogits     [][][]float64 `json:"tok_cls_logits"`
}

func loadGolden(t *testing.T) (golden, *model.Batch) {
	t.Helper()
	raw, err := os.ReadFile("testdata/ref/golden.json")
	if err != nil {
		t.Fatal(err)
	}
	var g golden
	if err := json.Unmarshal(raw, &g); err != nil {
		t.Fatal(err)
	}
	b := &model.Batch{B: len(g.InputIDs), T: len(g.InputIDs[0])}
	for i := range g.InputIDs {
		b.InputIDs = append(b.InputIDs, g.InputIDs[i]...)
		b.Mask = append(b.Mask, g.AttentionMask[i]...)
		b.TokenTypeIDs = append(b.TokenTypeIDs, g.TokenTypeIDs[i]...)
	}
	return g, b
}

const parityTol = 1e-4

// compareRows checks got ([rows × width] row-major) against want, only at
// rows where use is true (real tokens: what padded positions hold is
// undefined).
func compareRows(t *testing.T, what string, got []float32, want [][]float64, use func(r int) bool) {
	t.Helper()
	width := len(want[0])
	if len(got) != len(want)*width {
		t.Fatalf("%s: %d values, want %d", what, len(got), len(want)*width)
	}
	worst, n := 0.0, 0
	for r, row := range want {
		if !use(r) {
			continue
		}
		for j, w := range row {
			worst = math.Max(worst, math.Abs(float64(got[r*width+j])-w))
			n++
		}
	}
	if worst > parityTol {
		t.Errorf("%s: max |Go − PyTorch| = %.3g over %d values, want ≤ %g", what, worst, n, parityTol)
	}
	t.Logf("%s: max |Go − PyTorch| = %.3g over %d values", what, worst, n)
}

// TestParityThroughImporter loads the reference's three Hugging Face
// directories through the importer and compares forward outputs with
// golden.json (batch of 3 × 10, two rows padded, token type 1 in row 0).
func TestParityThroughImporter(t *testing.T) {
	g, b := loadGolden(t)
	real := func(r int) bool { return b.Mask[r] == 1 }
	all := func(int) bool { return true }
	flat := func(x [][][]float64) (out [][]float64) {
		for _, s := range x {
			out = append(out, s...)
		}
		return out
	}

	m, _, err := LoadWith(LocalDir("testdata/ref/seq-cls"), Options{TaskName: "sst"})
	if err != nil {
		t.Fatal(err)
	}
	b.Task = "sst"
	logits, err := m.Predict(b)
	if err != nil {
		t.Fatal(err)
	}
	compareRows(t, "seq-cls logits", logits, g.SeqLogits, all)

	m, _, err = LoadWith(LocalDir("testdata/ref/tok-cls"), Options{TaskName: "ner", Warn: discard{}})
	if err != nil {
		t.Fatal(err)
	}
	b.Task = "ner"
	if logits, err = m.Predict(b); err != nil {
		t.Fatal(err)
	}
	compareRows(t, "tok-cls logits", logits, flat(g.TokLogits), real)

	// Saved in taskweave's format and loaded back, the model predicts the same bits.
	fs := memFS{}
	vocab := make([]string, m.Config().VocabSize)
	for i := range vocab {
		vocab[i] = "t" + string(rune('A'+i%26)) + string(rune('a'+i/26))
	}
	if err := Save(fs, m, Meta{Vocab: vocab, Tasks: []TaskInfo{{Name: "ner", Labels: []string{"a", "b", "c", "d", "e"}}}}); err != nil {
		t.Fatal(err)
	}
	m2, _, err := Load(fs)
	if err != nil {
		t.Fatal(err)
	}
	again, err := m2.Predict(b)
	if err != nil {
		t.Fatal(err)
	}
	for i := range again {
		if again[i] != logits[i] {
			t.Fatalf("logit %d after Save/Load: %g, before %g", i, again[i], logits[i])
		}
	}

	// BertModel: the encoder alone. Identity heads read the last hidden
	// state and the pooled output straight out of the encoder.
	enc, _, err := Load(LocalDir("testdata/ref"))
	if err != nil {
		t.Fatal(err)
	}
	H := enc.Config().HiddenSize
	probe, err := model.New(enc.Config(), []model.HeadSpec{
		{Task: "hidden", Kind: model.TokenClassification, NumLabels: H},
		{Task: "pooled", Kind: model.SequenceClassification, NumLabels: H},
	}, 1)
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range enc.Params() {
		copy(probe.Param(p.Name).W, p.W)
	}
	for _, task := range []string{"hidden", "pooled"} {
		w, bias := probe.Param("heads."+task+".classifier.weight"), probe.Param("heads."+task+".classifier.bias")
		clear(w.W)
		clear(bias.W)
		for i := 0; i < H; i++ {
			w.W[i*H+i] = 1
		}
	}
	b.Task = "hidden"
	if logits, err = probe.Predict(b); err != nil {
		t.Fatal(err)
	}
	compareRows(t, "last_hidden_state", logits, flat(g.LastHidden), real)
	b.Task = "pooled"
	if logits, err = probe.Predict(b); err != nil {
		t.Fatal(err)
	}
	compareRows(t, "pooled_output", logits, g.Pooled, all)
}

type discard struct{}

func (discard) Write(p []byte) (int, error) { return len(p), nil }

// TestParityCamphr compares the imported camphr model (pytorch_model.bin)
// with the reference encoder's logits on the same weights
// (testdata/gen_camphr_golden.py).
func TestParityCamphr(t *testing.T) {
	raw, err := os.ReadFile("testdata/camphr_golden.json")
	if err != nil {
		t.Fatal(err)
	}
	var g golden
	if err := json.Unmarshal(raw, &g); err != nil {
		t.Fatal(err)
	}
	b := &model.Batch{Task: "ner", B: len(g.InputIDs), T: len(g.InputIDs[0])}
	var want [][]float64
	for i := range g.InputIDs {
		b.InputIDs = append(b.InputIDs, g.InputIDs[i]...)
		b.Mask = append(b.Mask, g.AttentionMask[i]...)
		b.TokenTypeIDs = append(b.TokenTypeIDs, g.TokenTypeIDs[i]...)
		want = append(want, g.TokLogits[i]...)
	}
	m, _, err := LoadWith(LocalDir("testdata/tiny_bert_camphr_ner"), Options{TaskName: "ner", AllowVocabTruncation: true, Warn: discard{}})
	if err != nil {
		t.Fatal(err)
	}
	logits, err := m.Predict(b)
	if err != nil {
		t.Fatal(err)
	}
	compareRows(t, "camphr token logits", logits, want, func(r int) bool { return b.Mask[r] == 1 })
}

package checkpoint

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"math"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"github.com/taskweave/taskweave/model"
)

// memFS is an in-memory FS whose Create publishes on Close, like a gs://
// object. It lets tests see exactly which files exist and take the
// non-local path of the importer (pytorch_model.bin copied to a temp file).
type memFS map[string][]byte

func (m memFS) Open(name string) (io.ReadCloser, error) {
	b, ok := m[name]
	if !ok {
		return nil, fmt.Errorf("mem %s: %w", name, os.ErrNotExist)
	}
	return io.NopCloser(bytes.NewReader(b)), nil
}

func (m memFS) Create(name string) (io.WriteCloser, error) {
	return &memFile{fs: m, name: name}, nil
}

type memFile struct {
	bytes.Buffer
	fs   memFS
	name string
}

func (f *memFile) Close() error { f.fs[f.name] = f.Bytes(); return nil }

func tinyModel(t testing.TB) (*model.Model, Meta) {
	t.Helper()
	cfg := model.Config{VocabSize: 12, HiddenSize: 8, NumHiddenLayers: 2, NumAttentionHeads: 2, IntermediateSize: 16,
		MaxPositionEmbeddings: 20, TypeVocabSize: 2, LayerNormEps: 1e-12, HiddenDropoutProb: 0.1, AttentionProbsDropoutProb: 0.1, HiddenAct: "gelu"}
	m, err := model.New(cfg, []model.HeadSpec{
		{Task: "sst2", Kind: model.SequenceClassification, NumLabels: 2},
		{Task: "ner", Kind: model.TokenClassification, NumLabels: 3, Layer: 1},
		{Task: "stsb", Kind: model.SequenceRegression, NumLabels: 1},
		{Task: "mlm", Kind: model.MaskedLM},
	}, 42)
	if err != nil {
		t.Fatal(err)
	}
	// Give every parameter distinct values so a mix-up of names shows.
	for i, p := range m.Params() {
		for j := range p.W {
			p.W[j] = float32(i) + float32(j)/1000
		}
	}
	meta := Meta{
		Vocab:     []string{"[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]", "the", "cat", "sat", "##s", ".", "on", "mat"},
		Lowercase: true, MaxSeqLen: 20,
		Tasks: []TaskInfo{
			{Name: "sst2", Labels: []string{"negative", "positive"}},
			{Name: "ner", Type: "token_classification", Labels: []string{"O", "B-X", "I-X"}, TagScheme: "iob2"},
			{Name: "stsb"},
			// A masked LM's source tasks and whole-word flag survive the
			// trip: evaluate masks its text from them.
			{Name: "mlm", Auxiliary: true, Source: []string{"sst2", "ner"}, WholeWord: true},
		},
		Extra: map[string]any{"sharing": "hard", "strategy": map[string]any{"name": "uncertainty"}},
	}
	return m, meta
}

func TestSaveLoadRoundTrip(t *testing.T) {
	m, meta := tinyModel(t)
	dir := t.TempDir()
	if err := Save(LocalDir(dir), m, meta); err != nil {
		t.Fatal(err)
	}
	names, _ := filepath.Glob(filepath.Join(dir, "*"))
	var got []string
	for _, n := range names {
		got = append(got, filepath.Base(n))
	}
	want := []string{"config.json", "model.safetensors", "tasks.json", "tokenizer_config.json", "vocab.txt"}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("directory holds %v, want %v (no temporary files left)", got, want)
	}
	m2, meta2, err := Load(LocalDir(dir))
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(m2.Config(), m.Config()) || !reflect.DeepEqual(m2.Heads(), m.Heads()) {
		t.Errorf("config/heads differ:\n%+v %+v\n%+v %+v", m2.Config(), m2.Heads(), m.Config(), m.Heads())
	}
	p1, p2 := m.Params(), m2.Params()
	if len(p1) != len(p2) {
		t.Fatalf("%d params, want %d", len(p2), len(p1))
	}
	for i := range p1 {
		if p1[i].Name != p2[i].Name || !reflect.DeepEqual(p1[i].W, p2[i].W) {
			t.Fatalf("param %d %s differs after the round trip", i, p1[i].Name)
		}
	}
	// Save fills Type and Layer from the heads.
	meta.Tasks[0].Type, meta.Tasks[1].Layer = "sequence_classification", 1
	meta.Tasks[2].Type, meta.Tasks[3].Type = "sequence_regression", "masked_lm"
	if !reflect.DeepEqual(meta2, meta) {
		t.Errorf("meta after the round trip:\n%+v\nwant\n%+v", meta2, meta)
	}
	// config.json is a Hugging Face BERT config plus our section.
	var c map[string]any
	raw, _ := os.ReadFile(filepath.Join(dir, "config.json"))
	if err := json.Unmarshal(raw, &c); err != nil {
		t.Fatal(err)
	}
	if c["hidden_size"] != 8.0 || c["model_type"] != "bert" || c["vocab_size"] != 12.0 {
		t.Errorf("config.json lacks Hugging Face keys: %s", raw)
	}
	tw := c["taskweave"].(map[string]any)
	if tw["extra"].(map[string]any)["sharing"] != "hard" || len(tw["heads"].([]any)) != 4 {
		t.Errorf("taskweave section: %v", tw)
	}
	// Encoder tensors under BertModel names, heads under heads.<task>.
	f, _ := os.Open(filepath.Join(dir, "model.safetensors"))
	ts, _, err := ReadSafetensors(f, "model.safetensors")
	f.Close()
	if err != nil {
		t.Fatal(err)
	}
	var sawEnc, sawHead bool
	for _, x := range ts {
		sawEnc = sawEnc || x.Name == "encoder.layer.1.attention.self.query.weight"
		sawHead = sawHead || x.Name == "heads.ner.classifier.weight"
	}
	if !sawEnc || !sawHead {
		t.Error("model.safetensors lacks encoder.layer.1.attention.self.query.weight or heads.ner.classifier.weight")
	}
}

// TestLoadRefusesMixedOrPartialDirectories: config.json records each
// file's sha256, so a file from another Save, or a Save that stopped before
// config.json, is refused.
func TestLoadRefusesMixedOrPartialDirectories(t *testing.T) {
	m, meta := tinyModel(t)
	for _, c := range []struct {
		name   string
		mutate func(fs memFS)
		want   string
	}{
		{"no config", func(fs memFS) { delete(fs, "config.json") }, "no config.json: not a checkpoint directory, or a Save that did not finish"},
		{"weights from another save", func(fs memFS) {
			m2, _ := tinyModel(t)
			m2.Params()[3].W[0] = 99
			other := memFS{}
			if err := Save(other, m2, meta); err != nil {
				t.Fatal(err)
			}
			fs["model.safetensors"] = other["model.safetensors"]
		}, "model.safetensors has sha256:"},
		{"vocab edited", func(fs memFS) { fs["vocab.txt"] = bytes.Replace(fs["vocab.txt"], []byte("cat"), []byte("dog"), 1) }, "vocab.txt has sha256:"},
		{"tasks edited", func(fs memFS) {
			fs["tasks.json"] = bytes.Replace(fs["tasks.json"], []byte("positive"), []byte("POSITIVE"), 1)
		}, "tasks.json has sha256:"},
		{"weights missing", func(fs memFS) { delete(fs, "model.safetensors") }, "model.safetensors"},
	} {
		fs := memFS{}
		if err := Save(fs, m, meta); err != nil {
			t.Fatal(err)
		}
		c.mutate(fs)
		_, _, err := Load(fs)
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s: err = %v, want it to contain %q", c.name, err, c.want)
		}
	}
}

func TestSaveRefusals(t *testing.T) {
	for _, c := range []struct {
		name   string
		mutate func(*Meta)
		want   string
	}{
		{"vocab size", func(m *Meta) { m.Vocab = m.Vocab[:5] }, "Meta.Vocab has 5 entries but the model's vocab_size is 12"},
		{"newline in token", func(m *Meta) { m.Vocab[6] = "a\nb" }, "vocabulary entry 6"},
		{"label count", func(m *Meta) { m.Tasks[0].Labels = []string{"x"} }, `task "sst2" has 1 labels in Meta.Tasks but its head predicts 2`},
		{"unknown task", func(m *Meta) { m.Tasks = append(m.Tasks, TaskInfo{Name: "pos"}) }, `Meta.Tasks has task "pos" but the model has no head`},
		{"wrong type", func(m *Meta) { m.Tasks[1].Type = "sequence_classification" }, `task "ner" has type "sequence_classification"`},
	} {
		m, meta := tinyModel(t)
		c.mutate(&meta)
		fs := memFS{}
		if err := Save(fs, m, meta); err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s: err = %v, want %q", c.name, err, c.want)
		}
		if _, ok := fs["config.json"]; ok {
			t.Errorf("%s: a refused Save wrote config.json", c.name)
		}
	}
}

// failFS fails the n-th write so Save stops halfway.
type failFS struct {
	dir    FS
	failOn string
}

func (f failFS) Open(name string) (io.ReadCloser, error) { return f.dir.Open(name) }
func (f failFS) Create(name string) (io.WriteCloser, error) {
	w, err := f.dir.Create(name)
	if err != nil || name != f.failOn {
		return w, err
	}
	return failWriter{w.(*atomicFile)}, nil
}

type failWriter struct{ *atomicFile }

func (f failWriter) Write(p []byte) (int, error) {
	f.atomicFile.Write(p[:len(p)/2])
	return len(p) / 2, fmt.Errorf("disk full")
}

// TestInterruptedSaveLeavesNoPartialFile: a write error aborts the temp
// file, so neither the failed file nor config.json appears, and the
// directory is refused as incomplete.
func TestInterruptedSaveLeavesNoPartialFile(t *testing.T) {
	m, meta := tinyModel(t)
	dir := t.TempDir()
	err := Save(failFS{LocalDir(dir), "tasks.json"}, m, meta)
	if err == nil || !strings.Contains(err.Error(), "writing tasks.json: disk full") {
		t.Fatalf("err = %v", err)
	}
	names, _ := filepath.Glob(filepath.Join(dir, "*"))
	hidden, _ := filepath.Glob(filepath.Join(dir, ".*"))
	for _, n := range append(names, hidden...) {
		if b := filepath.Base(n); b != "model.safetensors" && b != "vocab.txt" {
			t.Errorf("unexpected file %s after a failed Save", b)
		}
	}
	if _, _, err := Load(LocalDir(dir)); err == nil || !strings.Contains(err.Error(), "did not finish") {
		t.Errorf("Load after a failed Save: %v", err)
	}
}

func closeTo(a, b, tol float64) bool { return math.Abs(a-b) <= tol }

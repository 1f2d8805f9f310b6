package checkpoint

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/taskweave/taskweave/model"
)

func readST(t *testing.T, path string) []*Tensor {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	ts, _, err := ReadSafetensors(f, path)
	if err != nil {
		t.Fatal(err)
	}
	return ts
}

// hfDir writes a Hugging Face-style directory built from the reference
// fixture src (testdata/ref/...), after editing its config and tensors.
func hfDir(t *testing.T, src string, editCfg func(map[string]any), editTensors func([]*Tensor) []*Tensor) string {
	t.Helper()
	dir := t.TempDir()
	raw, err := os.ReadFile(filepath.Join(src, "config.json"))
	if err != nil {
		t.Fatal(err)
	}
	var cfg map[string]any
	if err := json.Unmarshal(raw, &cfg); err != nil {
		t.Fatal(err)
	}
	if editCfg != nil {
		editCfg(cfg)
	}
	raw, _ = json.Marshal(cfg)
	if err := os.WriteFile(filepath.Join(dir, "config.json"), raw, 0o644); err != nil {
		t.Fatal(err)
	}
	ts := readST(t, filepath.Join(src, "model.safetensors"))
	if editTensors != nil {
		ts = editTensors(ts)
	}
	var buf bytes.Buffer
	if err := WriteSafetensors(&buf, ts, nil); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "model.safetensors"), buf.Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}
	return dir
}

// checkWeights requires every tensor of the file to sit, unchanged, in the
// model parameter of its (normalised) name.
func checkWeights(t *testing.T, m *model.Model, file []*Tensor, task string) {
	t.Helper()
	for _, x := range file {
		name := strings.TrimPrefix(x.Name, "bert.")
		name = strings.Replace(strings.Replace(name, "LayerNorm.gamma", "LayerNorm.weight", 1), "LayerNorm.beta", "LayerNorm.bias", 1)
		if strings.HasPrefix(name, "classifier.") {
			name = "heads." + task + "." + name
		}
		p := m.Param(name)
		if p == nil {
			t.Fatalf("tensor %s: no model parameter %s", x.Name, name)
		}
		for i := range x.Data {
			if p.W[i] != x.Data[i] {
				t.Fatalf("%s[%d] = %g, file has %g", name, i, p.W[i], x.Data[i])
			}
		}
	}
}

func TestImportReferenceArchitectures(t *testing.T) {
	for _, c := range []struct {
		dir, task string
		kind      model.HeadKind
		labels    int
		note      bool
	}{
		{"testdata/ref", "", "", 0, false},
		{"testdata/ref/seq-cls", "seq-cls", model.SequenceClassification, 3, false},
		{"testdata/ref/tok-cls", "tok-cls", model.TokenClassification, 5, true},
	} {
		var warn bytes.Buffer
		m, meta, err := LoadWith(LocalDir(c.dir), Options{Warn: &warn})
		if err != nil {
			t.Fatalf("%s: %v", c.dir, err)
		}
		heads := m.Heads()
		if c.kind == "" {
			if len(heads) != 0 || len(meta.Tasks) != 0 {
				t.Errorf("%s: BertModel import has heads %v", c.dir, heads)
			}
		} else {
			if len(heads) != 1 || heads[0].Task != c.task || heads[0].Kind != c.kind || heads[0].NumLabels != c.labels {
				t.Errorf("%s: heads %+v", c.dir, heads)
			}
			if len(meta.Tasks) != 1 || meta.Tasks[0].Name != c.task || len(meta.Tasks[0].Labels) != c.labels || meta.Tasks[0].Labels[1] != "LABEL_1" {
				t.Errorf("%s: tasks %+v", c.dir, meta.Tasks)
			}
		}
		if meta.Vocab != nil || meta.MaxSeqLen != 32 || !meta.Lowercase || meta.Extra["imported_from"] != "huggingface" {
			t.Errorf("%s: meta %+v", c.dir, meta)
		}
		if got := strings.Contains(warn.String(), "has no pooler"); got != c.note {
			t.Errorf("%s: pooler note %v, want %v (%q)", c.dir, got, c.note, warn.String())
		}
		checkWeights(t, m, readST(t, filepath.Join(c.dir, "model.safetensors")), c.task)
	}
}

// TestImportOldNamesAndTaskName: no "bert." prefix, LayerNorm gamma/beta,
// a position_ids buffer, and a caller-given task name.
func TestImportOldNamesAndTaskName(t *testing.T) {
	var renamed []*Tensor
	dir := hfDir(t, "testdata/ref/tok-cls", nil, func(ts []*Tensor) []*Tensor {
		for _, x := range ts {
			y := *x
			y.Name = strings.TrimPrefix(y.Name, "bert.")
			y.Name = strings.Replace(strings.Replace(y.Name, "LayerNorm.weight", "LayerNorm.gamma", 1), "LayerNorm.bias", "LayerNorm.beta", 1)
			renamed = append(renamed, &y)
		}
		return append(renamed, &Tensor{Name: "embeddings.position_ids", DType: "F32", Shape: []int{1, 32}, Data: make([]float32, 32)})
	})
	m, meta, err := LoadWith(LocalDir(dir), Options{TaskName: "ner", Warn: &bytes.Buffer{}})
	if err != nil {
		t.Fatal(err)
	}
	if meta.Tasks[0].Name != "ner" || m.Heads()[0].Task != "ner" {
		t.Errorf("task %+v", meta.Tasks)
	}
	checkWeights(t, m, renamed, "ner")
}

// TestImportRegression: a one-label BertForSequenceClassification is a
// regression model in transformers (problem_type unset), so it imports as a
// sequence_regression head without labels.
func TestImportRegression(t *testing.T) {
	dir := hfDir(t, "testdata/ref/seq-cls", func(c map[string]any) {
		delete(c, "id2label")
		delete(c, "label2id")
	}, func(ts []*Tensor) []*Tensor {
		for _, x := range ts {
			if x.Name == "classifier.weight" {
				x.Shape[0], x.Data = 1, x.Data[:x.Shape[1]]
			} else if x.Name == "classifier.bias" {
				x.Shape[0], x.Data = 1, x.Data[:1]
			}
		}
		return ts
	})
	m, meta, err := LoadWith(LocalDir(dir), Options{TaskName: "stsb"})
	if err != nil {
		t.Fatal(err)
	}
	if h := m.Heads()[0]; h.Kind != model.SequenceRegression || h.NumLabels != 1 || meta.Tasks[0].Type != "sequence_regression" || meta.Tasks[0].Labels != nil {
		t.Errorf("head %+v, task %+v", h, meta.Tasks[0])
	}
}

func TestImportRefusals(t *testing.T) {
	drop := func(name string) func([]*Tensor) []*Tensor {
		return func(ts []*Tensor) []*Tensor {
			var out []*Tensor
			for _, x := range ts {
				if x.Name != name {
					out = append(out, x)
				}
			}
			return out
		}
	}
	for _, c := range []struct {
		name    string
		src     string
		cfg     func(map[string]any)
		tensors func([]*Tensor) []*Tensor
		opt     Options
		want    []string
	}{
		{"shape vs config", "testdata/ref/seq-cls", func(c map[string]any) { c["intermediate_size"] = 48 }, nil, Options{},
			[]string{"tensor bert.encoder.layer.0.intermediate.dense.weight has shape [64 32]", "needs [48 32]", "intermediate_size 48"}},
		{"vocab_size vs embeddings", "testdata/ref", func(c map[string]any) { c["vocab_size"] = 100 }, nil, Options{},
			[]string{"tensor embeddings.word_embeddings.weight has shape [120 32]", "needs [100 32]"}},
		{"missing tensor", "testdata/ref/seq-cls", nil, drop("bert.encoder.layer.1.output.dense.bias"), Options{},
			[]string{"1 tensors the model needs are missing", "encoder.layer.1.output.dense.bias"}},
		{"sequence head needs pooler", "testdata/ref/seq-cls", nil, drop("bert.pooler.dense.weight"), Options{},
			[]string{"missing", "pooler.dense.weight"}},
		{"unknown tensor", "testdata/ref", nil, func(ts []*Tensor) []*Tensor {
			return append(ts, &Tensor{Name: "cls.predictions.bias", Shape: []int{120}, Data: make([]float32, 120)})
		}, Options{}, []string{"have no place in the model: cls.predictions.bias", "Options.IgnoreTensors"}},
		{"unknown prefixed tensor", "testdata/ref/seq-cls", nil, func(ts []*Tensor) []*Tensor {
			return append(ts, &Tensor{Name: "cls.seq_relationship.bias", Shape: []int{2}, Data: make([]float32, 2)})
		}, Options{}, []string{"tensor cls.seq_relationship.bias has no place"}},
		{"classifier without architecture", "testdata/ref/seq-cls", func(c map[string]any) { delete(c, "architectures") }, nil, Options{},
			[]string{"names no architecture", "BertForSequenceClassification"}},
		{"other architecture", "testdata/ref", func(c map[string]any) { c["architectures"] = []string{"BertForQuestionAnswering"} }, nil, Options{},
			[]string{`architecture "BertForQuestionAnswering" cannot be imported`}},
		{"id2label count", "testdata/ref/tok-cls", func(c map[string]any) { c["id2label"] = map[string]string{"0": "O"} }, nil, Options{},
			[]string{"id2label has 1 labels but classifier.weight has 5 rows"}},
		{"not bert", "testdata/ref", func(c map[string]any) { c["model_type"] = "roberta" }, nil, Options{},
			[]string{`model_type "roberta"`}},
	} {
		dir := hfDir(t, c.src, c.cfg, c.tensors)
		_, _, err := LoadWith(LocalDir(dir), c.opt)
		for _, w := range c.want {
			if err == nil || !strings.Contains(err.Error(), w) {
				t.Errorf("%s: err = %v\nwant it to contain %q", c.name, err, w)
			}
		}
	}
	// The same unknown tensors load when listed as expected.
	dir := hfDir(t, "testdata/ref/seq-cls", nil, func(ts []*Tensor) []*Tensor {
		return append(ts, &Tensor{Name: "cls.seq_relationship.bias", Shape: []int{2}, Data: make([]float32, 2)},
			&Tensor{Name: "bert.extra", Shape: []int{2}, Data: make([]float32, 2)})
	})
	if _, _, err := LoadWith(LocalDir(dir), Options{IgnoreTensors: []string{"cls.", "extra"}}); err != nil {
		t.Errorf("with IgnoreTensors: %v", err)
	}
}

// TestImportTokenizerConfig: casing and length come from
// tokenizer_config.json, including transformers' huge "no limit" length.
func TestImportTokenizerConfig(t *testing.T) {
	for _, c := range []struct {
		json      string
		lowercase bool
		maxLen    int
	}{
		{`{"do_lower_case": false, "model_max_length": 1000000000000000019884624838656}`, false, 32},
		{`{"model_max_length": 24}`, true, 24},
		{`{"do_lower_case": true, "model_max_length": 512}`, true, 32},
	} {
		dir := hfDir(t, "testdata/ref", nil, nil)
		os.WriteFile(filepath.Join(dir, "tokenizer_config.json"), []byte(c.json), 0o644)
		_, meta, err := Load(LocalDir(dir))
		if err != nil || meta.Lowercase != c.lowercase || meta.MaxSeqLen != c.maxLen {
			t.Errorf("%s: lowercase %v max %d, err %v; want %v %d", c.json, meta.Lowercase, meta.MaxSeqLen, err, c.lowercase, c.maxLen)
		}
	}
}

func TestImportVocabSizeChecks(t *testing.T) {
	write := func(n int) string {
		dir := hfDir(t, "testdata/ref", nil, nil)
		var lines []string
		for i := 0; i < n; i++ {
			lines = append(lines, "tok"+string(rune('a'+i%26))+strings.Repeat("x", i/26))
		}
		os.WriteFile(filepath.Join(dir, "vocab.txt"), []byte(strings.Join(lines, "\n")+"\n"), 0o644)
		return dir
	}
	_, meta, err := LoadWith(LocalDir(write(120)), Options{})
	if err != nil || len(meta.Vocab) != 120 || meta.Vocab[119] != "tokpxxxx" {
		t.Errorf("matching vocab: %v, %d entries", err, len(meta.Vocab))
	}
	_, _, err = LoadWith(LocalDir(write(110)), Options{AllowVocabTruncation: true})
	if err == nil || !strings.Contains(err.Error(), "vocab.txt has 110 entries but config.json vocab_size is 120") {
		t.Errorf("short vocab: %v", err)
	}
	_, _, err = LoadWith(LocalDir(write(123)), Options{})
	if err == nil || !strings.Contains(err.Error(), "vocab.txt has 123 entries but config.json vocab_size is 120") || !strings.Contains(err.Error(), "--allow-vocab-truncation") {
		t.Errorf("long vocab: %v", err)
	}
}

// TestImportCamphr loads the real Hugging Face BertForTokenClassification
// fixture (pytorch_model.bin only, vocab.txt longer than vocab_size).
func TestImportCamphr(t *testing.T) {
	dir := "testdata/tiny_bert_camphr_ner"
	_, _, err := Load(LocalDir(dir))
	for _, w := range []string{"vocab.txt has 405 entries but config.json vocab_size is 402", "ids 402..404", "--allow-vocab-truncation"} {
		if err == nil || !strings.Contains(err.Error(), w) {
			t.Errorf("default load: err = %v\nwant it to contain %q", err, w)
		}
	}
	var warn bytes.Buffer
	m, meta, err := LoadWith(LocalDir(dir), Options{AllowVocabTruncation: true, Warn: &warn})
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(warn.String(), "WARNING") || !strings.Contains(warn.String(), "keeping only the first 402") {
		t.Errorf("no truncation warning: %q", warn.String())
	}
	if len(meta.Vocab) != 402 || meta.Vocab[100] != "[UNK]" || meta.Vocab[401] != "Ι" {
		t.Errorf("vocab: %d entries, [100]=%q [401]=%q", len(meta.Vocab), meta.Vocab[100], meta.Vocab[401])
	}
	wantLabels := []string{"O", "B-MISC", "I-MISC", "B-PER", "I-PER", "B-ORG", "I-ORG", "B-LOC", "I-LOC"}
	task := meta.Tasks[0]
	if task.Name != "tiny_bert_camphr_ner" || task.Type != "token_classification" || task.TagScheme != "iob2" || strings.Join(task.Labels, ",") != strings.Join(wantLabels, ",") {
		t.Errorf("task %+v", task)
	}
	if !meta.Lowercase || meta.MaxSeqLen != 16 {
		t.Errorf("lowercase %v, max_seq_len %d", meta.Lowercase, meta.MaxSeqLen)
	}
	c := m.Config()
	if c.HiddenSize != 16 || c.NumHiddenLayers != 1 || c.NumAttentionHeads != 1 || c.IntermediateSize != 64 || c.VocabSize != 402 {
		t.Errorf("config %+v", c)
	}
	bin, err := readPytorch(dir+"/pytorch_model.bin", "bin")
	if err != nil {
		t.Fatal(err)
	}
	var weights []*Tensor
	for _, x := range bin {
		if x.Data != nil {
			weights = append(weights, x)
		}
	}
	checkWeights(t, m, weights, "tiny_bert_camphr_ner")

	// Through a non-local FS: pytorch_model.bin goes through a temp file.
	mem := memFS{}
	for _, f := range []string{"config.json", "pytorch_model.bin", "vocab.txt", "tokenizer_config.json"} {
		b, err := os.ReadFile(filepath.Join(dir, f))
		if err != nil {
			t.Fatal(err)
		}
		mem[f] = b
	}
	m2, _, err := LoadWith(mem, Options{AllowVocabTruncation: true, TaskName: "ner", Warn: &bytes.Buffer{}})
	if err != nil {
		t.Fatal(err)
	}
	checkWeights(t, m2, weights, "ner")
}

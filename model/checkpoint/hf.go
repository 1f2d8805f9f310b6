package checkpoint

import (
	"cmp"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"path"
	"strconv"
	"strings"

	"github.com/taskweave/taskweave/model"
)

// hfConfig holds the Hugging Face config.json keys the importer reads
// beyond model.Config.
type hfConfig struct {
	Architectures         []string          `json:"architectures"`
	ModelType             string            `json:"model_type"`
	ID2Label              map[string]string `json:"id2label"`
	ProblemType           string            `json:"problem_type"`
	PositionEmbeddingType string            `json:"position_embedding_type"`
}

// importHF loads a Hugging Face BertModel, BertForSequenceClassification or
// BertForTokenClassification directory: config.json, model.safetensors or
// pytorch_model.bin, vocab.txt (optional: without it Meta.Vocab is empty and
// the model can only serve as initial weights), tokenizer_config.json
// (optional; do_lower_case defaults to true as in BertTokenizer).
func importHF(fs FS, where string, raw []byte, opt Options) (*model.Model, Meta, error) {
	im := &hfImport{fs: fs, where: where, opt: opt, task: cmp.Or(opt.TaskName, defaultTaskName(fs))}
	if err := im.readConfig(raw); err != nil {
		return nil, Meta{}, err
	}
	tensors, file, err := readHFWeights(fs, where)
	if err != nil {
		return nil, Meta{}, err
	}
	im.file = file
	named, err := im.modelNames(tensors)
	if err != nil {
		return nil, Meta{}, err
	}
	heads, tasks, err := im.heads(named["heads."+im.task+".classifier.weight"])
	if err != nil {
		return nil, Meta{}, err
	}
	m, err := im.build(heads, tensors, named)
	if err != nil {
		return nil, Meta{}, err
	}
	meta, err := im.meta(tasks)
	if err != nil {
		return nil, Meta{}, err
	}
	if _, ok := named["pooler.dense.weight"]; !ok {
		fmt.Fprintf(warnTo(opt), "note: checkpoint %s has no pooler (normal for %s); the pooler keeps its random initialisation\n", where, cmp.Or(im.arch, "BertModel"))
	}
	return m, meta, nil
}

// hfImport is a Hugging Face directory being imported.
type hfImport struct {
	fs    FS
	where string
	opt   Options
	task  string // the name a classifier head is imported under
	cfg   model.Config
	hc    hfConfig
	arch  string // config.json's first architecture ("" if none)
	file  string // the weights file read
}

// readConfig parses config.json over BERT's defaults for the keys old
// configs leave out, and refuses models other than absolute-position BERT.
func (im *hfImport) readConfig(raw []byte) error {
	im.cfg = model.Config{TypeVocabSize: 2, LayerNormEps: 1e-12, HiddenAct: "gelu", MaxPositionEmbeddings: 512}
	if err := json.Unmarshal(raw, &im.cfg); err != nil {
		return fmt.Errorf("checkpoint %s: %s: %w", im.where, ConfigFile, err)
	}
	if err := json.Unmarshal(raw, &im.hc); err != nil {
		return fmt.Errorf("checkpoint %s: %s: %w", im.where, ConfigFile, err)
	}
	if mt := im.hc.ModelType; mt != "" && mt != "bert" {
		return fmt.Errorf("checkpoint %s: %s has model_type %q; only BERT (\"bert\") checkpoints can be imported", im.where, ConfigFile, mt)
	}
	if pt := im.hc.PositionEmbeddingType; pt != "" && pt != "absolute" {
		return fmt.Errorf("checkpoint %s: %s has position_embedding_type %q; only \"absolute\" is supported", im.where, ConfigFile, pt)
	}
	if len(im.hc.Architectures) > 0 {
		im.arch = im.hc.Architectures[0]
	}
	return nil
}

// modelNames maps the file's tensor names to the model's: the bert.
// prefix dropped, old LayerNorm gamma/beta renamed, a classifier put under
// the task's head, buffers and ignored tensors left out.
func (im *hfImport) modelNames(tensors []*Tensor) (map[string]*Tensor, error) {
	prefixed := false
	for _, t := range tensors {
		if strings.HasPrefix(t.Name, "bert.") {
			prefixed = true
			break
		}
	}
	ignore := im.opt.IgnoreTensors
	named := map[string]*Tensor{}
	for _, t := range tensors {
		name := t.Name
		if prefixed {
			if !strings.HasPrefix(name, "bert.") && !strings.HasPrefix(name, "classifier.") && !ignored(name, ignore) {
				return nil, fmt.Errorf("%s: tensor %s has no place in the model (expected bert.… or classifier.…); if it is expected, list it in Options.IgnoreTensors", im.file, name)
			}
			name = strings.TrimPrefix(name, "bert.")
		}
		if strings.Contains(name, "LayerNorm.") {
			name = strings.Replace(name, "LayerNorm.gamma", "LayerNorm.weight", 1)
			name = strings.Replace(name, "LayerNorm.beta", "LayerNorm.bias", 1)
		}
		switch {
		case name == "embeddings.position_ids":
			continue // a buffer (0..max_position-1), not a weight
		case ignored(name, ignore):
			continue
		case name == "classifier.weight" || name == "classifier.bias":
			name = "heads." + im.task + "." + name
		}
		if prev, dup := named[name]; dup {
			return nil, fmt.Errorf("%s: tensors %s and %s are the same parameter %s", im.file, prev.Name, t.Name, name)
		}
		named[name] = t
	}
	return named, nil
}

// heads declares the head the architecture has (none for an encoder) from
// its classifier cls.
func (im *hfImport) heads(cls *Tensor) ([]model.HeadSpec, []TaskInfo, error) {
	switch im.arch {
	case "BertModel", "", "BertForMaskedLM", "BertForPreTraining":
		// A pre-trained encoder: its pre-training heads (cls.…) are left
		// out by the caller (Options.IgnoreTensors), as model.init does.
		if cls != nil {
			return nil, nil, fmt.Errorf("checkpoint %s: %s names no architecture (or BertModel) but %s has a classifier; set architectures to BertForSequenceClassification or BertForTokenClassification", im.where, ConfigFile, im.file)
		}
		return nil, nil, nil
	case "BertForSequenceClassification", "BertForTokenClassification":
		h, info, err := im.classifierHead(cls)
		if err != nil {
			return nil, nil, err
		}
		return []model.HeadSpec{h}, []TaskInfo{info}, nil
	}
	return nil, nil, fmt.Errorf("checkpoint %s: %s architecture %q cannot be imported; use BertModel, BertForMaskedLM, BertForPreTraining (their cls.… heads ignored), BertForSequenceClassification or BertForTokenClassification (or list the extra tensors in Options.IgnoreTensors and set architectures to BertModel)", im.where, ConfigFile, im.arch)
}

// classifierHead is a sequence or token classifier's head, its labels from
// id2label: a one-label sequence model is a regression (Hugging Face trains
// it with MSE) unless problem_type says otherwise.
func (im *hfImport) classifierHead(cls *Tensor) (model.HeadSpec, TaskInfo, error) {
	if cls == nil {
		return model.HeadSpec{}, TaskInfo{}, fmt.Errorf("%s: %s has no classifier.weight", im.file, im.arch)
	}
	H := im.cfg.HiddenSize
	if len(cls.Shape) != 2 || cls.Shape[1] != H {
		return model.HeadSpec{}, TaskInfo{}, fmt.Errorf("%s: tensor %s has shape %v; a classifier over hidden_size %d needs [num_labels %d]", im.file, cls.Name, cls.Shape, H, H)
	}
	n := cls.Shape[0]
	labels, err := hfLabels(im.hc.ID2Label, n, im.where)
	if err != nil {
		return model.HeadSpec{}, TaskInfo{}, err
	}
	info := TaskInfo{Name: im.task, Labels: labels}
	kind := model.TokenClassification
	if im.arch == "BertForSequenceClassification" {
		kind = model.SequenceClassification
		if im.hc.ProblemType == "regression" || (im.hc.ProblemType == "" && n == 1) {
			kind, info.Labels = model.SequenceRegression, nil
		}
	} else {
		info.TagScheme = guessTagScheme(labels)
	}
	info.Type = string(kind)
	return model.HeadSpec{Task: im.task, Kind: kind, NumLabels: n}, info, nil
}

// build checks config.json's sizes against the weights, builds the model
// and assigns them.
func (im *hfImport) build(heads []model.HeadSpec, tensors []*Tensor, named map[string]*Tensor) (*model.Model, error) {
	if err := checkSizes(im.cfg, model.Sharing{}, tensors, im.where, im.file); err != nil {
		return nil, err
	}
	m, err := model.New(im.cfg, heads, 0)
	if err != nil {
		return nil, fmt.Errorf("checkpoint %s: %s: %w", im.where, ConfigFile, err)
	}
	// BertForTokenClassification is built without a pooler
	// (add_pooling_layer=False), so a token or bare model may lack one; a
	// sequence head reads the pooler and needs it.
	optional := map[string]bool{}
	if len(heads) == 0 || heads[0].Kind == model.TokenClassification {
		optional["pooler.dense.weight"], optional["pooler.dense.bias"] = true, true
	}
	return m, assign(m, named, im.file, optional, im.cfg)
}

// meta describes the import: casing and length from tokenizer_config.json
// when there is one, the vocabulary when there is one.
func (im *hfImport) meta(tasks []TaskInfo) (Meta, error) {
	meta := Meta{Lowercase: true, MaxSeqLen: im.cfg.MaxPositionEmbeddings, Tasks: tasks,
		Extra: map[string]any{"imported_from": "huggingface", "architecture": cmp.Or(im.arch, "BertModel"), "weights_file": path.Base(im.file)}}
	if err := im.readTokenizerConfig(&meta); err != nil {
		return Meta{}, err
	}
	b, err := readAll(im.fs, VocabFile)
	switch {
	case err == nil:
		if meta.Vocab, err = vocabFor(b, im.cfg.VocabSize, im.where, im.opt); err != nil {
			return Meta{}, err
		}
	case isNotExist(err):
		// Weights only: usable as initial weights with the trainer's vocabulary.
	default:
		return Meta{}, fmt.Errorf("checkpoint %s: %w", im.where, err)
	}
	return meta, nil
}

// readTokenizerConfig applies tokenizer_config.json's do_lower_case and a
// model_max_length below the position table, if the file exists.
func (im *hfImport) readTokenizerConfig(meta *Meta) error {
	b, err := readAll(im.fs, TokenizerConfigFile)
	if isNotExist(err) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("checkpoint %s: %w", im.where, err)
	}
	var tc struct {
		DoLowerCase *bool `json:"do_lower_case"`
		// float: transformers writes 1e30-ish "no limit" values here.
		ModelMaxLength *float64 `json:"model_max_length"`
	}
	if err := json.Unmarshal(b, &tc); err != nil {
		return fmt.Errorf("checkpoint %s: %s: %w", im.where, TokenizerConfigFile, err)
	}
	if tc.DoLowerCase != nil {
		meta.Lowercase = *tc.DoLowerCase
	}
	if tc.ModelMaxLength != nil && *tc.ModelMaxLength > 0 && *tc.ModelMaxLength < float64(meta.MaxSeqLen) {
		meta.MaxSeqLen = int(*tc.ModelMaxLength)
	}
	return nil
}

// readHFWeights reads model.safetensors, or else pytorch_model.bin.
func readHFWeights(fs FS, where string) ([]*Tensor, string, error) {
	r, err := fs.Open(WeightsFile)
	if err == nil {
		defer r.Close()
		ts, _, err := ReadSafetensors(r, where+"/"+WeightsFile)
		return ts, where + "/" + WeightsFile, err
	}
	if !isNotExist(err) {
		return nil, "", fmt.Errorf("checkpoint %s: %w", where, err)
	}
	file := where + "/" + pytorchFile
	if ld, ok := fs.(localDir); ok {
		p := ld.path(pytorchFile)
		if _, err := os.Stat(p); err != nil {
			return nil, "", fmt.Errorf("checkpoint %s: neither %s nor %s found", where, WeightsFile, pytorchFile)
		}
		ts, err := readPytorch(p, file)
		return ts, file, err
	}
	// gopickle opens files by name: copy a remote file to a temporary one.
	r, err = fs.Open(pytorchFile)
	if err != nil {
		if isNotExist(err) {
			return nil, "", fmt.Errorf("checkpoint %s: neither %s nor %s found", where, WeightsFile, pytorchFile)
		}
		return nil, "", fmt.Errorf("checkpoint %s: %w", where, err)
	}
	defer r.Close()
	tmp, err := os.CreateTemp("", "taskweave-pytorch-*.bin")
	if err != nil {
		return nil, "", err
	}
	defer os.Remove(tmp.Name())
	_, err = io.Copy(tmp, r)
	if cerr := tmp.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return nil, "", fmt.Errorf("checkpoint %s: copying %s: %w", where, pytorchFile, err)
	}
	ts, err := readPytorch(tmp.Name(), file)
	return ts, file, err
}

func ignored(name string, ignore []string) bool {
	for _, ig := range ignore {
		if name == ig || (strings.HasSuffix(ig, ".") && strings.HasPrefix(name, ig)) {
			return true
		}
	}
	return false
}

// hfLabels turns id2label into a label list, or LABEL_i names without one.
func hfLabels(id2label map[string]string, n int, where string) ([]string, error) {
	labels := make([]string, n)
	if len(id2label) == 0 {
		for i := range labels {
			labels[i] = "LABEL_" + strconv.Itoa(i)
		}
		return labels, nil
	}
	if len(id2label) != n {
		return nil, fmt.Errorf("checkpoint %s: config.json id2label has %d labels but classifier.weight has %d rows", where, len(id2label), n)
	}
	for k, v := range id2label {
		i, err := strconv.Atoi(k)
		if err != nil || i < 0 || i >= n {
			return nil, fmt.Errorf("checkpoint %s: config.json id2label key %q is not a label id 0..%d", where, k, n-1)
		}
		labels[i] = v
	}
	return labels, nil
}

// guessTagScheme reports iob2 for B-/I- entity labels (what Hugging Face
// token classifiers are trained on) and none otherwise.
func guessTagScheme(labels []string) string {
	for _, l := range labels {
		if strings.HasPrefix(l, "B-") || strings.HasPrefix(l, "I-") {
			return "iob2"
		}
	}
	return "none"
}

// defaultTaskName names an imported head after its directory.
func defaultTaskName(fs FS) string {
	_, named := fs.(interface{ Base() string })
	if _, ok := fs.(fmt.Stringer); ok || named {
		d := strings.TrimRight(strings.ReplaceAll(dirName(fs), "\\", "/"), "/")
		if b := path.Base(d); b != "." && b != "/" && b != "" && !strings.HasSuffix(b, ":") {
			return b
		}
	}
	return "classifier"
}

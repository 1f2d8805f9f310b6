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
	// BERT's defaults for keys old configs leave out.
	cfg := model.Config{TypeVocabSize: 2, LayerNormEps: 1e-12, HiddenAct: "gelu", MaxPositionEmbeddings: 512}
	var hc hfConfig
	if err := json.Unmarshal(raw, &cfg); err != nil {
		return nil, Meta{}, fmt.Errorf("checkpoint %s: %s: %w", where, ConfigFile, err)
	}
	if err := json.Unmarshal(raw, &hc); err != nil {
		return nil, Meta{}, fmt.Errorf("checkpoint %s: %s: %w", where, ConfigFile, err)
	}
	if hc.ModelType != "" && hc.ModelType != "bert" {
		return nil, Meta{}, fmt.Errorf("checkpoint %s: %s has model_type %q; only BERT (\"bert\") checkpoints can be imported", where, ConfigFile, hc.ModelType)
	}
	if hc.PositionEmbeddingType != "" && hc.PositionEmbeddingType != "absolute" {
		return nil, Meta{}, fmt.Errorf("checkpoint %s: %s has position_embedding_type %q; only \"absolute\" is supported", where, ConfigFile, hc.PositionEmbeddingType)
	}

	tensors, file, err := readHFWeights(fs, where)
	if err != nil {
		return nil, Meta{}, err
	}
	// Map file names to model names.
	prefixed := false
	for _, t := range tensors {
		if strings.HasPrefix(t.Name, "bert.") {
			prefixed = true
			break
		}
	}
	task := opt.TaskName
	if task == "" {
		task = defaultTaskName(fs)
	}
	named := map[string]*Tensor{}
	for _, t := range tensors {
		name := t.Name
		if prefixed {
			if !strings.HasPrefix(name, "bert.") && !strings.HasPrefix(name, "classifier.") && !ignored(name, opt.IgnoreTensors) {
				return nil, Meta{}, fmt.Errorf("%s: tensor %s has no place in the model (expected bert.… or classifier.…); if it is expected, list it in Options.IgnoreTensors", file, name)
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
		case ignored(name, opt.IgnoreTensors):
			continue
		case name == "classifier.weight" || name == "classifier.bias":
			name = "heads." + task + "." + name
		}
		if prev, dup := named[name]; dup {
			return nil, Meta{}, fmt.Errorf("%s: tensors %s and %s are the same parameter %s", file, prev.Name, t.Name, name)
		}
		named[name] = t
	}

	arch := ""
	if len(hc.Architectures) > 0 {
		arch = hc.Architectures[0]
	}
	cls := named["heads."+task+".classifier.weight"]
	var heads []model.HeadSpec
	var tasks []TaskInfo
	switch arch {
	case "BertModel", "", "BertForMaskedLM", "BertForPreTraining":
		// A pre-trained encoder: its pre-training heads (cls.…) are left
		// out by the caller (Options.IgnoreTensors), as model.init does.
		if cls != nil {
			return nil, Meta{}, fmt.Errorf("checkpoint %s: %s names no architecture (or BertModel) but %s has a classifier; set architectures to BertForSequenceClassification or BertForTokenClassification", where, ConfigFile, file)
		}
	case "BertForSequenceClassification", "BertForTokenClassification":
		if cls == nil {
			return nil, Meta{}, fmt.Errorf("%s: %s has no classifier.weight", file, arch)
		}
		if len(cls.Shape) != 2 || cls.Shape[1] != cfg.HiddenSize {
			return nil, Meta{}, fmt.Errorf("%s: tensor %s has shape %v; a classifier over hidden_size %d needs [num_labels %d]", file, cls.Name, cls.Shape, cfg.HiddenSize, cfg.HiddenSize)
		}
		n := cls.Shape[0]
		labels, err := hfLabels(hc.ID2Label, n, where)
		if err != nil {
			return nil, Meta{}, err
		}
		info := TaskInfo{Name: task, Labels: labels}
		kind := model.TokenClassification
		if arch == "BertForSequenceClassification" {
			kind = model.SequenceClassification
			if hc.ProblemType == "regression" || (hc.ProblemType == "" && n == 1) {
				// Hugging Face trains one-label sequence models with MSE.
				kind, info.Labels = model.SequenceRegression, nil
			}
		} else {
			info.TagScheme = guessTagScheme(labels)
		}
		info.Type = string(kind)
		heads = append(heads, model.HeadSpec{Task: task, Kind: kind, NumLabels: n})
		tasks = append(tasks, info)
	default:
		return nil, Meta{}, fmt.Errorf("checkpoint %s: %s architecture %q cannot be imported; use BertModel, BertForMaskedLM, BertForPreTraining (their cls.… heads ignored), BertForSequenceClassification or BertForTokenClassification (or list the extra tensors in Options.IgnoreTensors and set architectures to BertModel)", where, ConfigFile, arch)
	}
	if err := checkSizes(cfg, model.Sharing{}, tensors, where, file); err != nil {
		return nil, Meta{}, err
	}
	m, err := model.New(cfg, heads, 0)
	if err != nil {
		return nil, Meta{}, fmt.Errorf("checkpoint %s: %s: %w", where, ConfigFile, err)
	}
	// BertForTokenClassification is built without a pooler
	// (add_pooling_layer=False), so a token or bare model may lack one; a
	// sequence head reads the pooler and needs it.
	optional := map[string]bool{}
	if len(heads) == 0 || heads[0].Kind == model.TokenClassification {
		optional["pooler.dense.weight"], optional["pooler.dense.bias"] = true, true
	}
	if err := assign(m, named, file, optional, cfg); err != nil {
		return nil, Meta{}, err
	}

	meta := Meta{Lowercase: true, MaxSeqLen: cfg.MaxPositionEmbeddings, Tasks: tasks,
		Extra: map[string]any{"imported_from": "huggingface", "architecture": cmp.Or(arch, "BertModel"), "weights_file": path.Base(file)}}
	if b, err := readAll(fs, TokenizerConfigFile); err == nil {
		var tc struct {
			DoLowerCase *bool `json:"do_lower_case"`
			// float: transformers writes 1e30-ish "no limit" values here.
			ModelMaxLength *float64 `json:"model_max_length"`
		}
		if err := json.Unmarshal(b, &tc); err != nil {
			return nil, Meta{}, fmt.Errorf("checkpoint %s: %s: %w", where, TokenizerConfigFile, err)
		}
		if tc.DoLowerCase != nil {
			meta.Lowercase = *tc.DoLowerCase
		}
		if tc.ModelMaxLength != nil && *tc.ModelMaxLength > 0 && *tc.ModelMaxLength < float64(meta.MaxSeqLen) {
			meta.MaxSeqLen = int(*tc.ModelMaxLength)
		}
	} else if !isNotExist(err) {
		return nil, Meta{}, fmt.Errorf("checkpoint %s: %w", where, err)
	}
	b, err := readAll(fs, VocabFile)
	switch {
	case err == nil:
		if meta.Vocab, err = vocabFor(b, cfg.VocabSize, where, opt); err != nil {
			return nil, Meta{}, err
		}
	case isNotExist(err):
		// Weights only: usable as initial weights with the trainer's vocabulary.
	default:
		return nil, Meta{}, fmt.Errorf("checkpoint %s: %w", where, err)
	}
	if _, ok := named["pooler.dense.weight"]; !ok {
		fmt.Fprintf(warnTo(opt), "note: checkpoint %s has no pooler (normal for %s); the pooler keeps its random initialisation\n", where, cmp.Or(arch, "BertModel"))
	}
	return m, meta, nil
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

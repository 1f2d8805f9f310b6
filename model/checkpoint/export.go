package checkpoint

import (
	"bufio"
	"fmt"
	"io"
	"slices"

	"github.com/taskweave/taskweave/model"
)

// ExportHF writes one task of m as a plain Hugging Face directory that
// transformers and taskweave's importer load: config.json (architectures
// BertForSequenceClassification — problem_type regression for a regression
// head — or BertForTokenClassification, id2label/label2id), model.safetensors
// (bert.… encoder tensors, classifier.…), vocab.txt and tokenizer_config.json.
//
// The task's own path is folded into the plain architecture where it can
// be: low-rank factors are merged into their matrices (W + A·B), and a head
// that reads layer k < L becomes an encoder of k layers (the layers above
// never reach it). Layer attention, adapters and mixture-of-experts layers
// have no place in BertFor…Classification, so a task that uses them is
// refused with the reason.
func ExportHF(fs FS, m *model.Model, meta Meta, task string) error {
	head, err := exportedHead(m, task)
	if err != nil {
		return err
	}
	layers := m.Config().NumHiddenLayers
	if head.Layer > 0 {
		layers = head.Layer
	}
	info, _ := meta.Task(task)
	tensors := hfTensors(m, head, layers)
	return writeHF(fs, tensors, meta, exportConfig(m.Config(), head, info.Labels, layers))
}

// exportedHead finds task's head, or says why it cannot be exported.
func exportedHead(m *model.Model, task string) (model.HeadSpec, error) {
	var head *model.HeadSpec
	var names []string
	for _, h := range m.Heads() {
		names = append(names, h.Task)
		if h.Task == task {
			h := h
			head = &h
		}
	}
	if head == nil {
		return model.HeadSpec{}, fmt.Errorf("export: the model has no task %q; its tasks: %v", task, names)
	}
	ts, sh := head.Sharing, m.Sharing()
	switch {
	case head.Kind == model.MaskedLM:
		return *head, fmt.Errorf("export: task %q is a masked-LM head; Hugging Face export serves classification and regression heads", task)
	case ts.LayerAttention:
		return *head, fmt.Errorf("export: task %q reads a learned mix of every layer (layer_attention); BertFor…Classification reads only the top layer, so this task cannot be exported; serve it with taskweave predict", task)
	case ts.Adapter > 0:
		return *head, fmt.Errorf("export: task %q has adapters in every layer; BertModel has no place for them, so this task cannot be exported; serve it with taskweave predict", task)
	case sh.Experts > 0:
		return *head, fmt.Errorf("export: the encoder's top %d layers are mixtures of %d experts; BertModel's layers have one FFN, so no task of this model can be exported; serve it with taskweave predict", sh.ExpertLayers, sh.Experts)
	}
	return *head, nil
}

// exportConfig is the exported config.json: BERT's keys for an encoder of
// `layers` layers and the head's label maps.
func exportConfig(cfg model.Config, head model.HeadSpec, labels []string, layers int) map[string]any {
	arch := "BertForTokenClassification"
	if head.Kind != model.TokenClassification {
		arch = "BertForSequenceClassification"
	}
	hc := bertConfig(cfg, layers, arch)
	if head.Kind == model.SequenceRegression {
		hc["problem_type"], hc["num_labels"] = "regression", 1
		hc["id2label"], hc["label2id"] = map[string]string{"0": "LABEL_0"}, map[string]int{"LABEL_0": 0}
		return hc
	}
	id2, l2id := map[string]string{}, map[string]int{}
	for i, l := range labels {
		id2[fmt.Sprint(i)], l2id[l] = l, i
	}
	hc["id2label"], hc["label2id"] = id2, l2id
	return hc
}

// hfTensors is the exported weights: the encoder's first `layers` layers
// under bert.… with the task's factors merged, and the head as classifier.….
func hfTensors(m *model.Model, head model.HeadSpec, layers int) []*Tensor {
	var tensors []*Tensor
	add := func(name string, p *model.Param, data []float32) {
		if data == nil {
			data = p.W
		}
		tensors = append(tensors, &Tensor{Name: name, DType: "F32", Shape: p.Shape, Data: data})
	}
	for _, p := range m.EncoderParams() {
		l, mi, kept := encoderSlot(p.Name, layers)
		if !kept || (head.Kind == model.TokenClassification && isPooler(p.Name)) {
			continue // layers above the head's, and the pooler a token model lacks
		}
		var merged []float32
		if mi >= 0 {
			merged = m.Merged(head.Task, l, mi)
		}
		add("bert."+p.Name, p, merged)
	}
	for _, p := range m.HeadParams(head.Task) {
		add(p.Name[len("heads."+head.Task+"."):], p, nil)
	}
	return tensors
}

// bertConfig is a Hugging Face BERT config.json of cfg with layers layers.
func bertConfig(cfg model.Config, layers int, arch string) map[string]any {
	return map[string]any{
		"architectures": []string{arch}, "model_type": "bert", "vocab_size": cfg.VocabSize,
		"hidden_size": cfg.HiddenSize, "num_hidden_layers": layers, "num_attention_heads": cfg.NumAttentionHeads,
		"intermediate_size": cfg.IntermediateSize, "max_position_embeddings": cfg.MaxPositionEmbeddings,
		"type_vocab_size": cfg.TypeVocabSize, "layer_norm_eps": cfg.LayerNormEps, "hidden_act": cfg.HiddenAct,
		"hidden_dropout_prob": cfg.HiddenDropoutProb, "attention_probs_dropout_prob": cfg.AttentionProbsDropoutProb,
		"position_embedding_type": "absolute", "pad_token_id": 0, "initializer_range": 0.02,
	}
}

// writeHF writes a plain Hugging Face directory: the tensors, vocab.txt,
// tokenizer_config.json and, last, config.json hc.
func writeHF(fs FS, tensors []*Tensor, meta Meta, hc map[string]any) error {
	files := []struct {
		name string
		fill func(io.Writer) error
	}{
		{WeightsFile, func(w io.Writer) error {
			return WriteSafetensors(w, tensors, map[string]string{"format": "pt", "writer": "taskweave export"})
		}},
		{VocabFile, func(w io.Writer) error {
			bw := bufio.NewWriter(w)
			for _, tok := range meta.Vocab {
				bw.WriteString(tok + "\n")
			}
			return bw.Flush()
		}},
		{TokenizerConfigFile, jsonFill(map[string]any{"do_lower_case": meta.Lowercase, "tokenizer_class": "BertTokenizer", "model_max_length": meta.MaxSeqLen})},
		{ConfigFile, jsonFill(hc)}, // last: a directory without it is not a checkpoint
	}
	for _, f := range files {
		if _, err := writeFile(fs, f.name, f.fill); err != nil {
			return err
		}
	}
	return nil
}

// encoderSlot parses an encoder parameter name: its layer (-1 outside the
// layers), its factor matrix index (-1 for anything without one, such as
// biases and LayerNorms), and whether a model of `layers` layers keeps it.
func encoderSlot(name string, layers int) (l, mi int, kept bool) {
	var rest string
	if n, _ := fmt.Sscanf(name, "encoder.layer.%d.%s", &l, &rest); n < 2 {
		return -1, -1, true
	}
	mi = -1
	for i, hf := range model.FactorHFNames() {
		if rest == hf+".weight" {
			mi = i
		}
	}
	return l, mi, l < layers
}

func isPooler(name string) bool {
	return slices.Contains([]string{"pooler.dense.weight", "pooler.dense.bias"}, name)
}

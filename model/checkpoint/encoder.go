package checkpoint

import (
	"fmt"
	"strings"

	"github.com/taskweave/taskweave/model"
)

// ExportEncoder writes m's encoder and its masked-LM head as a Hugging Face
// BertForMaskedLM directory, the layout of Google's and Hugging Face's
// pre-trained BERTs: bert.… encoder tensors (the pooler included, as those
// checkpoints carry it), cls.predictions.… (the decoder tied to the word
// embeddings), vocab.txt, tokenizer_config.json and config.json. model.init
// and transformers' BertModel / BertForMaskedLM load it.
func ExportEncoder(fs FS, m *model.Model, meta Meta) error {
	if m.Sharing() != (model.Sharing{}) {
		return fmt.Errorf("export: the model has soft sharing %+v; a pre-trained encoder is one plain BERT", m.Sharing())
	}
	var tensors []*Tensor
	add := func(name string, p *model.Param) {
		tensors = append(tensors, &Tensor{Name: name, DType: "F32", Shape: p.Shape, Data: p.W})
	}
	for _, p := range m.EncoderParams() {
		add("bert."+p.Name, p)
	}
	heads := 0
	for _, h := range m.Heads() {
		if h.Kind != model.MaskedLM {
			continue
		}
		heads++
		for _, p := range m.HeadParams(h.Task) {
			if !strings.HasPrefix(p.Name, "cls.") {
				return fmt.Errorf("export: the masked-LM head's parameter %s is not under cls.", p.Name)
			}
			add(p.Name, p)
		}
	}
	arch := "BertForMaskedLM"
	if heads == 0 {
		arch = "BertModel"
	}
	cfg := m.Config()
	return writeHF(fs, tensors, meta, bertConfig(cfg, cfg.NumHiddenLayers, arch))
}

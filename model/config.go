package model

import (
	"fmt"
	"strings"
)

// Config is the encoder configuration. The JSON keys are Hugging Face's, so a
// BERT config.json decodes into it directly.
type Config struct {
	VocabSize                 int     `json:"vocab_size"`
	HiddenSize                int     `json:"hidden_size"`
	NumHiddenLayers           int     `json:"num_hidden_layers"`
	NumAttentionHeads         int     `json:"num_attention_heads"`
	IntermediateSize          int     `json:"intermediate_size"`
	MaxPositionEmbeddings     int     `json:"max_position_embeddings"`
	TypeVocabSize             int     `json:"type_vocab_size"`
	LayerNormEps              float64 `json:"layer_norm_eps"`
	HiddenDropoutProb         float64 `json:"hidden_dropout_prob"`
	AttentionProbsDropoutProb float64 `json:"attention_probs_dropout_prob"`
	HiddenAct                 string  `json:"hidden_act"`
	// EmbeddingSize is the width of the embeddings when it differs from
	// hidden_size (0 = hidden_size): they are then projected to
	// hidden_size ("embeddings_project", as Hugging Face's ElectraModel),
	// and the masked-LM head maps back to it for the tied decoder. ELECTRA's
	// generator uses it to share the discriminator's wider embeddings.
	EmbeddingSize int `json:"embedding_size,omitempty"`
}

// EmbeddingWidth is the width of the embedding tables: EmbeddingSize, or
// HiddenSize when it is 0.
func (c Config) EmbeddingWidth() int {
	if c.EmbeddingSize > 0 {
		return c.EmbeddingSize
	}
	return c.HiddenSize
}

// sizes are the compact BERT sizes of Turc et al. (2019): layers, hidden, heads.
var sizes = map[string][3]int{
	"tiny":   {2, 128, 2},
	"mini":   {4, 256, 4},
	"small":  {4, 512, 8},
	"medium": {8, 512, 8},
	"base":   {12, 768, 12},
}

// SizeConfig returns the configuration of a named size (tiny, mini, small,
// medium, base) with BERT's defaults for everything else.
func SizeConfig(name string, vocabSize int) (Config, error) {
	s, ok := sizes[name]
	if !ok {
		return Config{}, fmt.Errorf("model: unknown size %q; use one of tiny, mini, small, medium, base", name)
	}
	c := Config{
		VocabSize:                 vocabSize,
		NumHiddenLayers:           s[0],
		HiddenSize:                s[1],
		NumAttentionHeads:         s[2],
		IntermediateSize:          4 * s[1],
		MaxPositionEmbeddings:     512,
		TypeVocabSize:             2,
		LayerNormEps:              1e-12,
		HiddenDropoutProb:         0.1,
		AttentionProbsDropoutProb: 0.1,
		HiddenAct:                 "gelu",
	}
	return c, c.Validate()
}

// Validate reports the first setting the encoder cannot run with.
func (c Config) Validate() error {
	pos := []struct {
		name string
		v    int
	}{
		{"vocab_size", c.VocabSize}, {"hidden_size", c.HiddenSize}, {"num_hidden_layers", c.NumHiddenLayers},
		{"num_attention_heads", c.NumAttentionHeads}, {"intermediate_size", c.IntermediateSize},
		{"max_position_embeddings", c.MaxPositionEmbeddings}, {"type_vocab_size", c.TypeVocabSize},
	}
	for _, p := range pos {
		if p.v <= 0 {
			return fmt.Errorf("model: config %s = %d; it must be positive", p.name, p.v)
		}
	}
	if c.EmbeddingSize < 0 {
		return fmt.Errorf("model: config embedding_size = %d; it must be positive, or 0 for hidden_size", c.EmbeddingSize)
	}
	if c.HiddenSize%c.NumAttentionHeads != 0 {
		return fmt.Errorf("model: config hidden_size %d is not a multiple of num_attention_heads %d", c.HiddenSize, c.NumAttentionHeads)
	}
	if c.LayerNormEps <= 0 {
		return fmt.Errorf("model: config layer_norm_eps = %g; it must be positive (BERT uses 1e-12)", c.LayerNormEps)
	}
	for _, p := range []struct {
		name string
		v    float64
	}{{"hidden_dropout_prob", c.HiddenDropoutProb}, {"attention_probs_dropout_prob", c.AttentionProbsDropoutProb}} {
		if p.v < 0 || p.v >= 1 {
			return fmt.Errorf("model: config %s = %g; it must be in [0, 1)", p.name, p.v)
		}
	}
	if a := strings.ToLower(c.HiddenAct); a != "gelu" && a != "" {
		return fmt.Errorf("model: config hidden_act %q is not supported; only \"gelu\" (exact erf GELU, BERT's) is", c.HiddenAct)
	}
	return nil
}

package checkpoint

import (
	"fmt"

	"github.com/taskweave/taskweave/model"
)

// Start says what a training run starts from: a fresh model of a named size,
// or the encoder of a Hugging Face BERT checkpoint with new task heads.
type Start struct {
	Size    string // model size of a from-scratch model (tiny … base); ignored with Init
	Init    FS     // Hugging Face BERT directory whose encoder weights are copied; nil = from scratch
	Vocab   int    // vocabulary size the data was tokenized with
	Dropout float64
	Seed    uint64 // initialisation of everything not copied, and the dropout stream
	Heads   []model.HeadSpec
}

// NewModel builds the model a training run starts from. With Init, the
// encoder configuration is the checkpoint's (its dropout replaced by
// Dropout), its MLM head is ignored, and its vocabulary must match Vocab.
func NewModel(s Start) (*model.Model, error) {
	if s.Init == nil {
		mc, err := model.SizeConfig(s.Size, s.Vocab)
		if err != nil {
			return nil, err
		}
		mc.HiddenDropoutProb, mc.AttentionProbsDropoutProb = s.Dropout, s.Dropout
		return model.New(mc, s.Heads, s.Seed)
	}
	where := dirName(s.Init)
	src, _, err := LoadWith(s.Init, Options{IgnoreTensors: []string{"cls."}})
	if err != nil {
		return nil, err
	}
	mc := src.Config()
	if mc.VocabSize != s.Vocab {
		return nil, fmt.Errorf("%s has vocab_size %d but the data was tokenized with %d entries; preprocess with this checkpoint's vocab.txt", where, mc.VocabSize, s.Vocab)
	}
	mc.HiddenDropoutProb, mc.AttentionProbsDropoutProb = s.Dropout, s.Dropout
	m, err := model.New(mc, s.Heads, s.Seed)
	if err != nil {
		return nil, err
	}
	if err := ImportEncoder(m, src); err != nil {
		return nil, fmt.Errorf("%s: %w", where, err)
	}
	return m, nil
}

// ImportEncoder copies every encoder parameter of dst (embeddings, layers,
// pooler) from the parameter of the same name in src; heads are left alone.
func ImportEncoder(dst, src *model.Model) error {
	for _, p := range dst.EncoderParams() {
		q := src.Param(p.Name)
		if q == nil || len(q.W) != len(p.W) {
			return fmt.Errorf("encoder parameter %s is missing or of another size", p.Name)
		}
		copy(p.W, q.W)
	}
	return nil
}

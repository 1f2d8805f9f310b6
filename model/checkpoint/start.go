package checkpoint

import (
	"fmt"
	"io"
	"strings"

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
	Sharing model.Sharing // soft sharing (each head's own in Heads)
	// AllowVocabTruncation and Warn are Init's loading options (Options).
	AllowVocabTruncation bool
	Warn                 io.Writer
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
		return model.NewWith(mc, s.Heads, s.Sharing, s.Seed)
	}
	where := dirName(s.Init)
	src, _, err := LoadWith(s.Init, Options{IgnoreTensors: []string{"cls."}, AllowVocabTruncation: s.AllowVocabTruncation, Warn: s.Warn})
	if err != nil {
		return nil, err
	}
	mc := src.Config()
	if mc.VocabSize != s.Vocab {
		return nil, fmt.Errorf("%s has vocab_size %d but the data was tokenized with %d entries; preprocess with this checkpoint's vocab.txt (cut to its first %d lines if it is longer: head -n %d vocab.txt)", where, mc.VocabSize, s.Vocab, mc.VocabSize, mc.VocabSize)
	}
	mc.HiddenDropoutProb, mc.AttentionProbsDropoutProb = s.Dropout, s.Dropout
	m, err := model.NewWith(mc, s.Heads, s.Sharing, s.Seed)
	if err != nil {
		return nil, err
	}
	if err := ImportEncoder(m, src); err != nil {
		return nil, fmt.Errorf("%s: %w", where, err)
	}
	return m, nil
}

// ImportEncoder copies every encoder parameter of dst (embeddings, layers,
// pooler) from the parameter of the same name in src; heads and task
// parameters are left alone. The experts a mixture-of-experts layer adds to
// its FFN (sharing.encoder.layer.<l>.experts.<e>.…) start as copies of the
// layer's FFN, so the imported encoder computes what it did; the task
// gates, initialised at random, then let them drift apart.
func ImportEncoder(dst, src *model.Model) error {
	for _, p := range dst.SharedParams() {
		name := p.Name
		if rest, ok := strings.CutPrefix(name, "sharing."); ok {
			l, e, ok := strings.Cut(rest, ".experts.")
			if !ok {
				continue // a shared factor basis: a task parameter in all but name
			}
			_, sub, _ := strings.Cut(e, ".")
			name = l + "." + sub
		}
		q := src.Param(name)
		if q == nil || len(q.W) != len(p.W) {
			return fmt.Errorf("encoder parameter %s is missing or of another size", name)
		}
		copy(p.W, q.W)
	}
	return nil
}

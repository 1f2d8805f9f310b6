package model

import "errors"

// state holds the activations of the last Forward.
type state struct{}

var errTodo = errors.New("model: not implemented yet")

// Forward runs the encoder and the batch's head. When the batch carries
// labels it also computes the loss and keeps what Backward needs.
func (m *Model) Forward(b *Batch) (*Output, error) { return nil, errTodo }

// Backward adds d(scale·Loss)/dθ of the last Forward into every Param.G.
func (m *Model) Backward(scale float32) error { return errTodo }

// Predict returns logits without dropout: [B,labels] for sequence heads,
// [B,T,labels] for token heads, [B,T,vocab] for masked_lm. The slice is new.
func (m *Model) Predict(b *Batch) ([]float32, error) { return nil, errTodo }

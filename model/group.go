package model

import (
	"errors"
	"fmt"
	"slices"
)

// A group is several tasks labelling the same input (CoNLL-2003's NER, POS
// and chunk columns): ForwardGroup runs the encoder once and every task's
// head on its hidden states, each at its own layer; BackwardGroup runs one
// encoder backward for any weighted sum of the heads' losses. Called with
// one head's weight at a time it gives each task's gradient (PCGrad,
// GradNorm, Auto-λ) from the one forward pass: the activations stay.
//
// Each head keeps its own activations (headAct) and layer-attention mix
// between the calls; ForwardGroup swaps them into m.st around the single-
// head code, so heads.go serves both paths.
type groupState struct {
	valid bool
	heads []*head
	hds   []headAct
	mixes [][]float32
	depth int
	acc   [][]float32 // backward: per hs[l], the heads' gradients that enter there
	dhead []float32
}

// ForwardGroup runs the encoder once on the input the batches share (the
// same B, T, InputIDs, TokenTypeIDs and Mask) and each batch's head on it.
// The heads must run one encoder path: no factors, adapters or experts of
// their own (layer attention is the head's and may differ). Every batch
// needs its labels. Outputs alias the model's buffers until the next
// forward pass.
func (m *Model) ForwardGroup(bs []*Batch) ([]*Output, error) {
	outs, err := m.runGroup(bs, m.training, false)
	if err != nil {
		return nil, err
	}
	m.grp.valid = true
	return outs, nil
}

// PredictGroup is ForwardGroup without dropout or labels: each batch's
// logits as Predict returns them, from one encoder pass. The slices are new.
func (m *Model) PredictGroup(bs []*Batch) ([][]float32, error) {
	outs, err := m.runGroup(bs, false, true)
	if err != nil {
		return nil, err
	}
	logits := make([][]float32, len(outs))
	for i, o := range outs {
		logits[i] = append([]float32(nil), o.Logits...)
	}
	return logits, nil
}

func (m *Model) runGroup(bs []*Batch, training, predict bool) ([]*Output, error) {
	heads, err := m.checkGroup(bs)
	if err != nil {
		return nil, err
	}
	g := &m.grp
	depth := 0
	for _, h := range heads {
		depth = max(depth, h.layer)
		if h.path.mix != nil {
			depth = m.cfg.NumHiddenLayers
		}
	}
	dropout := training && (m.cfg.HiddenDropoutProb > 0 || m.cfg.AttentionProbsDropoutProb > 0)
	m.encode(bs[0], heads[0], depth, training, dropout)
	st := &m.st
	g.heads, g.depth = heads, depth
	for len(g.hds) < len(heads) {
		g.hds = append(g.hds, headAct{})
		g.mixes = append(g.mixes, nil)
	}
	outs := make([]*Output, len(heads))
	for i, h := range heads {
		m.swapHead(i)
		if h.path.mix != nil {
			grow(&st.mix, st.N*m.cfg.HiddenSize)
			mixForward(h.path.mix, st.hs[:depth+1], st.N*m.cfg.HiddenSize, st.mix)
		}
		outs[i], err = m.headForward(bs[i], h, predict)
		hasLoss := st.hd.loss != lossNone
		m.swapHead(i)
		if err != nil {
			return nil, err
		}
		if !hasLoss && !predict {
			return nil, fmt.Errorf("model: group batch for %q has no labels; a group is run to train, every batch needs its labels", h.spec.Task)
		}
	}
	st.head = heads[0]
	return outs, nil
}

// swapHead exchanges head i's saved activations with m.st's, in both
// directions.
func (m *Model) swapHead(i int) {
	g, st := &m.grp, &m.st
	g.hds[i], st.hd = st.hd, g.hds[i]
	g.mixes[i], st.mix = st.mix, g.mixes[i]
}

// checkGroup validates a group's batches and returns their heads.
func (m *Model) checkGroup(bs []*Batch) ([]*head, error) {
	if len(bs) == 0 {
		return nil, errors.New("model: ForwardGroup with no batches")
	}
	heads := make([]*head, len(bs))
	b0 := bs[0]
	for i, b := range bs {
		h, err := m.check(b)
		if err != nil {
			return nil, err
		}
		for _, o := range heads[:i] {
			if o == h {
				return nil, fmt.Errorf("model: group names task %q twice", b.Task)
			}
		}
		if h.path.ownsEncoder() {
			return nil, fmt.Errorf("model: task %q has encoder parameters of its own (factors, adapters or experts); a group runs one encoder pass, train it on its own", b.Task)
		}
		if b.B != b0.B || b.T != b0.T || !slices.Equal(b.InputIDs, b0.InputIDs) ||
			!slices.Equal(b.TokenTypeIDs, b0.TokenTypeIDs) || !slices.Equal(b.Mask, b0.Mask) {
			return nil, fmt.Errorf("model: group batch for %q has other input than the one for %q; a group's batches share B, T, InputIDs, TokenTypeIDs and Mask", b.Task, b0.Task)
		}
		heads[i] = h
	}
	return heads, nil
}

// ownsEncoder reports whether the path changes the encoder itself.
func (p *taskPath) ownsEncoder() bool {
	for _, l := range p.factors {
		for _, f := range l {
			if f != nil {
				return true
			}
		}
	}
	for _, l := range p.adapters {
		if l[0] != nil || l[1] != nil {
			return true
		}
	}
	for _, g := range p.gates {
		if g != nil {
			return true
		}
	}
	return false
}

// BackwardGroup adds d(Σ scales[i]·Loss_i)/dθ of the last ForwardGroup
// into every Param.G: each head's gradient enters the encoder at the
// layer it reads (or at every layer, times its mix weight), and one pass
// down the encoder carries the sum. A head with scale 0 is skipped. It may
// be called again (another set of scales) before the next forward pass.
func (m *Model) BackwardGroup(scales []float32) error {
	g, st := &m.grp, &m.st
	if !g.valid {
		return errors.New("model: BackwardGroup without a preceding ForwardGroup")
	}
	if len(scales) != len(g.heads) {
		return fmt.Errorf("model: BackwardGroup with %d scales for a group of %d heads", len(scales), len(g.heads))
	}
	H, I, N := m.cfg.HiddenSize, m.cfg.IntermediateSize, st.N
	grow(&st.dh, N*H)
	grow(&st.t1, N*H)
	grow(&st.t2, N*H)
	grow(&st.dqkv, 3*N*H)
	grow(&st.di, N*I)
	for len(g.acc) <= g.depth {
		g.acc = append(g.acc, nil)
	}
	used := make([]bool, g.depth+1)
	for l := range used {
		grow(&g.acc[l], N*H)
	}
	for i, h := range g.heads {
		if scales[i] != 0 {
			m.headGradient(i, h, scales[i], used)
		}
	}
	st.head = g.heads[0]
	dh := st.dh[:N*H]
	clear(dh)
	for l := g.depth; ; l-- {
		if used[l] {
			axpy(1, g.acc[l][:N*H], dh)
		}
		if l == 0 {
			break
		}
		m.layerBackward(l - 1)
	}
	m.embeddingsBackward()
	return nil
}

// headGradient runs head i's backward and adds the gradient of its input
// into g.acc at the layers it read, marking them used.
func (m *Model) headGradient(i int, h *head, scale float32, used []bool) {
	g, st := &m.grp, &m.st
	N := st.N * m.cfg.HiddenSize
	m.swapHead(i)
	defer m.swapHead(i)
	st.head = h
	m.headBackward(scale)
	add := func(l int, c float32, x []float32) {
		if !used[l] {
			clear(g.acc[l][:N])
			used[l] = true
		}
		axpy(c, x, g.acc[l][:N])
	}
	if h.path.mix == nil {
		add(h.layer, 1, st.dh[:N])
		return
	}
	dmix := grow(&st.dmix, N)
	copy(dmix, st.dh[:N])
	coef := mixBackward(h.path.mix, st.hs[:g.depth+1], N, dmix)
	for l := 0; l <= g.depth; l++ {
		add(l, coef[l], dmix)
	}
}

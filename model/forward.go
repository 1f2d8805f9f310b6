package model

import (
	"errors"
	"fmt"

	"github.com/taskweave/taskweave/model/kernels"
)

// layerAct holds what one encoder layer keeps for its backward pass.
type layerAct struct {
	qkv              []float32 // [N,3H]: Q, K and V side by side (row r's Q at 3H·r, K at 3H·r+H, V at 3H·r+2H)
	p, pdrop, ctx    []float32
	dropA, dropF     []float32 // hidden dropout masks (nil when off)
	xhat1, rstd1, h1 []float32
	u, g             []float32 // GELU's derivative at the intermediate (see geluForward), its output
	xhat2, rstd2     []float32

	// soft sharing (sharing.go): adapters, experts
	ad  [2]adapterAct
	moe moeAct
}

// state holds the activations of the last Forward and the scratch buffers.
type state struct {
	B, T, N   int
	depth     int // layers run
	head      *head
	valid     bool
	hasLoss   bool
	dropoutOn bool

	mask  []int32
	xhat0 []float32
	emb   []float32 // [N,E] the embeddings before embeddings_project (nil without one)
	demb  []float32 // backward: their gradient
	rstd0 []float32
	drop0 []float32
	hs    [][]float32 // hs[0] embeddings output, hs[l] output of layer l
	acts  []layerAct

	hd     headAct
	tmpH   []float32 // [N,H] scratch
	dh     []float32 // backward: gradient flowing down
	t1, t2 []float32
	dqkv   []float32 // [N,3H], laid out as layerAct.qkv
	di     []float32

	attnTmp [][2][]float32
	ids     []int32
	types   []int32

	// soft sharing scratch
	mix        []float32 // [N,H] the layer-attention mix the head reads
	dmix       []float32
	merged     []*factorScratch // per factor matrix: W_t, dW_t of the layer being run
	qkvScratch factorScratch    // Q, K and V stacked with the task's factors merged (qkvMerged)
	dad, dye   []float32        // [N,H]
	dag        []float32        // [N,adapter]
}

// resize makes every buffer fit a B×T batch through depth layers.
func (m *Model) resize(B, T, depth int, dropout bool) {
	st := &m.st
	H, I, A := m.cfg.HiddenSize, m.cfg.IntermediateSize, m.cfg.NumAttentionHeads
	N := B * T
	st.B, st.T, st.N, st.depth, st.dropoutOn = B, T, N, depth, dropout
	if cap(st.mask) < N {
		st.mask = make([]int32, N)
	}
	st.mask = st.mask[:N]
	E := m.cfg.EmbeddingWidth()
	grow(&st.xhat0, N*E)
	grow(&st.rstd0, N)
	if m.proj != nil {
		grow(&st.emb, N*E)
	}
	for len(st.hs) <= depth {
		st.hs = append(st.hs, nil)
	}
	for l := 0; l <= depth; l++ {
		grow(&st.hs[l], N*H)
	}
	for len(st.acts) < depth {
		st.acts = append(st.acts, layerAct{})
	}
	for l := 0; l < depth; l++ {
		a := &st.acts[l]
		for _, b := range []*[]float32{&a.ctx, &a.xhat1, &a.h1, &a.xhat2} {
			grow(b, N*H)
		}
		grow(&a.qkv, 3*N*H)
		grow(&a.rstd1, N)
		grow(&a.rstd2, N)
		grow(&a.u, N*I)
		grow(&a.g, N*I)
		grow(&a.p, B*A*T*T)
		if dropout {
			grow(&a.pdrop, B*A*T*T)
			grow(&a.dropA, N*H)
			grow(&a.dropF, N*H)
		}
	}
	if dropout {
		grow(&st.drop0, N*E)
	}
	grow(&st.tmpH, N*H)
}

// check validates a batch against the model and returns its head.
func (m *Model) check(b *Batch) (*head, error) {
	if b == nil {
		return nil, errors.New("model: nil batch")
	}
	h, ok := m.byTask[b.Task]
	if !ok {
		return nil, fmt.Errorf("model: batch for task %q, but the model has no head for it; declare it in the heads", b.Task)
	}
	N := b.B * b.T
	if b.B <= 0 || b.T <= 0 {
		return nil, fmt.Errorf("model: batch for %q has B=%d T=%d; both must be positive", b.Task, b.B, b.T)
	}
	if b.T > m.cfg.MaxPositionEmbeddings {
		return nil, fmt.Errorf("model: batch for %q has T=%d > max_position_embeddings %d; truncate the sequences", b.Task, b.T, m.cfg.MaxPositionEmbeddings)
	}
	lens := []struct {
		name string
		got  int
		want int
		opt  bool
	}{
		{"InputIDs", len(b.InputIDs), N, false}, {"TokenTypeIDs", len(b.TokenTypeIDs), N, true},
		{"Mask", len(b.Mask), N, true}, {"Labels", len(b.Labels), b.B, true},
		{"Targets", len(b.Targets), b.B, true}, {"TokenLabels", len(b.TokenLabels), N, true},
	}
	for _, l := range lens {
		if l.got != l.want && !(l.opt && l.got == 0) {
			return nil, fmt.Errorf("model: batch for %q: %s has %d values, want B*T=%d or B=%d as documented", b.Task, l.name, l.got, N, b.B)
		}
	}
	for i, id := range b.InputIDs {
		if id < 0 || int(id) >= m.cfg.VocabSize {
			return nil, fmt.Errorf("model: batch for %q: input id %d at position %d is outside the vocabulary [0,%d)", b.Task, id, i, m.cfg.VocabSize)
		}
	}
	for i, t := range b.TokenTypeIDs {
		if t < 0 || int(t) >= m.cfg.TypeVocabSize {
			return nil, fmt.Errorf("model: batch for %q: token type %d at position %d is outside [0,%d)", b.Task, t, i, m.cfg.TypeVocabSize)
		}
	}
	return h, nil
}

// Forward runs the encoder and the batch's head. When the batch carries
// labels (Labels, Targets or TokenLabels, as the head needs) it also computes
// the loss, and Backward may follow.
func (m *Model) Forward(b *Batch) (*Output, error) {
	h, err := m.check(b)
	if err != nil {
		return nil, err
	}
	return m.run(b, h, m.training, false)
}

// Predict returns logits without dropout: [B,labels] for sequence heads,
// [B,T,labels] for token heads, [B,T,vocab] for masked_lm. The slice is new.
func (m *Model) Predict(b *Batch) ([]float32, error) {
	h, err := m.check(b)
	if err != nil {
		return nil, err
	}
	out, err := m.run(b, h, false, true)
	if err != nil {
		return nil, err
	}
	m.st.valid = false
	return append([]float32(nil), out.Logits...), nil
}

func (m *Model) run(b *Batch, h *head, training, predict bool) (*Output, error) {
	dropout := training && (m.cfg.HiddenDropoutProb > 0 || m.cfg.AttentionProbsDropoutProb > 0)
	depth := h.layer
	if h.path.mix != nil {
		depth = m.cfg.NumHiddenLayers
	}
	m.encode(b, h, depth, training, dropout)
	st := &m.st
	if h.path.mix != nil {
		grow(&st.mix, st.N*m.cfg.HiddenSize)
		mixForward(h.path.mix, st.hs[:depth+1], st.N*m.cfg.HiddenSize, st.mix)
	}
	out, err := m.headForward(b, h, predict)
	if err != nil {
		return nil, err
	}
	st.valid = true
	st.hasLoss = st.hd.loss != lossNone
	return out, nil
}

// encode runs the embeddings and depth encoder layers on b's input along
// h's path (its factors, adapters and gates), leaving hs[0..depth] for the
// heads to read.
func (m *Model) encode(b *Batch, h *head, depth int, training, dropout bool) {
	m.encodes.Add(1)
	m.resize(b.B, b.T, depth, dropout)
	m.mix.newEpoch()
	st := &m.st
	st.valid, st.head = false, h
	m.grp.valid = false
	for i := range st.mask {
		st.mask[i] = 1
		if b.Mask != nil {
			st.mask[i] = b.Mask[i]
		}
	}
	// st.ids, not b.InputIDs, feeds the embedding lookup and its backward:
	// token dropout rewrites the copy.
	st.ids = append(st.ids[:0], b.InputIDs...)
	if training && m.tokDrop.p > 0 {
		m.dropTokens(st.ids, st.mask)
	}
	m.embeddingsForward(b)
	for l := 0; l < depth; l++ {
		m.layerForward(l)
	}
}

// Backward adds d(scale·Loss)/dθ of the last Forward into every Param.G.
func (m *Model) Backward(scale float32) error {
	st := &m.st
	if !st.valid {
		return errors.New("model: Backward without a preceding Forward of a labelled batch")
	}
	if !st.hasLoss {
		return fmt.Errorf("model: the last batch (task %q) had no labels, so there is no loss to differentiate", st.head.spec.Task)
	}
	H, I := m.cfg.HiddenSize, m.cfg.IntermediateSize
	N := st.N
	grow(&st.dh, N*H)
	grow(&st.t1, N*H)
	grow(&st.t2, N*H)
	grow(&st.dqkv, 3*N*H)
	grow(&st.di, N*I)
	m.headBackward(scale)
	var coef []float32 // layer attention: dL/dmix flows into hs[j] times coef[j]
	if mix := st.head.path.mix; mix != nil {
		dmix := grow(&st.dmix, N*H)
		copy(dmix, st.dh[:N*H])
		coef = mixBackward(mix, st.hs[:st.depth+1], N*H, dmix)
		mulScalar(st.dh[:N*H], dmix, coef[st.depth])
	}
	for l := st.depth - 1; l >= 0; l-- {
		m.layerBackward(l)
		if coef != nil {
			axpy(coef[l], st.dmix, st.dh[:N*H])
		}
	}
	m.embeddingsBackward()
	return nil
}

// embeddingsForward sums the word, position and type embeddings of b,
// normalises them (LayerNorm, hidden dropout) and, with an
// embeddings_project, projects them from embedding_size to hidden_size.
func (m *Model) embeddingsForward(b *Batch) {
	st := &m.st
	E, T := m.cfg.EmbeddingWidth(), b.T
	x := st.xhat0
	m.word.rows.prepare(st.ids[:st.N])
	word, pos, typ := m.word.W, m.pos.W, m.typ.W
	kernels.ParallelFor(st.N, rowsPer(E), func(lo, hi int) {
		for r := lo; r < hi; r++ {
			id := int(st.ids[r])
			tt := 0
			if b.TokenTypeIDs != nil {
				tt = int(b.TokenTypeIDs[r])
			}
			t := r % T
			xr := x[r*E : (r+1)*E]
			wr, pr, tr := word[id*E:(id+1)*E], pos[t*E:(t+1)*E], typ[tt*E:(tt+1)*E]
			for j := range xr {
				xr[j] = wr[j] + pr[j] + tr[j]
			}
		}
	})
	out := st.hs[0]
	if m.proj != nil {
		out = st.emb
	}
	layerNormForward(m.eln, x, st.N, st.xhat0, out, st.rstd0)
	if st.dropoutOn && m.cfg.HiddenDropoutProb > 0 {
		m.dropoutMask(st.drop0, m.cfg.HiddenDropoutProb)
		mulInto(out, out, st.drop0)
	}
	if m.proj != nil {
		linearForward(*m.proj, st.emb, st.N, st.hs[0])
	}
	st.types = st.types[:0]
	if b.TokenTypeIDs != nil {
		st.types = append(st.types, b.TokenTypeIDs...)
	}
}

func (m *Model) embeddingsBackward() {
	st := &m.st
	E, T := m.cfg.EmbeddingWidth(), st.T
	d := st.dh
	if m.proj != nil {
		d = grow(&st.demb, st.N*E)
		linearBackward(*m.proj, st.emb, st.dh, st.N, d, false)
	}
	if st.dropoutOn && m.cfg.HiddenDropoutProb > 0 {
		mulInto(d, d, st.drop0)
	}
	layerNormBackward(m.eln, d, st.xhat0, st.rstd0, st.N, d)
	if m.word.Frozen && m.pos.Frozen && m.typ.Frozen {
		return
	}
	wg, pg, tg := m.word.G, m.pos.G, m.typ.G
	for _, id := range st.ids[:st.N] {
		m.word.rows.add(id)
	}
	// Split columns so that repeated ids never race.
	kernels.ParallelFor(E, 16, func(lo, hi int) {
		for r := 0; r < st.N; r++ {
			id, t, tt := int(st.ids[r]), r%T, 0
			if len(st.types) > 0 {
				tt = int(st.types[r])
			}
			dr := d[r*E+lo : r*E+hi]
			w, p, ty := wg[id*E+lo:id*E+hi], pg[t*E+lo:t*E+hi], tg[tt*E+lo:tt*E+hi]
			for j, v := range dr {
				w[j] += v
				p[j] += v
				ty[j] += v
			}
		}
	})
}

func (m *Model) layerForward(l int) {
	st := &m.st
	L, a := m.layers[l], &st.acts[l]
	path := st.head.path
	x, out := st.hs[l], st.hs[l+1]
	N, I := st.N, m.cfg.IntermediateSize
	pd, ph := m.cfg.AttentionProbsDropoutProb, m.cfg.HiddenDropoutProb
	m.qkvForward(l, x, a.qkv)
	var pdrop []float32
	if st.dropoutOn && pd > 0 {
		pdrop = a.pdrop
		m.dropoutMask(pdrop, pd)
	}
	m.attentionForward(a.qkv, a.p, pdrop, a.ctx, st.mask, st.B, st.T)
	// Attention output: LN(x + drop(adapter(ctx·Woᵀ + bo))).
	m.linearForwardPath(l, linAttentionOutput, a.ctx, st.tmpH)
	if path.adapters != nil {
		adapterForward(path.adapters[l][0], st.tmpH, N, &a.ad[0])
	}
	var dropA, dropF []float32
	if st.dropoutOn && ph > 0 {
		dropA, dropF = a.dropA, a.dropF
		m.dropoutMask(dropA, ph)
		m.dropoutMask(dropF, ph)
	}
	addMulInto(a.xhat1, x, st.tmpH, dropA)
	layerNormForward(L.aln, a.xhat1, N, a.xhat1, a.h1, a.rstd1)
	// Feed-forward: LN(h1 + drop(adapter(gelu(h1·Wiᵀ + bi)·Woutᵀ + bout))),
	// or a mixture of experts in the top layers.
	if gate := m.gate(path, l); gate != nil {
		m.moeForward(L, gate, a.h1, N, a.u, a.g, &a.moe, st.tmpH)
		if !m.training {
			path.noteGates(l, a.moe.p, st.mask, len(L.experts)+1)
		}
	} else {
		m.linearForwardPath(l, linFFNIn, a.h1, a.u)
		geluForward(a.u[:N*I], a.g[:N*I])
		m.linearForwardPath(l, linFFNOut, a.g, st.tmpH)
	}
	if path.adapters != nil {
		adapterForward(path.adapters[l][1], st.tmpH, N, &a.ad[1])
	}
	addMulInto(a.xhat2, a.h1, st.tmpH, dropF)
	layerNormForward(L.oln, a.xhat2, N, a.xhat2, out, a.rstd2)
}

// layerBackward turns st.dh = dL/d(output of layer l) into dL/d(its input).
func (m *Model) layerBackward(l int) {
	st := &m.st
	L, a := m.layers[l], &st.acts[l]
	path := st.head.path
	x := st.hs[l]
	N, H := st.N, m.cfg.HiddenSize
	d := st.dh
	drop := st.dropoutOn && m.cfg.HiddenDropoutProb > 0
	var pdrop []float32
	if st.dropoutOn && m.cfg.AttentionProbsDropoutProb > 0 {
		pdrop = a.pdrop
	}
	// Output LayerNorm; d becomes the gradient of h1 + drop(ffn).
	layerNormBackward(L.oln, d, a.xhat2, a.rstd2, N, d)
	dffn := d
	if drop {
		dffn = st.t1
		mulInto(dffn, d, a.dropF)
	}
	if path.adapters != nil {
		adapterBackward(path.adapters[l][1], dffn, N, &a.ad[1], m.adapterScratch(path), grow(&st.dad, N*H))
		dffn = st.dad
	}
	if gate := m.gate(path, l); gate != nil {
		if &dffn[0] == &d[0] { // the experts add into d while they read dffn
			copy(st.t1[:N*H], d[:N*H])
			dffn = st.t1
		}
		m.moeBackward(L, gate, a.h1, dffn, N, a.u, a.g, &a.moe, grow(&st.dye, N*H), st.di, d)
	} else {
		m.linearBackwardPath(l, linFFNOut, a.g, dffn, st.di, false)
		geluBackward(a.u, st.di)
		m.linearBackwardPath(l, linFFNIn, a.h1, st.di, d, true) // d now dL/dh1
	}
	layerNormBackward(L.aln, d, a.xhat1, a.rstd1, N, d)
	datt := d
	if drop {
		datt = st.t1
		mulInto(datt, d, a.dropA)
	}
	if path.adapters != nil {
		adapterBackward(path.adapters[l][0], datt, N, &a.ad[0], m.adapterScratch(path), grow(&st.dad, N*H))
		datt = st.dad
	}
	m.linearBackwardPath(l, linAttentionOutput, a.ctx, datt, st.t2, false)
	m.attentionBackward(a.qkv, a.p, pdrop, st.t2, st.dqkv, st.B, st.T)
	m.qkvBackward(l, x, st.dqkv, d)
}

// gate returns the task's MoE gate of layer l, or nil below the expert layers.
func (m *Model) gate(p *taskPath, l int) *linear {
	if p.gates == nil {
		return nil
	}
	return p.gates[l]
}

// adapterScratch returns the [N,adapter] scratch of the adapter backward pass.
func (m *Model) adapterScratch(p *taskPath) []float32 {
	return grow(&m.st.dag, m.st.N*p.adapters[0][0].down.out)
}

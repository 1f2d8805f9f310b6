package model

import (
	"fmt"
	"math"

	"github.com/taskweave/taskweave/model/kernels"
)

type lossKind int

const (
	lossNone lossKind = iota
	lossCE
	lossMSE
	lossBCE // sigmoid cross-entropy of one logit per row (rtd.go)
)

// headAct holds what a head keeps for its backward pass.
type headAct struct {
	loss    lossKind
	rows    int
	nl      int
	count   int
	logits  []float32
	dlogits []float32
	labels  []int32
	targets []float32

	// sequence heads
	cls, pooled, pdrop, pd, dpd, dcls []float32
	// token heads
	tdrop, td []float32
	// masked_lm
	pos                         []int
	x, u, g, xhat, rstd, t, dx2 []float32
}

// headForward runs head h on the encoder's output for batch b and, unless
// predict, sets up its loss from the batch's labels.
func (m *Model) headForward(b *Batch, h *head, predict bool) (*Output, error) {
	hd := &m.st.hd
	src := m.headInput(h)
	hd.loss, hd.count = lossNone, 0
	var err error
	switch h.spec.Kind {
	case SequenceClassification, SequenceRegression:
		err = m.sequenceHeadForward(b, h, src, predict)
	case TokenClassification:
		err = m.tokenHeadForward(b, h, src, predict)
	case MaskedLM:
		err = m.maskedLMHeadForward(b, h, src, predict)
	case ReplacedTokenDetection:
		err = m.rtdHeadForward(b, h, src, predict)
	}
	if err != nil {
		return nil, err
	}
	out := &Output{Logits: hd.logits, NumLabels: hd.nl, Scored: hd.count}
	switch hd.loss {
	case lossCE:
		out.Loss = crossEntropy(hd.logits, hd.labels, hd.rows, hd.nl, hd.count)
	case lossMSE:
		var s float64
		for i := 0; i < hd.rows; i++ {
			d := float64(hd.logits[i]) - float64(hd.targets[i])
			s += d * d
		}
		out.Loss = float32(s / float64(hd.rows))
	case lossBCE:
		out.Loss = binaryCrossEntropy(hd.logits, hd.labels, hd.count)
	}
	return out, nil
}

// headDropout returns x, or x with hidden dropout applied into out (its
// mask kept in mask) while training.
func (m *Model) headDropout(x []float32, mask, out *[]float32) []float32 {
	p := m.cfg.HiddenDropoutProb
	if !m.st.dropoutOn || p <= 0 {
		return x
	}
	grow(mask, len(x))
	grow(out, len(x))
	m.dropoutMask(*mask, p)
	mulInto(*out, x, *mask)
	return *out
}

// sequenceHeadForward: [CLS] → pooler (tanh) → dropout → linear.
func (m *Model) sequenceHeadForward(b *Batch, h *head, src []float32, predict bool) error {
	hd := &m.st.hd
	H, B, T := m.cfg.HiddenSize, m.st.B, m.st.T
	nl := h.cls.out
	grow(&hd.cls, B*H)
	grow(&hd.pooled, B*H)
	for i := 0; i < B; i++ {
		copy(hd.cls[i*H:(i+1)*H], src[i*T*H:i*T*H+H])
	}
	linearForward(m.pooler, hd.cls, B, hd.pooled)
	for i, v := range hd.pooled {
		hd.pooled[i] = float32(math.Tanh(float64(v)))
	}
	x := m.headDropout(hd.pooled, &hd.pdrop, &hd.pd)
	hd.rows, hd.nl = B, nl
	grow(&hd.logits, B*nl)
	linearForward(h.cls, x, B, hd.logits)
	if predict {
		return nil
	}
	if h.spec.Kind == SequenceClassification && b.Labels != nil {
		return hd.setCE(b.Labels, nil, b.Task)
	}
	if h.spec.Kind == SequenceRegression && b.Targets != nil {
		hd.loss, hd.count = lossMSE, B
		hd.targets = append(hd.targets[:0], b.Targets...)
	}
	return nil
}

// tokenHeadForward: dropout → linear on every token.
func (m *Model) tokenHeadForward(b *Batch, h *head, src []float32, predict bool) error {
	hd := &m.st.hd
	N, nl := m.st.N, h.cls.out
	x := m.headDropout(src, &hd.tdrop, &hd.td)
	hd.rows, hd.nl = N, nl
	grow(&hd.logits, N*nl)
	linearForward(h.cls, x, N, hd.logits)
	if !predict && b.TokenLabels != nil {
		return hd.setCE(b.TokenLabels, nil, b.Task)
	}
	return nil
}

// maskedLMHeadForward: on the masked positions (every position when
// predicting), dense → GELU → LayerNorm → the tied word embeddings + bias.
func (m *Model) maskedLMHeadForward(b *Batch, h *head, src []float32, predict bool) error {
	hd := &m.st.hd
	H, N := m.cfg.HiddenSize, m.st.N
	hd.pos = hd.pos[:0]
	for i := 0; i < N; i++ {
		if predict || b.TokenLabels == nil || b.TokenLabels[i] != IgnoreIndex {
			hd.pos = append(hd.pos, i)
		}
	}
	S, V, E := len(hd.pos), m.cfg.VocabSize, m.cfg.EmbeddingWidth()
	grow(&hd.x, S*H)
	for _, buf := range []*[]float32{&hd.u, &hd.g, &hd.xhat, &hd.t} {
		grow(buf, S*E)
	}
	grow(&hd.rstd, S)
	for i, r := range hd.pos {
		copy(hd.x[i*H:(i+1)*H], src[r*H:(r+1)*H])
	}
	linearForward(h.dense, hd.x, S, hd.u)
	geluForward(hd.u, hd.g)
	layerNormForward(h.ln, hd.g, S, hd.xhat, hd.t, hd.rstd)
	hd.rows, hd.nl = S, V
	grow(&hd.logits, S*V)
	bias := h.bias.W
	kernels.ParallelFor(S, rowsPer(V), func(lo, hi int) {
		for r := lo; r < hi; r++ {
			copy(hd.logits[r*V:(r+1)*V], bias)
		}
	})
	m.word.rows.prepare(nil) // the tied decoder reads every row
	kernels.Gemm(false, true, S, V, E, 1, hd.t, E, m.word.W, E, 1, hd.logits, V)
	if !predict && b.TokenLabels != nil {
		return hd.setCE(b.TokenLabels, hd.pos, b.Task)
	}
	return nil
}

// setCE records the labels of every logits row (pos selects them from the
// batch when rows are a subset) and checks their range.
func (hd *headAct) setCE(labels []int32, pos []int, task string) error {
	hd.labels = hd.labels[:0]
	hd.count = 0
	for r := 0; r < hd.rows; r++ {
		i := r
		if pos != nil {
			i = pos[r]
		}
		y := labels[i]
		if y != IgnoreIndex {
			if y < 0 || int(y) >= hd.nl {
				return fmt.Errorf("model: batch for %q: label %d at position %d is outside [0,%d); use -100 for items that are not scored", task, y, i, hd.nl)
			}
			hd.count++
		}
		hd.labels = append(hd.labels, y)
	}
	hd.loss = lossCE
	return nil
}

// crossEntropy is the mean of −log softmax(logits)[y] over rows whose label
// is not IgnoreIndex.
func crossEntropy(logits []float32, labels []int32, rows, nl, count int) float32 {
	if count == 0 {
		return 0
	}
	var total float64
	for r := 0; r < rows; r++ {
		if y := labels[r]; y != IgnoreIndex {
			row := logits[r*nl : (r+1)*nl]
			total += kernels.LogSumExp(row) - float64(row[y])
		}
	}
	return float32(total / float64(count))
}

// lossGrad writes d(scale·loss)/dlogits into hd.dlogits.
func (hd *headAct) lossGrad(scale float32) {
	rows, nl := hd.rows, hd.nl
	d := grow(&hd.dlogits, rows*nl)
	switch hd.loss {
	case lossMSE:
		for i := 0; i < rows; i++ {
			d[i] = scale * 2 * (hd.logits[i] - hd.targets[i]) / float32(rows)
		}
	case lossBCE:
		bceGrad(d, hd.logits, hd.labels, scale/float32(max(hd.count, 1)))
	case lossCE:
		c := scale / float32(max(hd.count, 1))
		kernels.ParallelFor(rows, rowsPer(nl), func(lo, hi int) {
			for r := lo; r < hi; r++ {
				dr := d[r*nl : (r+1)*nl]
				y := hd.labels[r]
				if y == IgnoreIndex {
					clear(dr)
					continue
				}
				copy(dr, hd.logits[r*nl:(r+1)*nl])
				kernels.Softmax(dr, nl, nl, c)
				dr[y] -= c
			}
		})
	}
}

// headBackward sets st.dh to d(scale·loss)/d(hidden states the head read)
// and adds the head's parameter gradients.
func (m *Model) headBackward(scale float32) {
	st := &m.st
	hd := &st.hd
	h := st.head
	H, B, T, N := m.cfg.HiddenSize, st.B, st.T, st.N
	drop := st.dropoutOn && m.cfg.HiddenDropoutProb > 0
	hd.lossGrad(scale)
	switch h.spec.Kind {
	case SequenceClassification, SequenceRegression:
		x := hd.pooled
		if drop {
			x = hd.pd
		}
		grow(&hd.dpd, B*H)
		grow(&hd.dcls, B*H)
		linearBackward(h.cls, x, hd.dlogits, B, hd.dpd, false)
		if drop {
			mulInto(hd.dpd, hd.dpd, hd.pdrop)
		}
		for i, y := range hd.pooled {
			hd.dpd[i] *= 1 - y*y
		}
		linearBackward(m.pooler, hd.cls, hd.dpd, B, hd.dcls, false)
		clear(st.dh)
		for i := 0; i < B; i++ {
			copy(st.dh[i*T*H:i*T*H+H], hd.dcls[i*H:(i+1)*H])
		}
	case TokenClassification:
		x := m.headInput(h)
		if drop {
			x = hd.td
		}
		linearBackward(h.cls, x, hd.dlogits, N, st.dh, false)
		if drop {
			mulInto(st.dh, st.dh, hd.tdrop)
		}
	case ReplacedTokenDetection:
		m.rtdHeadBackward(h)
	case MaskedLM:
		S, V, E := hd.rows, hd.nl, m.cfg.EmbeddingWidth()
		colSumAdd(hd.dlogits, S, V, h.bias.G)
		if !m.word.Frozen {
			kernels.Gemm(true, false, V, E, S, 1, hd.dlogits, V, hd.t, E, 1, m.word.G, E)
			m.word.rows.addAll() // the tied decoder's gradient reaches every row
		}
		dt := grow(&hd.dx2, S*E)
		kernels.Gemm(false, false, S, E, V, 1, hd.dlogits, V, m.word.W, E, 0, dt, E)
		layerNormBackward(h.ln, dt, hd.xhat, hd.rstd, S, dt)
		geluBackward(hd.u, dt)
		clear(st.dh)
		dx := st.t1[:S*H]
		linearBackward(h.dense, hd.x, dt, S, dx, false)
		for i, r := range hd.pos {
			copy(st.dh[r*H:(r+1)*H], dx[i*H:(i+1)*H])
		}
	}
}

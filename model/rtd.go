package model

import (
	"fmt"
	"math"
)

// ELECTRA's replaced-token-detection head (Clark et al. 2020), laid out as
// Hugging Face's ElectraDiscriminatorPredictions: on every token, dense
// (hidden→hidden) → GELU → dense_prediction (hidden→1), one logit of "this
// token was replaced". Its loss is the sigmoid cross-entropy averaged over
// the labelled tokens (TokenLabels 1 = replaced, 0 = original, -100 = not
// scored: padding). No dropout: the paper's head has none.

// rtdHeadForward computes the logit of every token of src.
func (m *Model) rtdHeadForward(b *Batch, h *head, src []float32, predict bool) error {
	hd := &m.st.hd
	H, N := m.cfg.HiddenSize, m.st.N
	grow(&hd.u, N*H)
	grow(&hd.g, N*H)
	linearForward(h.dense, src, N, hd.u)
	geluForward(hd.u, hd.g)
	hd.rows, hd.nl = N, 1
	grow(&hd.logits, N)
	linearForward(h.cls, hd.g, N, hd.logits)
	if predict || b.TokenLabels == nil {
		return nil
	}
	hd.labels = hd.labels[:0]
	hd.count = 0
	for i, y := range b.TokenLabels[:N] {
		switch y {
		case 0, 1:
			hd.count++
		case IgnoreIndex:
		default:
			return fmt.Errorf("model: batch for %q: replaced-token label %d at position %d; use 1 (replaced), 0 (original) or -100 (not scored)", b.Task, y, i)
		}
		hd.labels = append(hd.labels, y)
	}
	hd.loss = lossBCE
	return nil
}

// rtdHeadBackward turns hd.dlogits into the head's parameter gradients and
// st.dh, the gradient of every token's hidden state.
func (m *Model) rtdHeadBackward(h *head) {
	st := &m.st
	hd := &st.hd
	H, N := m.cfg.HiddenSize, st.N
	dg := grow(&hd.dx2, N*H)
	linearBackward(h.cls, hd.g, hd.dlogits, N, dg, false)
	geluBackward(hd.u, dg)
	linearBackward(h.dense, m.headInput(h), dg, N, st.dh, false)
}

// binaryCrossEntropy is the mean over labelled rows of
// −[y·log σ(z) + (1−y)·log(1−σ(z))] = softplus(z) − y·z, computed as
// max(z,0) − y·z + log(1+e^−|z|) so that no exp overflows.
func binaryCrossEntropy(logits []float32, labels []int32, count int) float32 {
	if count == 0 {
		return 0
	}
	var total float64
	for r, y := range labels {
		if y == IgnoreIndex {
			continue
		}
		z := float64(logits[r])
		total += math.Max(z, 0) - float64(y)*z + math.Log1p(math.Exp(-math.Abs(z)))
	}
	return float32(total / float64(count))
}

// bceGrad writes d = c·(σ(z) − y) on labelled rows and 0 elsewhere.
func bceGrad(d, logits []float32, labels []int32, c float32) {
	for r, y := range labels {
		if y == IgnoreIndex {
			d[r] = 0
			continue
		}
		d[r] = c * (float32(sigmoid(float64(logits[r]))) - float32(y))
	}
}

// sigmoid is 1/(1+e^−z), without overflow for large |z|.
func sigmoid(z float64) float64 {
	if z >= 0 {
		return 1 / (1 + math.Exp(-z))
	}
	e := math.Exp(z)
	return e / (1 + e)
}

package model

import "github.com/taskweave/taskweave/internal/rng"

// Token dropout replaces input tokens by [UNK] at random while training, so
// that a model trained from scratch cannot lean on memorised rare word
// pieces and must read context and spelling instead (the UNK replacement of
// Lample et al. 2016 for NER, applied per word piece). The draw comes from
// the dropout stream, so a resumed run replaces the same tokens.

// SetTokenDropout makes training forwards replace each real (unmasked)
// token with unk with probability p, except the ids in keep ([CLS], [SEP],
// [PAD], …). p = 0 turns it off. Predict and evaluation forwards are never
// affected.
func (m *Model) SetTokenDropout(p float64, unk int32, keep ...int32) {
	m.tokDrop = tokenDropout{p: p, unk: unk, keep: map[int32]bool{}}
	for _, k := range keep {
		m.tokDrop.keep[k] = true
	}
}

type tokenDropout struct {
	p    float64
	unk  int32
	keep map[int32]bool
}

// dropTokens rewrites ids (a copy of the batch's input ids) in place.
func (m *Model) dropTokens(ids, mask []int32) {
	td := &m.tokDrop
	key := m.nextKey()
	threshold := uint64(td.p * (1 << 32))
	for i, id := range ids {
		if mask[i] == 0 || td.keep[id] {
			continue
		}
		if rng.Mix(key+uint64(i)*rng.Gamma)>>32 < threshold {
			ids[i] = td.unk
		}
	}
}

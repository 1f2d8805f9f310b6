// Package masking draws BERT's masked-language-model corruption of word
// pieces (Devlin et al. 2019): each eligible piece is chosen with
// probability Prob (15%); a chosen piece becomes [MASK] 80% of the time, a
// random word piece 10% of the time and stays as it is 10% of the time,
// and its original id becomes the label the MLM head is scored on. With
// WholeWord, words are chosen instead of pieces (a word is a piece plus the
// "##" continuation pieces after it) and all of a chosen word's pieces are
// labelled, each corrupted 80/10/10 on its own.
//
// Every draw comes from the *rand.Rand the caller passes, so masks are a
// pure function of its seed: the trainer seeds one generator per batch
// from (run seed, task, batch number), which makes masking dynamic (a new
// mask each epoch) and a resumed run draw the same masks. Evaluation (the
// trainer's dev evaluation and `taskweave evaluate`) masks each example
// with ExampleRNG instead, so its masked pieces depend on the example alone.
package masking

import (
	"fmt"
	"hash/fnv"
	"math/rand/v2"
	"strings"

	"github.com/taskweave/taskweave/model"
)

// The corruption of a chosen piece.
const (
	Prob        = 0.15 // share of eligible pieces (or words) chosen
	MaskShare   = 0.8  // chosen pieces replaced by [MASK]
	RandomShare = 0.1  // chosen pieces replaced by a random word piece; the rest stay
)

// EvalSeed seeds the evaluation masks: each example's mask is drawn from
// (EvalSeed, its task and id), so every evaluation of a run, every run, and
// evaluate's batch job score the same masked pieces whatever the batching.
const EvalSeed = 0x65766d61736b

// ExampleRNG is the generator of one evaluation example's mask. task is the
// task the row belongs to (for a masked LM over other tasks' text, the
// source task the row was read from), id its example id.
func ExampleRNG(task, id string) *rand.Rand {
	h := fnv.New64a()
	h.Write([]byte(task))
	h.Write([]byte{0})
	h.Write([]byte(id))
	return rand.New(rand.NewPCG(EvalSeed, h.Sum64()))
}

// Masker masks sequences of ids of one vocabulary.
type Masker struct {
	maskID    int32
	special   []bool // never chosen: [CLS], [SEP], [PAD], [MASK], [UNK], [unused…]
	cont      []bool // "##" continuation piece
	random    []int32
	wholeWord bool
	allMask   bool // ReplaceAll
}

// ReplaceAll makes every chosen piece [MASK]: no random or kept pieces.
// ELECTRA's generator input is built so (Clark et al. 2020, section 2:
// the masked-out positions are replaced by [MASK]); the discriminator then
// learns from the generator's samples, not from 10% random pieces.
func (m *Masker) ReplaceAll() { m.allMask = true }

// New prepares a Masker for vocab (in id order). It needs a [MASK] entry.
func New(vocab []string, wholeWord bool) (*Masker, error) {
	m := &Masker{maskID: -1, special: make([]bool, len(vocab)), cont: make([]bool, len(vocab)), wholeWord: wholeWord}
	for i, w := range vocab {
		switch {
		case len(w) > 2 && w[0] == '[' && w[len(w)-1] == ']':
			m.special[i] = true
			if w == "[MASK]" {
				m.maskID = int32(i)
			}
		default:
			m.cont[i] = strings.HasPrefix(w, "##")
			m.random = append(m.random, int32(i))
		}
	}
	if m.maskID < 0 {
		return nil, fmt.Errorf("masking: the vocabulary has no [MASK] entry; a masked_lm task needs a BERT vocabulary with [MASK]")
	}
	if len(m.random) == 0 {
		return nil, fmt.Errorf("masking: the vocabulary has only special entries")
	}
	return m, nil
}

// Row masks one sequence in place: ids holds its real (unpadded) pieces and
// labels, of the same length, receives the original id of every chosen
// piece and model.IgnoreIndex elsewhere. It returns how many were chosen.
func (m *Masker) Row(ids, labels []int32, rng *rand.Rand) int {
	n := 0
	chosen := false
	for i, id := range ids {
		labels[i] = model.IgnoreIndex
		if m.isSpecial(id) {
			chosen = false
			continue
		}
		// A word's first piece decides for the whole word.
		if !m.wholeWord || !m.cont[id] || i == 0 {
			chosen = rng.Float64() < Prob
		}
		if chosen {
			m.corrupt(ids, labels, i, rng)
			n++
		}
	}
	return n
}

// Force chooses one eligible piece of ids (uniformly) when Row chose none
// in a whole batch, so every masked-LM batch has something to learn from.
// It reports false when ids has no eligible piece.
func (m *Masker) Force(ids, labels []int32, rng *rand.Rand) bool {
	var cand []int
	for i, id := range ids {
		if !m.isSpecial(id) {
			cand = append(cand, i)
		}
	}
	if len(cand) == 0 {
		return false
	}
	m.corrupt(ids, labels, cand[rng.IntN(len(cand))], rng)
	return true
}

func (m *Masker) corrupt(ids, labels []int32, i int, rng *rand.Rand) {
	labels[i] = ids[i]
	if m.allMask {
		ids[i] = m.maskID
		return
	}
	switch u := rng.Float64(); {
	case u < MaskShare:
		ids[i] = m.maskID
	case u < MaskShare+RandomShare:
		ids[i] = m.random[rng.IntN(len(m.random))]
	}
}

func (m *Masker) isSpecial(id int32) bool {
	return id < 0 || int(id) >= len(m.special) || m.special[id]
}

// Batch masks every row of b in place (rows' real lengths from b.Mask) and
// sets b.TokenLabels; if no piece of the batch was chosen it forces one.
// It returns the number of labelled pieces.
func (m *Masker) Batch(b *model.Batch, rng *rand.Rand) int {
	b.TokenLabels = make([]int32, b.B*b.T)
	for i := range b.TokenLabels {
		b.TokenLabels[i] = model.IgnoreIndex
	}
	n := 0
	for r := 0; r < b.B; r++ {
		ids, labels := b.InputIDs[r*b.T:(r+1)*b.T], b.TokenLabels[r*b.T:(r+1)*b.T]
		n += m.Row(ids[:rowLen(b, r)], labels[:rowLen(b, r)], rng)
	}
	for r := 0; n == 0 && r < b.B; r++ {
		l := rowLen(b, r)
		if m.Force(b.InputIDs[r*b.T:r*b.T+l], b.TokenLabels[r*b.T:r*b.T+l], rng) {
			n = 1
		}
	}
	return n
}

// rowLen is row r's real length: batches are right-padded.
func rowLen(b *model.Batch, r int) int {
	if b.Mask == nil {
		return b.T
	}
	n := 0
	for _, v := range b.Mask[r*b.T : (r+1)*b.T] {
		n += int(v)
	}
	return n
}

package model

import (
	"fmt"
	"math"
	"math/rand/v2"
	"slices"
	"strings"

	"github.com/taskweave/taskweave/internal/rules"
	"github.com/taskweave/taskweave/model/kernels"
)

// ELECTRA (Clark et al. 2020): a small generator, trained as a masked LM,
// fills the masked positions with tokens sampled from its softmax; the
// discriminator, the encoder that is kept, learns to tell every token of
// the result whether it is the original or a replacement.
//
// Shapes. The generator has the discriminator's depth and a fraction of its
// width (GeneratorConfig). The two share their embeddings — word, position
// and token type tables and the embeddings' LayerNorm, as the paper's
// implementation does — at the discriminator's width: the generator has
// embedding_size = the discriminator's hidden_size and projects into its
// own width with embeddings_project (as Hugging Face's ElectraModel does),
// and its masked-LM head maps back to that width for the decoder tied to
// the shared word embeddings. The discriminator stays a plain BERT, so it
// exports in the Hugging Face BERT layout.
//
// Names. The shared parameters are the discriminator's (embeddings.…); the
// generator's own are "generator."+ the usual name, so that one optimizer
// and one file hold both models' parameters without a clash.
//
// Loss. L = L_MLM(generator) + λ·L_RTD(discriminator), λ = RTDWeight.
// Sampling is not differentiated: the discriminator's input is data to the
// generator, which learns from its MLM loss alone. A sample equal to the
// original token counts as original.

// ElectraRanges are the allowed values of the pre-training keys ELECTRA
// owns; jobs/spec checks a job against them.
var ElectraRanges = []rules.Range{
	{Key: "pretrain.generator_size", Lo: 0, Hi: 1, LoOpen: true, Note: "the generator's width as a fraction of the discriminator's (ELECTRA: 0.25)"},
	{Key: "pretrain.rtd_weight", Lo: 0, Hi: rules.Inf, LoOpen: true, Note: "λ, the weight of the replaced-token-detection loss (ELECTRA: 50)"},
}

// GeneratorPrefix starts the names of the generator's own parameters.
const GeneratorPrefix = "generator."

// GeneratorConfig is the generator of a discriminator with config disc at
// the given fraction of its width: hidden and intermediate sizes scaled
// (rounded, at least 1), the discriminator's attention-head size kept where
// the width allows (at least one head, and a count that divides the width),
// the same depth, and embedding_size = the discriminator's hidden size.
func GeneratorConfig(disc Config, size float64) (Config, error) {
	if err := rules.Find(ElectraRanges, "pretrain.generator_size").Check("pretrain.generator_size", size); err != nil {
		return Config{}, err
	}
	g := disc
	g.HiddenSize = max(1, int(math.Round(size*float64(disc.HiddenSize))))
	g.IntermediateSize = max(1, int(math.Round(size*float64(disc.IntermediateSize))))
	g.NumAttentionHeads = max(1, g.HiddenSize/(disc.HiddenSize/disc.NumAttentionHeads))
	for g.HiddenSize%g.NumAttentionHeads != 0 {
		g.NumAttentionHeads--
	}
	g.EmbeddingSize = 0
	if g.HiddenSize != disc.EmbeddingWidth() {
		g.EmbeddingSize = disc.EmbeddingWidth()
	}
	return g, g.Validate()
}

// Electra is a generator and a discriminator trained together.
type Electra struct {
	Gen, Disc *Model
	Weight    float32 // λ
	db        Batch   // the discriminator's batch of the last Forward
}

// ElectraStats are the figures of one Forward.
type ElectraStats struct {
	GenLoss, DiscLoss float64
	Masked            int // tokens the generator predicted
	GenCorrect        int // … whose most probable token was the original
	Tokens            int // tokens the discriminator scored (not padding)
	DiscCorrect       int // … it classified right (logit > 0 = replaced)
	Replaced          int // tokens the generator's sample changed
	ReplacedCorrect   int // … the discriminator flagged
}

// Add sums the counts of two Forwards and the losses (callers average).
func (s *ElectraStats) Add(o ElectraStats) {
	s.GenLoss += o.GenLoss
	s.DiscLoss += o.DiscLoss
	s.Masked += o.Masked
	s.GenCorrect += o.GenCorrect
	s.Tokens += o.Tokens
	s.DiscCorrect += o.DiscCorrect
	s.Replaced += o.Replaced
	s.ReplacedCorrect += o.ReplacedCorrect
}

// NewElectra builds the generator of disc, whose one head must be a
// replaced-token-detection head: size is its width fraction, weight λ,
// seed draws its initial weights and seeds its dropout stream. The
// generator's masked-LM head is named after the discriminator's task, so
// one Batch serves both.
func NewElectra(disc *Model, size, weight float64, seed uint64) (*Electra, error) {
	hs := disc.Heads()
	if len(hs) != 1 || hs[0].Kind != ReplacedTokenDetection {
		return nil, fmt.Errorf("model: ELECTRA's discriminator has one %s head; this one has %v", ReplacedTokenDetection, hs)
	}
	if err := rules.Find(ElectraRanges, "pretrain.rtd_weight").Check("pretrain.rtd_weight", weight); err != nil {
		return nil, err
	}
	gc, err := GeneratorConfig(disc.cfg, size)
	if err != nil {
		return nil, err
	}
	gen, err := New(gc, []HeadSpec{{Task: hs[0].Task, Kind: MaskedLM}}, seed)
	if err != nil {
		return nil, err
	}
	gen.shareEmbeddings(disc)
	return &Electra{Gen: gen, Disc: disc, Weight: float32(weight)}, nil
}

// shareEmbeddings makes m use d's embedding tables and LayerNorm (m's
// embedding width is d's hidden size) and names m's own parameters
// GeneratorPrefix+name (so m.HeadParams, which looks for the cls. names,
// finds none: GeneratorParams lists them).
func (m *Model) shareEmbeddings(d *Model) {
	shared := map[*Param]*Param{m.word: d.word, m.pos: d.pos, m.typ: d.typ, m.eln.g: d.eln.g, m.eln.b: d.eln.b}
	m.word, m.pos, m.typ, m.eln.g, m.eln.b = d.word, d.pos, d.typ, d.eln.g, d.eln.b
	m.byName = map[string]*Param{}
	for i, p := range m.params {
		if q, ok := shared[p]; ok {
			m.params[i] = q
		} else {
			p.Name = GeneratorPrefix + p.Name
		}
		m.byName[m.params[i].Name] = m.params[i]
	}
}

// Params are the discriminator's parameters, then the generator's own.
func (e *Electra) Params() []*Param {
	return slices.Concat(e.Disc.Params(), e.GeneratorParams())
}

// GeneratorParams are the generator's own parameters (not the shared
// embeddings).
func (e *Electra) GeneratorParams() []*Param {
	var out []*Param
	for _, p := range e.Gen.Params() {
		if strings.HasPrefix(p.Name, GeneratorPrefix) {
			out = append(out, p)
		}
	}
	return out
}

// ZeroGrad clears both models' gradients.
func (e *Electra) ZeroGrad() {
	e.Gen.ZeroGrad()
	e.Disc.ZeroGrad()
}

// SetTraining switches both models' dropout.
func (e *Electra) SetTraining(on bool) {
	e.Gen.SetTraining(on)
	e.Disc.SetTraining(on)
}

// Forward runs the generator on b (masked input, TokenLabels = the
// original ids of the masked positions), replaces each masked position by
// a token drawn from the generator's softmax with rng, and runs the
// discriminator on the result. Backward may follow.
func (e *Electra) Forward(b *Batch, rng *rand.Rand) (ElectraStats, error) {
	if b.TokenLabels == nil {
		return ElectraStats{}, fmt.Errorf("model: ELECTRA batch for %q has no masked positions (TokenLabels)", b.Task)
	}
	g, err := e.Gen.Forward(b)
	if err != nil {
		return ElectraStats{}, fmt.Errorf("generator: %w", err)
	}
	st := ElectraStats{GenLoss: float64(g.Loss), Masked: g.Scored}
	e.corrupt(b, g.Logits, rng, &st)
	d, err := e.Disc.Forward(&e.db)
	if err != nil {
		return ElectraStats{}, fmt.Errorf("discriminator: %w", err)
	}
	st.DiscLoss = float64(d.Loss)
	for i, y := range e.db.TokenLabels {
		if y == IgnoreIndex {
			continue
		}
		st.Tokens++
		flagged := d.Logits[i] > 0
		if flagged == (y == 1) {
			st.DiscCorrect++
		}
		if y == 1 {
			st.Replaced++
			if flagged {
				st.ReplacedCorrect++
			}
		}
	}
	return st, nil
}

// Backward adds the gradient of scale·(L_MLM + λ·L_RTD) of the last
// Forward; the shared embeddings receive both models' parts.
func (e *Electra) Backward(scale float32) error {
	if err := e.Gen.Backward(scale); err != nil {
		return fmt.Errorf("generator: %w", err)
	}
	if err := e.Disc.Backward(scale * e.Weight); err != nil {
		return fmt.Errorf("discriminator: %w", err)
	}
	return nil
}

// corrupt builds the discriminator's batch: b's tokens with every masked
// position replaced by a sample of the generator's logits (rows in the
// order of the masked positions), labelled 1 where the sample differs from
// the original, 0 on the other real tokens, -100 on padding.
func (e *Electra) corrupt(b *Batch, logits []float32, rng *rand.Rand, st *ElectraStats) {
	N, V := b.B*b.T, e.Gen.cfg.VocabSize
	var pos []int
	for i, y := range b.TokenLabels[:N] {
		if y != IgnoreIndex {
			pos = append(pos, i)
		}
	}
	// The uniforms are drawn in row order first, so the samples do not
	// depend on how the rows are spread over the cores.
	u := make([]float64, len(pos))
	for i := range u {
		u[i] = rng.Float64()
	}
	sample, best := make([]int32, len(pos)), make([]int32, len(pos))
	// A row costs a softmax over the vocabulary; a goroutine takes rows
	// worth about 64k of them, and one vocabulary-sized scratch row.
	kernels.ParallelFor(len(pos), max(1, 1<<16/max(1, V)), func(lo, hi int) {
		p := make([]float32, V)
		for r := lo; r < hi; r++ {
			row := logits[r*V : (r+1)*V]
			best[r] = int32(argmax(row))
			copy(p, row)
			kernels.Softmax(p, V, V, 1)
			sample[r] = inverseCDF(p, u[r])
		}
	})
	db := &e.db
	*db = Batch{Task: b.Task, B: b.B, T: b.T, TokenTypeIDs: b.TokenTypeIDs, Mask: b.Mask,
		InputIDs: append(db.InputIDs[:0], b.InputIDs...), TokenLabels: db.TokenLabels[:0]}
	for i := 0; i < N; i++ {
		y := int32(0)
		if b.Mask != nil && b.Mask[i] == 0 {
			y = IgnoreIndex
		}
		db.TokenLabels = append(db.TokenLabels, y)
	}
	for r, i := range pos {
		orig := b.TokenLabels[i]
		db.InputIDs[i] = sample[r]
		if sample[r] != orig {
			db.TokenLabels[i] = 1
		}
		if best[r] == orig {
			st.GenCorrect++
		}
	}
}

// inverseCDF returns the first index whose cumulative probability exceeds
// u (the last index with probability left, when rounding leaves the sum
// short of u).
func inverseCDF(p []float32, u float64) int32 {
	var c float64
	last := 0
	for j, v := range p {
		if v > 0 {
			last = j
		}
		c += float64(v)
		if c > u {
			return int32(j)
		}
	}
	return int32(last)
}

func argmax(row []float32) int {
	k := 0
	for j, v := range row {
		if v > row[k] {
			k = j
		}
	}
	return k
}

package model

import (
	"math"
	"math/rand/v2"
	"strings"
	"testing"
)

// rtdBatch is fdBatch's tokens with replaced-token labels: 1 and 0 on real
// tokens, -100 on padding and on one real token (not scored).
func rtdBatch() *Batch {
	b := fdBatch("rtd")
	b.TokenLabels = []int32{0, 1, 0, 0, 1, -100, 1, 0, 0, 0, -100, -100, 0, 1, 0, -100, -100, -100}
	return b
}

// The replaced-token-detection head and its sigmoid cross-entropy, through
// the whole encoder.
func TestFiniteDifferencesRTD(t *testing.T) {
	m, err := New(fdConfig, []HeadSpec{{Task: "rtd", Kind: ReplacedTokenDetection}}, 3)
	if err != nil {
		t.Fatal(err)
	}
	perturb(m)
	checkFD(t, m, rtdBatch(), func(name string) bool { return !strings.HasPrefix(name, "pooler.") })
}

// The embeddings at a width of their own (embedding_size 12, hidden 8):
// embeddings_project, the masked-LM head mapping back to 12 for the tied
// decoder, and a token head that reaches the embeddings only through the
// projection.
func TestFiniteDifferencesEmbeddingProjection(t *testing.T) {
	cfg := fdConfig
	cfg.EmbeddingSize = 12
	for _, task := range []string{"mlm", "ner"} {
		t.Run(task, func(t *testing.T) {
			m, err := New(cfg, []HeadSpec{{Task: "mlm", Kind: MaskedLM}, {Task: "ner", Kind: TokenClassification, NumLabels: 4}}, 3)
			if err != nil {
				t.Fatal(err)
			}
			if p := m.Param("embeddings_project.weight"); p == nil || p.Shape[0] != 8 || p.Shape[1] != 12 {
				t.Fatalf("embeddings_project.weight is %+v, want shape [8 12]", p)
			}
			perturb(m)
			prefix := headPrefix(m.byTask[task].spec)
			checkFD(t, m, fdBatch(task), func(name string) bool {
				if strings.HasPrefix(name, "heads.") || strings.HasPrefix(name, "cls.") {
					return strings.HasPrefix(name, prefix)
				}
				return !strings.HasPrefix(name, "pooler.")
			})
		})
	}
}

// fdElectra is a discriminator of fdConfig and its generator at half the
// width (hidden 4, one head, embedding_size 8), both perturbed.
func fdElectra(t *testing.T) *Electra {
	t.Helper()
	d, err := New(fdConfig, []HeadSpec{{Task: "mlm", Kind: ReplacedTokenDetection}}, 3)
	if err != nil {
		t.Fatal(err)
	}
	perturb(d)
	e, err := NewElectra(d, 0.5, 2, 4)
	if err != nil {
		t.Fatal(err)
	}
	r := rand.New(rand.NewPCG(7, 8))
	for _, p := range e.GeneratorParams() {
		for i := range p.W {
			p.W[i] += float32(r.NormFloat64() * 0.3)
		}
	}
	return e
}

// The generator and discriminator together, on the discriminator batch
// one sampled Forward made: L = L_MLM + λ·L_RTD. The shared embeddings get
// both models' gradients (the generator's through embeddings_project and
// through the tied decoder); nothing flows through the sampling.
func TestFiniteDifferencesElectraTied(t *testing.T) {
	e := fdElectra(t)
	if got := e.Gen.Param("embeddings.word_embeddings.weight"); got != e.Disc.Param("embeddings.word_embeddings.weight") {
		t.Fatal("the generator does not use the discriminator's word embeddings")
	}
	b := fdBatch("mlm")
	for i, y := range b.TokenLabels {
		if y != IgnoreIndex {
			b.InputIDs[i] = 1 // the generator sees [MASK] there
		}
	}
	e.SetTraining(true)
	st, err := e.Forward(b, rand.New(rand.NewPCG(1, 2)))
	if err != nil {
		t.Fatal(err)
	}
	if st.Replaced == 0 || st.Masked != 4 || st.Tokens != 13 {
		t.Fatalf("stats %+v: want 4 masked, 13 scored tokens and at least one replacement", st)
	}
	db := e.db
	db.InputIDs = append([]int32(nil), e.db.InputIDs...)
	db.TokenLabels = append([]int32(nil), e.db.TokenLabels...)
	g0, d0 := e.Gen.RNGState(), e.Disc.RNGState()
	loss := func() float64 {
		e.Gen.SetRNGState(g0)
		e.Disc.SetRNGState(d0)
		g, err := e.Gen.Forward(b)
		if err != nil {
			t.Fatal(err)
		}
		d, err := e.Disc.Forward(&db)
		if err != nil {
			t.Fatal(err)
		}
		return float64(g.Loss) + float64(e.Weight)*float64(d.Loss)
	}
	e.ZeroGrad()
	loss()
	if err := e.Backward(1); err != nil {
		t.Fatal(err)
	}
	checkGradients(t, "electra", e.Params(), loss, func(name string) bool {
		return !strings.HasPrefix(name, "pooler.") && !strings.HasPrefix(name, GeneratorPrefix+"pooler.")
	})
}

// Hand-computed sigmoid cross-entropy and its gradient: softplus(z) − y·z,
// including logits far in the tails, and a row that is not scored.
func TestBinaryCrossEntropy(t *testing.T) {
	z := []float32{2, -1, 0.5, 30, -30}
	y := []int32{1, 0, IgnoreIndex, 0, 1}
	// log(1+e^-2) = 0.1269280110, log(1+e^-1) = 0.3132616875, and 30 for
	// both tails: (0.1269280110 + 0.3132616875 + 60) / 4.
	if got, want := binaryCrossEntropy(z, y, 4), 15.1100474246; math.Abs(float64(got)-want) > 1e-5 {
		t.Errorf("loss %.9g, want %.9g", got, want)
	}
	d := make([]float32, 5)
	bceGrad(d, z, y, 0.25)
	// (σ(z) − y)/4 with σ(2) = 0.8807970780, σ(−1) = 0.2689414214.
	want := []float64{(0.8807970780 - 1) / 4, 0.2689414214 / 4, 0, 0.25, -0.25}
	for i := range d {
		if math.Abs(float64(d[i])-want[i]) > 1e-7 {
			t.Errorf("gradient %d: %.9g, want %.9g", i, d[i], want[i])
		}
	}
}

func TestGeneratorConfig(t *testing.T) {
	for _, c := range []struct {
		size          string
		frac          float64
		h, a, i, e, l int
	}{
		{"tiny", 0.25, 32, 1, 128, 128, 2},   // head size 64 does not fit: one head of 32
		{"mini", 0.25, 64, 1, 256, 256, 4},   // ELECTRA-Small's generator shape
		{"base", 0.25, 192, 3, 768, 768, 12}, // three heads of 64
		{"base", 1.0 / 3, 256, 4, 1024, 768, 12},
		{"mini", 1, 256, 4, 1024, 0, 4},   // full width: no projection
		{"mini", 0.3, 77, 1, 307, 256, 4}, // 77 is prime
	} {
		d, err := SizeConfig(c.size, 100)
		if err != nil {
			t.Fatal(err)
		}
		g, err := GeneratorConfig(d, c.frac)
		if err != nil {
			t.Fatalf("%s × %g: %v", c.size, c.frac, err)
		}
		if g.HiddenSize != c.h || g.NumAttentionHeads != c.a || g.IntermediateSize != c.i || g.EmbeddingSize != c.e || g.NumHiddenLayers != c.l {
			t.Errorf("%s × %g: H%d A%d I%d E%d L%d, want H%d A%d I%d E%d L%d", c.size, c.frac, g.HiddenSize, g.NumAttentionHeads,
				g.IntermediateSize, g.EmbeddingSize, g.NumHiddenLayers, c.h, c.a, c.i, c.e, c.l)
		}
	}
	d, _ := SizeConfig("tiny", 100)
	for _, bad := range []float64{0, -0.5, 1.5, math.NaN()} {
		if _, err := GeneratorConfig(d, bad); err == nil || !strings.Contains(err.Error(), "pretrain.generator_size") {
			t.Errorf("generator_size %g: error %v, want one naming pretrain.generator_size", bad, err)
		}
	}
}

// learnVocab: 0 [PAD], 1 [MASK], 2 [CLS], 3 [SEP], words 4..39.
const learnVocab = 40

// zipfBatch is B rows of [CLS] words… [SEP], some shorter and padded, the
// words drawn from a Zipf law over 4..39 (so there is something to learn
// from the first steps), with 15% of them masked by [MASK] (at least one
// per row).
func zipfBatch(r *rand.Rand, B, T int) *Batch {
	z := rand.NewZipf(r, 1.3, 1, learnVocab-5)
	b := &Batch{Task: "mlm", B: B, T: T, InputIDs: make([]int32, B*T), Mask: make([]int32, B*T), TokenLabels: make([]int32, B*T)}
	for i := 0; i < B; i++ {
		n := T - r.IntN(4)
		for j := 0; j < T; j++ {
			k := i*T + j
			b.TokenLabels[k] = IgnoreIndex
			switch {
			case j >= n:
				continue
			case j == 0:
				b.InputIDs[k] = 2
			case j == n-1:
				b.InputIDs[k] = 3
			default:
				b.InputIDs[k] = int32(4 + z.Uint64())
			}
			b.Mask[k] = 1
		}
		masked := false
		for j := 1; j < n-1; j++ {
			if k := i*T + j; r.Float64() < 0.15 || (!masked && j == n-2) {
				b.TokenLabels[k], b.InputIDs[k], masked = b.InputIDs[k], 1, true
			}
		}
	}
	return b
}

// One ELECTRA step at a time on a tiny config: over 60 steps both the
// generator's MLM loss and the discriminator's RTD loss come down.
func TestElectraLearns(t *testing.T) {
	cfg := Config{VocabSize: learnVocab, HiddenSize: 32, NumHiddenLayers: 2, NumAttentionHeads: 2, IntermediateSize: 64,
		MaxPositionEmbeddings: 16, TypeVocabSize: 2, LayerNormEps: 1e-12, HiddenAct: "gelu"}
	d, err := New(cfg, []HeadSpec{{Task: "mlm", Kind: ReplacedTokenDetection}}, 1)
	if err != nil {
		t.Fatal(err)
	}
	e, err := NewElectra(d, 0.25, 50, 2)
	if err != nil {
		t.Fatal(err)
	}
	e.SetTraining(true)
	opt := NewAdamW(e.Params(), AdamWConfig{LR: 5e-3, Beta1: 0.9, Beta2: 0.999, Eps: 1e-6, WeightDecay: 0.01})
	data, sample := rand.New(rand.NewPCG(3, 4)), rand.New(rand.NewPCG(5, 6))
	const steps, window = 60, 10
	var first, last ElectraStats
	for s := 0; s < steps; s++ {
		st, err := e.Forward(zipfBatch(data, 8, 16), sample)
		if err != nil {
			t.Fatal(err)
		}
		if err := e.Backward(1); err != nil {
			t.Fatal(err)
		}
		opt.StepClipped(5e-3, 1)
		e.ZeroGrad()
		if s < window {
			first.Add(st)
		}
		if s >= steps-window {
			last.Add(st)
		}
	}
	t.Logf("first %d steps: MLM %.3f, RTD %.3f; last %d: MLM %.3f, RTD %.3f (discriminator accuracy %.3f, on replaced %d/%d)",
		window, first.GenLoss/window, first.DiscLoss/window, window, last.GenLoss/window, last.DiscLoss/window,
		float64(last.DiscCorrect)/float64(last.Tokens), last.ReplacedCorrect, last.Replaced)
	if last.GenLoss >= 0.9*first.GenLoss {
		t.Errorf("the generator's MLM loss went from %.3f to %.3f", first.GenLoss/window, last.GenLoss/window)
	}
	if last.DiscLoss >= 0.9*first.DiscLoss {
		t.Errorf("the discriminator's RTD loss went from %.3f to %.3f", first.DiscLoss/window, last.DiscLoss/window)
	}
}

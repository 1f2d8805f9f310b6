package model

import (
	"math/rand/v2"
	"testing"
)

// Benchmarks at the shapes of ../shared/reference/torch_bench.py: batch
// 32 × 128 tokens, vocab 28,996, no padding, dropout 0.1 while training.
//
//	go test -run '^$' -bench . -benchtime 5x -tags openblas ./model/
//
// A training iteration is two optimizer steps, one on a batch of the
// sequence-classification task and one on a batch of the token task (the
// trainer gives each batch one task), each forward + backward + AdamW; it
// counts the tokens of both batches. Forward is one inference pass of the
// encoder and the token head.

const benchB, benchT, benchVocab = 32, 128, 28996

func benchModel(b *testing.B, size string) (*Model, *Batch, *Batch) {
	b.Helper()
	cfg, err := SizeConfig(size, benchVocab)
	if err != nil {
		b.Fatal(err)
	}
	m, err := New(cfg, []HeadSpec{
		{Task: "seq", Kind: SequenceClassification, NumLabels: 2},
		{Task: "tok", Kind: TokenClassification, NumLabels: 9},
	}, 1)
	if err != nil {
		b.Fatal(err)
	}
	r := rand.New(rand.NewPCG(0, 1))
	N := benchB * benchT
	ids := make([]int32, N)
	tl := make([]int32, N)
	for i := range ids {
		ids[i] = int32(r.IntN(benchVocab))
		tl[i] = int32(r.IntN(9))
	}
	labels := make([]int32, benchB)
	for i := range labels {
		labels[i] = int32(r.IntN(2))
	}
	seq := &Batch{Task: "seq", B: benchB, T: benchT, InputIDs: ids, Labels: labels}
	tok := &Batch{Task: "tok", B: benchB, T: benchT, InputIDs: ids, TokenLabels: tl}
	return m, seq, tok
}

func benchTrain(b *testing.B, size string) {
	m, seq, tok := benchModel(b, size)
	m.SetTraining(true)
	opt := NewAdamW(m.Params(), AdamWConfig{LR: 1e-4, Beta1: 0.9, Beta2: 0.999, Eps: 1e-8, WeightDecay: 0.01})
	step := func() {
		for _, bt := range []*Batch{seq, tok} {
			m.ZeroGrad()
			if _, err := m.Forward(bt); err != nil {
				b.Fatal(err)
			}
			if err := m.Backward(1); err != nil {
				b.Fatal(err)
			}
			opt.Step(1e-4)
		}
	}
	step() // warm-up: buffers reach their size
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		step()
	}
	b.ReportMetric(float64(2*benchB*benchT*b.N)/b.Elapsed().Seconds(), "tokens/s")
}

func benchForward(b *testing.B, size string) {
	m, _, tok := benchModel(b, size)
	m.SetTraining(false)
	if _, err := m.Forward(tok); err != nil {
		b.Fatal(err)
	}
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		if _, err := m.Forward(tok); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(benchB*benchT*b.N)/b.Elapsed().Seconds(), "tokens/s")
}

func BenchmarkTrainTiny(b *testing.B)    { benchTrain(b, "tiny") }
func BenchmarkTrainMini(b *testing.B)    { benchTrain(b, "mini") }
func BenchmarkTrainSmall(b *testing.B)   { benchTrain(b, "small") }
func BenchmarkForwardTiny(b *testing.B)  { benchForward(b, "tiny") }
func BenchmarkForwardMini(b *testing.B)  { benchForward(b, "mini") }
func BenchmarkForwardSmall(b *testing.B) { benchForward(b, "small") }

package model

import (
	"flag"
	"math/rand/v2"
	"sync"
	"testing"
	"time"

	"github.com/taskweave/taskweave/model/kernels"
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

// benchPrecision is the products' number format of the Train and Forward
// benchmarks (-precision bf16; scripts/bench.sh runs both).
var benchPrecision = flag.String("precision", "fp32", "fp32 | bf16: the Train/Forward benchmarks' precision")

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
	if err := m.SetPrecision(Precision(*benchPrecision)); err != nil {
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
	peak := sgemmPeak(b)
	step() // warm-up: buffers reach their size
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		step()
	}
	b.ReportMetric(float64(2*benchB*benchT*b.N)/b.Elapsed().Seconds(), "tokens/s")
	reportFLOPs(b, 2*3*forwardFLOPs(m.Config()), peak)
}

// forwardFLOPs counts the multiply-adds (×2) of the encoder's products on
// one benchmark batch: per layer Q, K, V, O (4·N·H²), the feed-forward
// (2·N·H·I), and attention's scores and context (2·B·T²·H). Backward does
// two products per forward one (input and weight gradient), so a training
// step is three times this; element-wise work and the heads are left out.
func forwardFLOPs(c Config) float64 {
	N, H, I, T := float64(benchB*benchT), float64(c.HiddenSize), float64(c.IntermediateSize), float64(benchT)
	perLayer := 2 * (4*N*H*H + 2*N*H*I + 2*benchB*T*T*H)
	return float64(c.NumHiddenLayers) * perLayer
}

// reportFLOPs reports GFLOP/s for flops per iteration and its fraction of
// the SGEMM peak measured in the same process.
func reportFLOPs(b *testing.B, flops, peak float64) {
	g := flops * float64(b.N) / b.Elapsed().Seconds() / 1e9
	b.ReportMetric(g, "GFLOP/s")
	b.ReportMetric(g/peak, "of_sgemm_peak")
}

var peakOnce struct {
	sync.Once
	gflops float64
}

// sgemmPeak measures, once per process, the best GFLOP/s kernels.Gemm (split over
// the cores, as the model calls it) reaches on the encoder's product shapes
// at the base size (4096 tokens, hidden 768, intermediate 3072): x·Wᵀ, dy·W
// and dyᵀ·x. It is the "SGEMM peak" the model benchmarks compare against.
func sgemmPeak(b *testing.B) float64 {
	peakOnce.Do(func() {
		for _, s := range []struct {
			ta, tb  bool
			m, n, k int
		}{{false, true, 4096, 3072, 768}, {false, false, 4096, 768, 3072}, {true, false, 3072, 768, 4096}} {
			x := make([]float32, s.m*s.k)
			w := make([]float32, s.k*s.n)
			y := make([]float32, s.m*s.n)
			for i := range x {
				x[i] = float32(i%7) * 0.1
			}
			for i := range w {
				w[i] = float32(i%5) * 0.1
			}
			lda, ldb := s.k, s.n
			if s.ta {
				lda = s.m
			}
			if s.tb {
				ldb = s.k
			}
			kernels.Gemm(s.ta, s.tb, s.m, s.n, s.k, 1, x, lda, w, ldb, 0, y, s.n) // warm-up
			for rep := 0; rep < 3; rep++ {
				t0 := time.Now()
				kernels.Gemm(s.ta, s.tb, s.m, s.n, s.k, 1, x, lda, w, ldb, 0, y, s.n)
				peakOnce.gflops = max(peakOnce.gflops, 2*float64(s.m*s.n*s.k)/time.Since(t0).Seconds()/1e9)
			}
		}
	})
	b.Logf("SGEMM peak (kernels.Gemm, best of the base shapes): %.1f GFLOP/s, %s kernels", peakOnce.gflops, kernels.BLASCore())
	return peakOnce.gflops
}

func benchForward(b *testing.B, size string) {
	m, _, tok := benchModel(b, size)
	m.SetTraining(false)
	peak := sgemmPeak(b)
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
	reportFLOPs(b, forwardFLOPs(m.Config()), peak)
}

func BenchmarkTrainTiny(b *testing.B)     { benchTrain(b, "tiny") }
func BenchmarkTrainMini(b *testing.B)     { benchTrain(b, "mini") }
func BenchmarkTrainSmall(b *testing.B)    { benchTrain(b, "small") }
func BenchmarkTrainMedium(b *testing.B)   { benchTrain(b, "medium") }
func BenchmarkTrainBase(b *testing.B)     { benchTrain(b, "base") }
func BenchmarkForwardTiny(b *testing.B)   { benchForward(b, "tiny") }
func BenchmarkForwardMini(b *testing.B)   { benchForward(b, "mini") }
func BenchmarkForwardSmall(b *testing.B)  { benchForward(b, "small") }
func BenchmarkForwardMedium(b *testing.B) { benchForward(b, "medium") }
func BenchmarkForwardBase(b *testing.B)   { benchForward(b, "base") }

package model

import (
	"fmt"
	"runtime"
	"testing"
)

// BenchmarkGEMM reports the backend's throughput on the encoder's product
// shapes for the small size (4096 tokens, hidden 512, intermediate 2048):
// forward x·Wᵀ (NT), weight gradient dyᵀ·x (TN) and input gradient dy·W (NN),
// split over cores by gemm, as a single single-threaded call, and as a
// single call with OpenBLAS's own threads.
func BenchmarkGEMM(b *testing.B) {
	for _, s := range []struct {
		name    string
		ta, tb  bool
		m, n, k int
	}{
		{"fwd_NT", false, true, 4096, 2048, 512},
		{"dW_TN", true, false, 2048, 512, 4096},
		{"dx_NN", false, false, 4096, 512, 2048},
		{"attn_NT", false, true, 128, 128, 64},
	} {
		for _, mode := range []string{"split", "single", "blas_threads"} {
			split := mode == "split"
			b.Run(fmt.Sprintf("%s_%dx%dx%d/%s", s.name, s.m, s.n, s.k, mode), func(b *testing.B) {
				if mode == "blas_threads" {
					if !splitGEMM {
						b.Skip("pure-Go build")
					}
					setBLASThreads(runtime.GOMAXPROCS(0))
					defer setBLASThreads(1)
				}
				ar, ac := s.m, s.k
				if s.ta {
					ar, ac = s.k, s.m
				}
				br, bc := s.k, s.n
				if s.tb {
					br, bc = s.n, s.k
				}
				x := make([]float32, ar*ac)
				w := make([]float32, br*bc)
				y := make([]float32, s.m*s.n)
				for i := range x {
					x[i] = float32(i%7) * 0.1
				}
				for i := range w {
					w[i] = float32(i%5) * 0.1
				}
				b.ResetTimer()
				for i := 0; i < b.N; i++ {
					if split {
						gemm(s.ta, s.tb, s.m, s.n, s.k, 1, x, ac, w, bc, 0, y, s.n)
					} else {
						gemm1(s.ta, s.tb, s.m, s.n, s.k, 1, x, ac, w, bc, 0, y, s.n)
					}
				}
				b.ReportMetric(2*float64(s.m*s.n*s.k)*float64(b.N)/b.Elapsed().Seconds()/1e9, "GFLOP/s")
			})
		}
	}
}

// BenchmarkGEMMStep runs only the encoder's linears of one training step of
// mini (L4/H256/I1024) on N real tokens, through the functions the model
// runs them with: per layer the stacked Q/K/V, attention output and
// feed-forward products forward (bias included), and each one's weight,
// bias and input gradients backward. Attention's per-head products, every
// other element-wise pass, the heads and the optimizer are left out, so its
// tokens/s bounds what any trainer built on this BLAS reaches on batches of
// that size here. N 580 is the real-data recipe's mean padded batch
// (SST-2 + CoNLL-2003, 32 sentences: 86,720 padded tokens in 150 steps),
// 4096 the padded benchmark's.
func BenchmarkGEMMStep(b *testing.B) {
	const L, H, I = 4, 256, 1024
	var lins []linear
	for _, p := range []struct{ out, in int }{{3 * H, H}, {H, H}, {I, H}, {H, I}} {
		lins = append(lins, linear{w: &Param{W: make([]float32, p.out*p.in), G: make([]float32, p.out*p.in)},
			b: &Param{W: make([]float32, p.out), G: make([]float32, p.out)}, in: p.in, out: p.out})
	}
	for _, N := range []int{400, 580, 800, 4096} {
		b.Run(fmt.Sprintf("mini_N%d", N), func(b *testing.B) {
			x := make([]float32, N*I)
			y := make([]float32, N*I)
			dx := make([]float32, N*I)
			flops := 0.0
			for _, l := range lins {
				flops += 3 * 2 * float64(N*l.out*l.in)
			}
			b.ResetTimer()
			for i := 0; i < b.N; i++ {
				for range L {
					for _, l := range lins {
						linearForward(l, x, N, y)
					}
					for _, l := range lins {
						linearBackward(l, x, y, N, dx, true)
					}
				}
			}
			s := b.Elapsed().Seconds()
			b.ReportMetric(float64(L)*flops*float64(b.N)/s/1e9, "GFLOP/s")
			b.ReportMetric(float64(N*b.N)/s, "tokens/s")
		})
	}
}

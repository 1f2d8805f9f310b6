package kernels

import (
	"fmt"
	"runtime"
	"testing"
)

// BenchmarkGEMM reports the backend's throughput on the encoder's product
// shapes for the small size (4096 tokens, hidden 512, intermediate 2048):
// forward x·Wᵀ (NT), weight gradient dyᵀ·x (TN) and input gradient dy·W (NN),
// split over cores by Gemm, as a single single-threaded call, and as a
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
					if !SplitGEMM {
						b.Skip("pure-Go build")
					}
					SetBLASThreads(runtime.GOMAXPROCS(0))
					defer SetBLASThreads(1)
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
						Gemm(s.ta, s.tb, s.m, s.n, s.k, 1, x, ac, w, bc, 0, y, s.n)
					} else {
						Gemm1(s.ta, s.tb, s.m, s.n, s.k, 1, x, ac, w, bc, 0, y, s.n)
					}
				}
				b.ReportMetric(2*float64(s.m*s.n*s.k)*float64(b.N)/b.Elapsed().Seconds()/1e9, "GFLOP/s")
			})
		}
	}
}

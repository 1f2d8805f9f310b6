//go:build onednn

package kernels

import (
	"fmt"
	"runtime"
	"testing"
)

// BenchmarkGEMMBackends compares, at the real-data recipe's shapes (mean
// batch N 580, mini: hidden 256, Q/K/V stacked 768, FFN 1024), OpenBLAS
// fp32, oneDNN fp32 and oneDNN bf16 (operands already bf16), each split
// over the cores by splitParts (one single-threaded call per block).
func BenchmarkGEMMBackends(b *testing.B) {
	const N, H = 580, 256
	for _, out := range []int{256, 768, 1024} {
		for _, s := range []struct {
			name    string
			ta, tb  bool
			m, n, k int
		}{
			{"fwd_NT", false, true, N, out, H},
			{"dW_TN", true, false, out, H, N},
			{"dx_NN", false, false, N, H, out},
		} {
			lda, ldb := s.k, s.n
			if s.ta {
				lda = s.m
			}
			if s.tb {
				ldb = s.k
			}
			a, w, c := make([]float32, s.m*s.k), make([]float32, s.k*s.n), make([]float32, s.m*s.n)
			for i := range a {
				a[i] = float32(i%7) * 0.1
			}
			for i := range w {
				w[i] = float32(i%5) * 0.1
			}
			ab, wb := make([]uint16, len(a)), make([]uint16, len(w))
			ToBF16(ab, a)
			ToBF16(wb, w)
			runs := map[string]func(){
				"openblas_fp32": func() { GemmParts(runtime.GOMAXPROCS(0), s.ta, s.tb, s.m, s.n, s.k, 1, a, lda, w, ldb, 0, c, s.n, nil) },
				"onednn_fp32": func() {
					splitParts(runtime.GOMAXPROCS(0), true, s.ta, s.tb, s.m, s.n, s.k, lda, ldb, s.n, nil, func(rows, cols, ao, bo, co int) {
						GemmF32OneDNN(s.ta, s.tb, rows, cols, s.k, 1, a[ao:], lda, w[bo:], ldb, 0, c[co:], s.n)
					})
				},
				"onednn_bf16": func() { GemmBF16(s.ta, s.tb, s.m, s.n, s.k, 1, ab, lda, wb, ldb, 0, c, s.n) },
			}
			for _, be := range []string{"openblas_fp32", "onednn_fp32", "onednn_bf16"} {
				b.Run(fmt.Sprintf("%s_%dx%dx%d/%s", s.name, s.m, s.n, s.k, be), func(b *testing.B) {
					run := runs[be]
					run()
					b.ResetTimer()
					for i := 0; i < b.N; i++ {
						run()
					}
					b.ReportMetric(2*float64(s.m*s.n*s.k)*float64(b.N)/b.Elapsed().Seconds()/1e9, "GFLOP/s")
				})
			}
		}
	}
}

// BenchmarkBF16WeightGradLayout times the bf16 weight gradient dW = dyᵀ·x
// at the real-data recipe's shapes both ways, each with its cast of the
// fp32 dy: cast as stored and let oneDNN read it transposed (TN), or cast
// it transposed (ToBF16T) and run the plain product (NN), as the model does.
func BenchmarkBF16WeightGradLayout(b *testing.B) {
	const N, H = 580, 256
	for _, out := range []int{256, 768, 1024} {
		dy, x := make([]float32, N*out), make([]float32, N*H)
		for i := range dy {
			dy[i] = float32(i%7) * 0.1
		}
		for i := range x {
			x[i] = float32(i%5) * 0.1
		}
		dyb, xb, c := make([]uint16, len(dy)), make([]uint16, len(x)), make([]float32, out*H)
		ToBF16(xb, x)
		runs := []struct {
			name string
			run  func()
		}{
			{"TN", func() {
				ToBF16(dyb, dy)
				GemmBF16(true, false, out, H, N, 1, dyb, out, xb, H, 1, c, H)
			}},
			{"castT_NN", func() {
				ToBF16T(dyb, dy, N, out, out)
				GemmBF16(false, false, out, H, N, 1, dyb, N, xb, H, 1, c, H)
			}},
		}
		for _, r := range runs {
			b.Run(fmt.Sprintf("%dx%dx%d/%s", out, H, N, r.name), func(b *testing.B) {
				r.run()
				b.ResetTimer()
				for i := 0; i < b.N; i++ {
					r.run()
				}
				b.ReportMetric(2*float64(out*H*N)*float64(b.N)/b.Elapsed().Seconds()/1e9, "GFLOP/s")
			})
		}
	}
}

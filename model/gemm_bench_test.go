package model

import (
	"fmt"
	"testing"
)

// BenchmarkGEMM reports the backend's throughput on the encoder's typical
// product shape (tokens × hidden → intermediate), split over cores and not.
func BenchmarkGEMM(b *testing.B) {
	for _, s := range []struct{ m, n, k int }{{4096, 512, 128}, {4096, 2048, 512}, {128, 128, 64}} {
		for _, split := range []bool{true, false} {
			b.Run(fmt.Sprintf("%dx%dx%d/split=%v", s.m, s.n, s.k, split), func(b *testing.B) {
				x := make([]float32, s.m*s.k)
				w := make([]float32, s.n*s.k)
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
						gemm(false, true, s.m, s.n, s.k, 1, x, s.k, w, s.k, 0, y, s.n)
					} else {
						gemm1(false, true, s.m, s.n, s.k, 1, x, s.k, w, s.k, 0, y, s.n)
					}
				}
				b.ReportMetric(2*float64(s.m*s.n*s.k)*float64(b.N)/b.Elapsed().Seconds()/1e9, "GFLOP/s")
			})
		}
	}
}

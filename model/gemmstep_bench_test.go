package model

import (
	"fmt"
	"testing"
)

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

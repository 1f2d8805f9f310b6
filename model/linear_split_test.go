package model

import (
	"math"
	"math/rand/v2"
	"runtime"
	"testing"

	"github.com/taskweave/taskweave/model/kernels"
)

// TestLinearForwardSplits checks a linear split over the cores, by rows and
// by columns, with the bias written block by block, against one unsplit
// product. OpenBLAS may round a block differently from the same rows inside
// a larger call (its Haswell kernels do, at the tail of a block; its
// Cooperlake kernels gave the same bits here), so the bound is float
// rounding: 1e-5 of the row's largest magnitude. A misplaced block or bias
// is off by whole units. On the pure-Go build, which does not split, the
// call is compared with itself.
func TestLinearForwardSplits(t *testing.T) {
	r := rand.New(rand.NewPCG(5, 6))
	for _, tc := range []struct {
		name         string
		n, in, out   int
		ldy, workers int
	}{
		{"rows", 580, 256, 1024, 1024, 2},
		{"rows, Q/K/V stride", 300, 256, 256, 768, 3},
		{"columns", 40, 256, 1024, 1024, 2},
		{"columns, three parts", 24, 128, 2000, 2003, 3},
		{"too small to split", 8, 16, 16, 16, 2},
	} {
		w := make([]float32, tc.out*tc.in)
		bias := make([]float32, tc.out)
		x := make([]float32, tc.n*tc.in)
		for _, s := range [][]float32{w, bias, x} {
			for i := range s {
				s[i] = float32(r.NormFloat64())
			}
		}
		want := make([]float32, tc.n*tc.ldy)
		got := make([]float32, tc.n*tc.ldy)
		for i := range got {
			want[i], got[i] = -7, -7 // columns past out must stay as they are
		}
		for i := 0; i < tc.n; i++ {
			copy(want[i*tc.ldy:i*tc.ldy+tc.out], bias)
		}
		kernels.Gemm1(false, true, tc.n, tc.out, tc.in, 1, x, tc.in, w, tc.in, 1, want, tc.ldy)
		func() {
			defer runtime.GOMAXPROCS(runtime.GOMAXPROCS(tc.workers))
			l := linear{w: &Param{W: w}, b: &Param{W: bias}, in: tc.in, out: tc.out}
			linearForwardLd(l, x, tc.n, got, tc.ldy)
		}()
		var worst float64
		for i := 0; i < tc.n; i++ {
			row, ref := got[i*tc.ldy:(i+1)*tc.ldy], want[i*tc.ldy:(i+1)*tc.ldy]
			var scale float64
			for _, v := range ref {
				scale = math.Max(scale, math.Abs(float64(v)))
			}
			for j := range ref {
				d := math.Abs(float64(row[j]-ref[j])) / scale
				if d > 1e-5 || (j >= tc.out && row[j] != ref[j]) {
					t.Fatalf("%s: y[%d,%d] = %g, unsplit %g", tc.name, i, j, row[j], ref[j])
				}
				worst = math.Max(worst, d)
			}
		}
		t.Logf("%s: largest difference %.2g of the row's largest magnitude (%s kernels)", tc.name, worst, kernels.BLASCore())
	}
}

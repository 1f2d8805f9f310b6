//go:build !onednn

package kernels

// BF16Backend names what runs bf16 products in this build.
const BF16Backend = "emulated (fp32 products of bf16-rounded operands)"

// gemmBF16One widens the bf16 operands (exactly) and runs the fp32 product:
// the same rounding of the operands as native bf16, fp32 accumulation. It
// lets the mixed-precision model run, and be tested, in every build; it is
// slower than fp32 and `precision: bf16` refuses it (CheckBF16).
func gemmBF16One(transA, transB bool, m, n, k int, alpha float32, a []uint16, lda int, b []uint16, ldb int, beta float32, c []float32, ldc int) {
	if m == 0 || n == 0 {
		return
	}
	af := widen(a, lda, m, k, transA)
	bf := widen(b, ldb, k, n, transB)
	Gemm1(transA, transB, m, n, k, alpha, af, lda, bf, ldb, beta, c, ldc)
}

func bf16ISA() bool { return false }

// widen returns the r×c operand stored in s (transposed when t) as fp32.
func widen(s []uint16, ld, r, c int, t bool) []float32 {
	if t {
		r, c = c, r
	}
	f := make([]float32, (r-1)*ld+c)
	FromBF16(f, s)
	return f
}

package kernels

import (
	"fmt"
	"math"
	"os"
	"runtime"
	"strings"
)

// bfloat16 is float32's upper half: the same sign and 8-bit exponent (so the
// same range), 8 bits of mantissa (7 stored) instead of 24. Buffers of it are
// []uint16. Products of bf16 operands here always accumulate and write fp32.

// ToBF16 rounds src into dst (round to nearest, ties to even; NaN stays NaN),
// over the cores when it is long.
func ToBF16(dst []uint16, src []float32) {
	dst = dst[:len(src)]
	ParallelFor(len(src), 1<<16, func(lo, hi int) { toBF16Range(dst[lo:hi], src[lo:hi]) })
}

// ToBF16T rounds the rows×cols matrix src, its rows ld apart, into dst
// transposed (cols×rows, dense): dst[j*rows+i] = bf16(src[i*ld+j]).
//
// The weight gradient dW = dyᵀ·x is a product whose first operand is
// transposed. oneDNN 2.6's bf16 matmul ran that layout 1.2-1.9x slower than
// the plain one at the trainer's mini shapes (one core, best of 8, on a
// loaded machine; BenchmarkBF16WeightGradLayout times both with their
// casts), so the cast that must happen anyway writes dy transposed.
func ToBF16T(dst []uint16, src []float32, rows, cols, ld int) {
	dst = dst[:rows*cols]
	if rows == 0 {
		return
	}
	src = src[:(rows-1)*ld+cols]
	ParallelFor(cols, max(32, (1<<16)/rows), func(lo, hi int) { toBF16TRange(dst, src, rows, ld, lo, hi) })
}

// FromBF16 widens src into dst (exact).
func FromBF16(dst []float32, src []uint16) {
	for i, v := range src[:len(dst)] {
		dst[i] = math.Float32frombits(uint32(v) << 16)
	}
}

// bf16Round is ToBF16 of one value, the reference the kernels are held to.
func bf16Round(f float32) uint16 {
	u := math.Float32bits(f)
	if u&0x7fffffff > 0x7f800000 {
		return uint16(u>>16) | 0x40 // quiet NaN
	}
	return uint16((u + 0x7fff + (u>>16)&1) >> 16)
}

// GemmBF16 is Gemm on bf16 operands with fp32 accumulation and an fp32 C.
func GemmBF16(transA, transB bool, m, n, k int, alpha float32, a []uint16, lda int, b []uint16, ldb int, beta float32, c []float32, ldc int) {
	GemmBF16Parts(runtime.GOMAXPROCS(0), transA, transB, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc, nil)
}

// GemmBF16Parts is GemmParts on bf16 operands: the same split over the
// cores, each block one single-threaded call of the bf16 backend.
func GemmBF16Parts(workers int, transA, transB bool, m, n, k int, alpha float32, a []uint16, lda int, b []uint16, ldb int, beta float32, c []float32, ldc int,
	prep func(i0, rows, j0, cols int)) {
	splitParts(workers, true, transA, transB, m, n, k, lda, ldb, ldc, prep, func(rows, cols, ao, bo, co int) {
		gemmBF16One(transA, transB, rows, cols, k, alpha, a[ao:], lda, b[bo:], ldb, beta, c[co:], ldc)
	})
}

// CPUFlags returns the flags /proc/cpuinfo lists for the first CPU, or nil
// when it cannot be read.
func CPUFlags() []string {
	info, err := os.ReadFile("/proc/cpuinfo")
	if err != nil {
		return nil
	}
	for _, line := range strings.Split(string(info), "\n") {
		if k, v, ok := strings.Cut(line, ":"); ok && strings.TrimSpace(k) == "flags" {
			return strings.Fields(v)
		}
	}
	return nil
}

// CheckBF16 says why bf16 products cannot run fast on a CPU with these
// flags in this build, or nil when they can: the build must have oneDNN
// (-tags onednn) and the CPU the avx512_bf16 instructions. Without them
// oneDNN would emulate bf16 with fp32 instructions, slower than fp32 itself.
func CheckBF16(flags []string) error {
	if BF16Backend != "onednn" {
		return fmt.Errorf("precision bf16 needs the oneDNN build (go build -tags openblas,onednn, as make build does; " +
			"apt-get install -y libdnnl-dev); this binary has none: use precision fp32")
	}
	for _, f := range flags {
		if f == "avx512_bf16" || f == "amx_bf16" {
			return nil
		}
	}
	return fmt.Errorf("precision bf16 needs the CPU flag avx512_bf16 (or amx_bf16), which /proc/cpuinfo does not list on this CPU: use precision fp32")
}

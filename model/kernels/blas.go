package kernels

import (
	"runtime"
	"strings"

	"gonum.org/v1/gonum/blas"
	"gonum.org/v1/gonum/blas/blas32"
)

// Gemm computes C = alpha·op(A)·op(B) + beta·C on row-major buffers, where
// op(A) is m×k and op(B) is k×n. It goes through whatever blas32 currently
// uses: gonum's pure-Go kernels, or OpenBLAS under the openblas build tag.
//
// With OpenBLAS the library runs single-threaded and large products are
// split here, by rows (or columns) of C, over one goroutine per core. Go then
// schedules all the parallel work of a step, elementwise passes included, and
// no OpenBLAS worker threads spin-wait against Go's.
func Gemm(transA, transB bool, m, n, k int, alpha float32, a []float32, lda int, b []float32, ldb int, beta float32, c []float32, ldc int) {
	GemmParts(runtime.GOMAXPROCS(0), transA, transB, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc, nil)
}

// SplitWorth reports whether an m×n×k product is worth splitting over cores.
func SplitWorth(m, n, k int) bool { return m*n*k >= 1<<19 }

// GemmParts is Gemm split into at most workers blocks, run by ForkJoin
// (the first on the calling goroutine, the others on the crew). Unless nil,
// it first calls prep(i0, rows, j0, cols) on each block of C it hands to one
// BLAS call, on that call's goroutine: a linear's bias is written there just
// before the product reads it back, while it is still in that core's cache,
// and without a parallel pass of its own.
//
// It splits C's rows unless they are both fewer than its columns and fewer
// than 128. At the real-data recipe's shapes rows split faster: 580×1024×256
// ran at 238–246 GFLOP/s against 218–225 split by columns, 224×1024×256 at
// 199–210 against 176–190 (580×768×256: 233–238 against 226–246). A split
// changes results by float rounding at most: OpenBLAS's Haswell kernels
// round a block's tail rows differently from the same rows inside a larger
// call (up to 1e-6 of the row's magnitude in TestLinearForwardSplits); its
// Cooperlake kernels gave the same bits.
func GemmParts(workers int, transA, transB bool, m, n, k int, alpha float32, a []float32, lda int, b []float32, ldb int, beta float32, c []float32, ldc int,
	prep func(i0, rows, j0, cols int)) {
	splitParts(workers, SplitGEMM, transA, transB, m, n, k, lda, ldb, ldc, prep, func(rows, cols, ao, bo, co int) {
		Gemm1(transA, transB, rows, cols, k, alpha, a[ao:], lda, b[bo:], ldb, beta, c[co:], ldc)
	})
}

// splitParts is the split of GemmParts, shared by every product: it calls
// run(rows, cols, ao, bo, co) once per block of C, with the offsets of the
// block's first elements in A, B and C, and prep before it (see GemmParts).
// split false keeps the whole product in one call.
func splitParts(workers int, split, transA, transB bool, m, n, k, lda, ldb, ldc int,
	prep func(i0, rows, j0, cols int), run func(rows, cols, ao, bo, co int)) {
	if m == 0 || n == 0 {
		return
	}
	if !split || workers < 2 || !SplitWorth(m, n, k) {
		if prep != nil {
			prep(0, m, 0, n)
		}
		run(m, n, 0, 0, 0)
		return
	}
	if m >= n || m >= 128 {
		chunk := (m + workers - 1) / workers
		chunk = (chunk + 7) &^ 7
		ForkJoin((m+chunk-1)/chunk, func(part int) {
			i0 := part * chunk
			rows := min(chunk, m-i0)
			ao := i0 * lda
			if transA {
				ao = i0
			}
			if prep != nil {
				prep(i0, rows, 0, n)
			}
			run(rows, n, ao, 0, i0*ldc)
		})
		return
	}
	chunk := (n + workers - 1) / workers
	chunk = (chunk + 7) &^ 7
	ForkJoin((n+chunk-1)/chunk, func(part int) {
		j0 := part * chunk
		cols := min(chunk, n-j0)
		bo := j0
		if transB {
			bo = j0 * ldb
		}
		if prep != nil {
			prep(0, m, j0, cols)
		}
		run(m, cols, 0, bo, j0)
	})
}

// Gemm1 is one BLAS call on the calling goroutine.
func Gemm1(transA, transB bool, m, n, k int, alpha float32, a []float32, lda int, b []float32, ldb int, beta float32, c []float32, ldc int) {
	if m == 0 || n == 0 {
		return
	}
	ta, tb := blas.NoTrans, blas.NoTrans
	if transA {
		ta = blas.Trans
	}
	if transB {
		tb = blas.Trans
	}
	blas32.Implementation().Sgemm(ta, tb, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc)
}

// Backend names the BLAS implementation this binary was built with.
func Backend() string { return backendName }

// coreRank orders OpenBLAS core names by the widest vectors their SGEMM
// kernels use: 3 for AVX-512, 2 for AVX2 + FMA, 1 for anything older.
func coreRank(name string) int {
	switch strings.ToLower(name) {
	case "skylakex", "cooperlake", "sapphirerapids":
		return 3
	case "haswell", "zen":
		return 2
	}
	return 1
}

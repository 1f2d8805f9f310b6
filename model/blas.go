package model

import (
	"gonum.org/v1/gonum/blas"
	"gonum.org/v1/gonum/blas/blas32"
)

// gemm computes C = alpha·op(A)·op(B) + beta·C on row-major buffers, where
// op(A) is m×k and op(B) is k×n. It goes through whatever blas32 currently
// uses: gonum's pure-Go kernels, or OpenBLAS under the openblas build tag.
func gemm(transA, transB bool, m, n, k int, alpha float32, a []float32, lda int, b []float32, ldb int, beta float32, c []float32, ldc int) {
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

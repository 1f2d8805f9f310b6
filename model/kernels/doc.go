// Package kernels is taskweave's raw-slice compute: matrix products on a
// BLAS backend chosen by build tag (gonum's pure Go by default, OpenBLAS
// under -tags openblas), the element-wise kernels of the encoder and the
// optimizer (vectorised C in the fast build, Go otherwise), the fork-join
// crew that splits work over the cores, and float32 exp and Gaussian CDF.
//
// It works on row-major []float32 buffers and knows nothing of parameters,
// layers or heads: the model above it decides what to multiply. Every
// backend passes the one conformance suite in this package.
package kernels

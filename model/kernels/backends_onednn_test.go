//go:build onednn

package kernels

// extraGEMMBackends: oneDNN's fp32 matmul, which the benchmarks compare with
// OpenBLAS, is held to the fp32 bounds too.
var extraGEMMBackends = []gemmBackend{{"fp32 onednn", GemmF32OneDNN, fp32Rel}}

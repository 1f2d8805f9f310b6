//go:build openblas

package model

/*
#cgo LDFLAGS: -lopenblas
void openblas_set_num_threads(int);
*/
import "C"

import (
	"gonum.org/v1/gonum/blas/blas32"
	"gonum.org/v1/netlib/blas/netlib"
)

const backendName = "openblas"

// OpenBLAS runs single-threaded (whatever OPENBLAS_NUM_THREADS says); gemm
// splits large products over goroutines instead, see blas.go.
const splitGEMM = true

func init() {
	blas32.Use(netlib.Implementation{})
	C.openblas_set_num_threads(1)
}

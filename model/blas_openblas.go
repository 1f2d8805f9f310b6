//go:build openblas

package model

/*
#cgo LDFLAGS: -lopenblas
void openblas_set_num_threads(int);
*/
import "C"

import (
	"runtime"

	"gonum.org/v1/gonum/blas/blas32"
	"gonum.org/v1/netlib/blas/netlib"
)

const backendName = "openblas"

func init() {
	blas32.Use(netlib.Implementation{})
	setBLASThreads(runtime.GOMAXPROCS(0))
}

// setBLASThreads sets how many threads OpenBLAS uses for one call. The model
// drops it to 1 around sections where its own goroutines already run one
// small GEMM per core (attention), so the two kinds of threads do not fight.
func setBLASThreads(n int) {
	if n == blasThreads {
		return
	}
	blasThreads = n
	C.openblas_set_num_threads(C.int(n))
}

var blasThreads int

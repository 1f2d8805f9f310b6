//go:build openblas

package model

/*
#cgo LDFLAGS: -lopenblas -ldl
#define _GNU_SOURCE
#include <dlfcn.h>
#include <stdlib.h>

void openblas_set_num_threads(int);
char *openblas_get_corename(void);


// OpenBLAS 0.3.21 (Debian 12) does not recognise recent Xeons and falls back
// to its Prescott (SSE3) kernels, about 20x slower here than its AVX-512 ones.
// Unless the user chose a core type, pick the best one the CPU supports and
// let OpenBLAS re-run its kernel selection (both functions are exported by
// DYNAMIC_ARCH builds, looked up at run time so that other builds still link;
// the table switch is what OPENBLAS_CORETYPE does at load).
static void taskweave_pick_core(void) {
	const char *core = NULL;
	void (*quit)(void) = (void (*)(void))dlsym(RTLD_DEFAULT, "gotoblas_dynamic_quit");
	void (*init)(void) = (void (*)(void))dlsym(RTLD_DEFAULT, "gotoblas_dynamic_init");
	if (quit == NULL || init == NULL) return;
	if (getenv("OPENBLAS_CORETYPE") != NULL) return;
	__builtin_cpu_init();
	if (__builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512bw") &&
	    __builtin_cpu_supports("avx512dq") && __builtin_cpu_supports("avx512vl")) {
		core = "SkylakeX";
	} else if (__builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma")) {
		core = "Haswell";
	}
	if (core == NULL) return;
	setenv("OPENBLAS_CORETYPE", core, 0);
	quit();
	init();
}
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
	if C.GoString(C.openblas_get_corename()) == "Prescott" {
		C.taskweave_pick_core()
	}
	blas32.Use(netlib.Implementation{})
	C.openblas_set_num_threads(1)
}

// setBLASThreads changes OpenBLAS's own thread count; only benchmarks use
// it, to compare its threading with gemm's split.
func setBLASThreads(n int) { C.openblas_set_num_threads(C.int(n)) }

// BLASCore names the kernel set OpenBLAS chose (e.g. "SkylakeX").
func BLASCore() string { return C.GoString(C.openblas_get_corename()) }

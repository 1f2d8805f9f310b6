//go:build openblas

package kernels

/*
#cgo LDFLAGS: -lopenblas -ldl
#define _GNU_SOURCE
#include <dlfcn.h>
#include <stdlib.h>

void openblas_set_num_threads(int);
char *openblas_get_corename(void);


// OpenBLAS 0.3.21 (Debian 12) does not recognise recent Xeons and falls back
// to its Prescott (SSE3) kernels, about 20x slower there than its AVX-512
// ones. Unless the user chose a core type, a CPU that runs wider kernels than
// OpenBLAS picked gets them. taskweave_best_core names the widest set the CPU
// can run.
static const char *taskweave_best_core(void) {
	__builtin_cpu_init();
	if (__builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512bw") &&
	    __builtin_cpu_supports("avx512dq") && __builtin_cpu_supports("avx512vl")) {
		return "SkylakeX";
	}
	if (__builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma")) {
		return "Haswell";
	}
	return NULL;
}

// taskweave_use_core makes OpenBLAS re-run its kernel selection with core
// (both functions are exported by DYNAMIC_ARCH builds, looked up at run time
// so that other builds still link; the table switch is what
// OPENBLAS_CORETYPE does at load).
static void taskweave_use_core(const char *core) {
	void (*quit)(void) = (void (*)(void))dlsym(RTLD_DEFAULT, "gotoblas_dynamic_quit");
	void (*init)(void) = (void (*)(void))dlsym(RTLD_DEFAULT, "gotoblas_dynamic_init");
	if (quit == NULL || init == NULL) return;
	setenv("OPENBLAS_CORETYPE", core, 0);
	quit();
	init();
}
*/
import "C"

import (
	"fmt"
	"os"
	"unsafe"

	"gonum.org/v1/gonum/blas/blas32"
	"gonum.org/v1/netlib/blas/netlib"
)

const backendName = "openblas"

// OpenBLAS runs single-threaded (whatever OPENBLAS_NUM_THREADS says); Gemm
// splits large products over goroutines instead, see blas.go.
const SplitGEMM = true

func init() {
	if best := C.taskweave_best_core(); best != nil {
		bestCore = C.GoString(best)
	}
	if _, chosen := os.LookupEnv("OPENBLAS_CORETYPE"); !chosen && coreRank(bestCore) > coreRank(BLASCore()) {
		name := C.CString(bestCore)
		C.taskweave_use_core(name)
		C.free(unsafe.Pointer(name))
	}
	blas32.Use(netlib.Implementation{})
	C.openblas_set_num_threads(1)
}

// SetBLASThreads changes OpenBLAS's own thread count; only benchmarks use
// it, to compare its threading with Gemm's split.
func SetBLASThreads(n int) { C.openblas_set_num_threads(C.int(n)) }

// BLASCore names the kernel set OpenBLAS chose (e.g. "SkylakeX").
func BLASCore() string { return C.GoString(C.openblas_get_corename()) }

// bestCore is the best kernel set this CPU can run ("SkylakeX", "Haswell"),
// or "" when OpenBLAS's own choice cannot be bettered.
var bestCore string

// BLASAdvice says, when OPENBLAS_CORETYPE holds this process to slower
// kernels than the CPU runs, what to change; "" otherwise. OpenBLAS honours
// the variable and so does taskweave, so a stale setting (the machines this
// project is built on set Haswell) would otherwise cost speed silently.
func BLASAdvice() string {
	env, set := os.LookupEnv("OPENBLAS_CORETYPE")
	if !set || coreRank(bestCore) <= coreRank(BLASCore()) {
		return ""
	}
	return fmt.Sprintf("OPENBLAS_CORETYPE=%s holds OpenBLAS to %s kernels; this CPU runs its %s kernels (AVX-512), "+
		"1.6-1.9x faster on SGEMM on an AMD Zen 5: unset OPENBLAS_CORETYPE to use them", env, BLASCore(), bestCore)
}

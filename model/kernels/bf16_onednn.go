//go:build onednn

package kernels

/*
#cgo LDFLAGS: -ldnnl -lgomp
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <oneapi/dnnl/dnnl.h>

void omp_set_num_threads(int);

// One cached matmul: the primitive and the memory descriptors its
// arguments are wrapped in at each call.
typedef struct {
	dnnl_primitive_t prim;
	dnnl_memory_desc_t a, b, c, scratch;
	size_t scratch_size;
} tw_mm;

static dnnl_engine_t tw_engine;

static dnnl_status_t tw_engine_init(void) {
	return dnnl_engine_create(&tw_engine, dnnl_cpu, 0);
}

// tw_mm_create builds C[m,n] = alpha·op(A)·op(B) + beta·C, row-major with
// leading dimensions lda, ldb, ldc, operands of type dt (bf16 or f32),
// C in f32. The user scratchpad lets two threads run the same primitive
// at once, each with its own scratch (see tw_mm_run).
static dnnl_status_t tw_mm_create(tw_mm *mm, int64_t m, int64_t n, int64_t k, int ta, int tb,
		int64_t lda, int64_t ldb, int64_t ldc, float alpha, float beta, dnnl_data_type_t dt) {
	dnnl_dims_t ad = {m, k}, bd = {k, n}, cd = {m, n};
	dnnl_dims_t as = {ta ? 1 : lda, ta ? lda : 1};
	dnnl_dims_t bs = {tb ? 1 : ldb, tb ? ldb : 1};
	dnnl_dims_t cs = {ldc, 1};
	dnnl_status_t st;
	if ((st = dnnl_memory_desc_init_by_strides(&mm->a, 2, ad, dt, as)) != dnnl_success) return st;
	if ((st = dnnl_memory_desc_init_by_strides(&mm->b, 2, bd, dt, bs)) != dnnl_success) return st;
	if ((st = dnnl_memory_desc_init_by_strides(&mm->c, 2, cd, dnnl_f32, cs)) != dnnl_success) return st;
	dnnl_matmul_desc_t desc;
	if ((st = dnnl_matmul_desc_init(&desc, &mm->a, &mm->b, NULL, &mm->c)) != dnnl_success) return st;
	dnnl_primitive_attr_t attr;
	if ((st = dnnl_primitive_attr_create(&attr)) != dnnl_success) return st;
	dnnl_primitive_attr_set_scratchpad_mode(attr, dnnl_scratchpad_mode_user);
	if (alpha != 1.0f) dnnl_primitive_attr_set_output_scales(attr, 1, 0, &alpha);
	if (beta != 0.0f) {
		dnnl_post_ops_t po;
		dnnl_post_ops_create(&po);
		dnnl_post_ops_append_sum(po, beta);
		dnnl_primitive_attr_set_post_ops(attr, po);
		dnnl_post_ops_destroy(po);
	}
	dnnl_primitive_desc_t pd;
	st = dnnl_primitive_desc_create(&pd, &desc, attr, tw_engine, NULL);
	dnnl_primitive_attr_destroy(attr);
	if (st != dnnl_success) return st;
	mm->scratch = *dnnl_primitive_desc_query_md(pd, dnnl_query_scratchpad_md, 0);
	mm->scratch_size = dnnl_memory_desc_get_size(&mm->scratch);
	st = dnnl_primitive_create(&mm->prim, pd);
	dnnl_primitive_desc_destroy(pd);
	return st;
}

// Each OS thread keeps its own stream and scratch buffer: a cgo call runs
// on one thread from start to end, so two goroutines' calls never share them.
static __thread dnnl_stream_t tw_stream;
static __thread void *tw_scratch;
static __thread size_t tw_scratch_cap;

// tw_mm_run runs mm on one thread (the caller splits products over cores
// itself, as for OpenBLAS; OpenMP workers would spin against Go's).
static dnnl_status_t tw_mm_run(tw_mm *mm, void *a, void *b, float *c) {
	dnnl_status_t st;
	omp_set_num_threads(1);
	if (tw_stream == NULL && (st = dnnl_stream_create(&tw_stream, tw_engine, dnnl_stream_default_flags)) != dnnl_success) return st;
	if (mm->scratch_size > tw_scratch_cap) {
		free(tw_scratch);
		tw_scratch = aligned_alloc(64, (mm->scratch_size + 63) & ~(size_t)63);
		tw_scratch_cap = tw_scratch ? mm->scratch_size : 0;
		if (tw_scratch == NULL) return dnnl_out_of_memory;
	}
	dnnl_memory_t ma, mb, mc, ms = NULL;
	dnnl_memory_create(&ma, &mm->a, tw_engine, a);
	dnnl_memory_create(&mb, &mm->b, tw_engine, b);
	dnnl_memory_create(&mc, &mm->c, tw_engine, c);
	dnnl_exec_arg_t args[4] = {{DNNL_ARG_SRC, ma}, {DNNL_ARG_WEIGHTS, mb}, {DNNL_ARG_DST, mc}, {DNNL_ARG_SCRATCHPAD, NULL}};
	int nargs = 3;
	if (mm->scratch_size > 0) {
		dnnl_memory_create(&ms, &mm->scratch, tw_engine, tw_scratch);
		args[3].memory = ms;
		nargs = 4;
	}
	st = dnnl_primitive_execute(mm->prim, tw_stream, nargs, args);
	if (st == dnnl_success) st = dnnl_stream_wait(tw_stream);
	dnnl_memory_destroy(ma);
	dnnl_memory_destroy(mb);
	dnnl_memory_destroy(mc);
	if (ms) dnnl_memory_destroy(ms);
	return st;
}

static int tw_isa_bf16(void) {
	dnnl_cpu_isa_t isa = dnnl_get_effective_cpu_isa();
	return (isa & dnnl_cpu_isa_avx512_core_bf16) == dnnl_cpu_isa_avx512_core_bf16;
}
*/
import "C"

import (
	"fmt"
	"sync"
	"unsafe"
)

// BF16Backend names what runs bf16 products in this build.
const BF16Backend = "onednn"

func init() {
	if st := C.tw_engine_init(); st != C.dnnl_success {
		panic(fmt.Sprintf("kernels: oneDNN CPU engine: status %d", int(st)))
	}
}

// mmKey is what a matmul primitive is specialised for.
type mmKey struct {
	m, n, k, lda, ldb, ldc int
	ta, tb                 bool
	alpha, beta            float32
	bf16                   bool
}

// mmCache holds one primitive per shape: creating one costs JIT code
// generation (about a millisecond), running it microseconds. A training
// run meets a few hundred shapes (its batch lengths × its products).
var mmCache struct {
	sync.Mutex
	m map[mmKey]*C.tw_mm
}

func matmul(key mmKey) *C.tw_mm {
	mmCache.Lock()
	defer mmCache.Unlock()
	if mm := mmCache.m[key]; mm != nil {
		return mm
	}
	if mmCache.m == nil {
		mmCache.m = map[mmKey]*C.tw_mm{}
	}
	dt := C.dnnl_data_type_t(C.dnnl_f32)
	if key.bf16 {
		dt = C.dnnl_bf16
	}
	mm := (*C.tw_mm)(C.calloc(1, C.size_t(unsafe.Sizeof(C.tw_mm{}))))
	if st := C.tw_mm_create(mm, C.int64_t(key.m), C.int64_t(key.n), C.int64_t(key.k), cbool(key.ta), cbool(key.tb),
		C.int64_t(key.lda), C.int64_t(key.ldb), C.int64_t(key.ldc), C.float(key.alpha), C.float(key.beta), dt); st != C.dnnl_success {
		panic(fmt.Sprintf("kernels: oneDNN matmul %+v: status %d", key, int(st)))
	}
	mmCache.m[key] = mm
	return mm
}

func cbool(b bool) C.int {
	if b {
		return 1
	}
	return 0
}

// gemmBF16One is one oneDNN bf16 matmul on the calling goroutine: bf16
// operands, fp32 accumulation and fp32 C.
func gemmBF16One(transA, transB bool, m, n, k int, alpha float32, a []uint16, lda int, b []uint16, ldb int, beta float32, c []float32, ldc int) {
	if m == 0 || n == 0 {
		return
	}
	mm := matmul(mmKey{m: m, n: n, k: k, lda: lda, ldb: ldb, ldc: ldc, ta: transA, tb: transB, alpha: alpha, beta: beta, bf16: true})
	if st := C.tw_mm_run(mm, unsafe.Pointer(unsafe.SliceData(a)), unsafe.Pointer(unsafe.SliceData(b)), (*C.float)(unsafe.SliceData(c))); st != C.dnnl_success {
		panic(fmt.Sprintf("kernels: oneDNN matmul %dx%dx%d: status %d", m, n, k, int(st)))
	}
}

// GemmF32OneDNN is one oneDNN fp32 matmul on the calling goroutine; only
// the benchmarks use it, to compare oneDNN's fp32 with OpenBLAS's.
func GemmF32OneDNN(transA, transB bool, m, n, k int, alpha float32, a []float32, lda int, b []float32, ldb int, beta float32, c []float32, ldc int) {
	if m == 0 || n == 0 {
		return
	}
	mm := matmul(mmKey{m: m, n: n, k: k, lda: lda, ldb: ldb, ldc: ldc, ta: transA, tb: transB, alpha: alpha, beta: beta})
	if st := C.tw_mm_run(mm, unsafe.Pointer(unsafe.SliceData(a)), unsafe.Pointer(unsafe.SliceData(b)), (*C.float)(unsafe.SliceData(c))); st != C.dnnl_success {
		panic(fmt.Sprintf("kernels: oneDNN matmul %dx%dx%d: status %d", m, n, k, int(st)))
	}
}

// bf16ISA reports whether oneDNN runs native bf16 kernels here.
func bf16ISA() bool { return C.tw_isa_bf16() != 0 }

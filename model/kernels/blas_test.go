package kernels

import (
	"math"
	"math/rand/v2"
	"os"
	"os/exec"
	"strings"
	"testing"
)

// gemmBackend is one implementation of C = alpha·op(A)·op(B) + beta·C on
// fp32 buffers, with the relative error it is allowed per unit of
// Σ|a_il·b_lj|: float rounding of the accumulation for fp32, and for bf16
// also the rounding of both operands to 8 significant bits. Round to
// nearest moves each operand by at most 2^-8 of itself (half an ulp of a
// 7-bit stored mantissa is 2^-9; 2^-8 leaves room for either rounding), so
// a product by at most 2·2^-8 + 2^-16 ≈ 2^-7 of |a·b|; fp32 accumulation
// over k terms adds at most k·2^-24 of Σ|a·b| (ordinary float rounding).
type gemmBackend struct {
	name string
	gemm func(ta, tb bool, m, n, k int, alpha float32, a []float32, lda int, b []float32, ldb int, beta float32, c []float32, ldc int)
	rel  func(k int) float64
}

func fp32Rel(k int) float64 { return 2 * float64(k+2) * 0x1p-24 }

func bf16Rel(k int) float64 { return 0x1p-7 + 0x1p-16 + fp32Rel(k) }

// gemmBackends lists every product this build can run: the fp32 BLAS
// backend, bf16 products (oneDNN, or emulated without it), and whatever
// the build adds (extraGEMMBackends: oneDNN's fp32 under -tags onednn).
func gemmBackends() []gemmBackend {
	bs := []gemmBackend{
		{"fp32 " + Backend(), Gemm, fp32Rel},
		{"bf16 " + BF16Backend, gemmViaBF16, bf16Rel},
	}
	return append(bs, extraGEMMBackends...)
}

// gemmViaBF16 rounds the operands to bf16 and runs GemmBF16.
func gemmViaBF16(ta, tb bool, m, n, k int, alpha float32, a []float32, lda int, b []float32, ldb int, beta float32, c []float32, ldc int) {
	ab, bb := make([]uint16, len(a)), make([]uint16, len(b))
	ToBF16(ab, a)
	ToBF16(bb, b)
	GemmBF16(ta, tb, m, n, k, alpha, ab, lda, bb, ldb, beta, c, ldc)
}

// TestGEMM checks every backend against a float64 triple loop, for every
// transpose combination, with leading dimensions wider than the matrices (as
// attention uses them), alpha and beta, and products large enough to be
// split over the cores; columns of C past n must not be touched.
func TestGEMM(t *testing.T) {
	t.Logf("backend: %s, kernels %s; bf16: %s", Backend(), BLASCore(), BF16Backend)
	for _, be := range gemmBackends() {
		t.Run(be.name, func(t *testing.T) {
			r := rand.New(rand.NewPCG(1, 2))
			var worst float64
			for _, tc := range []struct {
				ta, tb      bool
				m, n, k     int
				alpha, beta float32
			}{{false, false, 7, 5, 3, 0.5, 2}, {false, true, 33, 17, 64, 1, 0}, {true, false, 16, 9, 40, 1, 1}, {true, true, 3, 70, 11, 0.5, 2},
				{false, true, 128, 128, 64, 1, 1}, {false, true, 580, 256, 256, 1, 1}, {true, false, 256, 256, 580, 1, 1}, {false, false, 40, 1024, 256, 1, 0}} {
				worst = math.Max(worst, checkGEMM(t, be, r, tc.ta, tc.tb, tc.m, tc.n, tc.k, tc.alpha, tc.beta))
			}
			t.Logf("largest error %.3g of its bound", worst)
		})
	}
}

// checkGEMM runs one product through be and returns the largest error as a
// share of its bound.
func checkGEMM(t *testing.T, be gemmBackend, r *rand.Rand, ta, tb bool, m, n, k int, alpha, beta float32) float64 {
	t.Helper()
	lda, ldb, ldc := k+3, n+2, n+5
	ar, br := m, k
	if ta {
		ar, lda = k, m+3
	}
	if tb {
		br, ldb = n, k+2
	}
	a, b, c := make([]float32, ar*lda), make([]float32, br*ldb), make([]float32, m*ldc)
	for _, s := range [][]float32{a, b, c} {
		for i := range s {
			s[i] = float32(r.NormFloat64())
		}
	}
	c0 := append([]float32(nil), c...)
	at := func(i, l int) float64 {
		if ta {
			return float64(a[l*lda+i])
		}
		return float64(a[i*lda+l])
	}
	bt := func(l, j int) float64 {
		if tb {
			return float64(b[j*ldb+l])
		}
		return float64(b[l*ldb+j])
	}
	be.gemm(ta, tb, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc)
	worst := 0.0
	for i := 0; i < m; i++ {
		for j := 0; j < ldc; j++ {
			want, mag := float64(c0[i*ldc+j]), 0.0
			if j < n {
				var s float64
				for l := 0; l < k; l++ {
					s += at(i, l) * bt(l, j)
					mag += math.Abs(at(i, l) * bt(l, j))
				}
				want = float64(alpha)*s + float64(beta)*want
				mag = float64(alpha)*mag + math.Abs(float64(beta)*float64(c0[i*ldc+j]))
			}
			bound := be.rel(k)*mag + 0x1p-23*math.Abs(want)
			d := math.Abs(float64(c[i*ldc+j]) - want)
			if (j >= n && d != 0) || d > bound {
				t.Fatalf("ta=%v tb=%v %dx%dx%d: C[%d,%d] = %g, want %g (bound %.3g)", ta, tb, m, n, k, i, j, c[i*ldc+j], want, bound)
			}
			if bound > 0 {
				worst = math.Max(worst, d/bound)
			}
		}
	}
	return worst
}

// cpuRank is coreRank of the best kernels /proc/cpuinfo's flags allow, 0
// when it cannot be read.
func cpuRank() int {
	info, err := os.ReadFile("/proc/cpuinfo")
	if err != nil {
		return 0
	}
	has := func(f string) bool {
		return strings.Contains(string(info), " "+f+" ") || strings.Contains(string(info), " "+f+"\n")
	}
	switch {
	case has("avx512f") && has("avx512bw") && has("avx512dq") && has("avx512vl"):
		return 3
	case has("avx2") && has("fma"):
		return 2
	}
	return 1
}

// runChild runs one test of this binary in a child process whose
// OPENBLAS_CORETYPE is core ("" = unset), since OpenBLAS reads it at load.
func runChild(t *testing.T, test, core string) {
	t.Helper()
	cmd := exec.Command(os.Args[0], "-test.run=^"+test+"$", "-test.count=1", "-test.v")
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, "OPENBLAS_CORETYPE=") {
			cmd.Env = append(cmd.Env, kv)
		}
	}
	cmd.Env = append(cmd.Env, "TASKWEAVE_BLAS_CHILD=1")
	if core != "" {
		cmd.Env = append(cmd.Env, "OPENBLAS_CORETYPE="+core)
	}
	out, err := cmd.CombinedOutput()
	if err != nil || !strings.Contains(string(out), "--- PASS: "+test) {
		t.Fatalf("%s with OPENBLAS_CORETYPE=%q: %v\n%s", test, core, err, out)
	}
}

// TestBLASCoreIsBest guards the fast build's kernel choice: with no
// OPENBLAS_CORETYPE, OpenBLAS must run the widest kernels the CPU supports
// (0.3.21 falls back to SSE3 on recent Xeons). The check runs in a child without the variable, since this
// machine's environment may set it.
func TestBLASCoreIsBest(t *testing.T) {
	if Backend() != "openblas" {
		t.Skip("pure-Go build")
	}
	want := cpuRank()
	if want < 2 {
		t.Skip("no AVX2 reported by /proc/cpuinfo")
	}
	if os.Getenv("TASKWEAVE_BLAS_CHILD") == "" {
		runChild(t, t.Name(), "")
		return
	}
	if got := coreRank(BLASCore()); got != want {
		t.Fatalf("OpenBLAS kernels %q (rank %d) on a CPU that runs rank %d", BLASCore(), got, want)
	}
	if a := BLASAdvice(); a != "" {
		t.Fatalf("advice without OPENBLAS_CORETYPE: %s", a)
	}
}

// TestBLASAdvice: a user's OPENBLAS_CORETYPE is honoured, and when it holds
// OpenBLAS below what the CPU runs, BLASAdvice says so.
func TestBLASAdvice(t *testing.T) {
	if Backend() != "openblas" {
		t.Skip("pure-Go build")
	}
	if cpuRank() < 3 {
		t.Skip("no AVX-512 reported by /proc/cpuinfo")
	}
	if os.Getenv("TASKWEAVE_BLAS_CHILD") == "" {
		runChild(t, t.Name(), "Haswell")
		runChild(t, t.Name(), "SkylakeX")
		return
	}
	switch core, a := BLASCore(), BLASAdvice(); core {
	case "Haswell":
		if !strings.Contains(a, "OPENBLAS_CORETYPE=Haswell") || !strings.Contains(a, "SkylakeX") {
			t.Fatalf("Haswell kernels on an AVX-512 CPU, advice %q", a)
		}
	case "SkylakeX":
		if a != "" {
			t.Fatalf("SkylakeX kernels, advice %q", a)
		}
	default:
		t.Fatalf("OPENBLAS_CORETYPE=%s not honoured: kernels %q", os.Getenv("OPENBLAS_CORETYPE"), core)
	}
}

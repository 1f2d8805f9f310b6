package kernels

import (
	"math"
	"math/rand/v2"
	"os"
	"os/exec"
	"strings"
	"testing"
)

// TestGEMM checks the active backend (gonum or OpenBLAS, by build tag)
// against a float64 triple loop, for every transpose combination and with
// leading dimensions wider than the matrices, as attention uses them.
func TestGEMM(t *testing.T) {
	t.Logf("backend: %s, kernels %s", Backend(), BLASCore())
	r := rand.New(rand.NewPCG(1, 2))
	for _, tc := range []struct {
		ta, tb  bool
		m, n, k int
	}{{false, false, 7, 5, 3}, {false, true, 33, 17, 64}, {true, false, 16, 9, 40}, {true, true, 3, 70, 11}, {false, true, 128, 128, 64}} {
		lda, ldb, ldc := tc.k+3, tc.n+2, tc.n+5
		ar, br := tc.m, tc.k
		if tc.ta {
			ar, lda = tc.k, tc.m+3
		}
		if tc.tb {
			br, ldb = tc.n, tc.k+2
		}
		a := make([]float32, ar*lda)
		b := make([]float32, br*ldb)
		c := make([]float32, tc.m*ldc)
		for _, s := range [][]float32{a, b, c} {
			for i := range s {
				s[i] = float32(r.NormFloat64())
			}
		}
		c0 := append([]float32(nil), c...)
		at := func(i, l int) float64 {
			if tc.ta {
				return float64(a[l*lda+i])
			}
			return float64(a[i*lda+l])
		}
		bt := func(l, j int) float64 {
			if tc.tb {
				return float64(b[j*ldb+l])
			}
			return float64(b[l*ldb+j])
		}
		Gemm(tc.ta, tc.tb, tc.m, tc.n, tc.k, 0.5, a, lda, b, ldb, 2, c, ldc)
		for i := 0; i < tc.m; i++ {
			for j := 0; j < ldc; j++ {
				want := float64(c0[i*ldc+j])
				if j < tc.n {
					var s float64
					for l := 0; l < tc.k; l++ {
						s += at(i, l) * bt(l, j)
					}
					want = 0.5*s + 2*want
				}
				if d := math.Abs(float64(c[i*ldc+j]) - want); d > 1e-4*math.Max(1, math.Abs(want)) {
					t.Fatalf("%+v: C[%d,%d] = %g, want %g", tc, i, j, c[i*ldc+j], want)
				}
			}
		}
	}
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

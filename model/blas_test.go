package model

import (
	"math"
	"math/rand/v2"
	"os"
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
		gemm(tc.ta, tc.tb, tc.m, tc.n, tc.k, 0.5, a, lda, b, ldb, 2, c, ldc)
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

// TestBLASCoreNotPrescott guards the fast build's kernel choice: on a CPU
// with AVX2 or AVX-512, OpenBLAS must not be left on its SSE3 fallback.
func TestBLASCoreNotPrescott(t *testing.T) {
	if Backend() != "openblas" {
		t.Skip("pure-Go build")
	}
	if os.Getenv("OPENBLAS_CORETYPE") != "" {
		t.Skip("OPENBLAS_CORETYPE set by the user")
	}
	info, err := os.ReadFile("/proc/cpuinfo")
	if err != nil || !strings.Contains(string(info), " avx2") {
		t.Skip("no AVX2 reported by /proc/cpuinfo")
	}
	if c := BLASCore(); c == "Prescott" {
		t.Fatalf("OpenBLAS kernels %q on a CPU with AVX2", c)
	}
}

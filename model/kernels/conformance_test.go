package kernels

// The element-wise kernels exist twice: in C (kernels_c.go, openblas build,
// vectorised with AVX-512/AVX2/SSE2 clones) and in Go (kernels_go.go, pure
// build). This file is the one conformance suite both must pass, in the
// manner of gonum's blas/testblas: it has no build tag, so `make test` runs
// it once against each implementation (the whole suite with -tags openblas,
// ./model/... without). Every kernel is checked against a float64 reference
// over lengths that hit the vector widths and their tails.

import (
	"math"
	"math/rand/v2"
	"testing"

	"github.com/taskweave/taskweave/internal/rng"
	"github.com/taskweave/taskweave/model/kernels/kerneltest"
)

// conformanceLengths cover one element, each vector width (4, 8, 16) and the
// lengths just around them, and a long run with a ragged tail.
var conformanceLengths = []int{1, 3, 4, 5, 7, 8, 9, 15, 16, 17, 31, 33, 64, 257}

var (
	randVec = kerneltest.RandVec
	closeTo = kerneltest.CloseTo
)

func TestKernelConformance(t *testing.T) {
	cases := []struct {
		name string
		run  func(t *testing.T, r *rand.Rand, n int)
	}{
		{"gelu", conformGELU},
		{"Softmax", conformSoftmax},
		{"LayerNormRows", conformLayerNorm},
		{"LayerNormBackRows", conformLayerNormBack},
		{"AdamW", conformAdamW},
		{"AdamWIdle", conformAdamWIdle},
		{"SumSquares", conformSumSquares},
		{"Scale", conformScale},
		{"DropoutMask", conformDropout},
		{"ToBF16", conformToBF16},
		{"ToBF16T", conformToBF16T},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			r := rand.New(rand.NewPCG(7, uint64(len(c.name))))
			for _, n := range conformanceLengths {
				c.run(t, r, n)
			}
		})
	}
}

// GELU(x) = x·Φ(x) and its derivative Φ(x) + x·φ(x); the kernels use a
// 7.1.26-style erf (error ≤ 1.5e-7), hence the tolerance.
func conformGELU(t *testing.T, r *rand.Rand, n int) {
	x := randVec(r, n, 6)
	x[0] = 0 // Φ(0) = 1/2 exactly in the reference
	in := append([]float32(nil), x...)
	y := make([]float32, n)
	GELU(x, y)
	for i, v := range in {
		vf := float64(v)
		cdf := 0.5 * (1 + math.Erf(vf/math.Sqrt2))
		pdf := math.Exp(-vf*vf/2) / math.Sqrt(2*math.Pi)
		if !closeTo(y[i], vf*cdf, 2e-6, 1e-5) {
			t.Fatalf("n=%d: gelu(%g) = %g, want %g", n, v, y[i], vf*cdf)
		}
		if !closeTo(x[i], cdf+vf*pdf, 2e-6, 1e-5) {
			t.Fatalf("n=%d: gelu'(%g) = %g, want %g", n, v, x[i], cdf+vf*pdf)
		}
	}
}

// Softmax: rows of width T, scale·softmax over the first visible columns,
// zeros after them; large logits must not overflow.
func conformSoftmax(t *testing.T, r *rand.Rand, n int) {
	const rows = 3
	for _, visible := range []int{1, (n + 1) / 2, n} {
		scale := float32(1)
		if visible != n {
			scale = 0.37 // the cross-entropy gradient's 1/count
		}
		s := randVec(r, rows*n, 40)
		in := append([]float32(nil), s...)
		Softmax(s, n, visible, scale)
		for row := 0; row < rows; row++ {
			src, got := in[row*n:(row+1)*n], s[row*n:(row+1)*n]
			lse := LogSumExp(src[:visible])
			for j := range got {
				want := 0.0
				if j < visible {
					want = float64(scale) * math.Exp(float64(src[j])-lse)
				}
				if !closeTo(got[j], want, 1e-7, 1e-5) {
					t.Fatalf("n=%d visible=%d row %d col %d: %g, want %g", n, visible, row, j, got[j], want)
				}
			}
		}
	}
}

// LogSumExp against the sum written out in float64 on logits small enough
// not to overflow, and on logits near float32's largest that would.
func TestLogSumExp(t *testing.T) {
	for _, tc := range []struct {
		x    []float32
		want float64
	}{
		{[]float32{0}, 0},
		{[]float32{1, 2, 3}, math.Log(math.E + math.E*math.E + math.E*math.E*math.E)},
		{[]float32{-5, 0.5}, math.Log(math.Exp(-5) + math.Exp(0.5))},
		{[]float32{3e38, 3e38}, float64(float32(3e38)) + math.Ln2},
	} {
		if got := LogSumExp(tc.x); math.Abs(got-tc.want) > 1e-12*math.Max(1, math.Abs(tc.want)) {
			t.Errorf("LogSumExp(%v) = %.17g, want %.17g", tc.x, got, tc.want)
		}
	}
}

func conformLayerNorm(t *testing.T, r *rand.Rand, w int) {
	const rows, eps = 4, 1e-12
	x := randVec(r, rows*w, 3)
	for j := range x[:w] { // a constant row: variance 0, rstd from eps alone
		x[j] = 0.5
	}
	g, b := randVec(r, w, 1), randVec(r, w, 1)
	xhat, y, rstd := make([]float32, rows*w), make([]float32, rows*w), make([]float32, rows)
	LayerNormRows(x, xhat, y, rstd, g, b, w, eps)
	for row := 0; row < rows; row++ {
		xr := x[row*w : (row+1)*w]
		var mean, ss float64
		for _, v := range xr {
			mean += float64(v)
		}
		mean /= float64(w)
		for _, v := range xr {
			ss += (float64(v) - mean) * (float64(v) - mean)
		}
		rs := 1 / math.Sqrt(ss/float64(w)+eps)
		if row > 0 && !closeTo(rstd[row], rs, 0, 1e-5) {
			t.Fatalf("w=%d row %d: rstd %g, want %g", w, row, rstd[row], rs)
		}
		for j, v := range xr {
			xh := (float64(v) - mean) * rs
			if row == 0 {
				xh = 0
			}
			if !closeTo(xhat[row*w+j], xh, 1e-5, 1e-5) || !closeTo(y[row*w+j], xh*float64(g[j])+float64(b[j]), 1e-5, 1e-5) {
				t.Fatalf("w=%d row %d col %d: xhat %g y %g, want %g %g", w, row, j, xhat[row*w+j], y[row*w+j], xh, xh*float64(g[j])+float64(b[j]))
			}
		}
	}
}

// dx = rstd·(dy·g − mean(dy·g) − x̂·mean(dy·g·x̂)).
func conformLayerNormBack(t *testing.T, r *rand.Rand, w int) {
	const rows = 3
	dy, xhat, g := randVec(r, rows*w, 1), randVec(r, rows*w, 2), randVec(r, w, 1)
	rstd := randVec(r, rows, 4)
	dx := make([]float32, rows*w)
	LayerNormBackRows(dy, xhat, rstd, g, dx, w)
	for row := 0; row < rows; row++ {
		var m1, m2 float64
		for j := 0; j < w; j++ {
			dg := float64(dy[row*w+j]) * float64(g[j])
			m1 += dg
			m2 += dg * float64(xhat[row*w+j])
		}
		m1 /= float64(w)
		m2 /= float64(w)
		for j := 0; j < w; j++ {
			want := float64(rstd[row]) * (float64(dy[row*w+j])*float64(g[j]) - m1 - float64(xhat[row*w+j])*m2)
			if !closeTo(dx[row*w+j], want, 1e-5, 1e-5) {
				t.Fatalf("w=%d row %d col %d: dx %g, want %g", w, row, j, dx[row*w+j], want)
			}
		}
	}
}

// One AdamW update with bias corrections folded into inv2 and step and the
// clipping scale into the read of g, as model/optim.go calls it:
// g' = scale·g, w ← w·decay − step·m/(√v·inv2 + eps); g is not written.
func conformAdamW(t *testing.T, r *rand.Rand, n int) {
	const b1, b2, eps, decay, step = 0.9, 0.999, 1e-8, 0.9999, 1e-3
	c1, c2 := float32(1-b1), float32(1-b2)
	inv2 := float32(1 / math.Sqrt(1-math.Pow(b2, 3)))
	for _, scale := range []float32{1, 0.37} {
		w, g := randVec(r, n, 1), randVec(r, n, 0.1)
		m, v := randVec(r, n, 0.01), make([]float32, n)
		for i := range v {
			v[i] = float32(r.Float64() * 1e-4)
		}
		w0, g0, m0, v0 := append([]float32(nil), w...), append([]float32(nil), g...), append([]float32(nil), m...), append([]float32(nil), v...)
		AdamW(w, g, m, v, AdamWConsts{B1: b1, B2: b2, C1: c1, C2: c2, Inv2: inv2, Eps: eps, Decay: decay, Step: step, Scale: scale})
		for i := range w {
			gi := float64(g0[i]) * float64(scale)
			mi := b1*float64(m0[i]) + float64(c1)*gi
			vi := b2*float64(v0[i]) + float64(c2)*gi*gi
			wi := float64(w0[i])*decay - step*mi/(math.Sqrt(vi)*float64(inv2)+eps)
			if !closeTo(m[i], mi, 1e-9, 1e-6) || !closeTo(v[i], vi, 1e-12, 1e-6) || !closeTo(w[i], wi, 1e-7, 1e-6) || g[i] != g0[i] {
				t.Fatalf("n=%d scale=%g i=%d: w,m,v,g = %g,%g,%g,%g, want %g,%g,%g,%g", n, scale, i, w[i], m[i], v[i], g[i], wi, mi, vi, g0[i])
			}
		}
	}
}

// The lazy optimizer's catch-up: with θ = 0, steps of zero-gradient AdamW
// exactly as AdamW computes them (bit for bit); with θ > 0 the elements
// whose m² ≤ θ²·v only decay.
func conformAdamWIdle(t *testing.T, r *rand.Rand, n int) {
	const b1, b2, eps = 0.9, 0.999, 1e-6
	steps := 7
	decay, step, inv2 := make([]float32, steps), make([]float32, steps), make([]float32, steps)
	for s := range decay {
		lr := 1e-3 * float64(s+1) / float64(steps)
		decay[s], step[s] = float32(1-lr*0.01), float32(lr/(1-math.Pow(b1, float64(s+4))))
		inv2[s] = float32(1 / math.Sqrt(1-math.Pow(b2, float64(s+4))))
	}
	w, m, v := randVec(r, n, 1), randVec(r, n, 0.01), make([]float32, n)
	for i := range v {
		v[i] = float32(r.Float64() * 1e-4)
	}
	m[0] = 1e-12 // an element past its Adam phase at θ = 1e-6
	zero := make([]float32, n)
	for _, theta := range []float32{0, 1e-6} {
		w1, m1, v1 := append([]float32(nil), w...), append([]float32(nil), m...), append([]float32(nil), v...)
		w2, m2, v2 := append([]float32(nil), w...), append([]float32(nil), m...), append([]float32(nil), v...)
		AdamWIdle(w1, m1, v1, decay, step, inv2, b1, b2, eps, theta*theta)
		for s := range decay {
			AdamW(w2, zero, m2, v2, AdamWConsts{B1: b1, B2: b2, C1: 1 - b1, C2: 1 - b2, Inv2: inv2[s], Eps: eps, Decay: decay[s], Step: step[s], Scale: 1})
			if theta > 0 { // the reference with element 0's Adam term left out
				w2[0] = w[0]
				for k := 0; k <= s; k++ {
					w2[0] *= decay[k]
				}
			}
		}
		for i := range w1 {
			if w1[i] != w2[i] || m1[i] != m2[i] || v1[i] != v2[i] {
				t.Fatalf("n=%d θ=%g i=%d: idle w,m,v %g,%g,%g; dense with g=0 %g,%g,%g", n, theta, i, w1[i], m1[i], v1[i], w2[i], m2[i], v2[i])
			}
		}
	}
}

// Σ g² in float64: exact up to float64 rounding of the sum, whatever the
// order of the vector lanes.
func conformSumSquares(t *testing.T, r *rand.Rand, n int) {
	g := randVec(r, n, 3)
	var want float64
	for _, x := range g {
		want += float64(x) * float64(x)
	}
	if got := SumSquares(g); math.Abs(got-want) > 1e-13*want {
		t.Fatalf("n=%d: Σg² = %.17g, want %.17g", n, got, want)
	}
}

func conformScale(t *testing.T, r *rand.Rand, n int) {
	g := randVec(r, n, 3)
	g0 := append([]float32(nil), g...)
	Scale(g, 0.3)
	for i := range g {
		if g[i] != g0[i]*0.3 {
			t.Fatalf("n=%d i=%d: %g·0.3 = %g, want %g", n, i, g0[i], g[i], g0[i]*0.3)
		}
	}
}

// Dropout masks are part of the training stream: both builds must draw the
// very same masks (exact equality), keep-scaled by 1/(1−p).
func conformDropout(t *testing.T, r *rand.Rand, n int) {
	key, start := r.Uint64(), r.Uint64()>>20
	for _, p := range []float64{0, 0.1, 0.5} {
		threshold := uint64(p * (1 << 32))
		keep := float32(1 / (1 - p))
		mask := make([]float32, n)
		DropoutMask(mask, start, key, threshold, keep)
		for i, got := range mask {
			want := keep
			if rng.Mix(key+(start+uint64(i))*rng.Gamma)>>32 < threshold {
				want = 0
			}
			if got != want {
				t.Fatalf("n=%d p=%g element %d: %g, want %g", n, p, i, got, want)
			}
		}
	}
}

// ToBF16 must round exactly as bf16Round (to nearest, ties to even, NaN
// kept) in every build: the bf16 operands of a product are these bits.
func conformToBF16(t *testing.T, r *rand.Rand, n int) {
	src := randVec(r, n, 1e4)
	special := []float32{0, float32(math.Copysign(0, -1)), 1, -1, float32(math.Inf(1)), float32(math.Inf(-1)), float32(math.NaN()),
		math.Float32frombits(0x3f808000), math.Float32frombits(0x3f818000), math.Float32frombits(0x7f7fffff), math.Float32frombits(0x00000001)}
	copy(src, special)
	dst := make([]uint16, n)
	ToBF16(dst, src)
	for i, f := range src {
		if want := bf16Round(f); dst[i] != want {
			t.Fatalf("n=%d: ToBF16(%g = %#08x) = %#04x, want %#04x", n, f, math.Float32bits(f), dst[i], want)
		}
	}
}

// ToBF16T is ToBF16 written transposed: the same bits at (j, i) as at
// (i, j), for every tile remainder and a row stride longer than a row.
func conformToBF16T(t *testing.T, r *rand.Rand, n int) {
	shapes := [][2]int{{max(1, n), 1}, {max(1, n/7), 7}, {max(1, n/33), 33}, {max(1, n/100), 100}}
	if n == conformanceLengths[len(conformanceLengths)-1] {
		shapes = append(shapes, [2]int{600, 300}) // long enough to split over the cores
	}
	for _, sh := range shapes {
		rows, cols := sh[0], sh[1]
		ld := cols + 3
		src := randVec(r, (rows-1)*ld+cols, 1e4)
		src[0] = float32(math.NaN())
		dst := make([]uint16, rows*cols)
		ToBF16T(dst, src, rows, cols, ld)
		for i := 0; i < rows; i++ {
			for j := 0; j < cols; j++ {
				if want := bf16Round(src[i*ld+j]); dst[j*rows+i] != want {
					t.Fatalf("%dx%d ld %d: (%d,%d) = %#04x, want %#04x", rows, cols, ld, i, j, dst[j*rows+i], want)
				}
			}
		}
	}
}

// bf16Round against hand-computed cases: ties go to the even neighbour, the
// largest float rounds to infinity, NaN stays NaN.
func TestBF16Round(t *testing.T) {
	for _, tc := range []struct {
		in   uint32
		want uint16
	}{
		{0x3f800000, 0x3f80}, // 1
		{0x3f808000, 0x3f80}, // 1 + 2^-8: a tie, down to the even 0x3f80
		{0x3f818000, 0x3f82}, // 1 + 3·2^-8: a tie, up to the even 0x3f82
		{0x3f808001, 0x3f81}, // just above the tie
		{0x7f7fffff, 0x7f80}, // max float → +inf
		{0x7fc00000, 0x7fc0}, // NaN
		{0x7f800001, 0x7fc0}, // signalling NaN → quiet
		{0x80000000, 0x8000}, // −0
	} {
		if got := bf16Round(math.Float32frombits(tc.in)); got != tc.want {
			t.Errorf("bf16Round(%#08x) = %#04x, want %#04x", tc.in, got, tc.want)
		}
	}
}

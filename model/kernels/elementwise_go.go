//go:build !openblas

package kernels

import (
	"math"

	"github.com/taskweave/taskweave/internal/rng"
)

// CKernels reports whether the element-wise kernels are the vectorised C ones.
const CKernels = false

// GELU writes y = x·Φ(x) and overwrites x with the derivative Φ(x) + x·φ(x).
func GELU(x, y []float32) {
	for i, v := range x {
		c, p := PhiAndPdf(v)
		y[i] = v * c
		x[i] = c + v*p
	}
}

// Softmax turns every row of s[rows,T] into scale·softmax over its first
// visible columns and zeroes the others; large logits do not overflow (the
// row's maximum is subtracted first). It is taskweave's one softmax:
// attention, the mixture-of-experts gate, the cross-entropy gradient
// (scale = 1/count folds the mean in) and scoring's probabilities.
func Softmax(s []float32, T, visible int, scale float32) {
	for r := 0; r+T <= len(s); r += T {
		row := s[r : r+T]
		mx := row[0]
		for _, v := range row[:visible] {
			mx = max(mx, v)
		}
		var sum float32
		for j, v := range row[:visible] {
			e := Expf(v - mx)
			row[j] = e
			sum += e
		}
		inv := scale / sum
		for j := range row[:visible] {
			row[j] *= inv
		}
		clear(row[visible:])
	}
}

// LayerNormRows normalises rows of width w (see model.layerNormForward).
func LayerNormRows(x, xhat, y, rstd, g, b []float32, w int, eps float32) {
	for r := range rstd {
		xr := x[r*w : (r+1)*w]
		var s float64
		for _, v := range xr {
			s += float64(v)
		}
		mean := s / float64(w)
		var ss float64
		for _, v := range xr {
			d := float64(v) - mean
			ss += d * d
		}
		rs := 1 / math.Sqrt(ss/float64(w)+float64(eps))
		rstd[r] = float32(rs)
		xh := xhat[r*w : (r+1)*w]
		yr := y[r*w : (r+1)*w]
		m32, rs32 := float32(mean), float32(rs)
		for j := range xr {
			v := (xr[j] - m32) * rs32
			xh[j] = v
			yr[j] = v*g[j] + b[j]
		}
	}
}

// LayerNormBackRows writes the input gradient of rows of width w (see layerNormBackward).
func LayerNormBackRows(dy, xhat, rstd, g, dx []float32, w int) {
	for r := range rstd {
		d := dy[r*w : (r+1)*w]
		xh := xhat[r*w : (r+1)*w]
		var s1, s2 float64
		for j := range d {
			t := float64(d[j] * g[j])
			s1 += t
			s2 += t * float64(xh[j])
		}
		m1, m2 := float32(s1/float64(w)), float32(s2/float64(w))
		rs := rstd[r]
		o := dx[r*w : (r+1)*w]
		for j := range d {
			o[j] = rs * (d[j]*g[j] - m1 - xh[j]*m2)
		}
	}
}

// DropoutMask fills mask, whose first element is element start of the
// stream keyed by key.
func DropoutMask(mask []float32, start, key, threshold uint64, keep float32) {
	for i := range mask {
		if rng.Mix(key+(start+uint64(i))*rng.Gamma)>>32 < threshold {
			mask[i] = 0
		} else {
			mask[i] = keep
		}
	}
}

// AdamW applies one AdamW update to a slice of a parameter, reading
// the gradient as k.Scale·g.
func AdamW(w, g, m, v []float32, k AdamWConsts) {
	for j := range w {
		gj := g[j] * k.Scale
		mj := k.B1*m[j] + k.C1*gj
		vj := k.B2*v[j] + k.C2*gj*gj
		m[j], v[j] = mj, vj
		denom := float32(math.Sqrt(float64(vj)))*k.Inv2 + k.Eps
		w[j] = w[j]*k.Decay - k.Step*mj/denom
	}
}

// SumSquares is Σ g², accumulated in float64.
func SumSquares(g []float32) float64 {
	var s float64
	for _, x := range g {
		s += float64(x) * float64(x)
	}
	return s
}

// Scale multiplies g by s in place.
func Scale(g []float32, s float32) {
	for i := range g {
		g[i] *= s
	}
}

// AdamWIdle replays zero-gradient AdamW steps on one row (see model/lazy.go):
// per step i, m ← β₁m, v ← β₂v and w ← w·decay[i] − step[i]·m/(√v·inv2[i] + eps),
// the last term only while m² > θ²·v. The expressions are AdamW's with
// g = 0, so the weights and moments match a dense update bit for bit.
func AdamWIdle(w, m, v, decay, step, inv2 []float32, b1, b2, eps, theta2 float32) {
	s := 0
	for ; s < len(decay); s++ {
		active := false
		for j := range w {
			mj := b1 * m[j]
			vj := b2 * v[j]
			m[j], v[j] = mj, vj
			var q float32
			if mj*mj > theta2*vj {
				denom := float32(math.Sqrt(float64(vj)))*inv2[s] + eps
				q = step[s] * mj / denom
				active = true
			}
			w[j] = w[j]*decay[s] - q
		}
		if !active {
			s++
			break
		}
	}
	for ; s < len(decay); s++ { // every element past its Adam phase
		for j := range w {
			m[j] *= b1
			v[j] *= b2
			w[j] *= decay[s]
		}
	}
}

func toBF16Range(dst []uint16, src []float32) {
	for i, f := range src {
		dst[i] = bf16Round(f)
	}
}

func toBF16TRange(dst []uint16, src []float32, rows, ld, j0, j1 int) {
	for i0 := 0; i0 < rows; i0 += 32 {
		i1 := min(i0+32, rows)
		for j := j0; j < j1; j++ {
			out := dst[j*rows:]
			for i := i0; i < i1; i++ {
				out[i] = bf16Round(src[i*ld+j])
			}
		}
	}
}

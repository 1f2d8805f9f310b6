package model

import (
	"runtime"

	"github.com/taskweave/taskweave/model/kernels"
)

// grow returns (*buf)[:n], reallocating only when the capacity is short, so
// buffers settle at the largest batch seen.
func grow(buf *[]float32, n int) []float32 {
	if cap(*buf) < n {
		*buf = make([]float32, n)
	}
	*buf = (*buf)[:n]
	return *buf
}

// rowsPer is the smallest number of rows worth a goroutine for an
// element-wise pass over rows of width w.
func rowsPer(w int) int { return max(1, 4096/max(w, 1)) }

// linearForward computes y[n,out] = x[n,in]·Wᵀ + b.
func linearForward(l linear, x []float32, n int, y []float32) { linearForwardLd(l, x, n, y, l.out) }

// linearForwardLd is linearForward into rows ldy apart, so several
// products can share one buffer (Q, K and V side by side, [n,3H]).
func linearForwardLd(l linear, x []float32, n int, y []float32, ldy int) {
	bias := l.b.W
	prep := func(i0, rows, j0, cols int) {
		for r := i0; r < i0+rows; r++ {
			copy(y[r*ldy+j0:r*ldy+j0+cols], bias[j0:j0+cols])
		}
	}
	workers := runtime.GOMAXPROCS(0)
	if mp := l.mp; mp != nil && mp.on && n > 0 {
		xb := cast(&mp.x, x[:n*l.in])
		kernels.GemmBF16Parts(workers, false, true, n, l.out, l.in, 1, xb, l.in, mp.weight(l.w), l.in, 1, y, ldy, prep)
		return
	}
	kernels.GemmParts(workers, false, true, n, l.out, l.in, 1, x, l.in, l.w.W, l.in, 1, y, ldy, prep)
}

// linearBackward adds dW += dyᵀ·x and db += Σ dy, and sets dx = dy·W
// (or adds it when accumulate). dx may be nil when the input needs no gradient.
func linearBackward(l linear, x, dy []float32, n int, dx []float32, accumulate bool) {
	linearBackwardLd(l, x, dy, l.out, n, dx, accumulate)
}

// linearBackwardLd is linearBackward with dy's rows ldy apart.
//
// The weight and the input gradient are independent products of the same
// size. With OpenBLAS they run side by side, each on half the cores, rather
// than one after the other on all of them: at short batches a product split
// over two cores runs only 1.3-1.45x faster than on one (model/README.md).
func linearBackwardLd(l linear, x, dy []float32, ldy, n int, dx []float32, accumulate bool) {
	beta := float32(0)
	if accumulate {
		beta = 1
	}
	dW, dX := linearGradProducts(l, x, dy, ldy, n, dx, beta)
	workers := runtime.GOMAXPROCS(0)
	weights := func(parts int) {
		if !l.w.Frozen {
			dW(parts)
		}
		if !l.b.Frozen {
			colSumAddLd(dy, n, l.out, ldy, l.b.G, parts)
		}
	}
	input := func(parts int) {
		if dx != nil {
			dX(parts)
		}
	}
	if !kernels.SplitGEMM || workers < 2 || dx == nil || l.w.Frozen || !kernels.SplitWorth(n, l.in, l.out) {
		weights(workers)
		input(workers)
		return
	}
	kernels.ForkJoin(2, func(part int) {
		if part == 0 {
			input(workers - workers/2)
		} else {
			weights(workers / 2)
		}
	})
}

// linearGradProducts returns the products of a linear's backward pass over
// the given number of cores: dW += dyᵀ·x and dx = dy·W + beta·dx, in fp32 or,
// under mixed precision, on bf16 casts of dy, x and W made here, before the
// two run side by side.
func linearGradProducts(l linear, x, dy []float32, ldy, n int, dx []float32, beta float32) (dW, dX func(parts int)) {
	if mp := l.mp; mp != nil && mp.on && n > 0 {
		// dW takes dy transposed, cast in that layout (kernels.ToBF16T says
		// why); dx takes it as it is.
		var dyT, dyb, xb, wb []uint16
		if !l.w.Frozen {
			dyT = castT(&mp.dyT, dy, n, l.out, ldy)
			xb = cast(&mp.x, x[:n*l.in])
		}
		if dx != nil {
			dyb = cast(&mp.dy, dy[:(n-1)*ldy+l.out])
			wb = mp.weight(l.w)
		}
		return func(parts int) {
				kernels.GemmBF16Parts(parts, false, false, l.out, l.in, n, 1, dyT, n, xb, l.in, 1, l.w.G, l.in, nil)
			}, func(parts int) {
				kernels.GemmBF16Parts(parts, false, false, n, l.in, l.out, 1, dyb, ldy, wb, l.in, beta, dx, l.in, nil)
			}
	}
	return func(parts int) {
			kernels.GemmParts(parts, true, false, l.out, l.in, n, 1, dy, ldy, x, l.in, 1, l.w.G, l.in, nil)
		}, func(parts int) {
			kernels.GemmParts(parts, false, false, n, l.in, l.out, 1, dy, ldy, l.w.W, l.in, beta, dx, l.in, nil)
		}
}

// colSumAdd adds the column sums of a[n,w] into dst[w].
func colSumAdd(a []float32, n, w int, dst []float32) {
	colSumAddLd(a, n, w, w, dst, runtime.GOMAXPROCS(0))
}

// colSumAddLd is colSumAdd over rows lda apart; workers ≤ 1 keeps it on the
// calling goroutine (whose core is already busy with a product beside it).
func colSumAddLd(a []float32, n, w, lda int, dst []float32, workers int) {
	if n*w < 1<<16 || workers <= 1 {
		for r := 0; r < n; r++ {
			row := a[r*lda : r*lda+w]
			for j, v := range row {
				dst[j] += v
			}
		}
		return
	}
	// Split the columns, so each goroutine owns its slice of dst.
	kernels.ParallelFor(w, 16, func(lo, hi int) {
		d := dst[lo:hi]
		for r := 0; r < n; r++ {
			row := a[r*lda+lo : r*lda+hi]
			for j, v := range row {
				d[j] += v
			}
		}
	})
}

// layerNormForward normalises each row of x[n,ln.n]: xhat = (x-μ)/σ, y = xhat·g + b.
// xhat may alias x.
func layerNormForward(ln layerNorm, x []float32, n int, xhat, y, rstd []float32) {
	w := ln.n
	g, b := ln.g.W, ln.b.W
	eps := ln.eps
	kernels.ParallelFor(n, rowsPer(w), func(lo, hi int) {
		kernels.LayerNormRows(x[lo*w:hi*w], xhat[lo*w:hi*w], y[lo*w:hi*w], rstd[lo:hi], g, b, w, eps)
	})
}

// layerNormBackward adds dg += Σ dy·xhat and db += Σ dy, and writes
// dx = σ⁻¹·(dxhat − mean(dxhat) − xhat·mean(dxhat·xhat)) with dxhat = dy·g.
// dx may alias dy.
func layerNormBackward(ln layerNorm, dy, xhat, rstd []float32, n int, dx []float32) {
	w := ln.n
	g := ln.g.W
	// Parameter gradients: split by columns so each goroutine owns its part.
	kernels.ParallelFor(w, 16, func(lo, hi int) {
		dg, db := ln.g.G[lo:hi], ln.b.G[lo:hi]
		for r := 0; r < n; r++ {
			d := dy[r*w+lo : r*w+hi]
			xh := xhat[r*w+lo : r*w+hi]
			for j := range d {
				dg[j] += d[j] * xh[j]
				db[j] += d[j]
			}
		}
	})
	kernels.ParallelFor(n, rowsPer(w), func(lo, hi int) {
		kernels.LayerNormBackRows(dy[lo*w:hi*w], xhat[lo*w:hi*w], rstd[lo:hi], g, dx[lo*w:hi*w], w)
	})
}

// geluForward writes y = x·Φ(x) with the exact (erf) Gaussian CDF, as BERT's
// "gelu", and overwrites x with the derivative Φ(x) + x·φ(x), which is all
// the backward pass needs: one exp per element serves both passes.
func geluForward(x, y []float32) {
	kernels.ParallelFor(len(x), 1<<14, func(lo, hi int) {
		kernels.GELU(x[lo:hi], y[lo:hi])
	})
}

// geluBackward multiplies d in place by the derivative geluForward left.
func geluBackward(deriv, d []float32) { mulInto(d, d, deriv) }

// mulInto writes dst = a·b element-wise.
func mulInto(dst, a, b []float32) {
	kernels.ParallelFor(len(dst), 1<<15, func(lo, hi int) {
		for i := lo; i < hi; i++ {
			dst[i] = a[i] * b[i]
		}
	})
}

// addMulInto writes dst = a + b·c element-wise (c nil: dst = a + b).
func addMulInto(dst, a, b, c []float32) {
	kernels.ParallelFor(len(dst), 1<<15, func(lo, hi int) {
		if c == nil {
			for i := lo; i < hi; i++ {
				dst[i] = a[i] + b[i]
			}
			return
		}
		for i := lo; i < hi; i++ {
			dst[i] = a[i] + b[i]*c[i]
		}
	})
}

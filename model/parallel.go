package model

import (
	"runtime"
	"sync/atomic"
)

// parallelFor runs fn over [0,n) split into contiguous chunks, one per core.
// Work below minPer items per chunk stays on the calling goroutine, where
// starting goroutines would cost more than it saves.
func parallelFor(n, minPer int, fn func(lo, hi int)) {
	workers := runtime.GOMAXPROCS(0)
	if minPer < 1 {
		minPer = 1
	}
	if w := n / minPer; w < workers {
		workers = w
	}
	if workers <= 1 {
		fn(0, n)
		return
	}
	chunk := (n + workers - 1) / workers
	forkJoin((n+chunk-1)/chunk, func(part int) {
		lo := part * chunk
		fn(lo, min(lo+chunk, n))
	})
}

// parallelWorkers runs fn(worker, i) for every i in [0,n), handing items out
// one by one to one goroutine per core, so each worker can own a scratch buffer.
func parallelWorkers(n int, fn func(worker, i int)) {
	workers := min(runtime.GOMAXPROCS(0), n)
	if workers <= 1 {
		for i := 0; i < n; i++ {
			fn(0, i)
		}
		return
	}
	var next atomic.Int64
	forkJoin(workers, func(w int) {
		for {
			i := int(next.Add(1) - 1)
			if i >= n {
				return
			}
			fn(w, i)
		}
	})
}

// spanLen is the length of the pieces that the optimizer's passes hand to
// the cores: 64K floats (256 KiB), large enough that a piece costs far more
// than handing it out, small enough that biases and LayerNorm vectors do not
// leave one core idle behind the word embeddings. A multiple of 16, so that
// every piece but a parameter's last runs entirely in the kernels' vector body.
const spanLen = 1 << 16

// span is the range [lo,hi) of parameter p.
type span struct{ p, lo, hi int }

// spans cuts a list of parameters into pieces of at most spanLen.
type spans []span

func newSpans(params []*Param) spans {
	var s spans
	for i, p := range params {
		for lo := 0; lo < len(p.W) || lo < len(p.G); lo += spanLen {
			s = append(s, span{i, lo, min(lo+spanLen, max(len(p.W), len(p.G)))})
		}
	}
	return s
}

func (s spans) run(fn func(span)) { s.runIndexed(func(_ int, sp span) { fn(sp) }) }

// runIndexed calls fn(i, s[i]) for every span, one goroutine per core taking
// the next span as it finishes one.
func (s spans) runIndexed(fn func(int, span)) {
	parallelWorkers(len(s), func(_, i int) { fn(i, s[i]) })
}

package kernels

import (
	"runtime"
	"sync/atomic"
)

// ParallelFor runs fn over [0,n) split into contiguous chunks, one per core.
// Work below minPer items per chunk stays on the calling goroutine, where
// starting goroutines would cost more than it saves.
func ParallelFor(n, minPer int, fn func(lo, hi int)) {
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
	ForkJoin((n+chunk-1)/chunk, func(part int) {
		lo := part * chunk
		fn(lo, min(lo+chunk, n))
	})
}

// ParallelWorkers runs fn(worker, i) for every i in [0,n), handing items out
// one by one to one goroutine per core, so each worker can own a scratch buffer.
func ParallelWorkers(n int, fn func(worker, i int)) {
	workers := min(runtime.GOMAXPROCS(0), n)
	if workers <= 1 {
		for i := 0; i < n; i++ {
			fn(0, i)
		}
		return
	}
	var next atomic.Int64
	ForkJoin(workers, func(w int) {
		for {
			i := int(next.Add(1) - 1)
			if i >= n {
				return
			}
			fn(w, i)
		}
	})
}

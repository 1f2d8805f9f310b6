// Package hostile holds the one helper the hostile-input tests share: run a
// parser on bad bytes and fail if it panics, hangs or allocates beyond a
// bound. The suite in this package's tests feeds it corpus files, shards,
// checkpoints and job specs; per-package regression tests use it too.
package hostile

import (
	"fmt"
	"runtime"
	"runtime/debug"
	"time"
)

// Limits bound one case. Zero fields are not defaults: a zero Time or
// Alloc fails every case, so callers spell both out.
type Limits struct {
	Time  time.Duration // wall time for the whole call
	Alloc uint64        // bytes allocated during the call (runtime.MemStats.TotalAlloc)
}

// Outcome is what one call did.
type Outcome struct {
	Err   error         // what f returned
	Alloc uint64        // bytes allocated while it ran
	Took  time.Duration // wall time
}

// Run calls f and returns its error, or a problem: a panic (with its stack),
// a call still running after lim.Time (it is left running: the test fails
// and the process exits), or more than lim.Alloc bytes allocated. Cases must
// not run in parallel: the allocation count is process-wide.
func Run(lim Limits, f func() error) (Outcome, error) {
	type result struct {
		err   error
		panic any
		stack []byte
	}
	done := make(chan result, 1)
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	start := time.Now()
	go func() {
		var r result
		defer func() {
			if p := recover(); p != nil {
				r.panic, r.stack = p, debug.Stack()
			}
			done <- r
		}()
		r.err = f()
	}()
	timer := time.NewTimer(lim.Time)
	defer timer.Stop()
	select {
	case r := <-done:
		took := time.Since(start)
		runtime.ReadMemStats(&after)
		out := Outcome{Err: r.err, Alloc: after.TotalAlloc - before.TotalAlloc, Took: took}
		switch {
		case r.panic != nil:
			return out, fmt.Errorf("panic: %v\n%s", r.panic, r.stack)
		case out.Alloc > lim.Alloc:
			return out, fmt.Errorf("allocated %d bytes, over the bound of %d (error: %v)", out.Alloc, lim.Alloc, r.err)
		}
		return out, nil
	case <-timer.C:
		return Outcome{Took: time.Since(start)}, fmt.Errorf("still running after %v: a hang", lim.Time)
	}
}

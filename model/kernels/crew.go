package kernels

import (
	"runtime"
	"sync"
	"sync/atomic"
	"time"
)

// The crew: one helper goroutine per core beyond the caller's, kept awake
// for a while after each job, so that splitting work over the cores does not
// wait for a sleeping thread to wake up. Every parallel pass of the model
// (split products, attention, element-wise passes, the optimizer) forks and
// joins through ForkJoin.
//
// Why it exists, measured on the 2-core VM this project is built on
// (BenchmarkForkJoin): a goroutine started with `go` while the other core's
// thread sleeps begins running tens of microseconds later. A fork and join
// around 50 µs of work on each core took 114 µs that way and 52 µs with a
// helper still spinning; around 300 µs of work, 396 µs against 304 µs. A
// training step of the real-data recipe forks and joins a few hundred times
// around pieces of that size.
//
// Which goroutine runs a part never changes how work is split or the order
// in which a part adds things up, so results do not depend on the crew.

// helperSpin is how long a helper keeps looking for its next job, and a
// caller for a helper's result, before blocking: long enough to span the
// serial stretches between a step's passes, short enough that an idle
// process gives its cores back within a millisecond.
const helperSpin = 500 * time.Microsecond

type helper struct {
	claimed  atomic.Bool // owned by one ForkJoin from post to join
	posted   atomic.Bool // fn and part hold a job not yet started
	finished atomic.Bool // the posted job has returned
	sleeping atomic.Bool // the helper is (about to be) blocked on wake
	waiting  atomic.Bool // the caller is (about to be) blocked on done
	fn       func(int)
	part     int
	wake     chan struct{}
	done     chan struct{}
}

var crew struct {
	mu      sync.Mutex
	helpers atomic.Pointer[[]*helper]
}

// crewOf returns at least n helpers, starting the missing ones.
func crewOf(n int) []*helper {
	if hs := crew.helpers.Load(); hs != nil && len(*hs) >= n {
		return *hs
	}
	crew.mu.Lock()
	defer crew.mu.Unlock()
	var hs []*helper
	if p := crew.helpers.Load(); p != nil {
		hs = *p
	}
	for len(hs) < n {
		h := &helper{wake: make(chan struct{}, 1), done: make(chan struct{}, 1)}
		go h.loop()
		hs = append(hs[:len(hs):len(hs)], h)
	}
	crew.helpers.Store(&hs)
	return hs
}

// spinUntil polls cond for up to helperSpin, yielding now and then so that
// other goroutines get the core, and reports whether cond came true.
func spinUntil(cond func() bool) bool {
	var start time.Time
	for i := 1; ; i++ {
		if cond() {
			return true
		}
		if i&63 == 0 {
			runtime.Gosched()
		}
		if i&1023 == 0 {
			if start.IsZero() {
				start = time.Now()
			} else if time.Since(start) > helperSpin {
				return false
			}
		}
	}
}

func (h *helper) loop() {
	isPosted := h.posted.Load
	for {
		if !spinUntil(isPosted) {
			// Store sleeping before checking posted, and post stores posted
			// before checking sleeping: one of the two sees the other (Go's
			// atomics are sequentially consistent). A token left over from a
			// post that found us still awake only costs one extra round.
			h.sleeping.Store(true)
			for !h.posted.Load() {
				<-h.wake
			}
			h.sleeping.Store(false)
		}
		h.posted.Store(false)
		h.fn(h.part)
		h.fn = nil
		h.finished.Store(true)
		if h.waiting.Load() {
			select {
			case h.done <- struct{}{}:
			default:
			}
		}
	}
}

func (h *helper) post(fn func(int), part int) {
	h.fn, h.part = fn, part
	h.finished.Store(false)
	h.posted.Store(true)
	if h.sleeping.Load() {
		select {
		case h.wake <- struct{}{}:
		default:
		}
	}
}

func (h *helper) join() {
	if !spinUntil(h.finished.Load) {
		h.waiting.Store(true)
		for !h.finished.Load() {
			<-h.done
		}
		h.waiting.Store(false)
	}
	h.claimed.Store(false)
}

// ForkJoin runs fn(0), …, fn(parts-1) and returns when all have returned:
// part 0 on the calling goroutine, the others on idle helpers, or on new
// goroutines when every helper is busy (another model in the same process,
// or a part that forks again).
func ForkJoin(parts int, fn func(part int)) {
	if parts <= 1 {
		if parts == 1 {
			fn(0)
		}
		return
	}
	hs := crewOf(min(parts-1, runtime.GOMAXPROCS(0)-1))
	var mine [8]*helper
	used := mine[:0]
	var wg sync.WaitGroup
	next := 0
	for p := 1; p < parts; p++ {
		var h *helper
		for ; next < len(hs) && h == nil; next++ {
			if hs[next].claimed.CompareAndSwap(false, true) {
				h = hs[next]
			}
		}
		if h != nil {
			h.post(fn, p)
			used = append(used, h)
			continue
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			fn(p)
		}()
	}
	fn(0)
	for _, h := range used {
		h.join()
	}
	wg.Wait()
}

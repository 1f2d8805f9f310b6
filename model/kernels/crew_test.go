package kernels

import (
	"runtime"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// TestForkJoinRunsEveryPartOnce forks from many goroutines at once, with
// parts that fork again, so that helpers are busy and parts fall back to
// goroutines; every part must run exactly once before ForkJoin returns.
// Run it with -race too.
func TestForkJoinRunsEveryPartOnce(t *testing.T) {
	defer runtime.GOMAXPROCS(runtime.GOMAXPROCS(4))
	var wg sync.WaitGroup
	for g := 0; g < 6; g++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for rep := 0; rep < 200; rep++ {
				parts := 1 + (g+rep)%5
				ran := make([]int32, parts)
				inner := make([]int32, parts*3)
				ForkJoin(parts, func(p int) {
					atomic.AddInt32(&ran[p], 1)
					if p%2 == 1 {
						ForkJoin(3, func(q int) { atomic.AddInt32(&inner[p*3+q], 1) })
					}
				})
				for p, n := range ran {
					if n != 1 {
						t.Errorf("goroutine %d, %d parts: part %d ran %d times", g, parts, p, n)
						return
					}
					for q := 0; q < 3; q++ {
						if want := int32(p % 2); inner[p*3+q] != want {
							t.Errorf("goroutine %d: nested part %d.%d ran %d times, want %d", g, p, q, inner[p*3+q], want)
							return
						}
					}
				}
			}
		}()
	}
	wg.Wait()
}

// TestForkJoinAfterHelpersSleep covers the blocking paths: helpers that have
// gone to sleep must wake for the next job, and a caller whose own part ends
// long before a helper's must block, and return only after that part.
func TestForkJoinAfterHelpersSleep(t *testing.T) {
	defer runtime.GOMAXPROCS(runtime.GOMAXPROCS(2))
	for rep := 0; rep < 3; rep++ {
		time.Sleep(5 * helperSpin) // every helper is asleep now
		var done atomic.Bool
		start := time.Now()
		ForkJoin(2, func(p int) {
			if p == 1 {
				time.Sleep(4 * helperSpin) // the caller spins out and blocks
				done.Store(true)
			}
		})
		if !done.Load() {
			t.Fatalf("round %d: ForkJoin returned before part 1 finished", rep)
		}
		if d := time.Since(start); d < 4*helperSpin {
			t.Fatalf("round %d: ForkJoin returned after %v, part 1 sleeps %v", rep, d, 4*helperSpin)
		}
	}
}

// BenchmarkForkJoin measures what handing work to the second core costs:
// a fork and join around work µs of busy work on each side, with a new
// goroutine per fork (as the model did before the crew) and with ForkJoin.
func BenchmarkForkJoin(b *testing.B) {
	spin := func(d time.Duration) {
		for t0 := time.Now(); time.Since(t0) < d; {
		}
	}
	for _, work := range []time.Duration{50 * time.Microsecond, 300 * time.Microsecond} {
		b.Run("go/"+work.String(), func(b *testing.B) {
			for i := 0; i < b.N; i++ {
				var wg sync.WaitGroup
				wg.Add(1)
				go func() {
					defer wg.Done()
					spin(work)
				}()
				spin(work)
				wg.Wait()
			}
		})
		b.Run("crew/"+work.String(), func(b *testing.B) {
			for i := 0; i < b.N; i++ {
				ForkJoin(2, func(int) { spin(work) })
			}
		})
	}
}

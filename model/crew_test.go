package model

import (
	"math"
	"math/rand/v2"
	"runtime"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// TestForkJoinRunsEveryPartOnce forks from many goroutines at once, with
// parts that fork again, so that helpers are busy and parts fall back to
// goroutines; every part must run exactly once before forkJoin returns.
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
				forkJoin(parts, func(p int) {
					atomic.AddInt32(&ran[p], 1)
					if p%2 == 1 {
						forkJoin(3, func(q int) { atomic.AddInt32(&inner[p*3+q], 1) })
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
		forkJoin(2, func(p int) {
			if p == 1 {
				time.Sleep(4 * helperSpin) // the caller spins out and blocks
				done.Store(true)
			}
		})
		if !done.Load() {
			t.Fatalf("round %d: forkJoin returned before part 1 finished", rep)
		}
		if d := time.Since(start); d < 4*helperSpin {
			t.Fatalf("round %d: forkJoin returned after %v, part 1 sleeps %v", rep, d, 4*helperSpin)
		}
	}
}

// TestLinearForwardSplits checks a linear split over the cores, by rows and
// by columns, with the bias written block by block, against one unsplit
// product. OpenBLAS may round a block differently from the same rows inside
// a larger call (its Haswell kernels do, at the tail of a block; its
// Cooperlake kernels gave the same bits here), so the bound is float
// rounding: 1e-5 of the row's largest magnitude. A misplaced block or bias
// is off by whole units. On the pure-Go build, which does not split, the
// call is compared with itself.
func TestLinearForwardSplits(t *testing.T) {
	r := rand.New(rand.NewPCG(5, 6))
	for _, tc := range []struct {
		name         string
		n, in, out   int
		ldy, workers int
	}{
		{"rows", 580, 256, 1024, 1024, 2},
		{"rows, Q/K/V stride", 300, 256, 256, 768, 3},
		{"columns", 40, 256, 1024, 1024, 2},
		{"columns, three parts", 24, 128, 2000, 2003, 3},
		{"too small to split", 8, 16, 16, 16, 2},
	} {
		w := make([]float32, tc.out*tc.in)
		bias := make([]float32, tc.out)
		x := make([]float32, tc.n*tc.in)
		for _, s := range [][]float32{w, bias, x} {
			for i := range s {
				s[i] = float32(r.NormFloat64())
			}
		}
		want := make([]float32, tc.n*tc.ldy)
		got := make([]float32, tc.n*tc.ldy)
		for i := range got {
			want[i], got[i] = -7, -7 // columns past out must stay as they are
		}
		for i := 0; i < tc.n; i++ {
			copy(want[i*tc.ldy:i*tc.ldy+tc.out], bias)
		}
		gemm1(false, true, tc.n, tc.out, tc.in, 1, x, tc.in, w, tc.in, 1, want, tc.ldy)
		func() {
			defer runtime.GOMAXPROCS(runtime.GOMAXPROCS(tc.workers))
			l := linear{w: &Param{W: w}, b: &Param{W: bias}, in: tc.in, out: tc.out}
			linearForwardLd(l, x, tc.n, got, tc.ldy)
		}()
		var worst float64
		for i := 0; i < tc.n; i++ {
			row, ref := got[i*tc.ldy:(i+1)*tc.ldy], want[i*tc.ldy:(i+1)*tc.ldy]
			var scale float64
			for _, v := range ref {
				scale = math.Max(scale, math.Abs(float64(v)))
			}
			for j := range ref {
				d := math.Abs(float64(row[j]-ref[j])) / scale
				if d > 1e-5 || (j >= tc.out && row[j] != ref[j]) {
					t.Fatalf("%s: y[%d,%d] = %g, unsplit %g", tc.name, i, j, row[j], ref[j])
				}
				worst = math.Max(worst, d)
			}
		}
		t.Logf("%s: largest difference %.2g of the row's largest magnitude (%s kernels)", tc.name, worst, BLASCore())
	}
}

// BenchmarkForkJoin measures what handing work to the second core costs:
// a fork and join around work µs of busy work on each side, with a new
// goroutine per fork (as the model did before the crew) and with forkJoin.
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
				forkJoin(2, func(int) { spin(work) })
			}
		})
	}
}

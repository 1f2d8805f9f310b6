package lock

import (
	"context"
	"errors"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/taskweave/taskweave/io/storage/gcstest"
)

// roots runs each test on local disk and on the GCS emulator.
func roots(t *testing.T) map[string]func(t *testing.T) string {
	return map[string]func(t *testing.T) string{
		"local": func(t *testing.T) string { return filepath.Join(t.TempDir(), "job.lock") },
		"gcs":   func(t *testing.T) string { return "gs://" + gcstest.Start(t) + "/job/job.lock" },
	}
}

func TestExclusive(t *testing.T) {
	for name, root := range roots(t) {
		t.Run(name, func(t *testing.T) {
			ctx := context.Background()
			p := root(t)
			a, err := TryAcquire(ctx, p, "run-a", time.Minute)
			if err != nil {
				t.Fatal(err)
			}
			_, err = TryAcquire(ctx, p, "run-b", time.Minute)
			var held *HeldError
			if !errors.As(err, &held) || held.Lease.Owner != "run-a" || !strings.Contains(err.Error(), "locked by run run-a") {
				t.Fatalf("second acquire: %v", err)
			}
			if err := a.Release(ctx); err != nil {
				t.Fatal(err)
			}
			b, err := TryAcquire(ctx, p, "run-b", time.Minute)
			if err != nil {
				t.Fatalf("after release: %v", err)
			}
			b.Release(ctx)
		})
	}
}

// Many processes racing for a free lock: exactly one wins.
func TestRace(t *testing.T) {
	for name, root := range roots(t) {
		t.Run(name, func(t *testing.T) {
			ctx := context.Background()
			p := root(t)
			var wg sync.WaitGroup
			var mu sync.Mutex
			var winners []*Lock
			for i := 0; i < 8; i++ {
				wg.Add(1)
				go func(i int) {
					defer wg.Done()
					l, err := TryAcquire(ctx, p, "racer", time.Minute)
					var held *HeldError
					if err != nil && !errors.As(err, &held) {
						t.Errorf("racer %d: %v", i, err)
					}
					if l != nil {
						mu.Lock()
						winners = append(winners, l)
						mu.Unlock()
					}
				}(i)
			}
			wg.Wait()
			if len(winners) != 1 {
				t.Fatalf("%d racers hold the lock, want exactly 1", len(winners))
			}
			winners[0].Release(ctx)
		})
	}
}

// A crashed holder never releases; its lease expires and a new run takes over,
// after which the old holder finds out it lost the lock.
func TestExpiry(t *testing.T) {
	for name, root := range roots(t) {
		t.Run(name, func(t *testing.T) {
			ctx := context.Background()
			p := root(t)
			clock := time.Now()
			now = func() time.Time { return clock }
			defer func() { now = time.Now }()
			crashed, err := TryAcquire(ctx, p, "crashed", time.Hour)
			if err != nil {
				t.Fatal(err)
			}
			if _, err := TryAcquire(ctx, p, "next", time.Hour); err == nil {
				t.Fatal("acquired a live lease")
			}
			clock = clock.Add(61 * time.Minute)
			next, err := TryAcquire(ctx, p, "next", time.Hour)
			if err != nil {
				t.Fatalf("expired lease not taken over: %v", err)
			}
			if err := crashed.Renew(ctx); err == nil || crashed.Lost() == nil {
				t.Fatal("the old holder can still renew a lease taken over by another run")
			}
			next.Release(ctx)
		})
	}
}

func TestAcquireWaits(t *testing.T) {
	ctx := context.Background()
	p := filepath.Join(t.TempDir(), "job.lock")
	a, err := TryAcquire(ctx, p, "first", time.Minute)
	if err != nil {
		t.Fatal(err)
	}
	go func() { time.Sleep(200 * time.Millisecond); a.Release(ctx) }()
	b, err := Acquire(ctx, p, "second", time.Minute, 50*time.Millisecond)
	if err != nil {
		t.Fatalf("waiting acquire: %v", err)
	}
	b.Release(ctx)
	short, cancel := context.WithTimeout(ctx, 100*time.Millisecond)
	defer cancel()
	c, _ := TryAcquire(ctx, p, "third", time.Minute)
	if _, err := Acquire(short, p, "fourth", time.Minute, 20*time.Millisecond); err == nil || !strings.Contains(err.Error(), "gave up waiting") {
		t.Fatalf("want give-up error, got %v", err)
	}
	c.Release(ctx)
}

package lock

import (
	"context"
	"errors"
	"os"
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

// storageOutage makes the lock's directory unusable (a regular file stands
// where the directory was, so every write fails) until the returned func
// puts it back: a real storage fault on local disk.
func storageOutage(t *testing.T, dir string) (restore func()) {
	t.Helper()
	if err := os.Rename(dir, dir+".away"); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(dir, []byte("outage"), 0o644); err != nil {
		t.Fatal(err)
	}
	return func() {
		if err := os.Remove(dir); err != nil {
			t.Fatal(err)
		}
		if err := os.Rename(dir+".away", dir); err != nil {
			t.Fatal(err)
		}
	}
}

// A storage outage shorter than the lease is ridden out: renewals fail,
// are retried, and the lease is renewed once storage is back.
func TestRenewRetriesTransientErrors(t *testing.T) {
	ctx := context.Background()
	dir := filepath.Join(t.TempDir(), "locks")
	p := filepath.Join(dir, "job.lock")
	const ttl = 3 * time.Second
	l, err := TryAcquire(ctx, p, "run-a", ttl)
	if err != nil {
		t.Fatal(err)
	}
	defer l.Release(ctx)
	before := readLease(t, p)
	restore := storageOutage(t, dir)
	time.Sleep(ttl / 2) // at least one renewal fails in this window
	restore()
	deadline := time.Now().Add(ttl)
	for readLease(t, p).Expires.Equal(before.Expires) {
		if time.Now().After(deadline) {
			t.Fatal("the lease was not renewed after storage came back")
		}
		time.Sleep(50 * time.Millisecond)
	}
	if err := l.Lost(); err != nil {
		t.Fatalf("a transient outage lost the lease: %v", err)
	}
	select {
	case <-l.Done():
		t.Fatal("Done closed on a lease that is still held")
	default:
	}
}

// An outage that outlasts the lease loses it: the holder is told through
// Done and Lost (wrapping ErrLost) once the lease it last wrote expires.
func TestRenewGivesUpAtExpiry(t *testing.T) {
	ctx := context.Background()
	dir := filepath.Join(t.TempDir(), "locks")
	p := filepath.Join(dir, "job.lock")
	const ttl = time.Second
	l, err := TryAcquire(ctx, p, "run-a", ttl)
	if err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	restore := storageOutage(t, dir)
	defer restore()
	select {
	case <-l.Done():
	case <-time.After(5 * ttl):
		t.Fatal("lease still considered held long after it expired")
	}
	if waited := time.Since(start); waited < ttl/2 {
		t.Errorf("gave up after %s, before the lease (ttl %s) could have expired", waited, ttl)
	}
	if err := l.Lost(); !errors.Is(err, ErrLost) || !strings.Contains(err.Error(), "could not renew") {
		t.Fatalf("Lost() = %v; want ErrLost saying it could not renew", err)
	}
}

func readLease(t *testing.T, p string) Lease {
	t.Helper()
	l, ok, err := Read(context.Background(), p)
	if err != nil || !ok {
		t.Fatalf("read lease %s: %v (present %v)", p, err, ok)
	}
	return l
}

// Package lock is a lease-based lock on a file in local storage or gs://, so
// that two runs of the same job never overlap (a cron tick while the previous
// run is still training, two replicas of a Kubernetes CronJob) and a crashed
// run does not block the job forever: its lease simply expires.
//
// The lease is a small JSON object replaced only through generation-checked
// writes (io/storage.WriteGen), so of two processes racing for it exactly one
// wins, on local disk and on GCS alike.
package lock

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"sync"
	"time"

	"github.com/taskweave/taskweave/io/storage"
)

// Lease is the content of the lock object.
type Lease struct {
	Owner    string    `json:"owner"` // run id
	Host     string    `json:"host"`
	PID      int       `json:"pid"`
	Acquired time.Time `json:"acquired"`
	Expires  time.Time `json:"expires"`
	Released bool      `json:"released,omitempty"`
}

// HeldError says who holds the lock and until when.
type HeldError struct {
	Path  string
	Lease Lease
}

func (e *HeldError) Error() string {
	return fmt.Sprintf("job is locked by run %s (host %s, pid %d) since %s; its lease expires at %s. "+
		"Wait for it, or if that run crashed, the lock frees itself when the lease expires (lock file %s)",
		e.Lease.Owner, e.Lease.Host, e.Lease.PID, e.Lease.Acquired.Format(time.RFC3339),
		e.Lease.Expires.Format(time.RFC3339), e.Path)
}

// Lock is a held lease; Release it when the run ends.
type Lock struct {
	path  string
	ttl   time.Duration
	mu    sync.Mutex
	gen   int64
	lease Lease
	stop  chan struct{}
	done  chan struct{}
	lost  error
}

// now is replaceable in tests so expiry can be exercised without sleeping.
var now = time.Now

// TryAcquire takes the lease at path for owner, or returns *HeldError when a
// live lease is held by someone else. ttl is the lease length; the lease is
// renewed every ttl/3 while held.
func TryAcquire(ctx context.Context, path, owner string, ttl time.Duration) (*Lock, error) {
	data, gen, err := storage.ReadGen(ctx, path)
	switch {
	case errors.Is(err, fs.ErrNotExist):
		gen = 0
	case err != nil:
		return nil, fmt.Errorf("lock %s: %w", path, err)
	default:
		var cur Lease
		if err := json.Unmarshal(data, &cur); err != nil {
			return nil, fmt.Errorf("lock %s holds no valid lease (%v); remove the file if no run is active", path, err)
		}
		if !cur.Released && now().Before(cur.Expires) {
			return nil, &HeldError{Path: path, Lease: cur}
		}
	}
	host, _ := os.Hostname()
	t := now()
	l := &Lock{path: path, ttl: ttl, lease: Lease{Owner: owner, Host: host, PID: os.Getpid(), Acquired: t, Expires: t.Add(ttl)}}
	newGen, err := storage.WriteGen(ctx, path, l.encode(), gen)
	if errors.Is(err, storage.ErrPrecondition) {
		// Someone else took it between our read and write: report them.
		return TryAcquire(ctx, path, owner, ttl)
	}
	if err != nil {
		return nil, fmt.Errorf("lock %s: %w", path, err)
	}
	l.gen = newGen
	l.stop, l.done = make(chan struct{}), make(chan struct{})
	go l.renew()
	return l, nil
}

// Acquire waits until the lease can be taken, polling every poll, or until ctx ends.
func Acquire(ctx context.Context, path, owner string, ttl, poll time.Duration) (*Lock, error) {
	for {
		l, err := TryAcquire(ctx, path, owner, ttl)
		var held *HeldError
		if !errors.As(err, &held) {
			return l, err
		}
		select {
		case <-ctx.Done():
			return nil, fmt.Errorf("%w (gave up waiting: %v)", err, ctx.Err())
		case <-time.After(poll):
		}
	}
}

func (l *Lock) encode() []byte {
	b, _ := json.MarshalIndent(l.lease, "", "  ")
	return b
}

func (l *Lock) renew() {
	defer close(l.done)
	tick := time.NewTicker(l.ttl / 3)
	defer tick.Stop()
	for {
		select {
		case <-l.stop:
			return
		case <-tick.C:
			if err := l.Renew(context.Background()); err != nil {
				return
			}
		}
	}
}

// Renew extends the lease; it fails if the lease was lost (expired and taken over).
func (l *Lock) Renew(ctx context.Context) error {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.lost != nil {
		return l.lost
	}
	l.lease.Expires = now().Add(l.ttl)
	gen, err := storage.WriteGen(ctx, l.path, l.encode(), l.gen)
	if err != nil {
		l.lost = fmt.Errorf("lock %s lost: %w", l.path, err)
		return l.lost
	}
	l.gen = gen
	return nil
}

// Lost reports whether the lease was taken over, which means another run may
// now be active: the holder should stop writing shared state.
func (l *Lock) Lost() error {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.lost
}

// Release gives the lease up. A lease that was already lost is not touched.
func (l *Lock) Release(ctx context.Context) error {
	close(l.stop)
	<-l.done
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.lost != nil {
		return l.lost
	}
	l.lease.Released = true
	l.lease.Expires = now()
	_, err := storage.WriteGen(ctx, l.path, l.encode(), l.gen)
	return err
}

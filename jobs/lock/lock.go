// Package lock is a lease-based lock on a file in local storage or gs://, so
// that two runs of the same job never overlap (a cron tick while the previous
// run is still training, two replicas of a Kubernetes CronJob) and a crashed
// run does not block the job forever: its lease simply expires.
//
// The lease is a small JSON object replaced only through generation-checked
// writes (io/storage.WriteGen), so of two processes racing for it exactly one
// wins, on local disk and on GCS alike.
//
// A holder renews its lease every third of its length, retrying storage
// errors until the lease would expire. A lease that was taken over or could
// not be renewed in time is lost: Done is closed so the holder can cancel
// its work, because another run may now be active.
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
	BootID   string    `json:"boot_id,omitempty"` // the host's boot, so a pid is only tested in the boot that wrote it
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

// ErrLost is wrapped by every error that reports a lost lease: the lease
// expired and someone else took it, or it could not be renewed before it
// expired. Another run may be active now.
var ErrLost = errors.New("lease lost")

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
	// lostCh is closed when lost is set, so a run can cancel its stage.
	lostCh chan struct{}
	// tookOver is the live lease of a dead holder this lock replaced.
	tookOver *Lease
}

// now is replaceable in tests so expiry can be exercised without sleeping.
var now = time.Now

// Live reports whether the lease still excludes other runs at t.
func (l Lease) Live(t time.Time) bool { return !l.Released && t.Before(l.Expires) }

// Read returns the lease stored at path; ok is false when there is none.
func Read(ctx context.Context, path string) (lease Lease, ok bool, err error) {
	data, _, err := storage.ReadGen(ctx, path)
	if errors.Is(err, fs.ErrNotExist) {
		return lease, false, nil
	}
	if err != nil {
		return lease, false, fmt.Errorf("lock %s: %w", path, err)
	}
	if err := json.Unmarshal(data, &lease); err != nil {
		return lease, false, fmt.Errorf("lock %s holds no valid lease (%v); remove the file if no run is active", path, err)
	}
	return lease, true, nil
}

// TryAcquire takes the lease at path for owner, or returns *HeldError when a
// live lease is held by someone else. A live lease whose holder is gone
// (Lease.HolderGone: a dead pid of this host and boot) is taken over at
// once; TookOver reports it. ttl is the lease length; the lease is renewed
// every ttl/3 while held.
func TryAcquire(ctx context.Context, path, owner string, ttl time.Duration) (*Lock, error) {
	if ttl <= 0 {
		return nil, fmt.Errorf("lock %s: lease length %s; it must be positive", path, ttl)
	}
	data, gen, err := storage.ReadGen(ctx, path)
	var stale *Lease
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
		if cur.Live(now()) && !cur.HolderGone() {
			return nil, &HeldError{Path: path, Lease: cur}
		}
		if cur.Live(now()) {
			stale = &cur
		}
	}
	host, _ := os.Hostname()
	t := now()
	l := &Lock{path: path, ttl: ttl, tookOver: stale,
		lease: Lease{Owner: owner, Host: host, PID: os.Getpid(), BootID: bootID(), Acquired: t, Expires: t.Add(ttl)}}
	newGen, err := storage.WriteGen(ctx, path, l.encode(), gen)
	if errors.Is(err, storage.ErrPrecondition) {
		// Someone else took it between our read and write: report them.
		return TryAcquire(ctx, path, owner, ttl)
	}
	if err != nil {
		return nil, fmt.Errorf("lock %s: %w", path, err)
	}
	l.gen = newGen
	l.stop, l.done, l.lostCh = make(chan struct{}), make(chan struct{}), make(chan struct{})
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

// TookOver returns the lease this lock replaced before it expired because
// its holder was gone (Lease.HolderGone), or nil.
func (l *Lock) TookOver() *Lease { return l.tookOver }

func (l *Lock) encode() []byte {
	b, _ := json.MarshalIndent(l.lease, "", "  ")
	return b
}

// renew keeps the lease alive every ttl/3. A failed renewal is retried with
// doubling pauses (storage hiccups are common on GCS and do not mean the
// lease is gone), but only while the lease we last wrote is still live:
// past its expiry another run may have taken over, so the lease counts as
// lost and the holder must stop.
func (l *Lock) renew() {
	defer close(l.done)
	tick := time.NewTicker(l.ttl / 3)
	defer tick.Stop()
	for {
		select {
		case <-l.stop:
			return
		case <-tick.C:
		}
		pause := max(l.ttl/30, time.Millisecond)
		for {
			err := l.Renew(context.Background())
			if err == nil || errors.Is(err, ErrLost) {
				break
			}
			l.mu.Lock()
			expires := l.lease.Expires
			l.mu.Unlock()
			if !now().Add(pause).Before(expires) {
				l.setLost(fmt.Errorf("lock %s: %w: could not renew it before it expired at %s: %v",
					l.path, ErrLost, expires.Format(time.RFC3339Nano), err))
				break
			}
			select {
			case <-l.stop:
				return
			case <-time.After(pause):
			}
			pause = min(2*pause, l.ttl/6)
		}
		if l.Lost() != nil {
			return
		}
	}
}

// Renew extends the lease once. An error wrapping ErrLost means the lease
// was taken over; any other error is transient and the lease is still ours
// until it expires.
func (l *Lock) Renew(ctx context.Context) error {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.lost != nil {
		return l.lost
	}
	next := l.lease
	next.Expires = now().Add(l.ttl)
	b, _ := json.MarshalIndent(next, "", "  ")
	gen, err := storage.WriteGen(ctx, l.path, b, l.gen)
	if errors.Is(err, storage.ErrPrecondition) {
		// A write that failed in transit may have landed: if the stored
		// lease is still ours, adopt its generation and try once more.
		if cur, curGen, rerr := storage.ReadGen(ctx, l.path); rerr == nil && l.ours(cur) {
			l.gen = curGen
			gen, err = storage.WriteGen(ctx, l.path, b, l.gen)
		}
	}
	if errors.Is(err, storage.ErrPrecondition) {
		l.setLostLocked(fmt.Errorf("lock %s: %w: another run took it over (%v)", l.path, ErrLost, err))
		return l.lost
	}
	if err != nil {
		return fmt.Errorf("lock %s: renewing the lease: %w", l.path, err)
	}
	l.gen, l.lease = gen, next
	return nil
}

// ours reports whether data is a live lease written by this holder.
func (l *Lock) ours(data []byte) bool {
	var cur Lease
	return json.Unmarshal(data, &cur) == nil && !cur.Released && cur.Owner == l.lease.Owner &&
		cur.PID == l.lease.PID && cur.Acquired.Equal(l.lease.Acquired)
}

func (l *Lock) setLost(err error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.setLostLocked(err)
}

func (l *Lock) setLostLocked(err error) {
	if l.lost == nil {
		l.lost = err
		close(l.lostCh)
	}
}

// Lost reports whether the lease was lost, which means another run may
// now be active: the holder should stop writing shared state.
func (l *Lock) Lost() error {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.lost
}

// Done is closed when the lease is lost; a run cancels its work then.
func (l *Lock) Done() <-chan struct{} { return l.lostCh }

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

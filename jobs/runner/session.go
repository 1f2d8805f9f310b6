package runner

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"time"

	"github.com/taskweave/taskweave/jobs/lock"
	"github.com/taskweave/taskweave/jobs/runrecord"
	"github.com/taskweave/taskweave/jobs/spec"
)

// Session is one run of a job under its lease: the record it keeps up to
// date and the context its stages run in (cancelled if the lease is lost).
// Run and `taskweave sweep` are both sessions, so neither can overlap
// another run of the job, and both leave a record.
type Session struct {
	Ctx    context.Context
	Record *runrecord.Record
	spec   *spec.Spec
	outer  context.Context
	l      *lock.Lock
	logf   func(format string, args ...any)
	// failedAt is the error a stage failed with, already recorded.
	failedAt error
}

// Guard takes the job's lock, runs body as a session and saves the run
// record whatever happens: failed (with the stage) when body returns an
// error, as body's Finish left it otherwise. It returns nil and
// *lock.HeldError when another run holds the lock.
func Guard(ctx context.Context, s *spec.Spec, opt Options, body func(*Session) error) (*runrecord.Record, error) {
	ss, err := begin(ctx, s, opt)
	if err != nil {
		return nil, err
	}
	defer ss.l.Release(context.WithoutCancel(ctx))
	var cancel context.CancelCauseFunc
	ss.Ctx, cancel = context.WithCancelCause(ctx)
	defer cancel(nil)
	go func() {
		select {
		case <-ss.l.Done():
			ss.logf("%v; stopping the run", ss.l.Lost())
			cancel(ss.l.Lost())
		case <-ss.Ctx.Done():
		}
	}()
	ss.save()
	err = body(ss)
	if err != nil && ss.failedAt == nil {
		err = ss.failed("run", err)
	}
	if err != nil {
		return ss.Record, err
	}
	if ss.Record.Outcome == runrecord.Running {
		ss.Finish(false, "")
	}
	return ss.Record, nil
}

// begin makes the record and takes the lock (waiting for it with opt.Wait).
func begin(ctx context.Context, s *spec.Spec, opt Options) (*Session, error) {
	if opt.LockTTL <= 0 {
		return nil, fmt.Errorf("runner: lease length %s; it must be positive", opt.LockTTL)
	}
	ss := &Session{spec: s, outer: ctx, logf: opt.Log}
	if ss.logf == nil {
		ss.logf = func(string, ...any) {}
	}
	host, _ := os.Hostname()
	sum := sha256.Sum256(opt.SpecData)
	ss.Record = &runrecord.Record{ID: runrecord.NewID(time.Now()), Job: s.Name, SpecHash: "sha256:" + hex.EncodeToString(sum[:]),
		Host: host, Started: time.Now().UTC(), Outcome: runrecord.Running}
	var err error
	if opt.Wait {
		ss.logf("waiting for the job lock %s", LockPath(s))
		// Poll a few times per lease length: a crashed holder's lease is
		// noticed soon after it expires, without hammering storage.
		ss.l, err = lock.Acquire(ctx, LockPath(s), ss.Record.ID, opt.LockTTL, max(opt.LockTTL/4, 100*time.Millisecond))
	} else {
		ss.l, err = lock.TryAcquire(ctx, LockPath(s), ss.Record.ID, opt.LockTTL)
	}
	if err != nil {
		return nil, err
	}
	if old := ss.l.TookOver(); old != nil {
		ss.logf("took over the job lock from run %s: its pid %d on this host (same boot) is no longer running, so its lease (to %s) did not have to expire",
			old.Owner, old.PID, old.Expires.Format(time.RFC3339))
	}
	ss.Record.Started = time.Now().UTC() // a waiting run starts when it holds the lock
	return ss, nil
}

func (ss *Session) save() {
	if err := runrecord.Save(context.WithoutCancel(ss.Ctx), RunsDir(ss.spec), ss.Record); err != nil {
		ss.logf("warning: could not save run record: %v", err)
	}
}

// failed records the run as failed in stage and returns the error to report.
func (ss *Session) failed(stage string, err error) error {
	if lost := ss.l.Lost(); lost != nil {
		// Whatever the stage said, the cause is the lost lease.
		err = fmt.Errorf("%w (the stage was cancelled: %v)", lost, err)
	}
	rec := ss.Record
	rec.Outcome, rec.Reason, rec.Finished = runrecord.Failed, fmt.Sprintf("%s: %v", stage, err), time.Now().UTC()
	rec.Interrupted = errors.Is(err, context.Canceled) || ss.Ctx.Err() != nil
	ss.save()
	ss.failedAt = fmt.Errorf("run %s: %s stage: %w", rec.ID, stage, err)
	return ss.failedAt
}

// Stage runs one stage, records it, and returns the run's error if it (or
// the lease) failed; the caller returns that error from the session.
func (ss *Session) Stage(name string, f func() (runrecord.Stage, error)) error {
	if err := ss.l.Lost(); err != nil {
		return ss.failed(name, err)
	}
	if err := ss.outer.Err(); err != nil {
		return ss.failed(name, err)
	}
	ss.logf("== %s", name)
	t0 := time.Now()
	sr, err := f()
	sr.Name, sr.Seconds = name, time.Since(t0).Seconds()
	if err != nil {
		sr.Error = err.Error()
	}
	ss.Record.Stages = append(ss.Record.Stages, sr)
	ss.save()
	if err != nil {
		return ss.failed(name, err)
	}
	return nil
}

// Preprocess runs the preprocess stage and records the inputs' fingerprint.
func (ss *Session) Preprocess(st Stages, force bool) (PreprocessResult, error) {
	var pre PreprocessResult
	err := ss.Stage("preprocess", func() (runrecord.Stage, error) {
		var err error
		pre, err = st.Preprocess(ss.Ctx, ss.spec, force)
		note := ""
		if pre.UpToDate {
			note = "up to date: inputs and config unchanged, nothing written"
		}
		return runrecord.Stage{Skipped: pre.UpToDate, Note: note, Location: pre.Dir}, err
	})
	if err == nil {
		ss.Record.Inputs = pre.Fingerprint
	}
	return pre, err
}

// Finish records the run's end: promoted or not, and why.
func (ss *Session) Finish(promoted bool, reason string) {
	rec := ss.Record
	rec.Reason, rec.Outcome = reason, runrecord.NotPromoted
	if promoted {
		rec.Outcome = runrecord.Promoted
	}
	rec.Finished = time.Now().UTC()
	ss.save()
}

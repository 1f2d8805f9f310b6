package main

import (
	"bytes"
	"context"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/taskweave/taskweave/jobs/lock"
	"github.com/taskweave/taskweave/jobs/runrecord"
)

// proc is a taskweave process under test, its stdout and stderr collected
// together while it runs.
type proc struct {
	cmd  *exec.Cmd
	mu   sync.Mutex
	out  bytes.Buffer
	done chan struct{}
	err  error
}

type lockedWriter struct{ p *proc }

func (w lockedWriter) Write(b []byte) (int, error) {
	w.p.mu.Lock()
	defer w.p.mu.Unlock()
	return w.p.out.Write(b)
}

func startProc(t *testing.T, bin string, args ...string) *proc {
	t.Helper()
	p := &proc{cmd: exec.Command(bin, args...), done: make(chan struct{})}
	p.cmd.Stdout, p.cmd.Stderr = lockedWriter{p}, lockedWriter{p}
	if err := p.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() { p.err = p.cmd.Wait(); close(p.done) }()
	t.Cleanup(func() {
		select {
		case <-p.done:
		default:
			p.cmd.Process.Kill()
			<-p.done
		}
	})
	return p
}

func (p *proc) output() string {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.out.String()
}

// waitFor waits until the output holds substr at least n times; it fails
// the test if the process exits first or the time runs out.
func (p *proc) waitFor(t *testing.T, substr string, n int, timeout time.Duration) {
	t.Helper()
	deadline := time.After(timeout)
	for strings.Count(p.output(), substr) < n {
		select {
		case <-p.done:
			if strings.Count(p.output(), substr) >= n {
				return
			}
			t.Fatalf("process exited (%v) before printing %q %d times:\n%s", p.err, substr, n, p.output())
		case <-deadline:
			t.Fatalf("no %q (%d times) within %s:\n%s", substr, n, timeout, p.output())
		case <-time.After(50 * time.Millisecond):
		}
	}
}

// exitCode waits for the process and returns its exit status.
func (p *proc) exitCode(t *testing.T, timeout time.Duration) int {
	t.Helper()
	select {
	case <-p.done:
	case <-time.After(timeout):
		t.Fatalf("process still running after %s:\n%s", timeout, p.output())
	}
	var exit *exec.ExitError
	if errors.As(p.err, &exit) {
		return exit.ExitCode()
	}
	if p.err != nil {
		t.Fatal(p.err)
	}
	return 0
}

// holdLock takes the job's lease from the test process, a second real
// process next to the taskweave under test.
func holdLock(t *testing.T, path, owner string) *lock.Lock {
	t.Helper()
	deadline := time.Now().Add(2 * time.Minute)
	for {
		l, err := lock.TryAcquire(context.Background(), path, owner, time.Minute)
		var held *lock.HeldError
		if !errors.As(err, &held) {
			if err != nil {
				t.Fatal(err)
			}
			return l
		}
		if time.Now().After(deadline) {
			t.Fatalf("lock never freed: %v", err)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// A scheduler whose tick meets the job locked by another process skips
// that tick and keeps going: the next free tick runs the job, and only a
// signal ends the scheduler (status 130 for SIGINT). taskweave schedule and
// run --once=false are the same loop; --once (the default) would have
// exited after one run.
func TestScheduleSkipsTicksWhileLockedElsewhere(t *testing.T) {
	if testing.Short() {
		t.Skip("builds the binary and runs the job")
	}
	bin := buildBinary(t)
	for _, args := range [][]string{{"schedule"}, {"run", "--once=false"}} {
		t.Run(strings.Join(args, " "), func(t *testing.T) {
			dir := t.TempDir()
			job := writeJobWith(t, dir, "{steps: 4, batch_size: 8, eval_every: 4}", `schedule: "@every 1s"`)
			lockPath := filepath.Join(dir, "out", "job.lock")
			held := holdLock(t, lockPath, "other-process")
			p := startProc(t, bin, append(args, job)...)
			p.waitFor(t, "tick skipped: job is locked by run other-process", 2, time.Minute)
			if err := held.Release(context.Background()); err != nil {
				t.Fatal(err)
			}
			p.waitFor(t, "run record:", 1, 3*time.Minute)
			// The loop outlives the run: lock the job again and see the next tick skipped.
			held = holdLock(t, lockPath, "third-process")
			skipped := strings.Count(p.output(), "locked by run third-process")
			p.waitFor(t, "tick skipped: job is locked by run third-process", skipped+1, time.Minute)
			held.Release(context.Background())
			p.cmd.Process.Signal(os.Interrupt)
			if code := p.exitCode(t, 2*time.Minute); code != 130 {
				t.Fatalf("scheduler exit status %d after SIGINT, want 130:\n%s", code, p.output())
			}
			recs, err := runrecord.List(context.Background(), filepath.Join(dir, "out", "runs"))
			if err != nil || len(recs) == 0 {
				t.Fatalf("run records: %d, %v", len(recs), err)
			}
			if last := recs[len(recs)-1]; last.Outcome != runrecord.Promoted {
				t.Errorf("first scheduled run ended %s (%s)", last.Outcome, last.Reason)
			}
		})
	}
}

// `run --once=false` needs a schedule to follow.
func TestRunNotOnceNeedsSchedule(t *testing.T) {
	if testing.Short() {
		t.Skip("builds the binary")
	}
	bin := buildBinary(t)
	job := writeJob(t, t.TempDir())
	out, err := exec.Command(bin, "run", "--once=false", job).CombinedOutput()
	var exit *exec.ExitError
	if !errors.As(err, &exit) || exit.ExitCode() != 1 || !strings.Contains(string(out), "has no schedule:") {
		t.Fatalf("run --once=false without a schedule: %v\n%s", err, out)
	}
}

// An interrupted `taskweave train` saves its state and then exits with 130,
// so a script does not take an interrupted run for a finished one.
func TestInterruptedTrainExits130(t *testing.T) {
	if testing.Short() {
		t.Skip("builds the binary and trains")
	}
	bin := buildBinary(t)
	dir := t.TempDir()
	job := writeJobWith(t, dir, "{steps: 100000, batch_size: 8, eval_every: 100000}", "")
	if out, err := exec.Command(bin, "preprocess", "--config", job, "--quiet").CombinedOutput(); err != nil {
		t.Fatalf("preprocess: %v\n%s", err, out)
	}
	p := startProc(t, bin, "train", "--config", job, "--quiet")
	p.waitFor(t, "strategy equal", 1, time.Minute)
	time.Sleep(time.Second)
	p.cmd.Process.Signal(os.Interrupt)
	if code := p.exitCode(t, time.Minute); code != 130 {
		t.Fatalf("train exit status %d after SIGINT, want 130:\n%s", code, p.output())
	}
	if !strings.Contains(p.output(), "saved ") {
		t.Errorf("no save reported before exiting:\n%s", p.output())
	}
	if _, err := os.Stat(filepath.Join(dir, "out", "train", "last", "model.safetensors")); err != nil {
		t.Fatalf("interrupted training left no checkpoint: %v", err)
	}
}

// The lease is lost while the job trains: the process is paused (SIGSTOP,
// as a VM pause or a long GC would) past its lease, another process takes
// the job over, and when the first one wakes its renewal fails. The running
// training must stop through its context (saving its state), the run must
// fail with status 4, and the usurper's lease must be left alone. Before,
// the training ran on to its last step with another run active.
func TestLostLeaseStopsTheRunningStage(t *testing.T) {
	_, dir, _, p := startLongRun(t)
	time.Sleep(time.Second)
	lockPath := filepath.Join(dir, "out", "job.lock")
	lease := pauseBetweenRenewals(t, p, lockPath)
	time.Sleep(time.Until(lease.Expires) + 200*time.Millisecond)
	usurper, err := lock.TryAcquire(context.Background(), lockPath, "usurper", time.Minute)
	if err != nil {
		p.cmd.Process.Signal(syscall.SIGCONT)
		t.Fatalf("the paused run's lease did not expire: %v", err)
	}
	defer usurper.Release(context.Background())
	if err := p.cmd.Process.Signal(syscall.SIGCONT); err != nil {
		t.Fatal(err)
	}
	if code := p.exitCode(t, 2*time.Minute); code != exitLeaseLost {
		t.Fatalf("exit status %d, want %d (lease lost):\n%s", code, exitLeaseLost, p.output())
	}
	if !strings.Contains(p.output(), "saved ") {
		t.Errorf("the training did not save its state when stopped:\n%s", p.output())
	}
	recs, err := runrecord.List(context.Background(), filepath.Join(dir, "out", "runs"))
	if err != nil || len(recs) != 1 {
		t.Fatalf("run records: %d, %v", len(recs), err)
	}
	r := recs[0]
	if r.Outcome != runrecord.Failed || !strings.Contains(r.Reason, "lease lost") || !r.Interrupted {
		t.Errorf("record: outcome %s, interrupted %v, reason %q; want failed, interrupted, lease lost", r.Outcome, r.Interrupted, r.Reason)
	}
	if now, _, _ := lock.Read(context.Background(), lockPath); now.Owner != "usurper" || !now.Live(time.Now()) {
		t.Errorf("the stopped run touched the new holder's lease: %+v", now)
	}
}

// startLongRun starts `taskweave run` on a job with a 2-second lease and
// a training far longer than the test, and returns once training has begun.
func startLongRun(t *testing.T) (bin, dir, job string, p *proc) {
	t.Helper()
	if testing.Short() {
		t.Skip("builds the binary and trains")
	}
	bin = buildBinary(t)
	dir = t.TempDir()
	job = writeJobWith(t, dir, "{steps: 100000, batch_size: 8, eval_every: 100000}", "run: {lease_ttl_seconds: 2}")
	p = startProc(t, bin, "run", job)
	p.waitFor(t, "strategy equal", 1, 2*time.Minute) // training has started
	return bin, dir, job, p
}

// pauseBetweenRenewals stops p with SIGSTOP at a moment when it is not in
// the middle of renewing its lease (a local lease write holds a file lock,
// which a stopped process would keep) and returns the lease as it stands.
func pauseBetweenRenewals(t *testing.T, p *proc, lockPath string) lock.Lease {
	t.Helper()
	for attempt := 0; attempt < 20; attempt++ {
		if err := p.cmd.Process.Signal(syscall.SIGSTOP); err != nil {
			t.Fatal(err)
		}
		type result struct {
			lease lock.Lease
			err   error
		}
		ch := make(chan result, 1)
		go func() {
			l, _, err := lock.Read(context.Background(), lockPath)
			ch <- result{l, err}
		}()
		select {
		case r := <-ch:
			if r.err != nil {
				t.Fatal(r.err)
			}
			return r.lease
		case <-time.After(time.Second):
			// Stopped inside a renewal: let it finish and try again.
			p.cmd.Process.Signal(syscall.SIGCONT)
			<-ch
			time.Sleep(100 * time.Millisecond)
		}
	}
	t.Fatal("could not pause the run between two lease renewals")
	return lock.Lease{}
}

// A run killed with SIGKILL never finishes its record, and its lease would
// block the job until it expired (issue 26: two minutes by default). Its
// pid is dead on this host in this boot, so `taskweave runs` shows it as
// crashed at once, and the next run takes the lock over at once, saying so.
func TestKilledRunsLeaseTakenOver(t *testing.T) {
	if testing.Short() {
		t.Skip("builds the binary and trains")
	}
	bin := buildBinary(t)
	dir := t.TempDir()
	job := writeJobWith(t, dir, "{steps: 100000, batch_size: 8, eval_every: 100000}", "run: {lease_ttl_seconds: 600}")
	p := startProc(t, bin, "run", job)
	p.waitFor(t, "strategy equal", 1, 2*time.Minute)
	if err := p.cmd.Process.Kill(); err != nil {
		t.Fatal(err)
	}
	p.exitCode(t, time.Minute) // reaped: the pid names no process now
	lease, _, err := lock.Read(context.Background(), filepath.Join(dir, "out", "job.lock"))
	if err != nil || !lease.Live(time.Now()) || lease.PID != p.cmd.Process.Pid {
		t.Fatalf("the killed run's lease %+v (%v): want it live, with pid %d", lease, err, p.cmd.Process.Pid)
	}
	out, err := exec.Command(bin, "runs", job).CombinedOutput()
	if err != nil || !strings.Contains(string(out), " crashed ") || strings.Contains(string(out), " running ") || !strings.Contains(string(out), "is gone") {
		t.Fatalf("taskweave runs (%v), with the killed run's lease still live:\n%s", err, out)
	}
	next := startProc(t, bin, "run", job)
	next.waitFor(t, "took over the job lock from run "+lease.Owner, 1, time.Minute)
	next.waitFor(t, "strategy equal", 1, 2*time.Minute)
}

package main

import (
	"context"
	"errors"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/taskweave/taskweave/jobs/lock"
	"github.com/taskweave/taskweave/jobs/runrecord"
)

// TestSweepTakesTheJobLock (issue 26 item 8): a sweep trains, registers
// and may promote, so it takes the job's lock as `run` does (a held lock
// refuses it before anything is trained) and leaves a run record with its
// stages and the gate's outcome.
func TestSweepTakesTheJobLock(t *testing.T) {
	if testing.Short() {
		t.Skip("trains two small models")
	}
	bin := buildBinary(t)
	dir := t.TempDir()
	job := writeJobWith(t, dir, "{steps: 4, batch_size: 8, eval_every: 4}", "sweep:\n  grid:\n    train.lr: [3.0e-3, 1.0e-3]\n  parallel: 1\n")
	lockPath := filepath.Join(dir, "out", "job.lock")
	other := holdLock(t, lockPath, "another-run")
	out, err := exec.Command(bin, "sweep", job).CombinedOutput()
	var exit *exec.ExitError
	if !errors.As(err, &exit) || exit.ExitCode() != 3 || !strings.Contains(string(out), "locked by run another-run") {
		t.Fatalf("sweep under another run's lock: %v\n%s\nwant status 3 naming the holder", err, out)
	}
	if recs, _ := runrecord.List(context.Background(), filepath.Join(dir, "out", "runs")); len(recs) != 0 {
		t.Errorf("a refused sweep left records: %+v", recs)
	}
	if err := other.Release(context.Background()); err != nil {
		t.Fatal(err)
	}
	if out, err := exec.Command(bin, "sweep", job).CombinedOutput(); err != nil || !strings.Contains(string(out), "run record: ") {
		t.Fatalf("sweep: %v\n%s", err, out)
	}
	recs, err := runrecord.List(context.Background(), filepath.Join(dir, "out", "runs"))
	if err != nil || len(recs) != 1 {
		t.Fatalf("records %+v (%v); want the sweep's one", recs, err)
	}
	r := recs[0]
	if len(r.Stages) != 2 || r.Stages[0].Name != "preprocess" || r.Stages[1].Name != "sweep" || r.Version == "" ||
		(r.Outcome != runrecord.Promoted && r.Outcome != runrecord.NotPromoted) || r.Finished.IsZero() {
		t.Errorf("sweep record %+v", r)
	}
	if l, _, _ := lock.Read(context.Background(), lockPath); l.Live(l.Acquired) && !l.Released {
		t.Errorf("lease not released after the sweep: %+v", l)
	}
}

package main

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/taskweave/taskweave/io/storage"
	"github.com/taskweave/taskweave/jobs/registry"
	"github.com/taskweave/taskweave/jobs/runrecord"
)

// buildBinary compiles taskweave once for process-level tests.
func buildBinary(t *testing.T) string {
	t.Helper()
	bin := filepath.Join(t.TempDir(), "taskweave")
	cmd := exec.Command("go", "build", "-o", bin, ".")
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	return bin
}

// writeJob writes a small real job over the bundled demo samples.
func writeJob(t *testing.T, dir string) string {
	return writeJobWith(t, dir, "{steps: 40, batch_size: 16, eval_every: 40}", "")
}

// writeJobWith is writeJob with another train section and extra top-level
// YAML (schedule:, run:).
func writeJobWith(t *testing.T, dir, train, extra string) string {
	t.Helper()
	demo, _ := filepath.Abs("../../testdata/demo")
	y := fmt.Sprintf(`name: overlap
output: out
tokenizer: {vocab: %[1]s/../vocab/bert-base-cased-vocab.txt, max_seq_len: 32}
tasks:
  - name: sst2
    type: sequence_classification
    format: tsv
    columns: {text: sentence, label: label}
    paths: {train: [%[1]s/sst2-train.tsv], validation: [%[1]s/sst2-validation.tsv], test: [%[1]s/sst2-test.tsv]}
preprocess: {shards: 1}
model: {size: tiny}
train: %[2]s
%[3]s
`, demo, train, extra)
	p := filepath.Join(dir, "job.yaml")
	if err := os.WriteFile(p, []byte(y), 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

// Two overlapping `taskweave run --once` processes on one job: the second
// exits with status 3 and names the holder; a third with --wait waits for
// the first and then runs; both records and the registry stay intact.
func TestOverlappingRunProcesses(t *testing.T) {
	if testing.Short() {
		t.Skip("builds the binary and trains twice")
	}
	bin := buildBinary(t)
	dir := t.TempDir()
	job := writeJob(t, dir)
	var outA bytes.Buffer
	a := exec.Command(bin, "run", "--once", job)
	a.Stdout, a.Stderr = &outA, &outA
	if err := a.Start(); err != nil {
		t.Fatal(err)
	}
	lockPath := filepath.Join(dir, "out", "job.lock")
	deadline := time.Now().Add(2 * time.Minute)
	for {
		if b, err := os.ReadFile(lockPath); err == nil && !strings.Contains(string(b), `"released"`) {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("first run never took the lock:\n%s", outA.String())
		}
		time.Sleep(20 * time.Millisecond)
	}

	b := exec.Command(bin, "run", "--once", job)
	outB, err := b.CombinedOutput()
	var exit *exec.ExitError
	if !errors.As(err, &exit) || exit.ExitCode() != exitLocked || !strings.Contains(string(outB), "job is locked by run") {
		t.Fatalf("overlapping run: err %v, output:\n%s", err, outB)
	}

	c := exec.Command(bin, "run", "--once", "--wait", job)
	var outC bytes.Buffer
	c.Stdout, c.Stderr = &outC, &outC
	if err := c.Start(); err != nil {
		t.Fatal(err)
	}
	if err := a.Wait(); err != nil {
		t.Fatalf("first run: %v\n%s", err, outA.String())
	}
	if err := c.Wait(); err != nil {
		t.Fatalf("waiting run: %v\n%s", err, outC.String())
	}
	if !strings.Contains(outC.String(), "waiting for the job lock") {
		t.Errorf("the --wait run did not say it waited:\n%s", outC.String())
	}

	ctx := context.Background()
	recs, err := runrecord.List(ctx, filepath.Join(dir, "out", "runs"))
	if err != nil || len(recs) != 2 {
		t.Fatalf("run records: %d, %v; want 2 (the refused run writes none)", len(recs), err)
	}
	for _, r := range recs {
		if r.Outcome != "promoted" && r.Outcome != "not-promoted" {
			t.Errorf("run %s ended %s: %s", r.ID, r.Outcome, r.Reason)
		}
	}
	// Newest first: the waiting run's record must start after the first run finished.
	if recs[0].Started.Before(recs[1].Finished) {
		t.Errorf("the waiting run started at %s, before the first finished at %s", recs[0].Started, recs[1].Finished)
	}
	p, _, ok, err := registry.Open(filepath.Join(dir, "out", "registry")).Production(ctx)
	if err != nil || !ok {
		t.Fatalf("production pointer: %+v %v", p, err)
	}
	if ok, _ := storage.Exists(ctx, filepath.Join(dir, "out", "registry", "versions", p.Version, "model", "model.safetensors")); !ok {
		t.Fatalf("production version %s has no weights", p.Version)
	}
}

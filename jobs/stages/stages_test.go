package stages_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/apache/beam/sdks/v2/go/pkg/beam/testing/ptest"

	"github.com/taskweave/taskweave/io/storage"
	"github.com/taskweave/taskweave/io/storage/gcstest"
	"github.com/taskweave/taskweave/jobs/lock"
	"github.com/taskweave/taskweave/jobs/registry"
	"github.com/taskweave/taskweave/jobs/runner"
	"github.com/taskweave/taskweave/jobs/runrecord"
	"github.com/taskweave/taskweave/jobs/spec"
	"github.com/taskweave/taskweave/jobs/stages"
)

// jobSpec is a small real job over the bundled demo samples: SST-2 and UD
// EWT POS, a tiny encoder, a few dozen steps.
func jobSpec(t *testing.T, output string, steps int, seed int) (*spec.Spec, []byte) {
	t.Helper()
	demo, err := filepath.Abs("../../testdata/demo")
	if err != nil {
		t.Fatal(err)
	}
	y := fmt.Sprintf(`
name: jobtest
output: %[1]s
tokenizer: {vocab: %[2]s/../vocab/bert-base-cased-vocab.txt, max_seq_len: 32}
tasks:
  - name: sst2
    type: sequence_classification
    format: tsv
    columns: {text: sentence, label: label}
    paths: {train: [%[2]s/sst2-train.tsv], validation: [%[2]s/sst2-validation.tsv], test: [%[2]s/sst2-test.tsv]}
  - name: upos
    type: token_classification
    format: conllu
    tag_scheme: none
    paths: {train: [%[2]s/ewt-train.conllu], validation: [%[2]s/ewt-validation.conllu], test: [%[2]s/ewt-test.conllu]}
preprocess: {shards: 1}
model: {size: tiny, seed: %[4]d}
train: {steps: %[3]d, batch_size: 16, lr: 2.0e-3, eval_every: %[3]d, seed: %[4]d}
evaluate: {split: test, batch_size: 64}
registry: {tolerance: 0.01}
`, output, demo, steps, seed)
	s, err := spec.Parse([]byte(y), t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	return s, []byte(y)
}

func run(t *testing.T, s *spec.Spec, data []byte) (*runrecord.Record, error) {
	t.Helper()
	return runner.Run(context.Background(), s, stages.New(stages.Options{}), runner.Options{SpecData: data, LockTTL: s.Run.LeaseTTL()})
}

func stage(r *runrecord.Record, name string) runrecord.Stage {
	for _, s := range r.Stages {
		if s.Name == name {
			return s
		}
	}
	return runrecord.Stage{}
}

// A job run end to end twice: the second run skips preprocessing, and a
// deliberately worse model (one optimizer step) is not promoted, with the
// reason in its run record. Run on local disk and on the GCS emulator.
func TestSecondRunSkipsPreprocessAndWorseModelIsNotPromoted(t *testing.T) {
	if testing.Short() {
		t.Skip("trains three small models")
	}
	for _, where := range []string{"local", "gcs"} {
		t.Run(where, func(t *testing.T) {
			out := t.TempDir()
			if where == "gcs" {
				out = "gs://" + gcstest.Start(t) + "/job"
			}
			good, goodYAML := jobSpec(t, out, 120, 1)
			r1, err := run(t, good, goodYAML)
			if err != nil {
				t.Fatal(err)
			}
			if r1.Outcome != "promoted" || stage(r1, "preprocess").Skipped {
				t.Fatalf("first run: outcome %s, preprocess skipped=%v", r1.Outcome, stage(r1, "preprocess").Skipped)
			}
			manifest := storage.Join(out, "data", "manifest.json")
			before, err := storage.ReadFile(context.Background(), manifest)
			if err != nil {
				t.Fatal(err)
			}

			worse, worseYAML := jobSpec(t, out, 1, 2)
			r2, err := run(t, worse, worseYAML)
			if err != nil {
				t.Fatal(err)
			}
			if p := stage(r2, "preprocess"); !p.Skipped || !strings.Contains(p.Note, "up to date") {
				t.Errorf("second run did not skip preprocessing: %+v", p)
			}
			after, _ := storage.ReadFile(context.Background(), manifest)
			if string(before) != string(after) {
				t.Error("the skipped preprocess rewrote manifest.json")
			}
			if r2.Outcome != "not-promoted" || !strings.Contains(r2.Reason, "fell") {
				t.Fatalf("worse model: outcome %q, reason %q", r2.Outcome, r2.Reason)
			}
			// The saved record says why, and production still points at the first model.
			b, err := storage.ReadFile(context.Background(), storage.Join(runner.RunsDir(worse), r2.ID+".json"))
			if err != nil {
				t.Fatal(err)
			}
			var saved runrecord.Record
			if err := json.Unmarshal(b, &saved); err != nil || saved.Reason != r2.Reason || saved.Outcome != "not-promoted" {
				t.Fatalf("saved record: %+v, %v", saved, err)
			}
			p, _, _, err := registry.Open(worse.Path(worse.Registry.Path)).Production(context.Background())
			if err != nil || p.Version != r1.ID {
				t.Fatalf("production = %+v, %v; want %s", p, err, r1.ID)
			}
		})
	}
}

// Two overlapping runs of one job: exactly one runs, the other is refused
// with a message naming the holder, and the one that ran is intact.
func TestOverlappingRuns(t *testing.T) {
	if testing.Short() {
		t.Skip("trains a small model")
	}
	s, y := jobSpec(t, t.TempDir(), 20, 1)
	var wg sync.WaitGroup
	recs := make([]*runrecord.Record, 2)
	errs := make([]error, 2)
	for i := range 2 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			recs[i], errs[i] = run(t, s, y)
		}()
	}
	wg.Wait()
	held, ran := 0, 0
	for i, err := range errs {
		var h *lock.HeldError
		switch {
		case errors.As(err, &h):
			held++
			if !strings.Contains(err.Error(), "locked by run") || recs[i] != nil {
				t.Errorf("refused run: %v (record %v)", err, recs[i])
			}
		case err == nil:
			ran++
			if recs[i].Outcome != "promoted" {
				t.Errorf("the run that held the lock ended %s: %s", recs[i].Outcome, recs[i].Reason)
			}
		default:
			t.Errorf("unexpected error: %v", err)
		}
	}
	if held != 1 || ran != 1 {
		t.Fatalf("%d runs refused and %d ran; want 1 and 1", held, ran)
	}
	all, err := runrecord.List(context.Background(), runner.RunsDir(s))
	if err != nil || len(all) != 1 {
		t.Fatalf("run records: %d, %v; want exactly the one run", len(all), err)
	}
	if _, err := os.Stat(filepath.Join(s.Path(s.Output), "job.lock")); err != nil {
		t.Fatal(err)
	}
}

// The pipeline stages run on prism inside the test binary; ptest.Main does
// the beam.Init that Beam's worker side needs.
func TestMain(m *testing.M) { ptest.Main(m) }

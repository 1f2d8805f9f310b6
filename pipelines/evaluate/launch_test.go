package evaluate

import (
	"bytes"
	"context"
	"errors"
	"github.com/taskweave/taskweave/internal/beampaths"
	"github.com/taskweave/taskweave/internal/flagtest"
	"github.com/taskweave/taskweave/model"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/apache/beam/sdks/v2/go/pkg/beam"

	"github.com/taskweave/taskweave/io/storage"
	"github.com/taskweave/taskweave/io/storage/gcstest"
	"github.com/taskweave/taskweave/transforms/score"
)

// A Dataflow dry run submits nothing; it must not delete an earlier run's
// figures or report, and it must succeed.
func TestDataflowDryRunKeepsOutput(t *testing.T) {
	ctx := context.Background()
	f := newFixture(t, defaultTasks[:2], 5)
	bucket := "gs://" + gcstest.Start(t)
	upload(t, ctx, f.data, bucket+"/shards")
	upload(t, ctx, f.ckpt, bucket+"/ckpt")
	out := bucket + "/eval"
	old := map[string][]byte{
		score.MetricsPath(out, "model", "sst"): []byte(`{"task":"sst"}` + "\n"),
		storage.Join(out, "report.json"):       []byte(`{"format_version":1}` + "\n"),
	}
	for p, b := range old {
		if err := storage.WriteFile(ctx, p, b); err != nil {
			t.Fatal(err)
		}
	}
	flagtest.Set(t, "runner", "dataflow", "dry_run", "true", "environment_type", "docker", "project", "test-project",
		"region", "us-central1", "staging_location", bucket+"/staging")
	var log bytes.Buffer
	rep, err := Run(ctx, Options{Model: bucket + "/ckpt", Data: bucket + "/shards", Split: "test", Out: out, BatchSize: 8, Log: &log})
	if err != nil {
		t.Fatalf("dry run failed: %v", err)
	}
	if !rep.DryRun || len(rep.Tasks) != 0 {
		t.Errorf("dry run returned a report with %d tasks (DryRun %v)", len(rep.Tasks), rep.DryRun)
	}
	for p, want := range old {
		got, err := storage.ReadFile(ctx, p)
		if err != nil || !bytes.Equal(got, want) {
			t.Errorf("the dry run changed %s: %q, %v", p, got, err)
		}
	}
	if !strings.Contains(log.String(), "dry run on dataflow") || !strings.Contains(log.String(), "nothing was submitted") {
		t.Errorf("dry-run output:\n%s", log.String())
	}
}

// On Dataflow every path must be gs://: a local one is refused by name
// before the checkpoint or the shards are even read.
func TestDataflowRefusesLocalPaths(t *testing.T) {
	flagtest.Set(t, "runner", "dataflow")
	out := t.TempDir()
	_, err := Run(context.Background(), Options{Model: "gs://b/ckpt", Data: "shards", Split: "test", Out: out, BatchSize: 8})
	if err == nil {
		t.Fatal("accepted local paths on Dataflow")
	}
	wd, _ := os.Getwd()
	for _, want := range []string{"--data is " + filepath.Join(wd, "shards"), "--out is " + out, "gs://"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error lacks %q: %v", want, err)
		}
	}
	if strings.Contains(err.Error(), "--model") {
		t.Errorf("error names the gs:// --model: %v", err)
	}
}

// When the pipeline succeeds but its figures are not where the launcher
// reads them (workers writing to a disk the launcher does not see), the
// error says so and where they were expected, instead of blaming the shards.
func TestMissingWorkerOutputNamed(t *testing.T) {
	f := newFixture(t, defaultTasks[:2], 7)
	out := t.TempDir()
	_, err := run(context.Background(), Options{Model: f.ckpt, Data: f.data, Split: "test", Out: out, BatchSize: 8},
		func(context.Context, *beam.Pipeline) error { return nil }) // a runner whose workers wrote elsewhere
	if err == nil {
		t.Fatal("no error without the workers' output")
	}
	for _, want := range []string{"not at " + out, "_metrics", "workers"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error lacks %q: %v", want, err)
		}
	}
	if strings.Contains(err.Error(), "re-run preprocess") {
		t.Errorf("error blames preprocess: %v", err)
	}
}

// Every path the evaluate pipeline hands its workers is absolute, although
// --model, --data and --out were typed relative to the working directory.
func TestWorkerPathsAbsolute(t *testing.T) {
	f := newFixture(t, defaultTasks, 3)
	t.Chdir(filepath.Dir(f.data))
	rel := func(p string) string {
		r, err := filepath.Rel(filepath.Dir(f.data), p)
		if err != nil {
			t.Fatal(err)
		}
		return r
	}
	var seen *beam.Pipeline
	o := Options{Model: rel(f.ckpt), Compare: rel(f.ckpt), Data: rel(f.data), Split: "test", Out: "report", BatchSize: 8}
	if _, err := run(context.Background(), o, func(_ context.Context, p *beam.Pipeline) error { seen = p; return nil }); seen == nil {
		t.Fatalf("no pipeline built: %v", err)
	}
	found, err := beampaths.All(seen)
	if err != nil {
		t.Fatal(err)
	}
	if len(found) < 4 {
		t.Errorf("only %d paths found: %v", len(found), found)
	}
	for _, r := range beampaths.Relative(found) {
		t.Errorf("relative path reaches a worker: %s = %q", r.Where, r.Value)
	}
}

// report.json names the BLAS backend of the processes that scored, as the
// workers reported it (here prism runs them in this process).
func TestReportNamesWorkerBLAS(t *testing.T) {
	f := newFixture(t, defaultTasks[:2], 9)
	out := t.TempDir()
	rep, err := Run(context.Background(), Options{Model: f.ckpt, Data: f.data, Split: "test", Out: out, BatchSize: 8})
	if err != nil {
		t.Fatal(err)
	}
	want := model.Backend() + " (" + model.BLASCore() + ")"
	if len(rep.Workers.BLAS) != 1 || rep.Workers.BLAS[0] != want {
		t.Errorf("workers' BLAS %q, want [%q]", rep.Workers.BLAS, want)
	}
	b, err := os.ReadFile(filepath.Join(out, "report.json"))
	if err != nil || !strings.Contains(string(b), `"blas": [`) {
		t.Errorf("report.json lacks the workers' BLAS (%v)", err)
	}
	left, _ := filepath.Glob(filepath.Join(out, "_pending", "*", "_metrics", "*", "*.json"))
	if more, _ := filepath.Glob(filepath.Join(out, "_pending", "*", "workers.json")); len(left)+len(more) != 0 {
		left = append(left, more...)
		t.Errorf("left behind: %v", left)
	}
	// Issue 26: the files went but _pending/<id>/_metrics/model stayed.
	if _, err := os.Stat(filepath.Join(out, "_pending")); !errors.Is(err, fs.ErrNotExist) {
		dirs, _ := filepath.Glob(filepath.Join(out, "_pending", "*", "*", "*"))
		t.Errorf("_pending left behind (%v): %v", err, dirs)
	}
}

package preprocess

import (
	"bytes"
	"context"
	"github.com/apache/beam/sdks/v2/go/pkg/beam"
	"github.com/taskweave/taskweave/internal/beampaths"
	"github.com/taskweave/taskweave/internal/flagtest"
	"github.com/taskweave/taskweave/io/manifest"
	"github.com/taskweave/taskweave/io/storage"
	"github.com/taskweave/taskweave/io/storage/gcstest"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/taskweave/taskweave/io/corpus"
)

// quickConfig is what the preprocess command's quick-run flags make of one
// TSV sentence task, with the paths as typed.
func quickConfig(t *testing.T, vocab, out string, shards int, train, validation string) Config {
	t.Helper()
	task := Task{Name: "sent", Type: "sequence_classification", Read: corpus.Options{Format: corpus.TSV, TextColumns: []string{"sentence"}, LabelColumn: "label", MaxRecordBytes: 8 << 20},
		Paths: map[string][]string{"train": {train}}}
	if validation != "" {
		task.Paths["validation"] = []string{validation}
	}
	cfg := Config{Out: out, Vocab: vocab, Shards: shards, MaxSeqLen: 16, MaxRejectedFraction: 0.01, Tasks: []Task{task}}
	if err := cfg.Validate(); err != nil {
		t.Fatal(err)
	}
	return cfg
}

// The input fingerprint decides "up to date"; it must not depend on how the
// job file (or a quick run's files) were spelled on the command line.
func TestFingerprintIgnoresPathSpelling(t *testing.T) {
	ctx := context.Background()
	abs, err := filepath.Abs(filepath.Join("testdata", "job.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	fingerprint := func(path string) string {
		t.Helper()
		cfg, err := JobConfig(path)
		if err != nil {
			t.Fatal(err)
		}
		fp, err := Fingerprint(ctx, cfg)
		if err != nil {
			t.Fatal(err)
		}
		return fp
	}
	want := fingerprint(abs)
	if got := fingerprint(filepath.Join("testdata", "job.yaml")); got != want {
		t.Errorf("relative --config: fingerprint %s, absolute: %s", got, want)
	}
	if got := fingerprint(filepath.Join("testdata", "..", "testdata", "job.yaml")); got != want {
		t.Errorf("--config via ..: fingerprint %s, absolute: %s", got, want)
	}

	quick := func(train, vocab string) string {
		t.Helper()
		fp, err := Fingerprint(ctx, quickConfig(t, vocab, "out", 1, train, ""))
		if err != nil {
			t.Fatal(err)
		}
		return fp
	}
	vocab := filepath.Join("..", "..", "testdata", "vocab", "bert-base-cased-vocab.txt")
	absVocab, _ := filepath.Abs(vocab)
	absTrain, _ := filepath.Abs(filepath.Join("testdata", "sent-train.tsv"))
	if a, b := quick("testdata/sent-train.tsv", vocab), quick(absTrain, absVocab); a != b {
		t.Errorf("quick run: relative files give fingerprint %s, absolute %s", a, b)
	}
}

// Every path a run hands to the pipeline is absolute (or gs://), whatever
// the working directory it was typed in.
func TestResolveMakesPathsAbsolute(t *testing.T) {
	wd, _ := os.Getwd()
	cfg := Config{Out: "out", Vocab: "vocab.txt", Tasks: []Task{{Name: "a",
		Paths: map[string][]string{"train": {"a.tsv", "gs://b/a.tsv"}, "test": {"../t.tsv"}}}}}
	got, err := cfg.Resolve()
	if err != nil {
		t.Fatal(err)
	}
	if got.Out != filepath.Join(wd, "out") || got.Vocab != filepath.Join(wd, "vocab.txt") ||
		got.Tasks[0].Paths["train"][0] != filepath.Join(wd, "a.tsv") || got.Tasks[0].Paths["train"][1] != "gs://b/a.tsv" ||
		got.Tasks[0].Paths["test"][0] != filepath.Join(filepath.Dir(wd), "t.tsv") {
		t.Errorf("Resolve = %+v", got)
	}
	if cfg.Tasks[0].Paths["train"][0] != "a.tsv" {
		t.Error("Resolve changed its receiver's path map")
	}
}

// uploadJob copies the small job's inputs to gs:// on fake-gcs-server and
// points the output there too, as a Dataflow job must.
func uploadJob(t *testing.T) Config {
	t.Helper()
	ctx := context.Background()
	base := "gs://" + gcstest.Start(t)
	cfg := loadJob(t, "job.yaml")
	upload := func(p string) string {
		data, err := os.ReadFile(p)
		if err != nil {
			t.Fatal(err)
		}
		dst := storage.Join(base, "in", filepath.Base(p))
		if err := storage.WriteFile(ctx, dst, data); err != nil {
			t.Fatal(err)
		}
		return dst
	}
	cfg.Vocab = upload(cfg.Vocab)
	for i := range cfg.Tasks {
		for split, files := range cfg.Tasks[i].Paths {
			for j, f := range files {
				cfg.Tasks[i].Paths[split][j] = upload(f)
			}
		}
	}
	cfg.Out = storage.Join(base, "out")
	return cfg
}

// A Dataflow dry run (Beam returns no result and submits nothing) is not a
// finished run: with --force it must leave the previous output alone, and
// it must succeed.
func TestDataflowDryRunKeepsOutput(t *testing.T) {
	ctx := context.Background()
	cfg := uploadJob(t)
	run(t, cfg, Options{})
	before, err := storage.ReadFile(ctx, manifest.Path(cfg.Out))
	if err != nil {
		t.Fatal(err)
	}
	flagtest.Set(t, "dry_run", "true", "environment_type", "docker", "project", "test-project", "region", "us-central1",
		"staging_location", storage.Join(cfg.Out, "..", "staging"))
	var plan bytes.Buffer
	res, err := Run(ctx, cfg, Options{Runner: "dataflow", Force: true, Log: &plan})
	if err != nil {
		t.Fatalf("dry run failed: %v", err)
	}
	if !res.DryRun || res.Manifest != nil {
		t.Errorf("dry run reported %+v", res)
	}
	after, err := storage.ReadFile(ctx, manifest.Path(cfg.Out))
	if err != nil {
		t.Fatalf("the dry run removed the manifest: %v", err)
	}
	if !bytes.Equal(before, after) {
		t.Error("the dry run changed the manifest")
	}
	for _, want := range []string{"dry run on dataflow", cfg.Out, "nothing was submitted"} {
		if !strings.Contains(plan.String(), want) {
			t.Errorf("dry-run output lacks %q:\n%s", want, plan.String())
		}
	}
}

// On Dataflow every path must be gs://; a local one is refused at launch,
// by name, before anything is read or written.
func TestDataflowRefusesLocalPaths(t *testing.T) {
	cfg := loadJob(t, "job.yaml")
	_, err := Run(context.Background(), cfg, Options{Runner: "dataflow"})
	if err == nil {
		t.Fatal("dataflow run with local paths started")
	}
	for _, want := range []string{"preprocess.output", cfg.Out, "tasks[0].paths.train", "gs://"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error lacks %q: %v", want, err)
		}
	}
	if _, err := os.Stat(manifest.Path(cfg.Out)); err == nil {
		t.Error("a refused run wrote a manifest")
	}
}

func TestDirectRunnerRefused(t *testing.T) {
	_, err := Run(context.Background(), loadJob(t, "job.yaml"), Options{Runner: "direct"})
	if err == nil || !strings.Contains(err.Error(), "deprecated") || !strings.Contains(err.Error(), "prism") {
		t.Errorf("direct runner: %v", err)
	}
}

// Every path the preprocess pipeline hands its workers is absolute, for a
// job and for a quick run typed with relative paths in another directory.
func TestWorkerPathsAbsolute(t *testing.T) {
	abs, _ := filepath.Abs("testdata")
	vocab, _ := filepath.Abs(filepath.Join("..", "..", "testdata", "vocab", "bert-base-cased-vocab.txt"))
	t.Chdir(abs)
	job, err := JobConfig("job.yaml")
	if err != nil {
		t.Fatal(err)
	}
	job.Out = "out-job"
	quick := quickConfig(t, vocab, "out-quick", 2, "sent-train.tsv", "./sent-validation.tsv")
	// The check itself must see relative paths when there are some.
	p, sc := beam.NewPipelineWithRoot()
	Build(sc, quick, "summary.json", "runs")
	if found, err := beampaths.All(p); err != nil || len(beampaths.Relative(found)) < 3 {
		t.Fatalf("beampaths found %v (%v) in a pipeline built from relative paths", found, err)
	}

	var seen []*beam.Pipeline
	inspect = func(p *beam.Pipeline) { seen = append(seen, p) }
	t.Cleanup(func() { inspect = func(*beam.Pipeline) {} })
	for _, cfg := range []Config{job, quick} {
		if _, err := Run(context.Background(), cfg, Options{DryRun: true, Force: true}); err != nil {
			t.Fatal(err)
		}
	}
	if len(seen) != 2 {
		t.Fatalf("saw %d pipelines", len(seen))
	}
	for _, p := range seen {
		found, err := beampaths.All(p)
		if err != nil {
			t.Fatal(err)
		}
		if len(found) < 5 {
			t.Errorf("only %d paths found: %v", len(found), found)
		}
		for _, r := range beampaths.Relative(found) {
			t.Errorf("relative path reaches a worker: %s = %q", r.Where, r.Value)
		}
	}
}

package evaluate

import (
	"context"
	"io/fs"
	"os"
	"path/filepath"
	"testing"

	"github.com/taskweave/taskweave/io/storage"
	"github.com/taskweave/taskweave/io/storage/gcstest"
)

// upload copies a local directory tree to a gs:// prefix.
func upload(t *testing.T, ctx context.Context, local, remote string) {
	t.Helper()
	err := filepath.WalkDir(local, func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		rel, _ := filepath.Rel(local, p)
		b, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		return storage.WriteFile(ctx, storage.Join(remote, filepath.ToSlash(rel)), b)
	})
	if err != nil {
		t.Fatal(err)
	}
}

// Shards, checkpoint and report all on gs:// (fake-gcs-server): the same
// figures as the local run.
func TestEvaluateGCS(t *testing.T) {
	f := newFixture(t, defaultTasks[:3], 21)
	ctx := context.Background()
	local, err := Run(ctx, Options{Model: f.ckpt, Data: f.data, Split: "test", Out: t.TempDir(), BatchSize: 8})
	if err != nil {
		t.Fatal(err)
	}
	bucket := "gs://" + gcstest.Start(t)
	upload(t, ctx, f.data, bucket+"/shards")
	upload(t, ctx, f.ckpt, bucket+"/ckpt")
	out := bucket + "/eval"
	remote, err := Run(ctx, Options{Model: bucket + "/ckpt", Data: bucket + "/shards", Split: "test", Out: out, BatchSize: 8})
	if err != nil {
		t.Fatal(err)
	}
	if len(remote.Tasks) != len(local.Tasks) {
		t.Fatalf("%d tasks on gs://, %d locally", len(remote.Tasks), len(local.Tasks))
	}
	for i, tr := range remote.Tasks {
		a, b := tr.Results["model"], local.Tasks[i].Results["model"]
		if a.Score != b.Score || a.Examples != b.Examples || a.Tokens != b.Tokens {
			t.Errorf("%s: gs:// %s %v over %d, local %v over %d", tr.Task, a.Primary, a.Score, a.Examples, b.Score, b.Examples)
		}
	}
	if remote.Models[0].Fingerprint != local.Models[0].Fingerprint {
		t.Errorf("checkpoint fingerprint differs: %s vs %s", remote.Models[0].Fingerprint, local.Models[0].Fingerprint)
	}
	for _, name := range []string{"report.json", "report.md", "scores.png", "predictions/ner/part-00000-of-00002.parquet"} {
		if ok, err := storage.Exists(ctx, storage.Join(out, name)); err != nil || !ok {
			t.Errorf("%s/%s missing (%v)", out, name, err)
		}
	}
}

package trainer

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/taskweave/taskweave/io/storage"
	"github.com/taskweave/taskweave/io/storage/gcstest"
)

// A run whose data and output live on gs:// (fake-gcs-server) reads shards
// through ranged reads, writes its checkpoints and metrics log there, and
// resumes from them.
func TestTrainOnGCS(t *testing.T) {
	ctx := context.Background()
	local := synthData(t, 64)
	root := "gs://" + gcstest.Start(t)
	data := storage.Join(root, "data")
	err := filepath.WalkDir(local, func(p string, d os.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		b, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(local, p)
		return storage.WriteFile(ctx, storage.Join(data, filepath.ToSlash(rel)), b)
	})
	if err != nil {
		t.Fatal(err)
	}
	cfg := baseConfig(data, storage.Join(root, "out"))
	cfg.Vocab = storage.Join(data, "vocab.txt")
	cfg.Steps, cfg.EvalEvery, cfg.StopAt = 4, 2, 2
	if _, err := Train(ctx, cfg); err != nil {
		t.Fatal(err)
	}
	cfg.StopAt, cfg.Resume = 0, true
	s, err := Train(ctx, cfg)
	if err != nil {
		t.Fatal(err)
	}
	if s.Steps != 4 || s.BestStep < 2 {
		t.Fatalf("resumed gs:// run: %d steps, best at %d", s.Steps, s.BestStep)
	}
	log, err := storage.ReadFile(ctx, storage.Join(cfg.Out, "metrics.jsonl"))
	if err != nil {
		t.Fatal(err)
	}
	for _, ev := range []string{`"event":"start"`, `"event":"eval"`, `"event":"end"`} {
		if n := bytes.Count(log, []byte(ev)); n != 2 {
			t.Errorf("metrics.jsonl on gs:// has %d %s lines, want 2 (one per run):\n%s", n, ev, log)
		}
	}
	last := strings.TrimPrefix(savedLast(t, cfg.Out), cfg.Out+"/")
	for _, f := range []string{"best/model.safetensors", lastPointer, last + "/" + stateJSON, "summary.json"} {
		if ok, err := storage.Exists(ctx, storage.Join(cfg.Out, f)); err != nil || !ok {
			t.Errorf("%s not written on gs:// (%v)", f, err)
		}
	}
	// evaluate/predict --model <out>/last follow last.json; other paths stay.
	if got, err := FollowLast(ctx, storage.Join(cfg.Out, lastDir)); err != nil || got != savedLast(t, cfg.Out) {
		t.Errorf("FollowLast(<out>/last) = %q, %v; want %q", got, err, savedLast(t, cfg.Out))
	}
	for _, p := range []string{storage.Join(cfg.Out, "best"), filepath.Join(t.TempDir(), "last")} {
		if got, err := FollowLast(ctx, p); err != nil || got != p {
			t.Errorf("FollowLast(%q) = %q, %v; want it unchanged", p, got, err)
		}
	}
	if savedStep(t, cfg.Out) != 4 {
		t.Errorf("last.json names the save of step %d, want 4", savedStep(t, cfg.Out))
	}
	names, err := storage.Walk(ctx, cfg.Out)
	if err != nil {
		t.Fatal(err)
	}
	for _, n := range names {
		if strings.Contains(n, ".tw-tmp-") {
			t.Errorf("left-over part object %s", n)
		}
		if strings.HasPrefix(n, lastVersions+"/") && !strings.HasPrefix(n, last+"/") {
			t.Errorf("an earlier save %s was not removed after last.json moved on", n)
		}
	}
}

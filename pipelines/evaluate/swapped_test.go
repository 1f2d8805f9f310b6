package evaluate

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestSwappedShardError: a shard of one task copied over another's made
// evaluate print several KB of Beam ERROR lines before the count mismatch
// (issue 26). The manifest check now refuses it before the pipeline
// starts, in one line naming the shard, what it holds and the fix.
func TestSwappedShardError(t *testing.T) {
	f := newFixture(t, defaultTasks[:2], 3)
	dst := filepath.Join(f.data, "ner", "test", "part-00000-of-00002.parquet")
	b, err := os.ReadFile(filepath.Join(f.data, "sst", "test", "part-00000-of-00002.parquet"))
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(dst, b, 0o644); err != nil {
		t.Fatal(err)
	}
	out := t.TempDir()
	_, err = Run(context.Background(), Options{Model: f.ckpt, Data: f.data, Split: "test", Out: out, BatchSize: 8})
	if err == nil {
		t.Fatal("a swapped shard was scored")
	}
	msg := err.Error()
	want := dst + ` holds rows of task "sst" split "test", but the manifest lists it under task "ner" split "test"`
	if !strings.HasPrefix(msg, want) || !strings.Contains(msg, "re-run `taskweave preprocess`") || strings.Contains(msg, "\n") {
		t.Fatalf("error = %q; want one line starting %q", msg, want)
	}
	if entries, _ := os.ReadDir(out); len(entries) > 0 {
		t.Errorf("the refused evaluation wrote %v", entries)
	}
}

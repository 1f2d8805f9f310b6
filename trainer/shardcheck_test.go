package trainer

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/taskweave/taskweave/io/manifest"
)

// TestTrainChecksShards: a test shard copied over a train shard was trained
// on with exit 0 (issue 26). Train now refuses, before the first step, a
// shard whose rows belong to another split or task, or (when the manifest
// records checksums) whose bytes changed, and names the file.
func TestTrainChecksShards(t *testing.T) {
	ctx := context.Background()
	nerTrain := filepath.Join("ner", "train", "part-00001-of-00002.parquet")
	for _, c := range []struct {
		name, from, want string
		record           bool // the manifest records sizes and checksums
	}{
		{"validation over train", filepath.Join("ner", "validation", "part-00000-of-00001.parquet"), `holds rows of task "ner" split "validation", but the manifest lists it under task "ner" split "train"`, false},
		{"other task over train", filepath.Join("sent", "train", "part-00001-of-00002.parquet"), `holds rows of task "sent" split "train"`, false},
		{"validation over train, recorded", filepath.Join("ner", "validation", "part-00000-of-00001.parquet"), "the manifest recorded", true},
		{"other train shard, recorded", filepath.Join("ner", "train", "part-00000-of-00002.parquet"), "the manifest recorded", true},
	} {
		t.Run(c.name, func(t *testing.T) {
			data := synthData(t, 64)
			if c.record {
				man, err := manifest.Read(ctx, manifest.Path(data))
				if err != nil {
					t.Fatal(err)
				}
				if err := man.RecordShards(ctx, data); err != nil {
					t.Fatal(err)
				}
				if err := manifest.Write(ctx, manifest.Path(data), man); err != nil {
					t.Fatal(err)
				}
			}
			b, err := os.ReadFile(filepath.Join(data, c.from))
			if err != nil {
				t.Fatal(err)
			}
			bad := filepath.Join(data, nerTrain)
			if err := os.WriteFile(bad, b, 0o644); err != nil {
				t.Fatal(err)
			}
			out := filepath.Join(t.TempDir(), "run")
			_, err = Train(ctx, baseConfig(data, out))
			if err == nil || !strings.Contains(err.Error(), bad) || !strings.Contains(err.Error(), c.want) || !strings.Contains(err.Error(), "re-run `taskweave preprocess`") {
				t.Fatalf("err = %v; want %s named with %q", err, bad, c.want)
			}
			if _, err := os.Stat(filepath.Join(out, "metrics.jsonl")); err == nil {
				t.Error("a step ran before the check refused the shard")
			}
		})
	}
}

package preprocess

import (
	"bytes"
	"context"
	"os"
	"strings"
	"testing"

	"github.com/taskweave/taskweave/io/manifest"
	"github.com/taskweave/taskweave/io/storage"
	"github.com/taskweave/taskweave/io/storage/gcstest"
)

// TestGCSMatchesLocal runs the small job once locally and once with inputs,
// vocabulary and output on gs:// (fake-gcs-server, through the same Beam
// filesystem code as real GCS); the shards must be byte-identical, and a
// second gs:// run must be up to date.
func TestGCSMatchesLocal(t *testing.T) {
	local := loadJob(t, "job.yaml")
	lres := run(t, local, Options{})

	remote := uploadJob(t)
	rres := run(t, remote, Options{})

	compareShards(t, local, lres, remote, rres)
	if again := run(t, remote, Options{}); !again.UpToDate {
		t.Error("second gs:// run was not up to date")
	}
}

// compareShards checks that two runs of one job wrote byte-identical shards.
func compareShards(t *testing.T, local Config, lres *Result, remote Config, rres *Result) {
	t.Helper()
	ctx := context.Background()
	n := 0
	for name, task := range lres.Manifest.Tasks {
		for split := range task.Splits {
			lp, err := lres.Manifest.ShardPaths(manifest.Path(local.Out), name, split)
			if err != nil {
				t.Fatal(err)
			}
			rp, err := rres.Manifest.ShardPaths(manifest.Path(remote.Out), name, split)
			if err != nil {
				t.Fatal(err)
			}
			if len(lp) != len(rp) {
				t.Fatalf("%s/%s: %d local shards, %d on gs://", name, split, len(lp), len(rp))
			}
			for i := range lp {
				a, err := os.ReadFile(lp[i])
				if err != nil {
					t.Fatal(err)
				}
				b, err := storage.ReadFile(ctx, rp[i])
				if err != nil {
					t.Fatal(err)
				}
				if !strings.HasPrefix(rp[i], "gs://") || !bytes.Equal(a, b) {
					t.Errorf("%s (%d bytes) and %s (%d bytes) differ", lp[i], len(a), rp[i], len(b))
				}
				n++
			}
		}
	}
	if n == 0 {
		t.Fatal("no shards compared")
	}
	t.Logf("%d shards byte-identical between %s and %s", n, local.Out, remote.Out)
}

// TestAcceptanceGCS writes the benchmark job (SST-2 train_full + CoNLL-2003
// train) locally and to gs:// on fake-gcs-server and compares every shard.
func TestAcceptanceGCS(t *testing.T) {
	if testing.Short() {
		t.Skip("preprocesses SST-2 and CoNLL-2003 train twice (local and gs://)")
	}
	local := loadCorporaJob(t, "bench.yaml", t.TempDir())
	lres := run(t, local, Options{Force: true})
	remote := local
	remote.Out = "gs://" + gcstest.Start(t) + "/bench"
	rres := run(t, remote, Options{})
	compareShards(t, local, lres, remote, rres)
}

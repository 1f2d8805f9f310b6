package preprocess

import (
	"context"
	"testing"

	"github.com/apache/beam/sdks/v2/go/pkg/beam/testing/ptest"

	"github.com/taskweave/taskweave/io/manifest"
	"github.com/taskweave/taskweave/io/shards"
	"github.com/taskweave/taskweave/jobs/spec"
)

func TestMain(m *testing.M) { ptest.Main(m) }

// smallJob loads testdata/job.yaml with its output in a fresh directory.
func smallJob(t *testing.T) Config {
	t.Helper()
	s, err := spec.Load("testdata/job.yaml")
	if err != nil {
		t.Fatal(err)
	}
	cfg, err := FromSpec(s)
	if err != nil {
		t.Fatal(err)
	}
	cfg.Out = t.TempDir()
	return cfg
}

func TestSmoke(t *testing.T) {
	cfg := smallJob(t)
	res, err := Run(context.Background(), cfg, Options{})
	if err != nil {
		t.Fatal(err)
	}
	for name, task := range res.Manifest.Tasks {
		for split, s := range task.Splits {
			t.Logf("%s %s %+v labels=%v", name, split, s, task.Labels)
			paths, _ := res.Manifest.ShardPaths(manifest.Path(cfg.Out), name, split)
			for _, p := range paths {
				rows, err := shards.ReadAll(context.Background(), p)
				if err != nil {
					t.Fatal(err)
				}
				for _, r := range rows {
					t.Logf("  %s %v %v %v", r.ExampleID, r.InputIDs, r.Label, r.TokenLabels)
				}
			}
		}
	}
}

package evaluate

import (
	"context"
	"reflect"
	"testing"

	"github.com/apache/beam/sdks/v2/go/pkg/beam"
	"github.com/apache/beam/sdks/v2/go/pkg/beam/core/graph"

	"github.com/taskweave/taskweave/transforms/score"
)

// The graph has a shuffle between reading and scoring, and the shard files
// are read in row ranges that are themselves shuffled to the readers.
func TestShuffleBetweenReadAndScore(t *testing.T) {
	refs := []score.ShardRef{{Task: "sst", Path: "/d/sst/test/part-0.parquet", Part: "part-0.parquet", Start: 0, End: 10}}
	p, s := beam.NewPipelineWithRoot()
	build(s, refs, nil, []ModelInfo{{Name: "model", Path: "/ck"}}, "/out", "/out/_pending/x", 8)
	edges, _, err := p.Build()
	if err != nil {
		t.Fatal(err)
	}
	producer := map[int]*graph.MultiEdge{} // node id → edge that outputs it
	for _, e := range edges {
		for _, o := range e.Output {
			producer[o.To.ID()] = e
		}
	}
	fnName := func(e *graph.MultiEdge) string {
		if e == nil || e.DoFn == nil || e.DoFn.Recv == nil {
			return ""
		}
		return reflect.Indirect(reflect.ValueOf(e.DoFn.Recv)).Type().Name()
	}
	checked := 0
	for _, e := range edges {
		switch fnName(e) {
		case "ScoreFn":
			shuffle := producer[e.Input[0].From.ID()]
			if shuffle == nil || shuffle.Op != graph.Reshuffle {
				t.Fatalf("ScoreFn reads from %v, not a Reshuffle", shuffle)
			}
			if read := producer[shuffle.Input[0].From.ID()]; fnName(read) != "ReadShardFn" {
				t.Errorf("the shuffle before ScoreFn follows %q, not ReadShardFn", fnName(read))
			}
			checked++
		case "ReadShardFn":
			if in := producer[e.Input[0].From.ID()]; in == nil || in.Op != graph.Reshuffle {
				t.Errorf("ReadShardFn reads its row ranges from %v, not a Reshuffle", in)
			}
		}
	}
	if checked != 1 {
		t.Fatalf("found %d ScoreFn edges", checked)
	}
}

// Shards read in small row ranges give the figures of whole-shard reading:
// every row read once. (Prism v2.77.0 has no bundle-size option and runs a
// batch stage's shuffled input as one bundle, so the bundle count is only
// logged; on Dataflow and Flink the shuffle is what lets workers share it.)
func TestRowRangesMatchWholeShards(t *testing.T) {
	f := newFixture(t, defaultTasks[:2], 13)
	ctx := context.Background()
	evalWith := func(rows int64) (*Report, int64) {
		t.Helper()
		old := rangeRows
		rangeRows = rows
		defer func() { rangeRows = old }()
		var bundles int64
		rep, err := run(ctx, Options{Model: f.ckpt, Data: f.data, Split: "test", Out: t.TempDir(), BatchSize: 4},
			func(ctx context.Context, p *beam.Pipeline) error {
				res, err := beam.Run(ctx, "prism", p)
				if err != nil {
					return err
				}
				for _, c := range res.Metrics().AllMetrics().Counters() {
					if c.Key.Name == "bundles_scored" {
						bundles += c.Result()
					}
				}
				return nil
			})
		if err != nil {
			t.Fatal(err)
		}
		return rep, bundles
	}
	whole, _ := evalWith(1 << 20)
	ranged, bundles := evalWith(5)
	t.Logf("%d bundle(s) scored", bundles)
	if len(ranged.Tasks) != len(whole.Tasks) || len(whole.Tasks) == 0 {
		t.Fatalf("%d tasks ranged, %d whole", len(ranged.Tasks), len(whole.Tasks))
	}
	for i, tr := range ranged.Tasks {
		a, b := tr.Results["model"], whole.Tasks[i].Results["model"]
		if a.Score != b.Score || a.Examples != b.Examples {
			t.Errorf("%s: ranged %v over %d, whole shards %v over %d", tr.Task, a.Score, a.Examples, b.Score, b.Examples)
		}
	}
}

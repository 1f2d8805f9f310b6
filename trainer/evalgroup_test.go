package trainer

import (
	"context"
	"github.com/taskweave/taskweave/model/multitask"
	"math"
	"path/filepath"
	"strings"
	"testing"

	"github.com/taskweave/taskweave/io/manifest"
	"github.com/taskweave/taskweave/io/shards"
)

// addMember writes task "ner2" beside synthData's "ner": the same rows,
// labels moved by one (another label column of the same sentences).
func addMember(t *testing.T, data string) {
	t.Helper()
	ctx := context.Background()
	man, err := manifest.Read(ctx, manifest.Path(data))
	if err != nil {
		t.Fatal(err)
	}
	src := man.Tasks["ner"]
	dst := manifest.Task{Type: src.Type, TagScheme: "none", Labels: src.Labels, Splits: map[string]manifest.Split{}}
	for name, sp := range src.Splits {
		out := sp
		out.Shards = nil
		for _, sh := range sp.Shards {
			rows, err := shards.ReadAll(ctx, filepath.Join(data, sh))
			if err != nil {
				t.Fatal(err)
			}
			for i := range rows {
				rows[i].Task = "ner2"
				for j, l := range rows[i].TokenLabels {
					if l >= 0 {
						rows[i].TokenLabels[j] = (l + 1) % 3
					}
				}
			}
			rel := strings.Replace(sh, "ner/", "ner2/", 1)
			writeShard(t, filepath.Join(data, rel), rows)
			out.Shards = append(out.Shards, rel)
		}
		dst.Splits[name] = out
	}
	man.Tasks["ner2"] = dst
	if err := manifest.Write(ctx, manifest.Path(data), man); err != nil {
		t.Fatal(err)
	}
}

// The dev evaluation of a group, from one encoder pass per batch, gives
// every task of it the figures its own evaluation gives.
func TestEvalGroupMatchesEachTask(t *testing.T) {
	data := synthData(t, 64)
	addMember(t, data)
	cfg := baseConfig(data, t.TempDir())
	cfg.Tasks = append(cfg.Tasks, TaskOptions{Name: "ner2", Weight: 1, Layer: 1, InputFrom: "ner"})
	tr := &Trainer{cfg: cfg, log: newProgress(nil, nil), best: math.Inf(-1), bestStep: -1}
	if err := tr.setup(context.Background()); err != nil {
		t.Fatal(err)
	}
	defer tr.metrics.close()
	tr.m.SetTraining(false)
	grouped, err := tr.evalGroups(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if len(grouped) != 2 {
		t.Fatalf("group results for %d tasks, want ner and ner2", len(grouped))
	}
	for _, name := range []string{"ner", "ner2"} {
		alone, err := tr.evalTask(context.Background(), tr.task(name))
		if err != nil {
			t.Fatal(err)
		}
		got, want := metricMap(grouped[name]), metricMap(alone)
		if len(got) != len(want) || len(want) == 0 {
			t.Fatalf("%s: %v, alone %v", name, got, want)
		}
		for k, v := range want {
			if math.Abs(got[k]-v) > 1e-9 {
				t.Errorf("%s %s = %g from the group's pass, %g alone", name, k, got[k], v)
			}
		}
	}
}

// A group's run stopped half way and resumed ends with the bits of the run
// that was not stopped: the group's stream replays its batches, the other
// tasks' with them, in both step modes.
func TestGroupResumeIsExact(t *testing.T) {
	data := synthData(t, 96)
	addMember(t, data)
	for _, c := range []struct{ mode, strategy string }{{"sampled", "uncertainty"}, {"all", "pcgrad"}} {
		t.Run(c.mode, func(t *testing.T) {
			ctx := context.Background()
			full := baseConfig(data, filepath.Join(t.TempDir(), "full"))
			full.Tasks = append(full.Tasks, TaskOptions{Name: "ner2", Weight: 1, Layer: 1, InputFrom: "ner"})
			full.StepMode, full.Strategy.Name = c.mode, multitask.Name(c.strategy)
			if _, err := Train(ctx, full); err != nil {
				t.Fatal(err)
			}
			_, halfOut := resumedInHalves(t, ctx, full)
			sameBits(t, "last", loadWeights(t, filepath.Join(full.Out, "last")), loadWeights(t, filepath.Join(halfOut, "last")))
		})
	}
}

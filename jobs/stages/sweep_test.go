package stages_test

import (
	"context"
	"encoding/json"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/taskweave/taskweave/internal/beampaths"
	"github.com/taskweave/taskweave/io/storage"
	"github.com/taskweave/taskweave/jobs/registry"
	"github.com/taskweave/taskweave/jobs/spec"
	"github.com/taskweave/taskweave/jobs/stages"
	"github.com/taskweave/taskweave/pipelines/sweep"

	"github.com/apache/beam/sdks/v2/go/pkg/beam"
)

// sweepSpec is jobSpec with a 2 × 2 sweep over learning rate and strategy.
func sweepSpec(t *testing.T, output string, parallel int) *spec.Spec {
	t.Helper()
	_, y := jobSpec(t, output, 12, 1)
	y = append(y, []byte(`sweep:
  grid:
    train.lr: [3.0e-3, 1.0e-3]
    train.strategy.name: [equal, uncertainty]
  parallel: `+fmt.Sprint(parallel)+`
`)...)
	s, err := spec.Parse(y, t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// A sweep of four trials on prism, end to end: one trial finished in an
// earlier run and is read back, not retrained (its summary.json keeps its
// modification time); one cannot write its directory and fails, reported in
// the table with its error, while the sweep goes on; the best trial is
// evaluated on the test split, registered and promoted through the gate. A
// re-run trains nothing new and registers nothing twice.
func TestSweepOnPrism(t *testing.T) {
	if testing.Short() {
		t.Skip("trains three small models")
	}
	ctx := context.Background()
	out := t.TempDir()
	s := sweepSpec(t, out, 1)
	st := stages.New(stages.Options{})
	pre, err := st.Preprocess(ctx, s, false)
	if err != nil {
		t.Fatal(err)
	}
	o, err := stages.SweepOptions(s, pre.Dir, "prism")
	if err != nil {
		t.Fatal(err)
	}
	if len(o.Trials) != 4 || o.Trials[0].Config.LR != 3e-3 || o.Trials[3].Config.Strategy.Name != "uncertainty" {
		t.Fatalf("trials: %+v", o.Trials)
	}

	// An earlier run finished t002.
	earlier := o
	earlier.Trials = o.Trials[2:3]
	if _, err := sweep.Run(ctx, earlier); err != nil {
		t.Fatal(err)
	}
	summary := filepath.Join(o.Trials[2].Config.Out, "summary.json")
	before, err := os.Stat(summary)
	if err != nil {
		t.Fatal(err)
	}
	// t001's directory is a file: the trainer cannot write there.
	if err := os.WriteFile(o.Trials[1].Config.Out, []byte("in the way\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	time.Sleep(10 * time.Millisecond) // a retrained summary would get a later mtime

	res, err := stages.RunSweep(ctx, s, st, pre.Dir, nil)
	if err != nil {
		t.Fatal(err)
	}
	byID := map[string]sweep.Result{}
	for _, r := range res.Results {
		byID[r.Trial] = r
	}
	if len(byID) != 4 {
		t.Fatalf("%d results for 4 trials", len(byID))
	}
	if r := byID["t001"]; !r.Failed() || !strings.Contains(r.Error, o.Trials[1].Config.Out) {
		t.Errorf("t001 should fail naming its directory; got %+v", r)
	}
	if r := byID["t002"]; r.Failed() || !r.Reused {
		t.Errorf("t002 finished earlier and should be read back: %+v", r)
	}
	after, err := os.Stat(summary)
	if err != nil || !after.ModTime().Equal(before.ModTime()) {
		t.Errorf("t002's summary.json changed (%v → %v, %v): the trial was retrained", before.ModTime(), after.ModTime(), err)
	}
	for _, id := range []string{"t000", "t003"} {
		if r := byID[id]; r.Failed() || r.Reused || r.Steps != 12 {
			t.Errorf("%s should be trained now for 12 steps: %+v", id, r)
		}
	}
	// Each ranking figure is the mean of the tasks' primary metrics of the
	// trial's best dev evaluation, as its summary.json records them.
	for _, id := range []string{"t000", "t002", "t003"} {
		r := byID[id]
		b, err := os.ReadFile(filepath.Join(r.Dir, "summary.json"))
		if err != nil {
			t.Fatal(err)
		}
		var sum struct {
			Best map[string]map[string]float64 `json:"best_eval"`
		}
		if err := json.Unmarshal(b, &sum); err != nil {
			t.Fatal(err)
		}
		sst, upos := sum.Best["sst2"]["accuracy"], sum.Best["upos"]["token_accuracy"]
		if r.Scores["sst2"] != sst || r.Scores["upos"] != upos || math.Abs(r.Metric-(sst+upos)/2) > 1e-12 {
			t.Errorf("%s: scores %v metric %v; summary has sst2 %v upos %v", id, r.Scores, r.Metric, sst, upos)
		}
	}
	// Best first, failed last.
	if !sort.SliceIsSorted(res.Results[:3], func(i, j int) bool { return res.Results[i].Metric > res.Results[j].Metric }) ||
		res.Results[3].Trial != "t001" || res.Best.Trial != res.Results[0].Trial {
		t.Errorf("results not ranked: %+v", res.Results)
	}

	// The table: a row per trial with its settings, figures and status.
	table, err := os.ReadFile(filepath.Join(res.Dir, "results.md"))
	if err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(strings.TrimSpace(string(table)), "\n")
	if len(lines) != 6 || lines[0] != "| rank | trial | train.lr | train.strategy.name | sst2 accuracy | upos token accuracy | mean (validation) | steps | best step | stopped | train s | status |" {
		t.Fatalf("table:\n%s", table)
	}
	row := func(id string) string {
		for _, l := range lines {
			if strings.Contains(l, "| "+id+" |") {
				return l
			}
		}
		return ""
	}
	for id, want := range map[string][]string{
		"t000": {"| 0.003 | equal |", "| 12 |", "| trained |"},
		"t001": {"| — | t001 | 0.003 | uncertainty |", "failed: "},
		"t002": {"| 0.001 | equal |", "finished earlier (not retrained)"},
		"t003": {"| 0.001 | uncertainty |", "| trained |"},
	} {
		for _, w := range want {
			if !strings.Contains(row(id), w) {
				t.Errorf("row of %s lacks %q: %s", id, w, row(id))
			}
		}
	}
	if !strings.Contains(row(res.Best.Trial), "| 1 | "+res.Best.Trial+" |") {
		t.Errorf("the best trial is not ranked 1: %s", row(res.Best.Trial))
	}
	if png, err := os.ReadFile(filepath.Join(res.Dir, "results.png")); err != nil || !strings.HasPrefix(string(png), "\x89PNG") {
		t.Errorf("results.png: %v", err)
	}

	// The best trial went through evaluation on the test split and the gate.
	j := res.Judgment
	wantVersion := "sweep-" + s.Sweep.ID() + "-" + res.Best.Trial
	if j.Existed || j.Version.ID != wantVersion || !j.Decision.Promote || j.Decision.Code != registry.CodeFirst {
		t.Fatalf("judgement: %+v", j)
	}
	if j.Eval.Scores["sst2"] == 0 || j.Eval.Examples["sst2"] == 0 {
		t.Errorf("the best trial was not evaluated: %+v", j.Eval)
	}
	reg := registry.Open(s.Path(s.Registry.Path))
	prod, _, ok, err := reg.Production(ctx)
	if err != nil || !ok || prod.Version != wantVersion {
		t.Fatalf("production is %+v (%v, %v); want %s", prod, ok, err, wantVersion)
	}
	if ok, _ := storage.Exists(ctx, filepath.Join(reg.ModelDir(wantVersion), "model.safetensors")); !ok {
		t.Error("the registered version has no model")
	}

	// A re-run resumes: nothing trained (t001 still fails), nothing registered twice.
	again, err := stages.RunSweep(ctx, s, st, pre.Dir, nil)
	if err != nil {
		t.Fatal(err)
	}
	for _, r := range again.Results {
		if !r.Failed() && !r.Reused {
			t.Errorf("re-run retrained %s", r.Trial)
		}
	}
	if !again.Judgment.Existed || again.Best.Trial != res.Best.Trial {
		t.Errorf("re-run: best %s, judgement %+v", again.Best.Trial, again.Judgment)
	}
}

// Every path the sweep pipeline hands its workers is absolute, even from a
// spec whose output is relative.
func TestSweepWorkerPathsAbsolute(t *testing.T) {
	dir := t.TempDir()
	t.Chdir(dir)
	s := sweepSpec(t, "out", 2)
	o, err := stages.SweepOptions(s, "out/data", "prism")
	if err != nil {
		t.Fatal(err)
	}
	if o.Parallel != 2 {
		t.Errorf("parallel %d on prism; want the spec's 2", o.Parallel)
	}
	if c, _ := stages.SweepOptions(s, "out/data", "dataflow"); c.Parallel != 1 {
		t.Errorf("parallel %d on dataflow; want one trial per worker process", c.Parallel)
	}
	p, scope := beam.NewPipelineWithRoot()
	sweep.Build(scope, o)
	paths, err := beampaths.All(p)
	if err != nil {
		t.Fatal(err)
	}
	if len(paths) < 3*len(o.Trials) {
		t.Fatalf("found only %d paths: %v", len(paths), paths)
	}
	if bad := beampaths.Relative(paths); len(bad) > 0 {
		t.Fatalf("relative paths reach the workers: %v", bad)
	}
}

package spec

import (
	"strings"
	"testing"
)

const sweepGrid = `sweep:
  grid:
    train.strategy.name: [equal, uncertainty]
    train.lr: [1.0e-3, 3.0e-4]
  parallel: 2
  trial_seconds: 60
`

// The grid's combinations in order (keys sorted, values as written, the
// last key fastest), each trial a spec
// with its settings written in and the rest of the file unchanged.
func TestSweepGridTrials(t *testing.T) {
	s, err := Parse([]byte(minimal+"train:\n  steps: 7\n"+sweepGrid), "/jobs")
	if err != nil {
		t.Fatal(err)
	}
	trials := s.Trials()
	var got []string
	for _, tr := range trials {
		got = append(got, FormatSettings(tr))
	}
	want := []string{
		"train.lr=0.001 train.strategy.name=equal", "train.lr=0.001 train.strategy.name=uncertainty",
		"train.lr=0.0003 train.strategy.name=equal", "train.lr=0.0003 train.strategy.name=uncertainty",
	}
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Fatalf("trials:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
	ts, err := s.With(trials[1])
	if err != nil {
		t.Fatal(err)
	}
	if ts.Train.LR != 1e-3 || ts.Train.Strategy.Name != "uncertainty" || ts.Train.Steps != 7 || ts.Sweep.Active() {
		t.Fatalf("trial spec: lr %g strategy %s steps %d sweep %v", ts.Train.LR, ts.Train.Strategy.Name, ts.Train.Steps, ts.Sweep.Active())
	}
	if ts.Path("train.tsv") != "/jobs/train.tsv" || !ts.Written("train.lr") {
		t.Fatalf("trial spec lost the spec's directory or the written keys")
	}
	if s.Sweep.Parallel != 2 || s.Sweep.TrialSeconds != 60 || s.Sweep.Metric != "mean" {
		t.Fatalf("sweep settings %+v", s.Sweep)
	}
}

// Random draws are a pure function of the seed, inside their bounds, whole
// numbers for integer keys; the sweep id follows the search, not the
// parallelism.
func TestSweepRandomDraws(t *testing.T) {
	y := minimal + `sweep:
  grid: {train.strategy.name: [equal]}
  random:
    train.lr: {min: 1.0e-4, max: 1.0e-2, log: true}
    train.batch_size: {min: 8, max: 10}
    train.mixture.name: {values: [proportional, equal]}
  trials: 20
  seed: 3
`
	s, err := Parse([]byte(y), ".")
	if err != nil {
		t.Fatal(err)
	}
	a, b := s.Trials(), s.Trials()
	if len(a) != 20 || FormatSettings(a[7]) != FormatSettings(b[7]) {
		t.Fatalf("%d trials; draws differ between calls: %s vs %s", len(a), FormatSettings(a[7]), FormatSettings(b[7]))
	}
	seen := map[int64]bool{}
	for _, tr := range a {
		ts, err := s.With(tr)
		if err != nil {
			t.Fatal(err)
		}
		if ts.Train.LR < 1e-4 || ts.Train.LR > 1e-2 || ts.Train.BatchSize < 8 || ts.Train.BatchSize > 10 {
			t.Fatalf("draw out of bounds: %s", FormatSettings(tr))
		}
		seen[int64(ts.Train.BatchSize)] = true
	}
	if len(seen) != 3 {
		t.Errorf("batch sizes drawn: %v; want 8, 9 and 10 in 20 draws", seen)
	}
	other, err := Parse([]byte(strings.Replace(y, "seed: 3", "seed: 4", 1)), ".")
	if err != nil {
		t.Fatal(err)
	}
	if FormatSettings(other.Trials()[0]) == FormatSettings(a[0]) || other.Sweep.ID() == s.Sweep.ID() {
		t.Error("another seed drew the same trial or kept the sweep id")
	}
	par, _ := Parse([]byte(y+"  parallel: 2\n  metric: min\n"), ".")
	if par.Sweep.ID() != s.Sweep.ID() {
		t.Error("parallel and metric changed the sweep id; a re-run with more parallelism would not resume")
	}
}

func TestSweepErrors(t *testing.T) {
	cases := []struct {
		name, yaml string
		want       []string
	}{
		{"not sweepable", "sweep:\n  grid:\n    tokenizer.max_seq_len: [64]\n", []string{"line 14", "sweep.grid.tokenizer.max_seq_len", "cannot be swept", "train.lr"}},
		{"train.output", "sweep:\n  grid:\n    train.output: [x]\n", []string{"cannot be swept"}},
		{"wrong type", "sweep:\n  grid:\n    train.steps: [ten]\n", []string{"sweep.grid.train.steps[0]", "not a value of train.steps"}},
		{"out of range", "sweep:\n  grid:\n    train.lr: [0.1, 2]\n", []string{"trial train.lr=2", "line 14: train.lr", "0 < lr <= 1"}},
		{"rule between keys", "sweep:\n  grid:\n    train.strategy.name: [pcgrad]\n", []string{"train.step_mode", "set train.step_mode: all"}},
		{"bad strategy", "sweep:\n  grid:\n    train.strategy.name: [magic]\n", []string{`"magic" is not allowed`, "pcgrad"}},
		{"empty grid", "sweep:\n  grid:\n    train.lr: []\n", []string{"no values"}},
		{"both", "sweep:\n  grid: {train.lr: [0.1]}\n  random: {train.lr: {min: 0.1, max: 0.2}}\n", []string{"both grid and random"}},
		{"no bounds", "sweep:\n  random: {train.lr: {min: 0.1}}\n", []string{"needs min and max"}},
		{"min above max", "sweep:\n  random: {train.lr: {min: 0.2, max: 0.1}}\n", []string{"min <= max"}},
		{"log from 0", "sweep:\n  random: {train.clip: {min: 0, max: 1, log: true}}\n", []string{"log draws need min > 0"}},
		{"string range", "sweep:\n  random: {train.strategy.name: {min: 0, max: 1}}\n", []string{"not numeric"}},
		{"trials without random", "sweep:\n  grid: {train.lr: [0.1]}\n  trials: 3\n", []string{"sweep.trials", "no random keys"}},
		{"too many", "sweep:\n  random: {train.lr: {min: 0.1, max: 0.2}}\n  trials: 1001\n", []string{"sweep.trials", "1 <= trials <= 1000"}},
		{"nothing to sweep", "sweep:\n  parallel: 2\n", []string{"no grid or random keys"}},
		{"bad metric", "sweep:\n  grid: {train.lr: [0.1]}\n  metric: best\n", []string{"sweep.metric", `"best" is not allowed`, "mean, min, sst2"}},
		{"parallel 0", "sweep:\n  grid: {train.lr: [0.1]}\n  parallel: 0\n", []string{"sweep.parallel", "1 <= parallel <= 256"}},
		{"unknown sweep key", "sweep:\n  grid: {train.lr: [0.1]}\n  trails: 2\n", []string{"trails"}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) { wantErrors(t, minimal+c.yaml, c.want) })
	}
}

// A trial is the base spec plus its settings, so an error in the base is
// reported once, not again under every trial.
func TestSweepBaseErrorReportedOnce(t *testing.T) {
	_, err := Parse([]byte(minimal+"train:\n  clip: -1\nsweep:\n  grid: {train.lr: [0.001, 0.002]}\n"), ".")
	if err == nil {
		t.Fatal("accepted clip -1")
	}
	if n := strings.Count(err.Error(), "train.clip"); n != 1 {
		t.Errorf("train.clip reported %d times:\n%v", n, err)
	}
	if strings.Contains(err.Error(), "trial") {
		t.Errorf("the base spec's error repeated for a trial:\n%v", err)
	}
}

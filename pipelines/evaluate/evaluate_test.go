package evaluate

import (
	"context"
	"encoding/json"
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/apache/beam/sdks/v2/go/pkg/beam"
	"github.com/apache/beam/sdks/v2/go/pkg/beam/testing/ptest"
	"github.com/parquet-go/parquet-go"

	"github.com/taskweave/taskweave/model/metrics"
	"github.com/taskweave/taskweave/transforms/score"
)

func TestMain(m *testing.M) { ptest.Main(m) }

func readParquet[T any](t testing.TB, glob string) []T {
	t.Helper()
	files, err := filepath.Glob(glob)
	if err != nil || len(files) == 0 {
		t.Fatalf("no files match %s (%v)", glob, err)
	}
	var out []T
	for _, f := range files {
		rows, err := parquet.ReadFile[T](f)
		if err != nil {
			t.Fatalf("%s: %v", f, err)
		}
		out = append(out, rows...)
	}
	return out
}

func near(a, b float64) bool { return math.Abs(a-b) < 1e-9 }

// The whole pipeline on prism: every task scored, predictions written per
// shard, and the predictions read back reproduce the reported figures.
func TestEvaluateOnPrism(t *testing.T) {
	f := newFixture(t, defaultTasks, 11)
	other := filepath.Join(t.TempDir(), "other")
	// The compare checkpoint has no head for pos: pos is scored by the
	// evaluated checkpoint alone, and reported as not scored by the other.
	var otherTasks []fixtureTask
	for _, tk := range defaultTasks {
		if tk.name != "pos" {
			otherTasks = append(otherTasks, tk)
		}
	}
	saveModel(t, other, f.vocab, otherTasks, 99)
	out := t.TempDir()
	rep, err := Run(context.Background(), Options{Model: f.ckpt, Compare: other, Data: f.data, Split: "test", Out: out, BatchSize: 8})
	if err != nil {
		t.Fatal(err)
	}
	// The task without a head is reported, for both checkpoints.
	if len(rep.Unscored) != 2 || rep.Unscored[0].Task != "orphan" || rep.Unscored[0].Model != "model" ||
		rep.Unscored[1].Task != "pos" || rep.Unscored[1].Model != "compare" || !strings.Contains(rep.Unscored[0].Reason, "no head") {
		t.Errorf("unscored = %+v", rep.Unscored)
	}
	if len(rep.Tasks) != 4 {
		t.Fatalf("%d tasks reported, want 4", len(rep.Tasks))
	}
	for _, name := range []string{"report.json", "report.md", "scores.png", "confusion-sst.png"} {
		if st, err := os.Stat(filepath.Join(out, name)); err != nil || st.Size() == 0 {
			t.Errorf("%s missing or empty (%v)", name, err)
		}
	}
	md, _ := os.ReadFile(filepath.Join(out, "report.md"))
	for _, want := range []string{"## ner (token_classification, iob2)", "| metric | model | compare | Δ |", "orphan", "Confusion matrix",
		"3 records of this split were rejected by preprocessing and are not scored (rejected/sst.jsonl"} {
		if !strings.Contains(string(md), want) {
			t.Errorf("report.md lacks %q", want)
		}
	}
	var fromDisk Report
	b, _ := os.ReadFile(filepath.Join(out, "report.json"))
	if err := json.Unmarshal(b, &fromDisk); err != nil {
		t.Fatal(err)
	}
	if fromDisk.Data.VocabSHA256 != vocabSHA(f.vocab) || len(fromDisk.Models) != 2 || !strings.HasPrefix(fromDisk.Models[0].Fingerprint, "sha256:") {
		t.Errorf("fingerprints: data %+v models %+v", fromDisk.Data, fromDisk.Models)
	}

	for _, tr := range rep.Tasks {
		if tr.RejectedUpstream != int64(fixtureRejected[tr.Task]) {
			t.Errorf("%s: %d records rejected upstream reported, the manifest says %d", tr.Task, tr.RejectedUpstream, fixtureRejected[tr.Task])
		}
		sides := []string{"model", "compare"}
		if tr.Task == "pos" {
			if _, ok := tr.Results["compare"]; ok || len(tr.Deltas) > 0 {
				t.Errorf("pos has compare results without a head: %+v", tr)
			}
			sides = sides[:1]
		}
		for _, side := range sides {
			res := tr.Results[side]
			if res.Examples != int64(len(f.rows[tr.Task])) {
				t.Errorf("%s/%s: %d examples, want %d", side, tr.Task, res.Examples, len(f.rows[tr.Task]))
			}
			// Windows of a long sentence are scored as one sentence.
			sentences := map[string]bool{}
			for _, r := range f.rows[tr.Task] {
				sentences[strings.Split(r.ExampleID, "#")[0]] = true
			}
			if res.Sentences != int64(len(sentences)) {
				t.Errorf("%s/%s: %d sentences, want %d", side, tr.Task, res.Sentences, len(sentences))
			}
			if tr.Kind == "token_classification" && res.Sentences == res.Examples {
				t.Errorf("%s: the fixture has no windows to stitch", tr.Task)
			}
			dir := filepath.Join(out, "predictions", tr.Task)
			if side == "compare" {
				dir = filepath.Join(out, "compare", "predictions", tr.Task)
			}
			checkReadBack(t, tr, res, dir)
			if side == "model" {
				duckCheck(t, tr, res, dir)
			}
		}
		if len(tr.Deltas) == 0 && tr.Task != "pos" {
			t.Errorf("%s: no deltas", tr.Task)
		}
		for _, d := range tr.Deltas {
			if !near(d.Delta, d.Compare-d.Model) {
				t.Errorf("%s %s: delta %v != %v - %v", tr.Task, d.Metric, d.Delta, d.Compare, d.Model)
			}
		}
	}
}

// checkReadBack recomputes a task's figures from its predictions files.
func checkReadBack(t *testing.T, tr TaskReport, res score.TaskMetrics, dir string) {
	t.Helper()
	glob := filepath.Join(dir, "*.parquet")
	switch tr.Kind {
	case "sequence_classification":
		rows := readParquet[score.ClassRow](t, glob)
		labels := res.Labels
		c := metrics.NewConfusion(len(labels))
		for _, r := range rows {
			if labels[r.GoldID] != r.Gold || labels[r.PredictedID] != r.Predicted || len(r.Scores) != len(labels) {
				t.Fatalf("inconsistent row %+v", r)
			}
			c.Add(int(r.GoldID), int(r.PredictedID))
		}
		got := c.Result()
		if !near(got.Accuracy, res.Class.Accuracy) || !near(got.MacroF1, res.Class.MacroF1) || !near(got.MCC, res.Class.MCC) || len(rows) != int(res.Examples) {
			t.Errorf("%s: read back acc %v f1 %v mcc %v over %d; report %v %v %v over %d", tr.Task,
				got.Accuracy, got.MacroF1, got.MCC, len(rows), res.Class.Accuracy, res.Class.MacroF1, res.Class.MCC, res.Examples)
		}
	case "sequence_regression":
		rows := readParquet[score.RegressionRow](t, glob)
		var r metrics.Regression
		for _, x := range rows {
			r.Add(float64(x.Gold), float64(x.Predicted))
		}
		got := r.Result()
		if !near(got.Pearson, res.Regression.Pearson) || !near(got.Spearman, res.Regression.Spearman) {
			t.Errorf("%s: read back %+v, report %+v", tr.Task, got, res.Regression)
		}
	case "token_classification":
		rows := readParquet[score.TokenRow](t, glob)
		var words int64
		if tr.TagScheme == "none" {
			var a metrics.TokenAccuracy
			for _, r := range rows {
				a.Add(r.Gold, r.Predicted)
				words += int64(len(r.Words))
			}
			if !near(a.Result(), *res.TokenAccuracy) {
				t.Errorf("%s: read back token accuracy %v, report %v", tr.Task, a.Result(), *res.TokenAccuracy)
			}
		} else {
			e := metrics.NewEntities(metrics.Scheme(tr.TagScheme))
			for _, r := range rows {
				e.Add(r.Gold, r.Predicted)
				words += int64(len(r.Words))
			}
			got := e.Result()
			if got.Micro != res.Entities.Micro {
				t.Errorf("%s: read back %+v, report %+v", tr.Task, got.Micro, res.Entities.Micro)
			}
		}
		if words != res.Words || words == 0 {
			t.Errorf("%s: %d words read back, report %d", tr.Task, words, res.Words)
		}
	}
}

func TestRefusals(t *testing.T) {
	f := newFixture(t, defaultTasks[:2], 5)
	ctx := context.Background()
	tests := []struct {
		name string
		prep func(t *testing.T) Options
		want []string
	}{
		{"vocabulary mismatch", func(t *testing.T) Options {
			v := testVocab()
			v[10] = "other"
			dir := filepath.Join(t.TempDir(), "ck")
			saveModel(t, dir, v, defaultTasks[:2], 1)
			return Options{Model: dir}
		}, []string{"vocabulary sha256:" + vocabSHA(func() []string { v := testVocab(); v[10] = "other"; return v }()), "vocab_sha256 sha256:" + vocabSHA(testVocab())}},
		{"label mismatch", func(t *testing.T) Options {
			tasks := append([]fixtureTask(nil), defaultTasks[:2]...)
			tasks[1].labels = []string{"O", "B-LOC", "I-LOC", "B-PER", "I-PER"}
			dir := filepath.Join(t.TempDir(), "ck")
			saveModel(t, dir, testVocab(), tasks, 1)
			return Options{Model: dir}
		}, []string{"task ner", labelsFingerprint([]string{"O", "B-LOC", "I-LOC", "B-PER", "I-PER"}), labelsFingerprint(nerLabels)}},
		{"compare checkpoint mismatch too", func(t *testing.T) Options {
			tasks := append([]fixtureTask(nil), defaultTasks[:2]...)
			tasks[0].labels = []string{"pos", "neg"}
			dir := filepath.Join(t.TempDir(), "ck")
			saveModel(t, dir, testVocab(), tasks, 1)
			return Options{Model: f.ckpt, Compare: dir}
		}, []string{"task sst", "pos neg"}},
		{"unknown task", func(t *testing.T) Options { return Options{Model: f.ckpt, Tasks: []string{"nope"}} }, []string{`"nope"`, "ner, sst"}},
		{"missing split", func(t *testing.T) Options { return Options{Model: f.ckpt, Split: "dev"} }, []string{`"dev" split`}},
		{"no manifest", func(t *testing.T) Options { return Options{Model: f.ckpt, Data: t.TempDir()} }, []string{"manifest.json", "preprocess"}},
		// Zero is not replaced by a default batch size (it was 32 here while the spec said 64).
		{"batch size -1", func(t *testing.T) Options { return Options{Model: f.ckpt, BatchSize: -1} }, []string{"batch size -1", "evaluate.batch_size"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			o := tc.prep(t)
			if o.Data == "" {
				o.Data = f.data
			}
			if o.Split == "" {
				o.Split = "test"
			}
			if o.BatchSize == 0 {
				o.BatchSize = 8
			}
			o.Out = t.TempDir()
			ran := false
			_, err := run(ctx, o, func(context.Context, *beam.Pipeline) error { ran = true; return nil })
			if err == nil {
				t.Fatal("accepted")
			}
			if ran {
				t.Error("the pipeline ran before the refusal")
			}
			for _, w := range tc.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q lacks %q", err, w)
				}
			}
		})
	}
}

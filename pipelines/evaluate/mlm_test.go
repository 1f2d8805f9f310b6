package evaluate

import (
	"context"
	"math"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/taskweave/taskweave/io/shards"
	"github.com/taskweave/taskweave/model"
	"github.com/taskweave/taskweave/model/checkpoint"
	"github.com/taskweave/taskweave/model/masking"
	"github.com/taskweave/taskweave/model/scoring"
	"github.com/taskweave/taskweave/transforms/score"
)

// mlmHead is a masked-LM head of a fixture checkpoint: over its own shards
// (source empty) or over other tasks' text.
type mlmHead struct {
	name      string
	source    []string
	wholeWord bool
}

// saveMLMModel saves a checkpoint with heads for tasks (as saveModel) plus
// the masked-LM heads, recorded in tasks.json as the trainer records them.
func saveMLMModel(t testing.TB, dir string, vocab []string, tasks []fixtureTask, mlms []mlmHead, seed uint64) {
	t.Helper()
	cfg := model.Config{VocabSize: len(vocab), HiddenSize: 16, NumHiddenLayers: 1, NumAttentionHeads: 2, IntermediateSize: 32,
		MaxPositionEmbeddings: 64, TypeVocabSize: 2, LayerNormEps: 1e-12, HiddenAct: "gelu"}
	var heads []model.HeadSpec
	var infos []checkpoint.TaskInfo
	for _, tk := range tasks {
		if !tk.head || tk.kind == string(model.MaskedLM) {
			continue
		}
		n := len(tk.labels)
		if tk.kind == "sequence_regression" {
			n = 1
		}
		heads = append(heads, model.HeadSpec{Task: tk.name, Kind: model.HeadKind(tk.kind), NumLabels: n})
		infos = append(infos, checkpoint.TaskInfo{Name: tk.name, Type: tk.kind, Labels: tk.labels, TagScheme: tk.scheme})
	}
	for _, h := range mlms {
		heads = append(heads, model.HeadSpec{Task: h.name, Kind: model.MaskedLM})
		infos = append(infos, checkpoint.TaskInfo{Name: h.name, Type: string(model.MaskedLM), Auxiliary: true, Source: h.source, WholeWord: h.wholeWord})
	}
	m, err := model.New(cfg, heads, seed)
	if err != nil {
		t.Fatal(err)
	}
	if err := checkpoint.Save(checkpoint.LocalDir(dir), m, checkpoint.Meta{Vocab: vocab, MaxSeqLen: 32, Tasks: infos}); err != nil {
		t.Fatal(err)
	}
}

// directMLM scores rows with the checkpoint's masked-LM head one row per
// forward pass, each masked by masking.ExampleRNG(row's task, id) as the
// trainer's dev evaluation masks it: the figures evaluate must reproduce.
func directMLM(t *testing.T, ckpt, head string, wholeWord bool, rows []shards.Row) (tokens, correct int64, nll float64) {
	t.Helper()
	m, meta, err := checkpoint.Load(checkpoint.LocalDir(ckpt))
	if err != nil {
		t.Fatal(err)
	}
	m.SetTraining(false)
	mk, err := masking.New(meta.Vocab, wholeWord)
	if err != nil {
		t.Fatal(err)
	}
	for _, r := range rows {
		ids := slices.Clone(r.InputIDs)
		labels := make([]int32, len(ids))
		if mk.Row(ids, labels, masking.ExampleRNG(r.Task, r.ExampleID)) == 0 {
			continue
		}
		out, err := m.Forward(&model.Batch{Task: head, B: 1, T: len(ids), InputIDs: ids, TokenTypeIDs: r.TokenTypeIDs, TokenLabels: labels})
		if err != nil {
			t.Fatal(err)
		}
		k := 0
		for _, y := range labels {
			if y == model.IgnoreIndex {
				continue
			}
			if scoring.Argmax(out.Logits[k*out.NumLabels:(k+1)*out.NumLabels]) == int(y) {
				correct++
			}
			k++
		}
		tokens += int64(out.Scored)
		nll += float64(out.Loss) * float64(out.Scored)
	}
	return tokens, correct, nll
}

// Issue 12: evaluate reports masked-token accuracy and perplexity for a
// masked_lm head (a model has one), both for one over other tasks' text
// (mlm, over sst and ner, whose ner rows include windows; scored with
// --compare) and for one with shards of its own (txt, whole-word masking),
// through the Beam pipeline on prism. Over every row of the split the
// figures equal a direct computation with the same masks, one row per
// forward pass; the per-row predictions add up to them; report.md carries
// them. (The heads are untrained, so accuracy is near chance: the trained
// case is TestTrainerDevEqualsEvaluateMaskedLM.)
func TestEvaluateMaskedLMOnPrism(t *testing.T) {
	tasks := append(slices.Clone(defaultTasks), fixtureTask{"txt", string(model.MaskedLM), "", nil, 40, true})
	f := newFixture(t, tasks, 23)
	cases := []struct {
		head    mlmHead
		compare bool     // score a second checkpoint with the same head too
		reports []string // the tasks the report must list
	}{
		{mlmHead{"mlm", []string{"sst", "ner"}, false}, true, []string{"mlm", "ner", "pos", "sst", "sts"}},
		{mlmHead{"txt", nil, true}, false, []string{"ner", "pos", "sst", "sts", "txt"}},
	}
	for i, c := range cases {
		t.Run(c.head.name, func(t *testing.T) {
			ckpt := filepath.Join(t.TempDir(), "ckpt")
			saveMLMModel(t, ckpt, f.vocab, tasks, []mlmHead{c.head}, 23+uint64(i))
			o := Options{Model: ckpt, Data: f.data, Split: "test", Out: t.TempDir(), BatchSize: 8}
			ckpts := map[string]string{"model": ckpt}
			if c.compare {
				o.Compare = filepath.Join(t.TempDir(), "other")
				saveMLMModel(t, o.Compare, f.vocab, tasks, []mlmHead{c.head}, 77)
				ckpts["compare"] = o.Compare
			}
			rep, err := Run(context.Background(), o)
			if err != nil {
				t.Fatal(err)
			}
			var names []string
			var tr TaskReport
			for _, r := range rep.Tasks {
				names = append(names, r.Task)
				if r.Task == c.head.name {
					tr = r
				}
			}
			if !slices.Equal(names, c.reports) {
				t.Fatalf("tasks reported %v, want %v", names, c.reports)
			}
			for _, u := range rep.Unscored {
				if u.Task != "orphan" && u.Task != "txt" { // txt: a manifest task the first checkpoint has no head for
					t.Errorf("unscored %+v", u)
				}
			}
			var rows []shards.Row
			for _, src := range cmpOr(c.head.source, []string{c.head.name}) {
				rows = append(rows, f.rows[src]...)
			}
			if tr.Kind != model.MaskedLM || !slices.Equal(tr.Source, c.head.source) || tr.ManifestExamples != int64(len(rows)) {
				t.Errorf("task report kind %s source %v manifest examples %d; want masked_lm, %v, %d", tr.Kind, tr.Source, tr.ManifestExamples, c.head.source, len(rows))
			}
			if len(tr.Results) != len(ckpts) {
				t.Errorf("results of %d checkpoints, want %d", len(tr.Results), len(ckpts))
			}
			for name, dir := range ckpts {
				res, ok := tr.Results[name]
				if !ok || res.MaskedLM == nil {
					t.Fatalf("%s: no masked-LM figures: %+v", name, res)
				}
				tokens, correct, nll := directMLM(t, dir, c.head.name, c.head.wholeWord, rows)
				got := res.MaskedLM
				wantAcc, wantPPL := float64(correct)/float64(tokens), math.Exp(nll/float64(tokens))
				t.Logf("%s %s: %d rows, %d masked pieces, masked_accuracy %.6f (direct %.6f), perplexity %.6f (direct %.6f)",
					c.head.name, name, res.Examples, got.Tokens, got.Accuracy, wantAcc, got.Perplexity, wantPPL)
				if tokens < 20 {
					t.Fatalf("only %d masked pieces: the comparison means little", tokens)
				}
				if res.Examples != int64(len(rows)) || got.Tokens != tokens || got.Correct != correct {
					t.Errorf("%s: %d rows, %d masked, %d correct; direct: %d rows, %d masked, %d correct", name, res.Examples, got.Tokens, got.Correct, len(rows), tokens, correct)
				}
				if math.Abs(got.Accuracy-wantAcc) > 1e-12 || math.Abs(got.Perplexity-wantPPL) > 1e-5*wantPPL {
					t.Errorf("%s: masked_accuracy %v perplexity %v; direct %v, %v", name, got.Accuracy, got.Perplexity, wantAcc, wantPPL)
				}
				if v, _ := res.Metric(scoring.Perplexity); res.Primary != scoring.MaskedAccuracy || res.Score != got.Accuracy || v != got.Perplexity {
					t.Errorf("%s: primary %s = %v, perplexity %v", name, res.Primary, res.Score, v)
				}
				// The per-row predictions add up to the figures; a masked LM
				// over other tasks' text files them by source task.
				dir := filepath.Dir(score.PredictionsPath(o.Out, name, c.head.name, "x"))
				glob := filepath.Join(dir, "*.parquet")
				if len(c.head.source) > 0 {
					glob = filepath.Join(dir, "*", "*.parquet")
				}
				var m, k int64
				var s float64
				prs := readParquet[score.MaskedLMRow](t, glob)
				for _, p := range prs {
					m, k, s = m+p.Masked, k+p.Correct, s+p.NLL
				}
				if len(prs) != len(rows) || m != got.Tokens || k != got.Correct || math.Abs(s-got.NLL) > 1e-9*got.NLL {
					t.Errorf("%s predictions: %d rows, %d masked, %d correct, NLL %v; report %d, %d, %d, %v", name, len(prs), m, k, s, len(rows), got.Tokens, got.Correct, got.NLL)
				}
			}
			if c.compare && !slices.ContainsFunc(tr.Deltas, func(d Delta) bool { return d.Metric == scoring.Perplexity }) {
				t.Errorf("no perplexity delta between the checkpoints: %+v", tr.Deltas)
			}
			md, _ := os.ReadFile(filepath.Join(o.Out, "report.md"))
			text := "the test text of sst, ner"
			if len(c.head.source) == 0 {
				text = "this task's test text"
			}
			for _, want := range []string{"## " + c.head.name + " (masked_lm)", "| masked_accuracy |", "| perplexity |", text, "predictions/" + c.head.name + "/"} {
				if !strings.Contains(string(md), want) {
					t.Errorf("report.md lacks %q", want)
				}
			}
		})
	}
}

func cmpOr(a, b []string) []string {
	if len(a) > 0 {
		return a
	}
	return b
}

var mlmScale float32 = 3

// A masked LM whose text evaluate cannot find is reported as not scored,
// with the reason, and the other tasks are scored: a head from a checkpoint
// whose tasks.json predates source (no shards of its own either), and one
// trained on the text of a task these shards lack.
func TestEvaluateMaskedLMWithoutText(t *testing.T) {
	f := newFixture(t, defaultTasks, 31)
	cases := []struct {
		head mlmHead
		want string
	}{
		{mlmHead{"lm", nil, false}, "retrain it"},
		{mlmHead{"lm", []string{"sst", "nope"}, false}, "text of nope"},
	}
	for _, c := range cases {
		t.Run(c.want, func(t *testing.T) {
			ckpt := filepath.Join(t.TempDir(), "ckpt")
			saveMLMModel(t, ckpt, f.vocab, defaultTasks, []mlmHead{c.head}, 31)
			rep, err := Run(context.Background(), Options{Model: ckpt, Data: f.data, Split: "test", Out: t.TempDir(), BatchSize: 8})
			if err != nil {
				t.Fatal(err)
			}
			if len(rep.Tasks) != 4 {
				t.Errorf("%d tasks scored, want sst, ner, pos and sts", len(rep.Tasks))
			}
			if !slices.ContainsFunc(rep.Unscored, func(u Unscored) bool { return u.Task == "lm" && strings.Contains(u.Reason, c.want) }) {
				t.Errorf("unscored %+v; want lm with %q", rep.Unscored, c.want)
			}
		})
	}
}

package evaluate

import (
	"context"
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/taskweave/taskweave/internal/testcorpora"
	"github.com/taskweave/taskweave/io/manifest"
	"github.com/taskweave/taskweave/model"
	"github.com/taskweave/taskweave/model/checkpoint"
	"github.com/taskweave/taskweave/transforms/score"
)

// TestGroupScoredFromOnePass: a CoNLL-2003 group (pos and chunk label ner's
// rows, input_from; max_seq_len 16, so many sentences are windows to
// stitch) evaluated on prism with one checkpoint (heads at layers 1, 2 and
// the top) reports, for every task, the figures of evaluating that task
// alone (to 1e-9: the logits of one pass and of a pass per head agree to
// float rounding, checked in model). In the group's run every batch scored
// ran one encoder pass for the three heads: as many passes as batches, and
// the three tasks' predictions from them; each run alone scores its task
// with a pass per batch of its own.
func TestGroupScoredFromOnePass(t *testing.T) {
	if testing.Short() {
		t.Skip("preprocesses and evaluates CoNLL-2003 sentences")
	}
	corp := testcorpora.Dir(t)
	dir := t.TempDir()
	conll := filepath.Join(corp, "conll2003")
	headSentences(t, filepath.Join(conll, "train.txt"), filepath.Join(dir, "train.txt"), 100)
	headSentences(t, filepath.Join(conll, "valid.txt"), filepath.Join(dir, "valid.txt"), 150)
	files := []string{filepath.Join(conll, "train.txt"), filepath.Join(conll, "valid.txt")}
	job := `name: groupeval
output: out
tokenizer: {vocab: ` + filepath.Join(corp, "bert_vocab", "google_cased_en_vocab.txt") + `, lowercase: false, max_seq_len: 16}
tasks:
  - {name: ner, type: token_classification, format: conll, columns: {word: 0, tag: 3}, tag_scheme: iob2, labels: [` + columnLabels(t, 3, files...) + `],
     paths: {train: [train.txt], validation: [valid.txt]}}
  - {name: pos, type: token_classification, input_from: ner, columns: {tag: 1}, tag_scheme: none, labels: [` + columnLabels(t, 1, files...) + `]}
  - {name: chunk, type: token_classification, input_from: ner, columns: {tag: 2}, tag_scheme: iob2, labels: [` + columnLabels(t, 2, files...) + `]}
preprocess: {shards: 2}
`
	ctx := context.Background()
	_, cfg, pre := preprocessJob(t, dir, job)
	ckpt := groupCheckpoint(t, dir, filepath.Join(corp, "bert_vocab", "google_cased_en_vocab.txt"), pre.Manifest.Tasks)
	eval := func(name string, tasks ...string) (*Report, score.PassCount) {
		c0 := score.Passes()
		rep, err := Run(ctx, Options{Model: ckpt, Data: cfg.Out, Split: "validation", Out: filepath.Join(dir, "eval-"+name), BatchSize: 16, Tasks: tasks})
		if err != nil {
			t.Fatal(err)
		}
		c1 := score.Passes()
		return rep, score.PassCount{Batches: c1.Batches - c0.Batches, Heads: c1.Heads - c0.Heads, Encoder: c1.Encoder - c0.Encoder}
	}
	group, gc := eval("group")
	if len(group.Tasks) != 3 {
		t.Fatalf("the group's run scored %d tasks, want ner, pos and chunk", len(group.Tasks))
	}
	if gc.Encoder != gc.Batches || gc.Heads != 3*gc.Batches || gc.Batches == 0 {
		t.Errorf("the group's run: %+v; want one encoder pass per batch, each for the three heads", gc)
	}
	var aloneBatches int64
	for _, tr := range group.Tasks {
		alone, ac := eval(tr.Task, tr.Task)
		aloneBatches += ac.Batches
		if ac.Encoder != ac.Batches || ac.Heads != ac.Batches {
			t.Errorf("%s alone: %+v; want a pass per batch, one head each", tr.Task, ac)
		}
		got, want := tr.Results["model"], alone.Tasks[0].Results["model"]
		if got.Examples != want.Examples || got.Examples != pre.Manifest.Tasks[tr.Task].Splits["validation"].Examples {
			t.Errorf("%s: %d rows scored in the group, %d alone", tr.Task, got.Examples, want.Examples)
		}
		wm := map[string]float64{}
		for _, m := range want.Metrics() {
			wm[m.Name] = m.Value
		}
		for _, m := range got.Metrics() {
			if v, ok := wm[m.Name]; !ok || math.Abs(m.Value-v) > 1e-9 {
				t.Errorf("%s %s: %v from the group's pass, %v alone", tr.Task, m.Name, m.Value, v)
			}
		}
		t.Logf("%s: %s %.4f (group) %.4f (alone)", tr.Task, got.Primary, got.Score, want.Score)
	}
	t.Logf("group: %d batches, %d encoder passes for %d heads; the tasks alone: %d batches", gc.Batches, gc.Encoder, gc.Heads, aloneBatches)
	if windows := pre.Manifest.Tasks["ner"].Splits["validation"].Windows; windows < 50 {
		t.Errorf("only %d windows: the test is meant to stitch many", windows)
	}
}

// groupCheckpoint saves a seeded tiny model with a head per task (pos at
// layer 1, chunk at layer 2, ner on top) and the manifest's label lists.
func groupCheckpoint(t *testing.T, dir, vocabFile string, tasks map[string]manifest.Task) string {
	t.Helper()
	b, err := os.ReadFile(vocabFile)
	if err != nil {
		t.Fatal(err)
	}
	vocab := strings.Split(strings.TrimSuffix(string(b), "\n"), "\n")
	cfg, err := model.SizeConfig("tiny", len(vocab))
	if err != nil {
		t.Fatal(err)
	}
	layers := map[string]int{"ner": 0, "pos": 1, "chunk": 2}
	var heads []model.HeadSpec
	var infos []checkpoint.TaskInfo
	for _, name := range []string{"ner", "pos", "chunk"} {
		mt := tasks[name]
		heads = append(heads, model.HeadSpec{Task: name, Kind: model.TokenClassification, NumLabels: len(mt.Labels), Layer: layers[name]})
		infos = append(infos, checkpoint.TaskInfo{Name: name, Type: string(model.TokenClassification), Labels: mt.Labels, TagScheme: mt.TagScheme, Layer: layers[name]})
	}
	m, err := model.New(cfg, heads, 5)
	if err != nil {
		t.Fatal(err)
	}
	ckpt := filepath.Join(dir, "ckpt")
	if err := checkpoint.Save(checkpoint.LocalDir(ckpt), m, checkpoint.Meta{Vocab: vocab, MaxSeqLen: 16, Tasks: infos}); err != nil {
		t.Fatal(err)
	}
	return ckpt
}

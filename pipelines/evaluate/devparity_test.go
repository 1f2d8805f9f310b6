package evaluate

import (
	"context"
	"path/filepath"
	"reflect"
	"testing"

	"github.com/taskweave/taskweave/internal/testcorpora"
	"github.com/taskweave/taskweave/io/shards"
	"github.com/taskweave/taskweave/model"
	"github.com/taskweave/taskweave/model/checkpoint"
	"github.com/taskweave/taskweave/model/scoring"
	"github.com/taskweave/taskweave/trainer"
)

// TestTrainerDevEqualsEvaluate is the one-scoring-path acceptance test: on
// real CoNLL-2003 shards preprocessed with max_seq_len 16, so that most
// sentences are split into windows, the figures the trainer's dev evaluation
// chose best/ on (summary.json) equal, exactly, the figures `taskweave
// evaluate` reports for best/ on the same split through the Beam pipeline on
// prism, for an entity task (conlleval F1 after stitching) and a tagging task
// (token accuracy), and so does the mean the promotion gate compares. The
// tasks take soft-sharing paths of their own (ner: low-rank factors, pos:
// layer attention), so evaluate must run each task's path to agree.
func TestTrainerDevEqualsEvaluate(t *testing.T) {
	if testing.Short() {
		t.Skip("preprocesses, trains and evaluates")
	}
	corp := testcorpora.Dir(t)
	dir := t.TempDir()
	conll := filepath.Join(corp, "conll2003")
	headSentences(t, filepath.Join(conll, "train.txt"), filepath.Join(dir, "train.txt"), 300)
	headSentences(t, filepath.Join(conll, "valid.txt"), filepath.Join(dir, "valid.txt"), 120)
	posTags := columnLabels(t, 1, filepath.Join(conll, "train.txt"), filepath.Join(conll, "valid.txt"))
	job := `name: devparity
output: out
tokenizer: {vocab: ` + filepath.Join(corp, "bert_vocab", "google_cased_en_vocab.txt") + `, lowercase: false, max_seq_len: 16}
tasks:
  - {name: ner, type: token_classification, format: conll, columns: {word: 0, tag: 3}, tag_scheme: iob2,
     labels: [O, B-PER, I-PER, B-ORG, I-ORG, B-LOC, I-LOC, B-MISC, I-MISC],
     paths: {train: [train.txt], validation: [valid.txt]}}
  - {name: pos, type: token_classification, format: conll, columns: {word: 0, tag: 1}, tag_scheme: none, labels: [` + posTags + `],
     paths: {train: [train.txt], validation: [valid.txt]}, sharing: {rank: 0, layer_attention: true}}
preprocess: {shards: 2}
model: {sharing: {rank: 4, matrices: [query, value, ffn_out]}}
`
	ctx := context.Background()
	s, cfg, pre := preprocessJob(t, dir, job)
	if w := pre.Manifest.Tasks["ner"].Splits["validation"].Windows; w < 50 {
		t.Fatalf("only %d windows in the validation split; the test is meant to stitch many", w)
	}
	ckpt := filepath.Join(dir, "ckpt")
	// The spec's mapping gives every trainer field; the run's own choices on top.
	tc := TrainConfig(s, cfg.Out, ckpt)
	tc.Size, tc.Steps, tc.BatchSize, tc.LR, tc.Warmup, tc.WeightDecay, tc.Clip = "tiny", 120, 16, 3e-3, 0.1, 0.01, 1
	tc.Accumulate, tc.StepMode, tc.EvalEvery, tc.EvalSplit, tc.SelectMetric, tc.ModelSeed, tc.Seed = 1, "sampled", 60, "validation", "mean", 1, 1
	sum, err := trainer.Train(ctx, tc)
	if err != nil {
		t.Fatal(err)
	}
	best := filepath.Join(ckpt, "best")
	rep, err := Run(ctx, Options{Model: best, Data: cfg.Out, Split: "validation", Out: filepath.Join(dir, "eval"), BatchSize: 64})
	if err != nil {
		t.Fatal(err)
	}
	if len(rep.Tasks) != 2 {
		t.Fatalf("evaluate scored %d tasks, want ner and pos", len(rep.Tasks))
	}
	var mean float64
	for _, tr := range rep.Tasks {
		res := tr.Results["model"]
		got := map[string]float64{}
		for _, m := range res.Metrics() {
			got[m.Name] = m.Value
		}
		if !reflect.DeepEqual(got, sum.Best[tr.Task]) {
			t.Errorf("%s: evaluate reports\n%v\nthe trainer chose best/ (step %d) on\n%v", tr.Task, got, sum.BestStep, sum.Best[tr.Task])
		}
		mean += res.Score
		t.Logf("%s: %s %.6f over %d rows = %d sentences (trainer: %.6f)", tr.Task, res.Primary, res.Score, res.Examples, res.Sentences, sum.Best[tr.Task][res.Primary])
	}
	if mean /= 2; mean != sum.BestScore {
		t.Errorf("mean of evaluate's primary metrics %v, trainer's best score %v", mean, sum.BestScore)
	}

	// The comparison is not vacuous: the model predicts entities, and
	// scoring each window as a sentence (what the trainer used to do) counts
	// different gold chunks than the stitched sentences both now score.
	ner := rep.Tasks[0].Results["model"]
	if ner.Task != "ner" || ner.Entities.Micro.Predicted == 0 || ner.Entities.Micro.Correct == 0 {
		t.Fatalf("the model predicts no correct entity (%+v); train longer so the figures mean something", ner.Entities)
	}
	if perWindow := windowGoldChunks(t, best, pre.Manifest.Tasks["ner"].Labels, filepath.Join(cfg.Out, "ner", "validation")); perWindow == ner.Entities.Micro.Support {
		t.Errorf("scored per window, the gold has %d chunks, as many as stitched: no entity crosses a window boundary, so the test cannot tell the two apart", perWindow)
	}
}

// windowGoldChunks scores the shards of dir with every window counted as a
// sentence of its own and returns the number of gold entity chunks.
func windowGoldChunks(t *testing.T, ckpt string, labels []string, dir string) int64 {
	t.Helper()
	m, _, err := checkpoint.Load(checkpoint.LocalDir(ckpt))
	if err != nil {
		t.Fatal(err)
	}
	m.SetTraining(false)
	task := scoring.Task{Name: "ner", Kind: model.TokenClassification, Labels: labels, TagScheme: "iob2"}
	acc, err := scoring.NewAcc(task)
	if err != nil {
		t.Fatal(err)
	}
	files, err := filepath.Glob(filepath.Join(dir, "*.parquet"))
	if err != nil || len(files) == 0 {
		t.Fatalf("no shards in %s: %v", dir, err)
	}
	for _, f := range files {
		rows, err := shards.ReadAll(context.Background(), f)
		if err != nil {
			t.Fatal(err)
		}
		exs := make([]scoring.Example, len(rows))
		for i, r := range rows {
			exs[i] = scoring.Example(r)
		}
		err = scoring.Score(m, task, exs, scoring.Options{BatchSize: 64}, func(_ int, p scoring.Prediction) error {
			p.ExampleID += "/alone" // no longer a window id: counted as a sentence
			return acc.Add(p)
		})
		if err != nil {
			t.Fatal(err)
		}
	}
	return acc.Result().Entities.Micro.Support
}

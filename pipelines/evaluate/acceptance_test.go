package evaluate

import (
	"bufio"
	"context"
	"os"
	"path/filepath"
	"reflect"
	"sort"
	"strconv"
	"strings"
	"testing"

	"github.com/taskweave/taskweave/internal/testcorpora"
	"github.com/taskweave/taskweave/jobs/spec"
	"github.com/taskweave/taskweave/model"
	"github.com/taskweave/taskweave/model/checkpoint"
	"github.com/taskweave/taskweave/pipelines/preprocess"
	"github.com/taskweave/taskweave/trainer"
)

// headSentences copies the first n blank-line-separated sentences of a CoNLL
// file (the -DOCSTART- line and its blank line count as one) to dst.
func headSentences(t *testing.T, src, dst string, n int) {
	t.Helper()
	copyLines(t, src, dst, func(line string, blanks int) bool { return blanks < n })
}

// headRows copies a TSV's header and first n rows to dst.
func headRows(t *testing.T, src, dst string, n int) {
	t.Helper()
	i := 0
	copyLines(t, src, dst, func(string, int) bool { i++; return i <= n+1 })
}

// conllSentences counts the sentences of a CoNLL file (-DOCSTART- blocks
// are not sentences).
func conllSentences(t *testing.T, f string) int64 {
	t.Helper()
	b, err := os.ReadFile(f)
	if err != nil {
		t.Fatal(err)
	}
	var n int64
	for _, block := range strings.Split(strings.ReplaceAll(string(b), "\r", ""), "\n\n") {
		if block = strings.TrimSpace(block); block != "" && !strings.HasPrefix(block, "-DOCSTART-") {
			n++
		}
	}
	return n
}

// columnLabels lists, YAML-quoted, every tag in column col of the files, so
// that a sample's train split need not contain every tag of its test split.
func columnLabels(t *testing.T, col int, files ...string) string {
	t.Helper()
	seen := map[string]bool{}
	var out []string
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		for _, line := range strings.Split(string(b), "\n") {
			fs := strings.Fields(line)
			if len(fs) > col && fs[0] != "-DOCSTART-" && !seen[fs[col]] {
				seen[fs[col]] = true
				out = append(out, strconv.Quote(fs[col]))
			}
		}
	}
	sort.Strings(out)
	return strings.Join(out, ", ")
}

func copyLines(t *testing.T, src, dst string, keep func(line string, blanks int) bool) {
	t.Helper()
	in, err := os.Open(src)
	if err != nil {
		t.Fatal(err)
	}
	defer in.Close()
	var b strings.Builder
	sc := bufio.NewScanner(in)
	blanks := 0
	for sc.Scan() {
		line := sc.Text()
		if !keep(line, blanks) {
			break
		}
		b.WriteString(line + "\n")
		if strings.TrimSpace(line) == "" {
			blanks++
		}
	}
	if err := sc.Err(); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(dst, []byte(b.String()), 0o644); err != nil {
		t.Fatal(err)
	}
}

// The acceptance run: preprocess a CoNLL-2003 (NER and POS) and SST-2
// sample with the real preprocess pipeline, train a tiny model briefly with
// the real trainer, evaluate on prism, and check that the predictions read
// back with DuckDB (and a separate JavaScript implementation of the metrics)
// reproduce every reported figure.
func TestAcceptanceCoNLLAndSST2(t *testing.T) {
	if testing.Short() {
		t.Skip("trains a model")
	}
	corp := testcorpora.Dir(t)
	dir := t.TempDir()
	headSentences(t, filepath.Join(corp, "conll2003", "train.txt"), filepath.Join(dir, "conll-train.txt"), 400)
	headSentences(t, filepath.Join(corp, "conll2003", "valid.txt"), filepath.Join(dir, "conll-valid.txt"), 100)
	headSentences(t, filepath.Join(corp, "conll2003", "test.txt"), filepath.Join(dir, "conll-test.txt"), 300)
	headRows(t, filepath.Join(corp, "sst2", "train.tsv"), filepath.Join(dir, "sst2-train.tsv"), 400)
	headRows(t, filepath.Join(corp, "sst2", "dev.tsv"), filepath.Join(dir, "sst2-dev.tsv"), 100)
	headRows(t, filepath.Join(corp, "sst2", "dev.tsv"), filepath.Join(dir, "sst2-test.tsv"), 300)
	posTags := columnLabels(t, 1, filepath.Join(corp, "conll2003", "train.txt"), filepath.Join(corp, "conll2003", "valid.txt"), filepath.Join(corp, "conll2003", "test.txt"))
	job := `name: evalacc
output: out
tokenizer: {vocab: ` + filepath.Join(corp, "bert_vocab", "google_cased_en_vocab.txt") + `, lowercase: false, max_seq_len: 48}
tasks:
  - {name: sst2, type: sequence_classification, format: tsv, columns: {text: sentence, label: label},
     paths: {train: [sst2-train.tsv], validation: [sst2-dev.tsv], test: [sst2-test.tsv]}}
  - {name: ner, type: token_classification, format: conll, columns: {word: 0, tag: 3}, tag_scheme: iob2,
     paths: {train: [conll-train.txt], validation: [conll-valid.txt], test: [conll-test.txt]}}
  - {name: pos, type: token_classification, format: conll, columns: {word: 0, tag: 1}, tag_scheme: none, labels: [` + posTags + `],
     paths: {train: [conll-train.txt], validation: [conll-valid.txt], test: [conll-test.txt]}}
preprocess: {shards: 2}
model: {size: tiny, seed: 1}
train: {steps: 60, batch_size: 16, lr: 3.0e-3, eval_every: 60, seed: 1}
evaluate: {split: test}
`
	ctx := context.Background()
	s, cfg, _ := preprocessJob(t, dir, job)
	ckpt := filepath.Join(dir, "ckpt")
	if _, err := trainer.Train(ctx, TrainConfig(s, cfg.Out, ckpt)); err != nil {
		t.Fatal(err)
	}
	out := filepath.Join(dir, "eval")
	rep, err := Run(ctx, Options{Model: filepath.Join(ckpt, "last"), Data: cfg.Out, Split: "test", Out: out, BatchSize: s.Evaluate.BatchSize})
	if err != nil {
		t.Fatal(err)
	}
	if len(rep.Tasks) != 3 || len(rep.Unscored) != 0 {
		t.Fatalf("tasks %d, unscored %+v", len(rep.Tasks), rep.Unscored)
	}
	for _, tr := range rep.Tasks {
		res := tr.Results["model"]
		want := int64(300)
		if tr.Kind == "token_classification" {
			want = conllSentences(t, filepath.Join(dir, "conll-test.txt"))
		}
		if res.Sentences != want {
			t.Errorf("%s: %d sentences scored, want %d", tr.Task, res.Sentences, want)
		}
		d := filepath.Join(out, "predictions", tr.Task)
		checkReadBack(t, tr, res, d)
		duckCheck(t, tr, res, d)
		t.Logf("%s: %s %.4f over %d examples", tr.Task, res.Primary, res.Score, res.Examples)
	}
}

// The full CoNLL-2003 test file, with max_seq_len 24 so that many sentences
// are split into windows: after stitching, the gold entities read with
// conlleval's rules are exactly the published counts (SOURCES.md: 3,453
// sentences, 46,435 tokens, LOC 1668 / MISC 702 / ORG 1661 / PER 1617),
// whatever the (untrained) model predicts.
func TestCoNLLTestGoldCounts(t *testing.T) {
	if testing.Short() {
		t.Skip("preprocesses the CoNLL-2003 test file")
	}
	corp := testcorpora.Dir(t)
	dir := t.TempDir()
	vocabFile := filepath.Join(corp, "bert_vocab", "google_cased_en_vocab.txt")
	job := `name: conlltest
output: out
tokenizer: {vocab: ` + vocabFile + `, lowercase: false, max_seq_len: 24}
tasks:
  - {name: ner, type: token_classification, format: conll, columns: {word: 0, tag: 3}, tag_scheme: iob2,
     labels: [O, B-PER, I-PER, B-ORG, I-ORG, B-LOC, I-LOC, B-MISC, I-MISC],
     paths: {train: [` + filepath.Join(corp, "conll2003", "valid.txt") + `], test: [` + filepath.Join(corp, "conll2003", "test.txt") + `]}}
preprocess: {shards: 2}
`
	ctx := context.Background()
	_, cfg, pre := preprocessJob(t, dir, job)
	b, err := os.ReadFile(vocabFile)
	if err != nil {
		t.Fatal(err)
	}
	vocab := strings.Split(strings.TrimSuffix(string(b), "\n"), "\n")
	mcfg, err := model.SizeConfig("tiny", len(vocab))
	if err != nil {
		t.Fatal(err)
	}
	labels := []string{"O", "B-PER", "I-PER", "B-ORG", "I-ORG", "B-LOC", "I-LOC", "B-MISC", "I-MISC"}
	m, err := model.New(mcfg, []model.HeadSpec{{Task: "ner", Kind: model.TokenClassification, NumLabels: len(labels)}}, 4)
	if err != nil {
		t.Fatal(err)
	}
	ckpt := filepath.Join(dir, "ckpt")
	if err := checkpoint.Save(checkpoint.LocalDir(ckpt), m, checkpoint.Meta{Vocab: vocab, MaxSeqLen: 24,
		Tasks: []checkpoint.TaskInfo{{Name: "ner", Labels: labels, TagScheme: "iob2"}}}); err != nil {
		t.Fatal(err)
	}
	rep, err := Run(ctx, Options{Model: ckpt, Data: cfg.Out, Split: "test", Out: filepath.Join(dir, "eval"), BatchSize: 64})
	if err != nil {
		t.Fatal(err)
	}
	res := rep.Tasks[0].Results["model"]
	windows := pre.Manifest.Tasks["ner"].Splits["test"].Windows
	if windows < 1000 {
		t.Fatalf("only %d windows: the test is meant to stitch many", windows)
	}
	e := res.Entities
	got := map[string]int64{}
	for _, ty := range e.Types {
		got[ty] = e.PerType[ty].Support
	}
	want := map[string]int64{"LOC": 1668, "MISC": 702, "ORG": 1661, "PER": 1617}
	if res.Sentences != 3453 || res.Words != 46435 || res.Examples != 3453+int64(windows) || !reflect.DeepEqual(got, want) || e.GoldInvalid != 0 {
		t.Errorf("sentences %d words %d rows %d (windows %d) gold %v ill-formed %d; want 3453, 46435, 3453+windows, %v, 0",
			res.Sentences, res.Words, res.Examples, windows, got, e.GoldInvalid, want)
	}
	t.Logf("%d rows (%d windows) → 3453 sentences; gold entities %v", res.Examples, windows, got)
}

// The spec → stage mappings live in jobs/stages, which imports this
// package; the external test file stages_test.go sets them.
var (
	PreprocessConfig func(*spec.Spec) (preprocess.Config, error)
	TrainConfig      func(s *spec.Spec, data, out string) trainer.Config
)

// preprocessJob runs the real preprocess pipeline of a job spec into
// <dir>/shards.
func preprocessJob(t *testing.T, dir, job string) (*spec.Spec, preprocess.Config, *preprocess.Result) {
	t.Helper()
	s, err := spec.Parse([]byte(job), dir)
	if err != nil {
		t.Fatal(err)
	}
	cfg, err := PreprocessConfig(s)
	if err != nil {
		t.Fatal(err)
	}
	cfg.Out = filepath.Join(dir, "shards")
	pre, err := preprocess.Run(context.Background(), cfg, preprocess.Options{})
	if err != nil {
		t.Fatal(err)
	}
	return s, cfg, pre
}

package stages_test

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"github.com/taskweave/taskweave/model/multitask"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/taskweave/taskweave/internal/testcorpora"
	"github.com/taskweave/taskweave/io/manifest"
	"github.com/taskweave/taskweave/jobs/spec"
	"github.com/taskweave/taskweave/jobs/stages"
	"github.com/taskweave/taskweave/pipelines/preprocess"
	"github.com/taskweave/taskweave/trainer"
)

// groupJob is NER with POS at layer 1 and chunk at layer 2 reading the
// same CoNLL-2003 sentences (input_from).
const groupJob = `name: g
tokenizer: {vocab: VOCAB, lowercase: false, max_seq_len: 128}
model: {size: tiny}
tasks:
  - name: ner
    type: token_classification
    format: conll
    columns: {tag: 3}
    tag_scheme: iob2
    paths: {train: [train.txt], validation: [valid.txt]}
  - name: pos
    type: token_classification
    input_from: ner
    columns: {tag: 1}
    layer: 1
    auxiliary: true
  - name: chunk
    type: token_classification
    input_from: ner
    columns: {tag: 2}
    tag_scheme: iob2
    layer: 2
    auxiliary: true
preprocess: {shards: 2}
train: {steps: 6, batch_size: 8, eval_every: 3, shuffle_buffer: 64, pool_batches: 2}
`

// conllHead copies the first n sentences of a CoNLL-2003 file (the corpus
// may not be redistributed, so the test takes it from ../shared/corpora)
// and returns each sentence's NER|POS|chunk tags.
func conllHead(t *testing.T, src, dst string, n int) map[string]bool {
	t.Helper()
	data, err := os.ReadFile(src)
	if err != nil {
		t.Fatal(err)
	}
	var out bytes.Buffer
	tags := map[string]bool{}
	var ner, pos, chunk []string
	sents := 0
	for line := range strings.SplitSeq(string(data), "\n") {
		f := strings.Fields(line)
		if len(f) == 0 || f[0] == "-DOCSTART-" {
			if len(ner) > 0 {
				tags[strings.Join(ner, " ")+"|"+strings.Join(pos, " ")+"|"+strings.Join(chunk, " ")] = true
				ner, pos, chunk = nil, nil, nil
				if sents++; sents == n {
					break
				}
			}
		} else {
			ner, pos, chunk = append(ner, f[3]), append(pos, f[1]), append(chunk, f[2])
		}
		out.WriteString(line + "\n")
	}
	if err := os.WriteFile(dst, out.Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}
	return tags
}

// TestGroupEndToEnd preprocesses a NER + POS + chunk group on prism,
// trains it in both step modes and checks every logged batch: the three
// tasks' batches of a step share their input, and their labels at the
// scored positions are the NER, POS and chunk columns of one sentence of
// the source (rows of the three tasks' shards are zipped by example id).
func TestGroupEndToEnd(t *testing.T) {
	corpora := testcorpora.Dir(t)
	dir := t.TempDir()
	sents := conllHead(t, filepath.Join(corpora, "conll2003", "train.txt"), filepath.Join(dir, "train.txt"), 300)
	conllHead(t, filepath.Join(corpora, "conll2003", "valid.txt"), filepath.Join(dir, "valid.txt"), 60)
	vocab, err := filepath.Abs("../../testdata/vocab/bert-base-cased-vocab.txt")
	if err != nil {
		t.Fatal(err)
	}
	job := filepath.Join(dir, "job.yaml")
	if err := os.WriteFile(job, []byte(strings.Replace(groupJob, "VOCAB", vocab, 1)), 0o644); err != nil {
		t.Fatal(err)
	}
	s, err := spec.Load(job)
	if err != nil {
		t.Fatal(err)
	}
	pc, err := stages.PreprocessConfig(s)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := preprocess.Run(context.Background(), pc, preprocess.Options{}); err != nil {
		t.Fatal(err)
	}
	man, err := manifest.Read(context.Background(), manifest.Path(pc.Out))
	if err != nil {
		t.Fatal(err)
	}
	labels := map[string][]string{}
	for _, task := range []string{"ner", "pos", "chunk"} {
		labels[task] = man.Tasks[task].Labels
	}
	for _, mode := range []struct{ step, strategy string }{{"sampled", "uncertainty"}, {"all", "pcgrad"}} {
		t.Run(mode.step, func(t *testing.T) {
			cfg := stages.TrainConfig(s, pc.Out, filepath.Join(dir, "train-"+mode.step))
			cfg.StepMode, cfg.Strategy.Name = mode.step, multitask.Name(mode.strategy)
			var log bytes.Buffer
			cfg.BatchLog = &log
			sum, err := trainer.Train(context.Background(), cfg)
			if err != nil {
				t.Fatal(err)
			}
			checkGroupBatches(t, &log, labels, sents, cfg.Steps)
			if len(sum.Best) != 3 {
				t.Errorf("summary's best figures: %v; want ner, pos and chunk", sum.Best)
			}
		})
	}
}

type loggedBatch struct {
	Task        string  `json:"task"`
	B           int     `json:"b"`
	T           int     `json:"t"`
	InputIDs    []int32 `json:"input_ids"`
	TokenLabels []int32 `json:"token_labels"`
}

func checkGroupBatches(t *testing.T, log *bytes.Buffer, labels map[string][]string, sents map[string]bool, steps int) {
	t.Helper()
	var lines []loggedBatch
	sc := bufio.NewScanner(log)
	sc.Buffer(nil, 1<<24)
	for sc.Scan() {
		var b loggedBatch
		if err := json.Unmarshal(sc.Bytes(), &b); err != nil {
			t.Fatal(err)
		}
		lines = append(lines, b)
	}
	if len(lines) != 3*steps {
		t.Fatalf("%d batches logged in %d steps; want 3 a step (one group)", len(lines), steps)
	}
	rows := 0
	for i := 0; i < len(lines); i += 3 {
		g := lines[i : i+3]
		if g[0].Task != "ner" || g[1].Task != "pos" || g[2].Task != "chunk" || !slices.Equal(g[0].InputIDs, g[1].InputIDs) || !slices.Equal(g[0].InputIDs, g[2].InputIDs) {
			t.Fatalf("step %d: batches %s, %s, %s do not share their input", i/3+1, g[0].Task, g[1].Task, g[2].Task)
		}
		for r := 0; r < g[0].B; r++ {
			var cols [3][]string
			for j, b := range g {
				for _, l := range b.TokenLabels[r*b.T : (r+1)*b.T] {
					if l != -100 {
						cols[j] = append(cols[j], labels[b.Task][l])
					}
				}
			}
			key := strings.Join(cols[0], " ") + "|" + strings.Join(cols[1], " ") + "|" + strings.Join(cols[2], " ")
			if !sents[key] && len(cols[0]) > 0 {
				t.Fatalf("step %d row %d: labels %q are no sentence's NER|POS|chunk columns", i/3+1, r, key)
			}
			rows++
		}
	}
	if rows == 0 {
		t.Fatal("no rows checked")
	}
}

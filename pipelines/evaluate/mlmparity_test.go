package evaluate

import (
	"context"
	"fmt"
	"math"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/taskweave/taskweave/io/manifest"
	"github.com/taskweave/taskweave/io/shards"
	"github.com/taskweave/taskweave/model"
	"github.com/taskweave/taskweave/model/multitask"
	"github.com/taskweave/taskweave/model/scoring"
	"github.com/taskweave/taskweave/trainer"
	"github.com/taskweave/taskweave/trainer/mixture"
)

// phraseData writes shards a tiny masked LM learns in a few hundred steps:
// every row is one of 12 fixed phrases of 8 to 13 word pieces (a masked
// piece is predictable from the rest of its row), under two tasks: "cls"
// (sequence classification, the phrase's parity as label) and "txt" (a
// masked_lm task with shards of its own, as `format: text` preprocesses
// to). 64 validation rows each, under the trainer's 1,024-row sample.
func phraseData(t *testing.T) string {
	t.Helper()
	dir := t.TempDir()
	rng := rand.New(rand.NewPCG(3, 4))
	const vocab = 120
	var phrases [][]int32
	for p := 0; p < 12; p++ {
		ph := []int32{2}
		for j := 0; j < 8+rng.IntN(6); j++ {
			ph = append(ph, int32(5+rng.IntN(vocab-5)))
		}
		phrases = append(phrases, append(ph, 3))
	}
	tasks := map[string]manifest.Task{}
	for _, task := range []struct{ name, kind string }{{"cls", string(model.SequenceClassification)}, {"txt", string(model.MaskedLM)}} {
		splits := map[string]manifest.Split{}
		for _, sp := range []struct {
			name string
			n    int
		}{{"train", 512}, {"validation", 64}} {
			var rows []shards.Row
			for i := 0; i < sp.n; i++ {
				k := rng.IntN(len(phrases))
				ids := append([]int32(nil), phrases[k]...)
				r := shards.Row{Task: task.name, Split: sp.name, ExampleID: fmt.Sprintf("%s/%s/%d", task.name, sp.name, i), InputIDs: ids,
					TokenTypeIDs: make([]int32, len(ids)), Label: -1}
				if task.kind == string(model.SequenceClassification) {
					r.Label = int32(k % 2)
				}
				rows = append(rows, r)
			}
			rel := fmt.Sprintf("%s/%s/part-00000-of-00001.parquet", task.name, sp.name)
			if err := shards.WriteFile(context.Background(), filepath.Join(dir, rel), rows); err != nil {
				t.Fatal(err)
			}
			splits[sp.name] = manifest.Split{Examples: int64(sp.n), Shards: []string{rel}}
		}
		mt := manifest.Task{Type: task.kind, Splits: splits}
		if task.kind == string(model.SequenceClassification) {
			mt.Labels = []string{"even", "odd"}
		}
		tasks[task.name] = mt
	}
	v := testVocab()[:5]
	for i := len(v); i < vocab; i++ {
		v = append(v, fmt.Sprintf("t%d", i))
	}
	man := &manifest.Manifest{FormatVersion: manifest.FormatVersion, Fingerprint: "sha256:00", Tasks: tasks,
		Tokenizer: manifest.Tokenizer{VocabSize: vocab, MaxSeqLen: 32, VocabSHA256: vocabSHA(v)}}
	if err := manifest.Write(context.Background(), manifest.Path(dir), man); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "vocab.txt"), []byte(strings.Join(v, "\n")+"\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	return dir
}

// Issue 12: the masked-token accuracy and perplexity `taskweave evaluate`
// reports for a trained masked LM's best/ equal the figures the trainer's
// dev evaluation chose best/ on (summary.json), over the same rows (all of
// them: fewer than its 1,024-row sample) masked the same way, for a masked
// LM over another task's text (mlm, source cls) and one with shards of its
// own (txt). Both score through scoring.ScoreMasked, so the counts agree
// exactly; the perplexity agrees to float32 rounding (about 1e-8 relative
// here): the trainer batches 64 rows, evaluate 16 as its workers read them,
// and a row's logits carry the rounding of the batch's matrix shapes.
func TestTrainerDevEqualsEvaluateMaskedLM(t *testing.T) {
	if testing.Short() {
		t.Skip("trains two models")
	}
	data := phraseData(t)
	cases := []struct {
		name  string
		tasks []trainer.TaskOptions
		head  string
	}{
		{"source", []trainer.TaskOptions{{Name: "cls", Weight: 1}, {Name: "mlm", Source: []string{"cls"}, Auxiliary: true, Weight: 1}}, "mlm"},
		{"own shards", []trainer.TaskOptions{{Name: "txt", Weight: 1}}, "txt"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			ctx := context.Background()
			dir := t.TempDir()
			cfg := trainer.Config{Data: data, Out: filepath.Join(dir, "run"), Vocab: filepath.Join(data, "vocab.txt"), Tasks: c.tasks,
				Size: "tiny", Dropout: 0.1, ModelSeed: 3,
				Steps: 200, BatchSize: 16, LR: 2e-3, Warmup: 0.1, WeightDecay: 0.01, Clip: 1, Accumulate: 1, Seed: 5,
				StepMode: "sampled", Mixture: mixture.Config{Name: "temperature", Temperature: 2},
				Strategy:  multitask.Config{Name: "equal", Alpha: 1.5, Window: 4, Temperature: 2, LR: 0.025},
				EvalEvery: 100, EvalSplit: "validation", SelectMetric: "mean", LogEvery: 50, ShuffleBuffer: 32, PoolBatches: 4}
			sum, err := trainer.Train(ctx, cfg)
			if err != nil {
				t.Fatal(err)
			}
			best := filepath.Join(cfg.Out, "best")
			rep, err := Run(ctx, Options{Model: best, Data: data, Split: "validation", Out: filepath.Join(dir, "eval"), BatchSize: 16})
			if err != nil {
				t.Fatal(err)
			}
			var res *scoring.Result
			for _, tr := range rep.Tasks {
				if tr.Task == c.head {
					r := tr.Results["model"]
					res = &r.Result
				}
			}
			if res == nil || res.MaskedLM == nil {
				t.Fatalf("evaluate reported no masked-LM figures for %s: %+v", c.head, rep.Tasks)
			}
			dev := sum.Best[c.head]
			got := res.MaskedLM
			t.Logf("%s (best step %d): evaluate masked_accuracy %.6f perplexity %.6f over %d masked pieces of %d rows; trainer %.6f, %.6f, %.0f",
				c.head, sum.BestStep, got.Accuracy, got.Perplexity, got.Tokens, res.Examples, dev[scoring.MaskedAccuracy], dev[scoring.Perplexity], dev[scoring.MaskedTokens])
			if float64(got.Tokens) != dev[scoring.MaskedTokens] || got.Accuracy != dev[scoring.MaskedAccuracy] ||
				math.Abs(got.Perplexity-dev[scoring.Perplexity]) > 1e-6*dev[scoring.Perplexity] {
				t.Errorf("evaluate: %+v; the trainer's dev evaluation: %v", got, dev)
			}
			if res.Examples != 64 || got.Accuracy < 0.2 {
				t.Errorf("%d rows, masked accuracy %.3f: want all 64 validation rows and a model that learned something (>= 0.2)", res.Examples, got.Accuracy)
			}
		})
	}
}

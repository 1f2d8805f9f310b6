package trainer

import (
	"bytes"
	"context"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/taskweave/taskweave/io/manifest"
	"github.com/taskweave/taskweave/io/shards"
	"github.com/taskweave/taskweave/model/multitask"
)

// noisyPair writes two token tasks over the same kind of text (vocab 120,
// ids 5..39): "tag" marks every word piece of the positive set (ids
// 5..21) P and the others N, which a model learns from the embeddings from
// the first step; "noise" has the same kind of sentences with one of
// noiseTags tags drawn at random for every piece, independent of the text
// (a loss of ln 40 that cannot fall, and gradients to match).
const noiseTags = 40

func noisyPair(t *testing.T, nTrain int) string {
	t.Helper()
	dir := t.TempDir()
	rng := rand.New(rand.NewPCG(11, 12))
	gen := func(task, split string, n int) []shards.Row {
		var rows []shards.Row
		for i := 0; i < n; i++ {
			L := 6 + rng.IntN(8)
			ids := []int32{2}
			labels := []int32{-100}
			words := []int32{-1}
			for j := 0; j < L; j++ {
				id := int32(5 + rng.IntN(35))
				l := int32(0)
				if id <= 21 {
					l = 1
				}
				if task == "noise" {
					l = int32(rng.IntN(noiseTags))
				}
				ids, labels, words = append(ids, id), append(labels, l), append(words, int32(j))
			}
			ids, labels, words = append(ids, 3), append(labels, -100), append(words, -1)
			rows = append(rows, shards.Row{Task: task, Split: split, ExampleID: fmt.Sprintf("%s/%s/%d", task, split, i), InputIDs: ids,
				TokenTypeIDs: make([]int32, len(ids)), Label: -1, TokenLabels: labels, WordIDs: words})
		}
		return rows
	}
	man := &manifest.Manifest{FormatVersion: manifest.FormatVersion, Fingerprint: "sha256:00", Tasks: map[string]manifest.Task{},
		Tokenizer: manifest.Tokenizer{VocabSize: 120, MaxSeqLen: 32}}
	for _, task := range []string{"tag", "noise"} {
		splits := map[string]manifest.Split{}
		for _, sp := range []struct {
			name string
			n    int
		}{{"train", nTrain}, {"validation", 200}} {
			rel := fmt.Sprintf("%s/%s/part-00000-of-00001.parquet", task, sp.name)
			writeShard(t, filepath.Join(dir, rel), gen(task, sp.name, sp.n))
			splits[sp.name] = manifest.Split{Examples: int64(sp.n), Shards: []string{rel}}
		}
		labels := []string{"N", "P"}
		if task == "noise" {
			labels = nil
			for i := 0; i < noiseTags; i++ {
				labels = append(labels, fmt.Sprint("T", i))
			}
		}
		man.Tasks[task] = manifest.Task{Type: "token_classification", TagScheme: "none", Labels: labels, Splits: splits}
	}
	if err := manifest.Write(context.Background(), manifest.Path(dir), man); err != nil {
		t.Fatal(err)
	}
	v := []string{"[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"}
	for i := len(v); i < 120; i++ {
		v = append(v, fmt.Sprintf("t%d", i))
	}
	if err := os.WriteFile(filepath.Join(dir, "vocab.txt"), []byte(strings.Join(v, "\n")+"\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	return dir
}

// noisyConfig trains tag and noise from the PyTorch reference's small
// BertModel (hidden 32, two layers), every task every step.
func noisyConfig(t *testing.T, data string, strategy multitask.Name, steps int) Config {
	cfg := baseConfig(data, filepath.Join(t.TempDir(), string(strategy)))
	cfg.Init, cfg.Size = hfFixture(t), ""
	cfg.Tasks = []TaskOptions{{Name: "tag", Weight: 1}, {Name: "noise", Weight: 1, Auxiliary: true}}
	cfg.StepMode, cfg.Strategy.Name, cfg.Strategy.LR, cfg.Strategy.Primary, cfg.Holdout = "all", strategy, 0.2, []string{"tag"}, 0.1
	cfg.Steps, cfg.BatchSize, cfg.LR, cfg.Warmup, cfg.EvalEvery, cfg.LogEvery, cfg.SelectMetric = steps, 16, 5e-3, 0.1, steps, 1, "tag"
	return cfg
}

// The mechanism of Auto-λ on a task that is pure label noise: with tag
// primary, the noise task's weight (it starts at 1; the weights sum to 2)
// falls below 0.2 within 110 steps, because the noise gradient does nothing
// for tag's held-out loss while tag's own gradient does. Equal weighting,
// which keeps half the weight on the noise (whose gradients, under the
// global clip, crowd out tag's), is hurt by it: at step 60 its tag
// accuracy on the dev split is below Auto-λ's by 0.05 or more. (Measured:
// noise weight 0.00 from step 40; tag accuracy at step 60 0.91 with equal,
// 1.00 with Auto-λ.)
func TestAutoLambdaDropsANoiseTask(t *testing.T) {
	data := noisyPair(t, 800)
	ctx := context.Background()
	at60 := func(cfg Config) float64 {
		for _, ev := range readEvents(t, cfg.Out) {
			if ev["event"] == "eval" && ev["step"].(float64) == 60 {
				return ev["metrics"].(map[string]any)["tag"].(map[string]any)["token_accuracy"].(float64)
			}
		}
		t.Fatalf("%s: no evaluation at step 60", cfg.Strategy.Name)
		return 0
	}
	al := noisyConfig(t, data, "auto_lambda", 120)
	al.EvalEvery = 60
	if _, err := Train(ctx, al); err != nil {
		t.Fatal(err)
	}
	below := -1
	var trace []string
	for _, ev := range readEvents(t, al.Out) {
		if ev["event"] != "train" {
			continue
		}
		w := ev["weights"].(map[string]any)["noise"].(float64)
		step := int(ev["step"].(float64))
		if step%10 == 0 {
			trace = append(trace, fmt.Sprintf("%d:%.2f", step, w))
		}
		if below < 0 && w < 0.2 {
			below = step
		}
	}
	t.Logf("noise weight by step: %s", strings.Join(trace, " "))
	if below < 0 || below > 110 {
		t.Errorf("the noise task's weight went below 0.2 at step %d; want within 110 steps", below)
	}
	eq := noisyConfig(t, data, "equal", 120)
	eq.EvalEvery = 60
	if _, err := Train(ctx, eq); err != nil {
		t.Fatal(err)
	}
	a, e := at60(al), at60(eq)
	t.Logf("tag dev token accuracy at step 60: auto_lambda %.3f, equal %.3f", a, e)
	if !(a >= e+0.05) {
		t.Errorf("tag accuracy at step 60: auto_lambda %.3f, equal %.3f; equal weighting should trail by 0.05 or more", a, e)
	}
}

// Auto-λ resumes exactly: λ and its Adam moments, and the held-out
// streams' positions, are in the trainer state.
func TestAutoLambdaResumesExactly(t *testing.T) {
	data := noisyPair(t, 200)
	ctx := context.Background()
	full := noisyConfig(t, data, "auto_lambda", 8)
	full.EvalEvery = 4
	if _, err := Train(ctx, full); err != nil {
		t.Fatal(err)
	}
	half := full
	half.Out = filepath.Join(t.TempDir(), "half")
	half.StopAt = 3
	if _, err := Train(ctx, half); err != nil {
		t.Fatal(err)
	}
	half.StopAt, half.Resume = 0, true
	if _, err := Train(ctx, half); err != nil {
		t.Fatal(err)
	}
	sameBits(t, "last", loadWeights(t, filepath.Join(full.Out, "last")), loadWeights(t, filepath.Join(half.Out, "last")))
	a, _ := os.ReadFile(filepath.Join(full.Out, "last", stateJSON))
	b, _ := os.ReadFile(filepath.Join(half.Out, "last", stateJSON))
	cut := func(x []byte) []byte { // train_seconds differs; the rest must not
		i := bytes.Index(x, []byte(`"strategy_state"`))
		j := bytes.Index(x, []byte(`"best_score"`))
		return x[i:j]
	}
	if !bytes.Equal(cut(a), cut(b)) {
		t.Fatalf("strategy state differs after resume:\n%s\nvs\n%s", cut(a), cut(b))
	}
}

// heldOut holds back about the asked fraction, the same rows every time,
// and every window of a sentence together.
func TestHeldOutSlice(t *testing.T) {
	n := 0
	for i := 0; i < 100_000; i++ {
		id := fmt.Sprintf("train.txt:%d", i)
		if heldOut("conll", id, 0.02) {
			n++
			if !heldOut("conll", id+"#1", 0.02) {
				t.Fatalf("%s is held out but its window #1 is not", id)
			}
		}
	}
	if n < 1800 || n > 2200 {
		t.Fatalf("%d of 100000 held out at 0.02", n)
	}
}

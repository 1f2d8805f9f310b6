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
	"time"

	"github.com/taskweave/taskweave/io/manifest"
	"github.com/taskweave/taskweave/io/shards"
	"github.com/taskweave/taskweave/model"
	"github.com/taskweave/taskweave/model/checkpoint"
	"github.com/taskweave/taskweave/model/multitask"
	"github.com/taskweave/taskweave/trainer/mixture"
)

const testVocab = 40

func writeShard(t *testing.T, path string, rows []shards.Row) {
	t.Helper()
	if err := shards.WriteFile(context.Background(), path, rows, shards.WithRowGroupRows(16)); err != nil {
		t.Fatal(err)
	}
}

// synthData writes a two-task corpus a small model can learn: "sent" is
// positive when token 7 occurs, "ner" tags token 9 as B-X and a following
// token 10 as I-X. Two train shards per task, one validation shard.
func synthData(t *testing.T, nTrain int) string {
	t.Helper()
	return synthDataVocab(t, nTrain, testVocab)
}

func synthDataVocab(t *testing.T, nTrain, testVocab int) string {
	t.Helper()
	return synthDataWith(t, nTrain, testVocab, false)
}

// synthDataWith writes synthData's corpus; balanced makes half the
// sentences contain token 7 (positives) and every sentence an entity, so
// chance accuracy is 0.5 and both signals are frequent.
func synthDataWith(t *testing.T, nTrain, testVocab int, balanced bool) string {
	t.Helper()
	dir := t.TempDir()
	rng := rand.New(rand.NewPCG(1, 2))
	gen := func(task, split string, n int) []shards.Row {
		var rows []shards.Row
		for i := 0; i < n; i++ {
			L := 3 + rng.IntN(12)
			ids := []int32{2}
			for j := 0; j < L; j++ {
				ids = append(ids, int32(5+rng.IntN(min(testVocab, 40)-5))) // the same ids whatever the vocabulary: label rates stay put
			}
			if balanced {
				for j := 1; j < len(ids); j++ {
					if ids[j] == 7 {
						ids[j] = 8
					}
				}
				if i%2 == 0 {
					ids[1+rng.IntN(L)] = 7
				}
				if j := 1 + rng.IntN(L); ids[j] != 7 {
					ids[j] = 9
				}
			}
			ids = append(ids, 3)
			r := shards.Row{Task: task, Split: split, ExampleID: fmt.Sprintf("%s/%s/%d", task, split, i), InputIDs: ids,
				TokenTypeIDs: make([]int32, len(ids)), Label: -1}
			if task == "sent" {
				r.Label = 0
				for _, id := range ids {
					if id == 7 {
						r.Label = 1
					}
				}
			} else {
				r.TokenLabels = make([]int32, len(ids))
				r.WordIDs = make([]int32, len(ids)) // one word per token, as preprocess writes for single-piece words
				for j := range ids {
					r.WordIDs[j] = int32(j - 1)
					switch {
					case j == 0 || j == len(ids)-1:
						r.WordIDs[j] = -1
						r.TokenLabels[j] = -100
					case ids[j] == 9:
						r.TokenLabels[j] = 1
					case ids[j] == 10 && ids[j-1] == 9:
						r.TokenLabels[j] = 2
					}
				}
			}
			rows = append(rows, r)
		}
		return rows
	}
	man := &manifest.Manifest{FormatVersion: manifest.FormatVersion, Fingerprint: "sha256:00", Tasks: map[string]manifest.Task{},
		Tokenizer: manifest.Tokenizer{VocabSize: testVocab, MaxSeqLen: 32}}
	for _, task := range []string{"sent", "ner"} {
		splits := map[string]manifest.Split{}
		for _, sp := range []struct {
			name   string
			n, shs int
		}{{"train", nTrain, 2}, {"validation", 64, 1}} {
			var paths []string
			rows := gen(task, sp.name, sp.n)
			per := (len(rows) + sp.shs - 1) / sp.shs
			for s := 0; s < sp.shs; s++ {
				rel := fmt.Sprintf("%s/%s/part-%05d-of-%05d.parquet", task, sp.name, s, sp.shs)
				writeShard(t, filepath.Join(dir, rel), rows[s*per:min((s+1)*per, len(rows))])
				paths = append(paths, rel)
			}
			splits[sp.name] = manifest.Split{Examples: int64(sp.n), Shards: paths}
		}
		if task == "sent" {
			man.Tasks[task] = manifest.Task{Type: "sequence_classification", Labels: []string{"neg", "pos"}, Splits: splits}
		} else {
			man.Tasks[task] = manifest.Task{Type: "token_classification", TagScheme: "iob2", Labels: []string{"O", "B-X", "I-X"}, Splits: splits}
		}
	}
	if err := manifest.Write(context.Background(), manifest.Path(dir), man); err != nil {
		t.Fatal(err)
	}
	var v []string
	for i := 0; i < testVocab; i++ {
		v = append(v, fmt.Sprintf("t%d", i))
	}
	copy(v, []string{"[PAD]", "[UNK]", "[CLS]", "[SEP]"})
	if err := os.WriteFile(filepath.Join(dir, "vocab.txt"), []byte(strings.Join(v, "\n")+"\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	return dir
}

// baseConfig is a complete run on synthData: the trainer has no defaults,
// so every field is set here.
func baseConfig(data, out string) Config {
	return Config{Data: data, Out: out, Vocab: filepath.Join(data, "vocab.txt"),
		Tasks: []TaskOptions{{Name: "sent", Weight: 1}, {Name: "ner", Weight: 1}},
		Size:  "tiny", Dropout: 0.1, ModelSeed: 3,
		Steps: 8, BatchSize: 8, LR: 1e-3, Warmup: 0.25, WeightDecay: 0.01, Clip: 1, Accumulate: 1, Seed: 5,
		StepMode: "sampled", Mixture: mixture.Config{Name: "temperature", Temperature: 2},
		Strategy:  multitask.Config{Name: "equal", Alpha: 1.5, Window: 4, Temperature: 2, LR: 0.025},
		EvalEvery: 4, EvalSplit: "validation", SelectMetric: "mean", LogEvery: 10, ShuffleBuffer: 32, PoolBatches: 4}
}

func loadWeights(t *testing.T, dir string) []*model.Param {
	t.Helper()
	m, _, err := checkpoint.Load(checkpoint.LocalDir(dir))
	if err != nil {
		t.Fatal(err)
	}
	return m.Params()
}

func sameBits(t *testing.T, what string, a, b []*model.Param) {
	t.Helper()
	if len(a) != len(b) {
		t.Fatalf("%s: %d vs %d params", what, len(a), len(b))
	}
	for i := range a {
		for j := range a[i].W {
			if a[i].W[j] != b[i].W[j] {
				t.Fatalf("%s: %s[%d] = %v vs %v", what, a[i].Name, j, a[i].W[j], b[i].W[j])
			}
		}
	}
}

// resumedInHalves trains full's steps again in a new directory as two
// sessions, the second resuming the first's last/ (--resume), and returns
// the resumed session's summary and the directory.
func resumedInHalves(t *testing.T, ctx context.Context, full Config) (*Summary, string) {
	t.Helper()
	half := full
	half.Out = filepath.Join(t.TempDir(), "half")
	half.StopAt = full.Steps / 2
	if _, err := Train(ctx, half); err != nil {
		t.Fatal(err)
	}
	half.StopAt, half.Resume = 0, true
	s, err := Train(ctx, half)
	if err != nil {
		t.Fatal(err)
	}
	return s, half.Out
}

// sameState fails unless the two runs' last/ hold the same weights, bit for
// bit, and the same trainer state tensors (optimizer moments and, with
// ELECTRA, the generator's weights); it returns full's state tensors.
func sameState(t *testing.T, fullOut, halfOut string) []byte {
	t.Helper()
	sameBits(t, "last", loadWeights(t, filepath.Join(fullOut, "last")), loadWeights(t, filepath.Join(halfOut, "last")))
	a, _ := os.ReadFile(filepath.Join(fullOut, "last", stateTensors))
	b, _ := os.ReadFile(filepath.Join(halfOut, "last", stateTensors))
	if !bytes.Equal(a, b) {
		t.Fatal("the trainer state tensors (optimizer moments, generator weights) differ after resume")
	}
	return a
}

// Training 2N steps equals training N, stopping, and resuming N more, bit
// for bit: weights, optimizer moments (through the weights of later steps),
// sampler, streams, dropout RNG and strategy state.
func TestResumeIsExact(t *testing.T) {
	data := synthData(t, 96)
	cases := []struct {
		name     string
		mode     string
		strategy string
		accum    int
		tokDrop  float64
		sparse   bool
	}{
		{"sampled-uncertainty", "sampled", "uncertainty", 2, 0, false},
		{"all-pcgrad", "all", "pcgrad", 1, 0, false},
		{"all-gradnorm", "all", "gradnorm", 1, 0, false},
		{"sampled-equal-token-dropout", "sampled", "equal", 1, 0.2, false},
		// Lazy embedding rows: the save at the half flushes every row, the
		// uninterrupted run does not, and the two must still agree.
		{"sampled-equal-sparse-embeddings", "sampled", "equal", 2, 0, true},
		{"all-pcgrad-sparse-embeddings", "all", "pcgrad", 1, 0, true},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			ctx := context.Background()
			full := baseConfig(data, filepath.Join(t.TempDir(), "full"))
			full.StepMode, full.Strategy.Name, full.Accumulate, full.TokenDropout = c.mode, multitask.Name(c.strategy), c.accum, c.tokDrop
			full.SparseEmbeddings = c.sparse
			if _, err := Train(ctx, full); err != nil {
				t.Fatal(err)
			}
			half := full
			half.Out = filepath.Join(t.TempDir(), "half")
			half.StopAt = full.Steps / 2
			s, err := Train(ctx, half)
			if err != nil {
				t.Fatal(err)
			}
			if s.Steps != full.Steps/2 || s.Stopped != "stop_at" {
				t.Fatalf("first half stopped at %d (%s), want %d (stop_at)", s.Steps, s.Stopped, full.Steps/2)
			}
			half.StopAt, half.Resume = 0, true
			s, err = Train(ctx, half)
			if err != nil {
				t.Fatal(err)
			}
			if s.Steps != full.Steps {
				t.Fatalf("resumed run ended at step %d, want %d", s.Steps, full.Steps)
			}
			sameBits(t, "last", loadWeights(t, filepath.Join(full.Out, "last")), loadWeights(t, filepath.Join(half.Out, "last")))
			a, _ := os.ReadFile(filepath.Join(full.Out, "last", stateTensors))
			b, _ := os.ReadFile(filepath.Join(half.Out, "last", stateTensors))
			if !bytes.Equal(a, b) {
				t.Fatal("optimizer moments differ after resume")
			}
		})
	}
}

// A stopped run that has not diverged from the full one would make the
// resume test pass trivially; make sure the halves are really different.
func TestHalfRunDiffers(t *testing.T) {
	data := synthData(t, 96)
	full := baseConfig(data, filepath.Join(t.TempDir(), "full"))
	if _, err := Train(context.Background(), full); err != nil {
		t.Fatal(err)
	}
	half := full
	half.Out = filepath.Join(t.TempDir(), "half")
	half.StopAt = 4
	if _, err := Train(context.Background(), half); err != nil {
		t.Fatal(err)
	}
	a, b := loadWeights(t, filepath.Join(full.Out, "last")), loadWeights(t, filepath.Join(half.Out, "last"))
	for i := range a {
		for j := range a[i].W {
			if a[i].W[j] != b[i].W[j] {
				return
			}
		}
	}
	t.Fatal("4 and 8 steps gave the same weights")
}

func TestCancelSavesAndResumes(t *testing.T) {
	data := synthData(t, 96)
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	cfg := baseConfig(data, filepath.Join(t.TempDir(), "run"))
	s, err := Train(ctx, cfg)
	if err != nil {
		t.Fatal(err)
	}
	if s.Stopped != "interrupted" {
		t.Fatalf("stopped = %s, want interrupted", s.Stopped)
	}
	for _, f := range []string{"config.json", "model.safetensors", stateJSON, stateTensors} {
		if _, err := os.Stat(filepath.Join(cfg.Out, "last", f)); err != nil {
			t.Fatalf("interrupted run did not write %s: %v", f, err)
		}
	}
	cfg.Resume = true
	if s, err = Train(context.Background(), cfg); err != nil || s.Steps != cfg.Steps {
		t.Fatalf("resume after interrupt: steps %v, err %v", s, err)
	}
}

func TestCorruptShardNamesFile(t *testing.T) {
	for _, damage := range []string{"truncated", "garbage"} {
		t.Run(damage, func(t *testing.T) {
			data := synthData(t, 64)
			bad := filepath.Join(data, "ner", "train", "part-00001-of-00002.parquet")
			b, err := os.ReadFile(bad)
			if err != nil {
				t.Fatal(err)
			}
			if damage == "truncated" {
				b = b[:len(b)/2]
			} else {
				for i := 200; i < len(b)-200; i++ {
					b[i] ^= 0x5a
				}
			}
			if err := os.WriteFile(bad, b, 0o644); err != nil {
				t.Fatal(err)
			}
			cfg := baseConfig(data, filepath.Join(t.TempDir(), "run"))
			cfg.StepMode, cfg.Strategy.Name = "all", "equal"
			_, err = Train(context.Background(), cfg)
			if err == nil {
				t.Fatal("training on a damaged shard succeeded")
			}
			if !strings.Contains(err.Error(), bad) {
				t.Fatalf("error does not name the shard %s: %v", bad, err)
			}
		})
	}
}

// A run starts from a Hugging Face BertModel directory (the PyTorch
// reference's fixture; checkpoint.NewModel's tests check the copy itself).
func TestInitFromHuggingFace(t *testing.T) {
	hf := hfFixture(t)
	data := synthDataVocab(t, 64, 120)
	cfg := baseConfig(data, filepath.Join(t.TempDir(), "run"))
	cfg.Vocab, cfg.Init, cfg.Size, cfg.Steps = filepath.Join(data, "vocab.txt"), hf, "", 2
	if _, err := Train(context.Background(), cfg); err != nil {
		t.Fatal(err)
	}
	m := loadWeights(t, filepath.Join(cfg.Out, "last"))
	if len(m) == 0 || m[0].Shape[1] != 32 {
		t.Fatalf("the trained model is not the fixture's shape (hidden 32): %v", m[0].Shape)
	}
}

// hfFixture copies the PyTorch reference's BertModel (hidden 32, two
// layers, vocabulary 120) into a temporary directory.
func hfFixture(t *testing.T) string {
	t.Helper()
	src := filepath.Join("..", "model", "checkpoint", "testdata", "ref")
	hf := t.TempDir()
	for _, f := range []string{"config.json", "model.safetensors"} {
		b, err := os.ReadFile(filepath.Join(src, f))
		if err != nil {
			t.Fatalf("reference fixture missing: %v", err)
		}
		if err := os.WriteFile(filepath.Join(hf, f), b, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return hf
}

// A time limit ends the run early with a final evaluation of the last
// model, instead of running on to Steps.
func TestTimeLimit(t *testing.T) {
	data := synthData(t, 96)
	cfg := baseConfig(data, filepath.Join(t.TempDir(), "run"))
	cfg.Steps, cfg.EvalEvery, cfg.TimeLimit = 1_000_000, 1_000_000, 2*time.Second
	s, err := Train(context.Background(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	if s.Stopped != "time_limit" || s.Steps >= cfg.Steps || s.Steps == 0 {
		t.Fatalf("stopped %q after %d steps, want time_limit before %d", s.Stopped, s.Steps, cfg.Steps)
	}
	if s.BestStep != s.Steps || s.Last == nil {
		t.Fatalf("no final evaluation: best step %d, last step %d", s.BestStep, s.Steps)
	}
	// Generous: the point is that it stopped, not how close to 2 s it got
	// on a loaded machine.
	if s.WallSeconds > 10 {
		t.Fatalf("ran %.1f s with a 2 s limit", s.WallSeconds)
	}
}

// differ counts the weights that differ between two parameter lists.
func differ(a, b []*model.Param) int {
	n := 0
	for i := range a {
		for j := range a[i].W {
			if a[i].W[j] != b[i].W[j] {
				n++
			}
		}
	}
	return n
}

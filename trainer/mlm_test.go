package trainer

import (
	"context"
	"fmt"
	"math"
	"math/rand/v2"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/taskweave/taskweave/io/manifest"
	"github.com/taskweave/taskweave/io/shards"
	"github.com/taskweave/taskweave/model"
	"github.com/taskweave/taskweave/model/checkpoint"
	"github.com/taskweave/taskweave/model/multitask"
)

// withMaskToken rewrites data's vocab.txt with [MASK] at id 4 (the
// synthetic corpora use ids from 5 on), as a BERT vocabulary has it.
func withMaskToken(t *testing.T, data string) {
	t.Helper()
	p := filepath.Join(data, "vocab.txt")
	b, err := os.ReadFile(p)
	if err != nil {
		t.Fatal(err)
	}
	v := strings.Split(strings.TrimSuffix(string(b), "\n"), "\n")
	v[4] = "[MASK]"
	if err := os.WriteFile(p, []byte(strings.Join(v, "\n")+"\n"), 0o644); err != nil {
		t.Fatal(err)
	}
}

// A masked LM over the other tasks' text (source) trains alongside them
// and resumes exactly: the masks are drawn per batch from the run's seed,
// so the resumed run, replaying its batches, draws the same ones. FAMO's
// state (logits and last losses) resumes exactly too.
func TestMaskedLMAndFAMOResumeExactly(t *testing.T) {
	data := synthData(t, 96)
	withMaskToken(t, data)
	for _, c := range []struct {
		name, mode string
		strategy   multitask.Name
	}{
		{"sampled-famo", "sampled", "famo"},
		{"all-pcgrad", "all", "pcgrad"},
	} {
		t.Run(c.name, func(t *testing.T) {
			ctx := context.Background()
			full := baseConfig(data, filepath.Join(t.TempDir(), "full"))
			full.Tasks = append(full.Tasks, TaskOptions{Name: "mlm", Source: []string{"sent", "ner"}, Auxiliary: true, Weight: 1})
			full.StepMode, full.Strategy.Name, full.Strategy.Gamma = c.mode, c.strategy, 0.01
			sf, err := Train(ctx, full)
			if err != nil {
				t.Fatal(err)
			}
			if _, ok := sf.Last["mlm"]["perplexity"]; !ok {
				t.Fatalf("no masked-LM figures in the summary: %v", sf.Last)
			}
			sh, halfOut := resumedInHalves(t, ctx, full)
			sameState(t, full.Out, halfOut)
			if sf.Last["mlm"]["perplexity"] != sh.Last["mlm"]["perplexity"] {
				t.Fatalf("masked-LM perplexity %v after the full run, %v after the resumed one", sf.Last["mlm"], sh.Last["mlm"])
			}
			// The auxiliary masked LM is left out of selection: the score is
			// the mean of the other two tasks' primary figures.
			want := (sf.Best["sent"]["accuracy"] + sf.Best["ner"]["entity_f1"]) / 2
			if sf.BestScore != want {
				t.Fatalf("best score %v, want the mean of sent and ner %v (the masked LM is auxiliary)", sf.BestScore, want)
			}
			// The checkpoint holds the MLM head under BertForMaskedLM's names.
			m, meta, err := checkpoint.Load(checkpoint.LocalDir(filepath.Join(full.Out, "best")))
			if err != nil {
				t.Fatal(err)
			}
			if m.Param("cls.predictions.transform.dense.weight") == nil || m.Param("cls.predictions.bias") == nil {
				t.Fatal("best/ has no cls.predictions.* tensors")
			}
			if ti, _ := meta.Task("mlm"); ti.Type != string(model.MaskedLM) || !ti.Auxiliary {
				t.Fatalf("tasks.json records mlm as %+v", ti)
			}
		})
	}
}

// phraseText writes a masked_lm task "txt" as preprocessing a format: text
// corpus does: every line is one of 12 phrases of 8 to 13 random word
// pieces, so a masked piece is predictable from the rest of its line
// (context), not from word frequencies alone (about 100 distinct pieces,
// unigram perplexity near 90).
func phraseText(t *testing.T, nTrain int) string {
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
	gen := func(split string, n int) []shards.Row {
		var rows []shards.Row
		for i := 0; i < n; i++ {
			ids := append([]int32(nil), phrases[rng.IntN(len(phrases))]...)
			rows = append(rows, shards.Row{Task: "txt", Split: split, ExampleID: fmt.Sprintf("txt/%s/%d", split, i), InputIDs: ids,
				TokenTypeIDs: make([]int32, len(ids)), Label: -1})
		}
		return rows
	}
	splits := map[string]manifest.Split{}
	for _, sp := range []struct {
		name string
		n    int
	}{{"train", nTrain}, {"validation", 64}} {
		rel := fmt.Sprintf("txt/%s/part-00000-of-00001.parquet", sp.name)
		writeShard(t, filepath.Join(dir, rel), gen(sp.name, sp.n))
		splits[sp.name] = manifest.Split{Examples: int64(sp.n), Shards: []string{rel}}
	}
	man := &manifest.Manifest{FormatVersion: manifest.FormatVersion, Fingerprint: "sha256:00",
		Tasks:     map[string]manifest.Task{"txt": {Type: string(model.MaskedLM), Splits: splits}},
		Tokenizer: manifest.Tokenizer{VocabSize: vocab, MaxSeqLen: 32}}
	if err := manifest.Write(context.Background(), manifest.Path(dir), man); err != nil {
		t.Fatal(err)
	}
	v := []string{"[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"}
	for i := len(v); i < vocab; i++ {
		v = append(v, fmt.Sprintf("t%d", i))
	}
	if err := os.WriteFile(filepath.Join(dir, "vocab.txt"), []byte(strings.Join(v, "\n")+"\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	return dir
}

// A masked-LM run on a small text lowers its perplexity: at the start the
// model is near uniform over the 120 word pieces; after 200 steps on a
// text of repeated phrases it must be below a tenth of that, far under
// what word frequencies alone allow.
func TestMaskedLMLowersPerplexity(t *testing.T) {
	data := phraseText(t, 512)
	cfg := baseConfig(data, filepath.Join(t.TempDir(), "run"))
	cfg.Tasks = []TaskOptions{{Name: "txt", Weight: 1}}
	cfg.SelectMetric, cfg.Steps, cfg.BatchSize, cfg.LR, cfg.Warmup, cfg.EvalEvery, cfg.LogEvery = "mean", 200, 16, 2e-3, 0.1, 100, 10
	s, err := Train(context.Background(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	evs := readEvents(t, cfg.Out)
	var ppl []float64
	for _, ev := range evs {
		if ev["event"] == "eval" {
			ppl = append(ppl, ev["metrics"].(map[string]any)["txt"].(map[string]any)["perplexity"].(float64))
		}
	}
	t.Logf("perplexity at steps 100, 200: %v; masked accuracy %.3f", ppl, s.Last["txt"]["masked_accuracy"])
	if len(ppl) != 2 || !(ppl[1] < ppl[0]) {
		t.Errorf("perplexity at the two evaluations %v; want it falling", ppl)
	}
	if got := s.Last["txt"]["perplexity"]; !(got < 12) {
		t.Errorf("perplexity %.2f after %d steps, want < 12 (uniform over the vocabulary: 120)", got, cfg.Steps)
	}
	if acc := s.Last["txt"]["masked_accuracy"]; acc < 0.3 {
		t.Errorf("masked accuracy %.3f, want >= 0.3", acc)
	}
}

// Phases: 4 steps of masked-LM pre-training, then 4 of multi-task
// training in one run directory. The labelled heads do not move in the
// first phase, the phase change is logged, and a run stopped inside the
// first phase or exactly at the boundary resumes to the same bits.
func TestPhasesResumeAcrossTheBoundary(t *testing.T) {
	data := synthData(t, 96)
	withMaskToken(t, data)
	ctx := context.Background()
	full := baseConfig(data, filepath.Join(t.TempDir(), "full"))
	full.Tasks = append(full.Tasks, TaskOptions{Name: "mlm", Source: []string{"sent", "ner"}, Auxiliary: true, Weight: 1})
	full.StepMode, full.Strategy.Name = "all", "pcgrad"
	full.Phases = []Phase{{Name: "adapt", Tasks: []string{"mlm"}, Steps: 4}, {Name: "multitask", Steps: 4}}
	full.EvalEvery, full.SaveEvery = 0, 4
	if _, err := Train(ctx, full); err != nil {
		t.Fatal(err)
	}
	var phaseEv map[string]any
	for _, ev := range readEvents(t, full.Out) {
		if ev["event"] == "phase" {
			phaseEv = ev
		}
	}
	if phaseEv == nil || phaseEv["step"].(float64) != 4 || phaseEv["phase"] != "multitask" || phaseEv["strategy"] != "pcgrad" {
		t.Fatalf("phase event %v; want multitask with pcgrad at step 4", phaseEv)
	}
	for _, stop := range []int{2, 4} {
		half := full
		half.Out = filepath.Join(t.TempDir(), fmt.Sprint("half", stop))
		half.StopAt = stop
		if _, err := Train(ctx, half); err != nil {
			t.Fatal(err)
		}
		if stop == 4 {
			// After the masked-LM phase the labelled heads are where they started.
			init, err := checkpoint.NewModel(checkpoint.Start{Size: "tiny", Vocab: testVocab, Dropout: 0.1, Seed: 3, Heads: []model.HeadSpec{
				{Task: "sent", Kind: model.SequenceClassification, NumLabels: 2}, {Task: "ner", Kind: model.TokenClassification, NumLabels: 3},
				{Task: "mlm", Kind: model.MaskedLM}}})
			if err != nil {
				t.Fatal(err)
			}
			got, _, err := checkpoint.Load(checkpoint.LocalDir(filepath.Join(half.Out, "last")))
			if err != nil {
				t.Fatal(err)
			}
			// (AdamW's decoupled weight decay still shrinks them, by
			// Σ lr·decay ≈ 4e-5 over these 4 steps; no gradient reaches them.)
			for _, name := range []string{"heads.sent.classifier.weight", "heads.ner.classifier.weight"} {
				if d := relDiff(got.Param(name).W, init.Param(name).W); d > 1e-4 {
					t.Errorf("%s moved by %.3g (relative) during the masked-LM phase; weight decay alone moves it 4e-5", name, d)
				}
			}
			if d := relDiff(got.Param("embeddings.word_embeddings.weight").W, init.Param("embeddings.word_embeddings.weight").W); d < 1e-3 {
				t.Errorf("the encoder's word embeddings moved by only %.3g during the masked-LM phase", d)
			}
			if slices.Equal(got.Param("cls.predictions.bias").W, init.Param("cls.predictions.bias").W) {
				t.Error("the masked-LM head did not move during its phase")
			}
		}
		half.StopAt, half.Resume = 0, true
		if _, err := Train(ctx, half); err != nil {
			t.Fatal(err)
		}
		sameBits(t, fmt.Sprint("stopped at ", stop), loadWeights(t, filepath.Join(full.Out, "last")), loadWeights(t, filepath.Join(half.Out, "last")))
	}
	// A resume under other phases is refused.
	other := full
	other.Phases = []Phase{{Name: "adapt", Tasks: []string{"mlm"}, Steps: 2}, {Name: "multitask", Steps: 6}}
	other.Resume = true
	if _, err := Train(ctx, other); err == nil || !strings.Contains(err.Error(), "phases") {
		t.Fatalf("resume with other phases: %v", err)
	}
}

// relDiff is ‖a−b‖ / ‖b‖.
func relDiff(a, b []float32) float64 {
	var d, n float64
	for i := range a {
		d += float64(a[i]-b[i]) * float64(a[i]-b[i])
		n += float64(b[i]) * float64(b[i])
	}
	return math.Sqrt(d / n)
}

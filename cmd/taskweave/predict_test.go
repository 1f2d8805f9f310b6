package main

import (
	"bytes"
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/taskweave/taskweave/io/storage"
	"github.com/taskweave/taskweave/io/storage/gcstest"
	"github.com/taskweave/taskweave/model"
	"github.com/taskweave/taskweave/model/checkpoint"
	"github.com/taskweave/taskweave/model/scoring"
)

const camphrDir = "../../model/checkpoint/testdata/tiny_bert_camphr_ner"

// predictCLI runs `taskweave predict ARGS` through the subcommand registry
// and its real flag parsing, returning stdout, stderr and the error.
func predictCLI(t *testing.T, args ...string) (string, string, error) {
	t.Helper()
	var out, errOut bytes.Buffer
	predictStdout, predictStderr = &out, &errOut
	t.Cleanup(func() { predictStdout, predictStderr = os.Stdout, os.Stderr })
	fs := flag.NewFlagSet("predict", flag.ContinueOnError)
	run := commands["predict"].setup(fs)
	if err := fs.Parse(args); err != nil {
		t.Fatal(err)
	}
	err := run(context.Background(), fs.Args())
	return out.String(), errOut.String(), err
}

func decodeResults(t *testing.T, out string) []predictText {
	t.Helper()
	var rs []predictText
	dec := json.NewDecoder(strings.NewReader(out))
	for dec.More() {
		var r predictText
		if err := dec.Decode(&r); err != nil {
			t.Fatalf("%v in %q", err, out)
		}
		rs = append(rs, r)
	}
	return rs
}

// TestPredictCamphr runs predict on the real Hugging Face token classifier
// and checks its logits against the PyTorch reference encoder on the same
// weights (model/checkpoint/testdata/camphr_golden.json, row 0 =
// "[CLS] This is a test [SEP]").
func TestPredictCamphr(t *testing.T) {
	_, _, err := predictCLI(t, "--model", camphrDir, "This is a test")
	if err == nil || !strings.Contains(err.Error(), "vocab.txt has 405 entries but config.json vocab_size is 402") || !strings.Contains(err.Error(), "--allow-vocab-truncation") {
		t.Fatalf("without --allow-vocab-truncation: %v", err)
	}
	out, errOut, err := predictCLI(t, "--model", camphrDir, "--allow-vocab-truncation", "--json", "This is a test", "Hello")
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(errOut, "WARNING") || !strings.Contains(errOut, "keeping only the first 402") {
		t.Errorf("stderr lacks the truncation warning: %q", errOut)
	}
	rs := decodeResults(t, out)
	if len(rs) != 2 || rs[0].Task != "tiny_bert_camphr_ner" || len(rs[0].Tokens) != 4 || len(rs[1].Tokens) != 1 {
		t.Fatalf("results %+v", rs)
	}
	raw, err := os.ReadFile("../../model/checkpoint/testdata/camphr_golden.json")
	if err != nil {
		t.Fatal(err)
	}
	var g struct {
		Logits [][][]float64 `json:"tok_cls_logits"`
	}
	if err := json.Unmarshal(raw, &g); err != nil {
		t.Fatal(err)
	}
	wantLabels := []string{"B-MISC", "B-PER", "B-ORG", "B-PER"}
	for w, tok := range rs[0].Tokens {
		for j, v := range tok.Logits {
			if d := math.Abs(float64(v) - g.Logits[0][w+1][j]); d > 1e-4 {
				t.Errorf("%s logit %d: %g, PyTorch %g", tok.Word, j, v, g.Logits[0][w+1][j])
			}
		}
		if tok.Label != wantLabels[w] {
			t.Errorf("%s: label %s, want %s (argmax of the reference logits)", tok.Word, tok.Label, wantLabels[w])
		}
		if p := slices.Max(handSoftmax(g.Logits[0][w+1])); math.Abs(float64(tok.Score)-p) > 1e-4 {
			t.Errorf("%s: score %g, want %g (softmax of the reference logits)", tok.Word, tok.Score, p)
		}
	}
	// The text format: a header line per text, then word, label, probability.
	out, _, err = predictCLI(t, "--model", camphrDir, "--allow-vocab-truncation", "--task", "ner", "This is a test")
	if err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(strings.TrimSpace(out), "\n")
	if len(lines) != 5 || lines[0] != "# This is a test" || !strings.HasPrefix(lines[3], "a\tB-ORG\t") {
		t.Fatalf("text output:\n%s", out)
	}
	f := strings.Split(lines[3], "\t")
	if p, err := strconv.ParseFloat(f[len(f)-1], 64); err != nil || len(f) != 3 || math.Abs(p-slices.Max(handSoftmax(g.Logits[0][3]))) > 1e-4 {
		t.Errorf("text line %q: want word, label and the label's probability %.4f", lines[3], slices.Max(handSoftmax(g.Logits[0][3])))
	}
}

// handSoftmax is the softmax in float64, written out, to check predict's.
func handSoftmax[F float32 | float64](x []F) []float64 {
	top := float64(slices.Max(x))
	out := make([]float64, len(x))
	var sum float64
	for i, v := range x {
		out[i] = math.Exp(float64(v) - top)
		sum += out[i]
	}
	for i := range out {
		out[i] /= sum
	}
	return out
}

// savedCheckpoint saves a small multi-task model with a hand-made vocabulary.
func savedCheckpoint(t *testing.T, fs checkpoint.FS) *model.Model {
	t.Helper()
	cfg := model.Config{VocabSize: 12, HiddenSize: 8, NumHiddenLayers: 2, NumAttentionHeads: 2, IntermediateSize: 16,
		MaxPositionEmbeddings: 16, TypeVocabSize: 2, LayerNormEps: 1e-12, HiddenAct: "gelu"}
	m, err := model.New(cfg, []model.HeadSpec{
		{Task: "sentiment", Kind: model.SequenceClassification, NumLabels: 2},
		{Task: "pos", Kind: model.TokenClassification, NumLabels: 3},
		{Task: "score", Kind: model.SequenceRegression, NumLabels: 1},
	}, 7)
	if err != nil {
		t.Fatal(err)
	}
	// BERT's 0.02 init gives near-equal logits; spread the weights so labels differ.
	for _, p := range m.Params() {
		for i := range p.W {
			p.W[i] *= 20
		}
	}
	meta := checkpoint.Meta{
		Vocab:     []string{"[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]", "the", "cat", "sat", "##s", "on", "mat", "."},
		Lowercase: true, MaxSeqLen: 8,
		Tasks: []checkpoint.TaskInfo{
			{Name: "sentiment", Labels: []string{"negative", "positive"}},
			{Name: "pos", Labels: []string{"DET", "NOUN", "VERB"}},
			{Name: "score"},
		},
	}
	if err := checkpoint.Save(fs, m, meta); err != nil {
		t.Fatal(err)
	}
	return m
}

// alone predicts one hand-encoded sequence without padding, for comparison.
func alone(t *testing.T, m *model.Model, task string, ids []int32) []float32 {
	t.Helper()
	out, err := m.Predict(&model.Batch{Task: task, B: 1, T: len(ids), InputIDs: ids})
	if err != nil {
		t.Fatal(err)
	}
	return out
}

func sameLogits(t *testing.T, what string, got, want []float32) {
	t.Helper()
	if len(got) != len(want) {
		t.Fatalf("%s: %d logits, want %d", what, len(got), len(want))
	}
	// A padded batch and a lone example take different GEMM blockings, so
	// they agree to float rounding only: up to 3.6e-5 on logits near 0.45
	// with OpenBLAS's Haswell kernels on an AMD Zen 5 (1e-5 held on the
	// Xeons and with the AVX-512 kernels). A masking or alignment error
	// moves logits by far more than this bound.
	for i := range got {
		if math.Abs(float64(got[i]-want[i])) > 1e-4*math.Max(1, math.Abs(float64(want[i]))) {
			t.Errorf("%s: logit %d = %g, alone %g", what, i, got[i], want[i])
		}
	}
}

// TestPredictSavedCheckpoint predicts from a checkpoint written by Save, for
// each head kind, and checks every text against the model run on that text
// alone (hand-encoded ids, no padding), so tokenization, batching, padding
// and first-subword selection are all covered.
func TestPredictSavedCheckpoint(t *testing.T) {
	dir := t.TempDir()
	m := savedCheckpoint(t, checkpoint.LocalDir(dir))
	// "The cats sat." -> [CLS] the cat ##s sat . [SEP] (lower-cased); "mat" -> [CLS] mat [SEP].
	catsIDs := []int32{2, 5, 6, 8, 7, 11, 3}
	matIDs := []int32{2, 10, 3}

	out, _, err := predictCLI(t, "--model", dir, "--task", "sentiment", "--json", "The cats sat.", "mat")
	if err != nil {
		t.Fatal(err)
	}
	rs := decodeResults(t, out)
	for i, ids := range [][]int32{catsIDs, matIDs} {
		want := alone(t, m, "sentiment", ids)
		sameLogits(t, rs[i].Text, rs[i].Logits, want)
		if wl := []string{"negative", "positive"}[scoring.Argmax(want)]; rs[i].Label != wl {
			t.Errorf("%s: label %s, want %s", rs[i].Text, rs[i].Label, wl)
		}
		// Issue 26: labels beside their probabilities, as pipeline() gives them.
		probs := handSoftmax(want)
		if math.Abs(float64(rs[i].Score)-slices.Max(probs)) > 1e-4 || len(rs[i].Scores) != 2 {
			t.Fatalf("%s: score %g, scores %+v; want %g and both labels' %v", rs[i].Text, rs[i].Score, rs[i].Scores, slices.Max(probs), probs)
		}
		for k, sc := range rs[i].Scores {
			if sc.Label != []string{"negative", "positive"}[k] || math.Abs(float64(sc.Score)-probs[k]) > 1e-4 {
				t.Errorf("%s: scores[%d] = %+v, want %.4f", rs[i].Text, k, sc, probs[k])
			}
		}
	}
	// The text format: label, its probability, every label's, the text.
	text, _, err := predictCLI(t, "--model", dir, "--task", "sentiment", "The cats sat.")
	p := handSoftmax(alone(t, m, "sentiment", catsIDs))
	var label string
	var top, neg, pos float64
	if _, serr := fmt.Sscanf(text, "%s\t%g\tnegative=%g positive=%g\tThe cats sat.\n", &label, &top, &neg, &pos); err != nil || serr != nil ||
		label != rs[0].Label || math.Abs(top-slices.Max(p)) > 1e-4 || math.Abs(neg-p[0]) > 1e-4 || math.Abs(pos-p[1]) > 1e-4 {
		t.Errorf("text output %q (%v, %v); want label, probability, negative=%.4f positive=%.4f, the text", text, err, serr, p[0], p[1])
	}

	out, _, err = predictCLI(t, "--model", dir, "--task", "pos", "--json", "The cats sat .", "mat")
	if err != nil {
		t.Fatal(err)
	}
	rs = decodeResults(t, out)
	want := alone(t, m, "pos", catsIDs)
	// Words start at positions 1 (the), 2 (cat of cats), 4 (sat), 5 (.).
	for w, pos := range []int{1, 2, 4, 5} {
		sameLogits(t, rs[0].Tokens[w].Word, rs[0].Tokens[w].Logits, want[pos*3:pos*3+3])
	}
	if p := slices.Max(handSoftmax(want[2*3 : 3*3])); math.Abs(float64(rs[0].Tokens[1].Score)-p) > 1e-4 {
		t.Errorf("cats: score %g, want %g", rs[0].Tokens[1].Score, p)
	}
	if rs[0].Tokens[1].Word != "cats" || len(rs[1].Tokens) != 1 {
		t.Errorf("tokens %+v", rs)
	}
	sameLogits(t, "mat", rs[1].Tokens[0].Logits, alone(t, m, "pos", matIDs)[3:6])

	out, _, err = predictCLI(t, "--model", dir, "--task", "score", "--json", "The cats sat.")
	if err != nil {
		t.Fatal(err)
	}
	rs = decodeResults(t, out)
	if rs[0].Value == nil || rs[0].Label != "" {
		t.Fatalf("regression result %+v", rs[0])
	}
	sameLogits(t, "score", []float32{*rs[0].Value}, alone(t, m, "score", catsIDs))
	out, _, err = predictCLI(t, "--model", dir, "--task", "score", "The cats sat.")
	if err != nil || !strings.HasSuffix(out, "\tThe cats sat.\n") || strings.Count(out, "\n") != 1 {
		t.Errorf("regression text output %q, %v", out, err)
	}

	// max_seq_len 8: [CLS] + 6 pieces + [SEP]. The eight words are split into
	// windows as preprocess splits a long sentence ([CLS] the cat sat on the
	// mat [SEP], [CLS] . the [SEP]) and joined back: every word is scored,
	// the last two in the second window.
	out, errOut, err := predictCLI(t, "--model", dir, "--task", "pos", "--json", "the cat sat on the mat . the")
	if err != nil {
		t.Fatal(err)
	}
	rs = decodeResults(t, out)
	if len(rs) != 1 || rs[0].Windows != 2 || len(rs[0].Tokens) != 8 || errOut != "" {
		t.Fatalf("windows: %+v, stderr %q", rs, errOut)
	}
	w0, w1 := alone(t, m, "pos", []int32{2, 5, 6, 7, 9, 5, 10, 3}), alone(t, m, "pos", []int32{2, 11, 5, 3})
	for w, tok := range rs[0].Tokens {
		var want []float32
		if w < 6 {
			want = w0[(w+1)*3 : (w+2)*3]
		} else {
			want = w1[(w-5)*3 : (w-4)*3]
		}
		sameLogits(t, fmt.Sprintf("word %d (%s)", w, tok.Word), tok.Logits, want)
		if tok.Label != []string{"DET", "NOUN", "VERB"}[scoring.Argmax(want)] {
			t.Errorf("word %d: label %s for logits %v", w, tok.Label, want)
		}
	}
	// A sentence text longer than max_seq_len is truncated, with a warning.
	out, errOut, err = predictCLI(t, "--model", dir, "--task", "sentiment", "--json", "the cat sat on the mat . the")
	if err != nil || !strings.Contains(errOut, "text 1 is longer than 8 tokens and was truncated") {
		t.Fatalf("truncation: %v, stderr %q", err, errOut)
	}
	sameLogits(t, "truncated", decodeResults(t, out)[0].Logits, alone(t, m, "sentiment", []int32{2, 5, 6, 7, 9, 5, 10, 3}))
}

func TestPredictRefusals(t *testing.T) {
	dir := t.TempDir()
	savedCheckpoint(t, checkpoint.LocalDir(dir))
	for _, c := range []struct {
		args []string
		want string
	}{
		{[]string{"--model", dir, "x"}, "has several tasks; choose one with --task (sentiment, pos, score)"},
		{[]string{"--model", dir, "--task", "ner", "x"}, `has no task "ner"; its tasks: sentiment, pos, score`},
		{[]string{"--model", dir, "--task", "pos"}, "no TEXT given"},
		{[]string{"x"}, "--model is required"},
		{[]string{"--model", filepath.Join(dir, "nope"), "x"}, "no config.json"},
		{[]string{"--model", "../../model/checkpoint/testdata/ref", "x"}, "no task head"},
		{[]string{"--model", "../../model/checkpoint/testdata/ref/seq-cls", "x"}, "has no vocab.txt"},
	} {
		_, _, err := predictCLI(t, c.args...)
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%v: err = %v, want %q", c.args, err, c.want)
		}
	}
}

// TestPredictGCS saves a checkpoint to gs:// (fake-gcs-server) and predicts
// from it, and imports the camphr Hugging Face checkpoint from gs://.
func TestPredictGCS(t *testing.T) {
	bucket := gcstest.Start(t)
	ctx := context.Background()
	gsDir := "gs://" + bucket + "/runs/ck"
	savedCheckpoint(t, storage.Dir(ctx, gsDir))
	local := t.TempDir()
	savedCheckpoint(t, checkpoint.LocalDir(local))
	want, _, err := predictCLI(t, "--model", local, "--task", "pos", "The cats sat .")
	if err != nil {
		t.Fatal(err)
	}
	got, _, err := predictCLI(t, "--model", gsDir, "--task", "pos", "The cats sat .")
	if err != nil {
		t.Fatal(err)
	}
	if got != want || !strings.Contains(got, "cats\t") {
		t.Errorf("gs:// output\n%s\nlocal output\n%s", got, want)
	}
	// A run's last/ on gs:// is last.json naming a prefix: --model <out>/last follows it.
	out := "gs://" + bucket + "/runs/out"
	savedCheckpoint(t, storage.Dir(ctx, out+"/last.d/00000004-0a1b2c3d"))
	if err := storage.WriteFile(ctx, out+"/last.json", []byte(`{"dir": "last.d/00000004-0a1b2c3d", "step": 4}`+"\n")); err != nil {
		t.Fatal(err)
	}
	if got, _, err = predictCLI(t, "--model", out+"/last", "--task", "pos", "The cats sat ."); err != nil || got != want {
		t.Errorf("--model <out>/last on gs:// (%v):\n%s\nwant\n%s", err, got, want)
	}

	hfDir := "gs://" + bucket + "/hf/camphr"
	for _, f := range []string{"config.json", "pytorch_model.bin", "vocab.txt", "tokenizer_config.json"} {
		b, err := os.ReadFile(filepath.Join(camphrDir, f))
		if err != nil {
			t.Fatal(err)
		}
		if err := storage.WriteFile(ctx, storage.Join(hfDir, f), b); err != nil {
			t.Fatal(err)
		}
	}
	want, _, err = predictCLI(t, "--model", camphrDir, "--allow-vocab-truncation", "This is a test")
	if err != nil {
		t.Fatal(err)
	}
	got, _, err = predictCLI(t, "--model", hfDir, "--allow-vocab-truncation", "This is a test")
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(got, "a\tB-ORG") || strings.Replace(got, "camphr", "", 1) != strings.Replace(want, "tiny_bert_camphr_ner", "", 1) {
		t.Errorf("gs:// camphr output\n%s\nlocal\n%s", got, want)
	}
}

// TestPredictBF16: --precision bf16 predicts what the model predicts in
// bf16 in process (and not what it predicts in fp32: this checkpoint's
// weights, spread ×20, make it sensitive enough that bf16's rounding moves
// its logits far), where this build and CPU run bf16; elsewhere it refuses
// at start-up, saying to use fp32.
func TestPredictBF16(t *testing.T) {
	dir := t.TempDir()
	m := savedCheckpoint(t, checkpoint.LocalDir(dir))
	ids := []int32{2, 5, 6, 8, 7, 11, 3} // The cats sat.
	args := []string{"--model", dir, "--task", "sentiment", "--json", "The cats sat."}
	out16, _, err := predictCLI(t, append([]string{"--precision", "bf16"}, args...)...)
	if cerr := model.CheckPrecision(model.BF16); cerr != nil {
		if err == nil || !strings.Contains(err.Error(), "use precision fp32") {
			t.Fatalf("bf16 on a build or CPU without it (%v): err = %v", cerr, err)
		}
		t.Skipf("bf16 refused as it must here: %v", err)
	}
	if err != nil {
		t.Fatal(err)
	}
	want32 := alone(t, m, "sentiment", ids)
	if err := m.SetPrecision(model.BF16); err != nil {
		t.Fatal(err)
	}
	got := decodeResults(t, out16)[0].Logits
	sameLogits(t, "bf16", got, alone(t, m, "sentiment", ids))
	if math.Abs(float64(got[0]-want32[0])) < 1e-3 {
		t.Errorf("bf16 logits %v equal fp32's %v: --precision bf16 did not reach the model", got, want32)
	}
	if _, _, err := predictCLI(t, append([]string{"--precision", "fp16"}, args...)...); err == nil || !strings.Contains(err.Error(), "use fp32 or bf16") {
		t.Errorf("--precision fp16: %v", err)
	}
}

package main

import (
	"context"
	"flag"
	"math"
	"path/filepath"
	"strings"
	"testing"

	"github.com/taskweave/taskweave/model"
	"github.com/taskweave/taskweave/model/checkpoint"
)

func exportCLI(t *testing.T, args ...string) error {
	t.Helper()
	fs := flag.NewFlagSet("export", flag.ContinueOnError)
	run := commands["export"].setup(fs)
	if err := fs.Parse(args); err != nil {
		t.Fatal(err)
	}
	return run(context.Background(), fs.Args())
}

// A task exported from a soft-sharing checkpoint loads in predict as a
// Hugging Face checkpoint and predicts what predict gives on the
// multi-task checkpoint itself (the task's own path): the same labels and
// identical logits (the model runs a factorized task on W + A·B merged as
// the export merges it).
func TestExportPredictsTheSame(t *testing.T) {
	dir := t.TempDir()
	src := filepath.Join(dir, "multi")
	cfg := model.Config{VocabSize: 12, HiddenSize: 8, NumHiddenLayers: 2, NumAttentionHeads: 2, IntermediateSize: 16,
		MaxPositionEmbeddings: 16, TypeVocabSize: 2, LayerNormEps: 1e-12, HiddenAct: "gelu"}
	m, err := model.NewWith(cfg, []model.HeadSpec{
		{Task: "sentiment", Kind: model.SequenceClassification, NumLabels: 2, Sharing: model.TaskSharing{Rank: 2, Matrices: model.FactorMatrices}},
		{Task: "pos", Kind: model.TokenClassification, NumLabels: 3, Layer: 1, Sharing: model.TaskSharing{Rank: 3, Matrices: []string{model.MatQuery, model.MatFFNIn}}},
		{Task: "mixed", Kind: model.SequenceClassification, NumLabels: 2, Sharing: model.TaskSharing{LayerAttention: true}},
	}, model.Sharing{Basis: "per_task"}, 7)
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range m.Params() {
		for i := range p.W {
			p.W[i] = p.W[i]*20 + float32(math.Cos(float64(i+len(p.Name))))*0.2
		}
	}
	meta := checkpoint.Meta{
		Vocab:     []string{"[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]", "the", "cat", "sat", "##s", "on", "mat", "."},
		Lowercase: true, MaxSeqLen: 8,
		Tasks: []checkpoint.TaskInfo{{Name: "sentiment", Labels: []string{"negative", "positive"}}, {Name: "pos", Labels: []string{"DET", "NOUN", "VERB"}},
			{Name: "mixed", Labels: []string{"a", "b"}}},
	}
	if err := checkpoint.Save(checkpoint.LocalDir(src), m, meta); err != nil {
		t.Fatal(err)
	}
	texts := []string{"the cat sat on the mat .", "cats sat"}
	for _, task := range []string{"sentiment", "pos"} {
		out := filepath.Join(dir, task)
		if err := exportCLI(t, "--model", src, "--task", task, "--out", out); err != nil {
			t.Fatal(err)
		}
		a, _, err := predictCLI(t, append([]string{"--model", src, "--task", task, "--json"}, texts...)...)
		if err != nil {
			t.Fatal(err)
		}
		b, _, err := predictCLI(t, append([]string{"--model", out, "--task", task, "--json"}, texts...)...)
		if err != nil {
			t.Fatal(err)
		}
		ra, rb := decodeResults(t, a), decodeResults(t, b)
		worst, scale := 0.0, 1.0
		for i := range ra {
			la, lb := ra[i].Logits, rb[i].Logits
			if task == "pos" {
				la, lb = nil, nil
				for w := range ra[i].Tokens {
					if ra[i].Tokens[w].Label != rb[i].Tokens[w].Label {
						t.Errorf("%s text %d word %d: label %s, exported %s", task, i, w, ra[i].Tokens[w].Label, rb[i].Tokens[w].Label)
					}
					la, lb = append(la, ra[i].Tokens[w].Logits...), append(lb, rb[i].Tokens[w].Logits...)
				}
			} else if ra[i].Label != rb[i].Label {
				t.Errorf("%s text %d: label %s, exported %s", task, i, ra[i].Label, rb[i].Label)
			}
			if len(la) == 0 || len(la) != len(lb) {
				t.Fatalf("%s text %d: %d logits vs %d", task, i, len(la), len(lb))
			}
			for j := range la {
				worst = math.Max(worst, math.Abs(float64(la[j]-lb[j])))
				scale = math.Max(scale, math.Abs(float64(la[j])))
			}
		}
		if worst != 0 {
			t.Errorf("%s: exported logits differ by %g (largest logit %g)", task, worst, scale)
		}
		t.Logf("%s: max |logit diff| %.3g (largest logit %.3g) over %d texts", task, worst, scale, len(texts))
	}
	err = exportCLI(t, "--model", src, "--task", "mixed", "--out", filepath.Join(dir, "mixed"))
	if err == nil || !strings.Contains(err.Error(), "layer_attention") {
		t.Errorf("exporting a layer-attention task: %v", err)
	}
}

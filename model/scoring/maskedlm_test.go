package scoring

import (
	"encoding/json"
	"fmt"
	"math"
	"testing"

	"github.com/taskweave/taskweave/model"
	"github.com/taskweave/taskweave/model/masking"
)

var mlmTask = Task{Name: "mlm", Kind: model.MaskedLM}

// A masked LM's accumulator merges in any order, and through JSON (as it
// crosses Beam workers), to the figures of one accumulator: hand-counted,
// 4 of 10 masked pieces right and 6 nats in all, so accuracy 0.4 and
// perplexity e^0.6. The NLLs are dyadic so every order sums them exactly.
func TestMaskedAccMergeAnyOrder(t *testing.T) {
	preds := []Prediction{
		{Masked: 3, Correct: 1, NLL: 1.5, Tokens: 12},
		{Masked: 2, Correct: 2, NLL: 0.25, Tokens: 7},
		{Masked: 0, Tokens: 3}, // nothing masked in a short row
		{Masked: 5, Correct: 1, NLL: 4.25, Tokens: 20},
	}
	for i := range preds {
		preds[i].Task, preds[i].Kind, preds[i].ExampleID, preds[i].Rows = "mlm", model.MaskedLM, fmt.Sprint(i), 1
	}
	cases := []struct {
		name  string
		parts [][]int // predictions per partial accumulator, merged in this order
	}{
		{"one accumulator", [][]int{{0, 1, 2, 3}}},
		{"one each", [][]int{{0}, {1}, {2}, {3}}},
		{"one each reversed", [][]int{{3}, {2}, {1}, {0}}},
		{"uneven", [][]int{{3, 1}, {}, {2, 0}}},
		{"empty first", [][]int{{}, {2}, {0, 1, 3}}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			var total Acc // the zero Acc, as a combiner starts
			for _, part := range c.parts {
				a, err := NewAcc(mlmTask)
				if err != nil {
					t.Fatal(err)
				}
				for _, i := range part {
					if err := a.Add(preds[i]); err != nil {
						t.Fatal(err)
					}
				}
				b, _ := json.Marshal(a)
				var back Acc
				if err := json.Unmarshal(b, &back); err != nil {
					t.Fatal(err)
				}
				if err := total.Merge(back); err != nil {
					t.Fatal(err)
				}
			}
			r := total.Result()
			m := r.MaskedLM
			if m == nil || m.Tokens != 10 || m.Correct != 4 || m.NLL != 6 || m.Accuracy != 0.4 || m.Perplexity != math.Exp(0.6) {
				t.Fatalf("merged figures %+v; want 10 masked, 4 correct, NLL 6, accuracy 0.4, perplexity %v", m, math.Exp(0.6))
			}
			if r.Examples != 4 || r.Tokens != 42 || r.Primary != MaskedAccuracy || r.Score != 0.4 {
				t.Errorf("result %+v; want 4 examples, 42 tokens, primary masked_accuracy 0.4", r)
			}
		})
	}
	// Nothing masked at all: accuracy 0 and perplexity 1, as the trainer logs.
	a, _ := NewAcc(mlmTask)
	a.Add(preds[2])
	if m := a.Result().MaskedLM; m.Accuracy != 0 || m.Perplexity != 1 || m.Tokens != 0 {
		t.Errorf("nothing masked: %+v", m)
	}
}

func mlmVocab(n int) []string {
	v := []string{"[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"}
	for i := len(v); i < n; i++ {
		v = append(v, fmt.Sprintf("w%d", i))
	}
	return v
}

// ScoreMasked in batches gives every row the figures a forward pass of the
// row alone gives with the same mask (masking.ExampleRNG of its task and
// id): the mask and the per-row cross-entropy do not depend on the batch.
func TestScoreMaskedEqualsOneRowAtATime(t *testing.T) {
	cfg := model.Config{VocabSize: 50, HiddenSize: 16, NumHiddenLayers: 1, NumAttentionHeads: 2, IntermediateSize: 32,
		MaxPositionEmbeddings: 32, TypeVocabSize: 2, LayerNormEps: 1e-12, HiddenAct: "gelu"}
	m, err := model.New(cfg, []model.HeadSpec{{Task: "mlm", Kind: model.MaskedLM}}, 5)
	if err != nil {
		t.Fatal(err)
	}
	m.SetTraining(false)
	mk, err := masking.New(mlmVocab(50), false)
	if err != nil {
		t.Fatal(err)
	}
	var exs []Example
	for i, n := range []int{9, 1, 15, 12, 3, 7, 2, 20} {
		e := seqExample(fmt.Sprint("r", i), n, -1)
		e.Task = "sst" // a source task's row: its own task seeds the mask
		exs = append(exs, e)
	}
	got := map[int]Prediction{}
	if err := ScoreMasked(m, mk, mlmTask, exs, Options{BatchSize: 3}, func(i int, p Prediction) error {
		got[i] = p
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	var masked int64
	for i, e := range exs {
		ids := append([]int32(nil), e.InputIDs...)
		labels := make([]int32, len(ids))
		n := mk.Row(ids, labels, masking.ExampleRNG("sst", e.ExampleID))
		p := got[i]
		if p.Masked != int64(n) || p.ExampleID != e.ExampleID || p.Task != "mlm" || p.Tokens != int64(len(ids)) {
			t.Fatalf("row %d: %+v; want %d masked", i, p, n)
		}
		masked += p.Masked
		if n == 0 {
			if p.Correct != 0 || p.NLL != 0 {
				t.Errorf("row %d: nothing masked but %+v", i, p)
			}
			continue
		}
		out, err := m.Forward(&model.Batch{Task: "mlm", B: 1, T: len(ids), InputIDs: ids, TokenLabels: labels})
		if err != nil {
			t.Fatal(err)
		}
		var correct int64
		k := 0
		for _, y := range labels {
			if y == model.IgnoreIndex {
				continue
			}
			if Argmax(out.Logits[k*out.NumLabels:(k+1)*out.NumLabels]) == int(y) {
				correct++
			}
			k++
		}
		nll := float64(out.Loss) * float64(out.Scored)
		if p.Correct != correct || math.Abs(p.NLL-nll) > 1e-5*nll {
			t.Errorf("row %d: batched %d correct, NLL %.6f; alone %d, %.6f", i, p.Correct, p.NLL, correct, nll)
		}
	}
	if masked == 0 || len(got) != len(exs) {
		t.Fatalf("%d predictions, %d masked pieces in all: the test scores nothing", len(got), masked)
	}
	if err := Score(m, mlmTask, exs, Options{BatchSize: 3}, nil); err == nil {
		t.Error("Score accepted a masked LM (its logits would be B×T×vocab)")
	}
}

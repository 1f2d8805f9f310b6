package score

import (
	"math"
	"testing"

	"github.com/taskweave/taskweave/io/shards"
	"github.com/taskweave/taskweave/model"
)

func tinyModel(t testing.TB) *model.Model {
	t.Helper()
	cfg := model.Config{VocabSize: 50, HiddenSize: 16, NumHiddenLayers: 1, NumAttentionHeads: 2, IntermediateSize: 32,
		MaxPositionEmbeddings: 32, TypeVocabSize: 2, LayerNormEps: 1e-12, HiddenAct: "gelu"}
	m, err := model.New(cfg, []model.HeadSpec{
		{Task: "cls", Kind: model.SequenceClassification, NumLabels: 3},
		{Task: "ner", Kind: model.TokenClassification, NumLabels: 5},
		{Task: "reg", Kind: model.SequenceRegression, NumLabels: 1},
	}, 7)
	if err != nil {
		t.Fatal(err)
	}
	m.SetTraining(false)
	return m
}

func seqRow(id string, n int, label int32) shards.Row {
	ids := []int32{2}
	for i := 0; i < n; i++ {
		ids = append(ids, int32(5+(i*7+len(id))%40))
	}
	ids = append(ids, 3)
	return shards.Row{Task: "cls", ExampleID: id, InputIDs: ids, TokenTypeIDs: make([]int32, len(ids)), Label: label}
}

// Batching pads rows of different lengths together and sorts them; the
// predictions must equal scoring each row alone, unpadded.
func TestBatchedEqualsSingle(t *testing.T) {
	m := tinyModel(t)
	spec := TaskSpec{Name: "cls", Kind: KindClassification, Labels: []string{"a", "b", "c"}}
	var rows []pending
	for i, n := range []int{9, 1, 5, 12, 3, 7, 2} {
		rows = append(rows, pending{part: "p0", row: seqRow(string(rune('a'+i)), n, int32(i%3))})
	}
	single := map[string]Prediction{}
	var bt batcher
	for _, r := range rows {
		if err := bt.scoreRows(m, spec, "model", []pending{r}, 1, func(p Prediction) { single[p.ExampleID] = p }); err != nil {
			t.Fatal(err)
		}
	}
	got := 0
	err := bt.scoreRows(m, spec, "model", append([]pending(nil), rows...), 3, func(p Prediction) {
		got++
		s := single[p.ExampleID]
		if p.Pred != s.Pred || p.Gold != s.Gold || p.Tokens != s.Tokens {
			t.Errorf("%s: batched pred %d gold %d tokens %d, alone %d %d %d", p.ExampleID, p.Pred, p.Gold, p.Tokens, s.Pred, s.Gold, s.Tokens)
		}
		for k := range p.Scores {
			if math.Abs(float64(p.Scores[k]-s.Scores[k])) > 1e-5 {
				t.Errorf("%s: score %d batched %v alone %v", p.ExampleID, k, p.Scores[k], s.Scores[k])
			}
		}
		var sum float32
		for _, v := range p.Scores {
			sum += v
		}
		if math.Abs(float64(sum-1)) > 1e-5 {
			t.Errorf("%s: softmax sums to %v", p.ExampleID, sum)
		}
	})
	if err != nil {
		t.Fatal(err)
	}
	if got != len(rows) {
		t.Errorf("emitted %d predictions for %d rows", got, len(rows))
	}
}

// Token tasks are read at the first subword of each labeled word.
func TestTokenDecodingFirstSubword(t *testing.T) {
	m := tinyModel(t)
	labels := []string{"O", "B-PER", "I-PER", "B-LOC", "I-LOC"}
	spec := TaskSpec{Name: "ner", Kind: KindToken, Labels: labels, TagScheme: "iob2"}
	// [CLS] Jo ##hn lives [SEP]: words 0 (two subwords) and 1; a window
	// context word 2 whose first subword is unlabeled (-100).
	row := shards.Row{Task: "ner", ExampleID: "s1",
		InputIDs:    []int32{2, 10, 11, 12, 13, 3},
		WordIDs:     []int32{-1, 0, 0, 1, 2, -1},
		TokenLabels: []int32{-100, 1, -100, 0, -100, -100},
		Words:       []string{"John", "lives", "there"}}
	logits, err := m.Predict(&model.Batch{Task: "ner", B: 1, T: 6, InputIDs: row.InputIDs})
	if err != nil {
		t.Fatal(err)
	}
	want := func(pos int) string { return labels[argmax(logits[pos*5:(pos+1)*5])] }
	var got Prediction
	var bt batcher
	if err := bt.scoreRows(m, spec, "model", []pending{{part: "p", row: row}}, 4, func(p Prediction) { got = p }); err != nil {
		t.Fatal(err)
	}
	if len(got.Words) != 2 || got.Words[0] != "John" || got.Words[1] != "lives" {
		t.Fatalf("words %q, want [John lives]", got.Words)
	}
	if got.GoldTags[0] != "B-PER" || got.GoldTags[1] != "O" {
		t.Errorf("gold %q, want [B-PER O]", got.GoldTags)
	}
	if got.PredTags[0] != want(1) || got.PredTags[1] != want(3) {
		t.Errorf("pred %q, want [%s %s] (positions 1 and 3)", got.PredTags, want(1), want(3))
	}
	// Bad token label ids are an error naming the example.
	row.TokenLabels[3] = 9
	if err := bt.scoreRows(m, spec, "model", []pending{{part: "p", row: row}}, 4, func(Prediction) {}); err == nil {
		t.Error("token label id 9 of 5 labels accepted")
	}
}

func TestRegressionDecoding(t *testing.T) {
	m := tinyModel(t)
	spec := TaskSpec{Name: "reg", Kind: KindRegression}
	row := seqRow("r", 4, -1)
	row.Task, row.Target = "reg", 2.5
	logits, err := m.Predict(&model.Batch{Task: "reg", B: 1, T: len(row.InputIDs), InputIDs: row.InputIDs})
	if err != nil {
		t.Fatal(err)
	}
	var bt batcher
	err = bt.scoreRows(m, spec, "model", []pending{{row: row}}, 8, func(p Prediction) {
		if p.GoldValue != 2.5 || math.Abs(float64(p.PredValue-logits[0])) > 1e-6 {
			t.Errorf("gold %v pred %v, want 2.5 and %v", p.GoldValue, p.PredValue, logits[0])
		}
	})
	if err != nil {
		t.Fatal(err)
	}
}

func TestAccMergeMatchesSingle(t *testing.T) {
	spec := TaskSpec{Name: "ner", Kind: KindToken, Labels: []string{"O", "B-X", "I-X"}, TagScheme: "iob1"}
	preds := []Prediction{
		{Task: "ner", Words: []string{"a", "b"}, GoldTags: []string{"I-X", "O"}, PredTags: []string{"I-X", "O"}, Tokens: 4},
		{Task: "ner", Words: []string{"c"}, GoldTags: []string{"I-X"}, PredTags: []string{"O"}, Tokens: 3},
		{Task: "ner", Words: []string{"d"}, Tokens: 3}, // unlabeled
	}
	one, _ := newAcc(spec)
	for _, p := range preds {
		if err := one.add(p); err != nil {
			t.Fatal(err)
		}
	}
	a, _ := newAcc(spec)
	b, _ := newAcc(spec)
	a.add(preds[0])
	b.add(preds[1])
	b.add(preds[2])
	eb, err := encodeAcc(b)
	if err != nil {
		t.Fatal(err)
	}
	db, err := decodeAcc(eb)
	if err != nil {
		t.Fatal(err)
	}
	var empty Acc
	if err := empty.merge(a); err != nil {
		t.Fatal(err)
	}
	if err := empty.merge(db); err != nil {
		t.Fatal(err)
	}
	r1, r2 := one.Result("model"), empty.Result("model")
	if r1.Score != r2.Score || r1.Examples != 3 || r2.Examples != 3 || r2.Unlabeled != 1 || r2.Tokens != 10 || r2.Words != 4 {
		t.Errorf("merged %+v\nsingle %+v", r2, r1)
	}
	// gold chunks X[0,1) and X[0,1) of sentence 2; predicted only the first.
	if r1.Entities.Micro.Precision != 1 || r1.Entities.Micro.Recall != 0.5 {
		t.Errorf("entities %+v, want P 1 R 0.5", r1.Entities.Micro)
	}
}

// Unlabeled token rows (test files without tags) still get a tag per word;
// a window holding only the tail of a spread word contributes nothing.
func TestTokenDecodingUnlabeled(t *testing.T) {
	m := tinyModel(t)
	labels := []string{"O", "B-PER", "I-PER", "B-LOC", "I-LOC"}
	spec := TaskSpec{Name: "ner", Kind: KindToken, Labels: labels, TagScheme: "iob2"}
	rows := []pending{
		{row: shards.Row{Task: "ner", ExampleID: "u", InputIDs: []int32{2, 10, 11, 12, 3},
			WordIDs: []int32{-1, 0, 0, 1, -1}, TokenLabels: []int32{-100, -100, -100, -100, -100}, Words: []string{"Jo", "went"}}},
		{row: shards.Row{Task: "ner", ExampleID: "v#w1", InputIDs: []int32{2, 13, 14, 3},
			WordIDs: []int32{-1, 0, 0, -1}, TokenLabels: []int32{-100, -100, -100, -100}, Words: []string{"xxxxxxxx"}}},
	}
	got := map[string]Prediction{}
	var bt batcher
	if err := bt.scoreRows(m, spec, "model", rows, 4, func(p Prediction) { got[p.ExampleID] = p }); err != nil {
		t.Fatal(err)
	}
	u := got["u"]
	if len(u.Words) != 2 || len(u.PredTags) != 2 || u.GoldTags != nil {
		t.Errorf("unlabeled row: words %q pred %q gold %q", u.Words, u.PredTags, u.GoldTags)
	}
	if v := got["v#w1"]; len(v.Words) != 0 || v.GoldTags != nil {
		t.Errorf("continuation window: %+v", v)
	}
	a, _ := newAcc(spec)
	a.add(u)
	if a.Unlabeled != 1 || a.Ent.Sentences != 0 {
		t.Errorf("unlabeled %d, sentences scored %d", a.Unlabeled, a.Ent.Sentences)
	}
	r, _ := newAcc(TaskSpec{Name: "reg", Kind: KindRegression})
	r.add(Prediction{GoldValue: float32(math.NaN()), PredValue: 1})
	r.add(Prediction{GoldValue: 1, PredValue: 2})
	if r.Unlabeled != 1 || len(r.Reg.Gold) != 1 {
		t.Errorf("NaN target: unlabeled %d, pairs %d", r.Unlabeled, len(r.Reg.Gold))
	}
}

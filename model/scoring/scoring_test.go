package scoring

import (
	"math"
	"reflect"
	"testing"

	"github.com/taskweave/taskweave/model"
	"github.com/taskweave/taskweave/model/metrics"
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
	// BERT's 0.02 init gives near-equal logits; spread the weights so the
	// argmax is decided by the input, not by rounding.
	for _, p := range m.Params() {
		for i := range p.W {
			p.W[i] *= 10
		}
	}
	m.SetTraining(false)
	return m
}

var (
	clsTask = Task{Name: "cls", Kind: model.SequenceClassification, Labels: []string{"a", "b", "c"}}
	nerTask = Task{Name: "ner", Kind: model.TokenClassification, Labels: []string{"O", "B-PER", "I-PER", "B-LOC", "I-LOC"}, TagScheme: "iob2"}
	regTask = Task{Name: "reg", Kind: model.SequenceRegression}
)

func seqExample(id string, n int, label int32) Example {
	ids := []int32{2}
	for i := 0; i < n; i++ {
		ids = append(ids, int32(5+(i*7+len(id))%40))
	}
	ids = append(ids, 3)
	return Example{Task: "cls", ExampleID: id, InputIDs: ids, TokenTypeIDs: make([]int32, len(ids)), Label: label}
}

func TestArgmax(t *testing.T) {
	for _, c := range []struct {
		x    []float32
		want int
	}{
		{[]float32{1}, 0},
		{[]float32{0, 2, 1}, 1},
		{[]float32{3, 3, 1}, 0}, // ties go to the lower label id
		{[]float32{-5, -1, -1}, 1},
		{[]float32{float32(math.Inf(-1)), -1e30}, 1},
	} {
		if got := Argmax(c.x); got != c.want {
			t.Errorf("Argmax(%v) = %d, want %d", c.x, got, c.want)
		}
	}
}

func TestSoftmax(t *testing.T) {
	// Hand-computed: e^0, e^1, e^2 over their sum.
	got := Softmax([]float32{1000, 1001, 1002})
	s := 1 + math.E + math.E*math.E
	for i, w := range []float64{1 / s, math.E / s, math.E * math.E / s} {
		if math.Abs(float64(got[i])-w) > 1e-7 {
			t.Errorf("softmax[%d] = %v, want %v", i, got[i], w)
		}
	}
}

// Batching pads examples of different lengths together and sorts them; the
// predictions must equal scoring each example alone, unpadded, and come back
// under the caller's indices.
func TestScoreBatchedEqualsSingle(t *testing.T) {
	m := tinyModel(t)
	var exs []Example
	for i, n := range []int{9, 1, 5, 12, 3, 7, 2} {
		exs = append(exs, seqExample(string(rune('a'+i)), n, int32(i%3)))
	}
	for i, e := range exs {
		logits, err := m.Predict(&model.Batch{Task: "cls", B: 1, T: len(e.InputIDs), InputIDs: e.InputIDs})
		if err != nil {
			t.Fatal(err)
		}
		exs[i].Text = string(rune('0' + Argmax(logits))) // the prediction alone, to compare with
	}
	seen := map[int]bool{}
	err := Score(m, clsTask, exs, Options{BatchSize: 3, Logits: true}, func(i int, p Prediction) error {
		seen[i] = true
		e := exs[i]
		if p.ExampleID != e.ExampleID || p.Gold != e.Label || p.Tokens != int64(len(e.InputIDs)) || p.Rows != 1 {
			t.Errorf("index %d: prediction %+v for example %+v", i, p, e)
		}
		if want := int32(e.Text[0] - '0'); p.Pred != want {
			t.Errorf("%s: batched pred %d, alone %d", p.ExampleID, p.Pred, want)
		}
		if Argmax(p.Logits) != int(p.Pred) || len(p.Logits) != 3 {
			t.Errorf("%s: logits %v, pred %d", p.ExampleID, p.Logits, p.Pred)
		}
		var sum float32
		for _, v := range p.Scores {
			sum += v
		}
		if math.Abs(float64(sum-1)) > 1e-5 {
			t.Errorf("%s: softmax sums to %v", p.ExampleID, sum)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if len(seen) != len(exs) {
		t.Errorf("emitted %d predictions for %d examples", len(seen), len(exs))
	}
	if err := Score(m, clsTask, exs, Options{}, nil); err == nil {
		t.Error("batch size 0 accepted")
	}
}

// Token tasks are read at the first subword of each labeled word.
func TestDecodeFirstSubword(t *testing.T) {
	m := tinyModel(t)
	// [CLS] Jo ##hn lives there [SEP]: words 0 (two subwords) and 1; a window
	// context word 2 whose first subword is unlabeled (-100).
	e := Example{Task: "ner", ExampleID: "s1",
		InputIDs:    []int32{2, 10, 11, 12, 13, 3},
		WordIDs:     []int32{-1, 0, 0, 1, 2, -1},
		TokenLabels: []int32{-100, 1, -100, 0, -100, -100},
		Words:       []string{"John", "lives", "there"}}
	logits, err := m.Predict(&model.Batch{Task: "ner", B: 1, T: 6, InputIDs: e.InputIDs})
	if err != nil {
		t.Fatal(err)
	}
	want := func(pos int) string { return nerTask.Labels[Argmax(logits[pos*5:(pos+1)*5])] }
	ps, err := PredictBatch(m, nerTask, []Example{e}, true)
	if err != nil {
		t.Fatal(err)
	}
	got := ps[0]
	if !reflect.DeepEqual(got.Words, []string{"John", "lives"}) || !reflect.DeepEqual(got.GoldTags, []string{"B-PER", "O"}) {
		t.Fatalf("words %q gold %q, want [John lives] [B-PER O]", got.Words, got.GoldTags)
	}
	if got.PredTags[0] != want(1) || got.PredTags[1] != want(3) {
		t.Errorf("pred %q, want [%s %s] (positions 1 and 3)", got.PredTags, want(1), want(3))
	}
	if len(got.Logits) != 10 || got.Logits[5] != logits[15] {
		t.Errorf("logits %v, want positions 1 and 3 of %v", got.Logits, logits)
	}
	// Bad token label ids are an error naming the example.
	e.TokenLabels[3] = 9
	if _, err := PredictBatch(m, nerTask, []Example{e}, false); err == nil {
		t.Error("token label id 9 of 5 labels accepted")
	}
}

// Unlabeled token rows (test files without tags) still get a tag per word;
// a window holding only the tail of a spread word contributes nothing.
func TestDecodeUnlabeled(t *testing.T) {
	m := tinyModel(t)
	exs := []Example{
		{Task: "ner", ExampleID: "u", InputIDs: []int32{2, 10, 11, 12, 3},
			WordIDs: []int32{-1, 0, 0, 1, -1}, TokenLabels: []int32{-100, -100, -100, -100, -100}, Words: []string{"Jo", "went"}},
		{Task: "ner", ExampleID: "v#w1", InputIDs: []int32{2, 13, 14, 3},
			WordIDs: []int32{-1, 0, 0, -1}, TokenLabels: []int32{-100, -100, -100, -100}, Words: []string{"xxxxxxxx"}},
	}
	ps, err := PredictBatch(m, nerTask, exs, false)
	if err != nil {
		t.Fatal(err)
	}
	u, v := ps[0], ps[1]
	if len(u.Words) != 2 || len(u.PredTags) != 2 || u.GoldTags != nil {
		t.Errorf("unlabeled row: words %q pred %q gold %q", u.Words, u.PredTags, u.GoldTags)
	}
	if len(v.Words) != 0 || v.GoldTags != nil {
		t.Errorf("continuation window: %+v", v)
	}
	a, _ := NewAcc(nerTask)
	if err := a.Add(u); err != nil {
		t.Fatal(err)
	}
	if a.Unlabeled != 1 || a.Ent.Sentences != 0 {
		t.Errorf("unlabeled %d, sentences scored %d", a.Unlabeled, a.Ent.Sentences)
	}
	r, _ := NewAcc(regTask)
	r.Add(Prediction{Task: "reg", GoldValue: float32(math.NaN()), PredValue: 1})
	r.Add(Prediction{Task: "reg", GoldValue: 1, PredValue: 2})
	if r.Unlabeled != 1 || len(r.Reg.Gold) != 1 {
		t.Errorf("NaN target: unlabeled %d, pairs %d", r.Unlabeled, len(r.Reg.Gold))
	}
}

func TestDecodeRegression(t *testing.T) {
	m := tinyModel(t)
	e := seqExample("r", 4, -1)
	e.Task, e.Target = "reg", 2.5
	logits, err := m.Predict(&model.Batch{Task: "reg", B: 1, T: len(e.InputIDs), InputIDs: e.InputIDs})
	if err != nil {
		t.Fatal(err)
	}
	ps, err := PredictBatch(m, regTask, []Example{e}, false)
	if err != nil {
		t.Fatal(err)
	}
	if p := ps[0]; p.GoldValue != 2.5 || math.Abs(float64(p.PredValue-logits[0])) > 1e-6 {
		t.Errorf("gold %v pred %v, want 2.5 and %v", p.GoldValue, p.PredValue, logits[0])
	}
}

func TestWindowID(t *testing.T) {
	for _, c := range []struct {
		id       string
		sentence string
		k        int
		ok       bool
	}{
		{WindowID("s1", 0), "s1", 0, true},
		{WindowID("a#w1", 12), "a#w1", 12, true},
		{"s1", "", 0, false},
		{"s#w", "", 0, false},
		{"s#wx", "", 0, false},
		{"s#w-1", "", 0, false},
		{"s#w99999999999999999999", "", 0, false},
	} {
		s, k, ok := ParseWindowID(c.id)
		if s != c.sentence || k != c.k || ok != c.ok {
			t.Errorf("ParseWindowID(%q) = %q %d %v, want %q %d %v", c.id, s, k, ok, c.sentence, c.k, c.ok)
		}
	}
}

func FuzzParseWindowID(f *testing.F) {
	for _, s := range []string{"s#w0", "s", "#w", "a#w1#w2", "x#w007"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, id string) {
		s, k, ok := ParseWindowID(id)
		if !ok {
			return
		}
		if k < 0 || len(s) >= len(id) || s+"#w" != id[:len(s)+2] {
			t.Fatalf("ParseWindowID(%q) = %q, %d", id, s, k)
		}
		if s2, k2, ok2 := ParseWindowID(WindowID(s, k)); !ok2 || s2 != s || k2 != k {
			t.Fatalf("WindowID(%q, %d) does not parse back: %q %d %v", s, k, s2, k2, ok2)
		}
	})
}

// "New York City" is cut between windows 0 and 1, which arrive out of order;
// stitched, it is one gold chunk as in the source sentence, where scored per
// window it would be two.
func TestStitchWindows(t *testing.T) {
	w := []Prediction{
		{Task: "ner", Kind: model.TokenClassification, ExampleID: "s#w1", Tokens: 5, Rows: 1,
			Words: []string{"City", "now"}, GoldTags: []string{"I-LOC", "O"}, PredTags: []string{"I-LOC", "O"}, WordScores: []float32{.5, .6}},
		{Task: "ner", Kind: model.TokenClassification, ExampleID: "s#w0", Tokens: 4, Rows: 1, Text: "first",
			Words: []string{"New", "York"}, GoldTags: []string{"B-LOC", "I-LOC"}, PredTags: []string{"B-LOC", "I-LOC"}, WordScores: []float32{.9, .8}},
	}
	s, first, err := Stitch(w)
	if err != nil || first != 1 {
		t.Fatalf("stitch: %v, window 0 at %d", err, first)
	}
	if s.ExampleID != "s" || s.Text != "first" || s.Rows != 2 || s.Tokens != 9 ||
		!reflect.DeepEqual(s.Words, []string{"New", "York", "City", "now"}) ||
		!reflect.DeepEqual(s.GoldTags, []string{"B-LOC", "I-LOC", "I-LOC", "O"}) ||
		!reflect.DeepEqual(s.WordScores, []float32{.9, .8, .5, .6}) {
		t.Errorf("stitched %+v", s)
	}
	e := metrics.NewEntities(metrics.IOB2)
	e.Add(s.GoldTags, s.PredTags)
	if r := e.Result(); r.Micro.Support != 1 || r.Micro.Correct != 1 {
		t.Errorf("stitched sentence gives %+v, want one correct chunk", r.Micro)
	}
	if _, _, err := Stitch([]Prediction{w[0], w[0]}); err == nil {
		t.Error("a window twice: no error")
	}
	if _, _, err := Stitch([]Prediction{w[0], {ExampleID: "t#w0"}}); err == nil {
		t.Error("windows of two sentences: no error")
	}

	// Through the in-memory Scorer: windows held back, then counted once.
	sc, err := NewScorer(Task{Name: "ner", Kind: model.TokenClassification, Labels: []string{"O", "B-LOC", "I-LOC"}, TagScheme: "iob2"})
	if err != nil {
		t.Fatal(err)
	}
	whole := Prediction{Task: "ner", Kind: model.TokenClassification, ExampleID: "t", Tokens: 3, Rows: 1,
		Words: []string{"Paris"}, GoldTags: []string{"B-LOC"}, PredTags: []string{"O"}}
	for _, p := range []Prediction{w[0], whole, w[1]} {
		if err := sc.Add(p); err != nil {
			t.Fatal(err)
		}
	}
	r, err := sc.Result()
	if err != nil {
		t.Fatal(err)
	}
	if r.Examples != 3 || r.Sentences != 2 || r.Entities.Micro.Support != 2 || r.Entities.Micro.Correct != 1 || r.Score != r.Entities.Micro.F1 || r.Primary != EntityF1 {
		t.Errorf("scorer: %+v %+v", r, r.Entities.Micro)
	}
	a, _ := NewAcc(nerTask)
	if err := a.Add(w[0]); err == nil {
		t.Error("Acc counted a lone window")
	}
}

// Merging partial accumulators (after a JSON trip, as between Beam workers)
// gives the same figures as one accumulator.
func TestAccMergeMatchesSingle(t *testing.T) {
	task := Task{Name: "ner", Kind: model.TokenClassification, Labels: []string{"O", "B-X", "I-X"}, TagScheme: "iob1"}
	preds := []Prediction{
		{Task: "ner", Words: []string{"a", "b"}, GoldTags: []string{"I-X", "O"}, PredTags: []string{"I-X", "O"}, Tokens: 4},
		{Task: "ner", Words: []string{"c"}, GoldTags: []string{"I-X"}, PredTags: []string{"O"}, Tokens: 3},
		{Task: "ner", Words: []string{"d"}, Tokens: 3}, // unlabeled
	}
	one, _ := NewAcc(task)
	for _, p := range preds {
		if err := one.Add(p); err != nil {
			t.Fatal(err)
		}
	}
	a, _ := NewAcc(task)
	b, _ := NewAcc(task)
	a.Add(preds[0])
	b.Add(preds[1])
	b.Add(preds[2])
	var empty Acc
	if err := empty.Merge(b); err != nil {
		t.Fatal(err)
	}
	if err := empty.Merge(a); err != nil {
		t.Fatal(err)
	}
	r1, r2 := one.Result(), empty.Result()
	if r1.Score != r2.Score || r1.Examples != 3 || r2.Examples != 3 || r2.Unlabeled != 1 || r2.Tokens != 10 || r2.Words != 4 {
		t.Errorf("merged %+v\nsingle %+v", r2, r1)
	}
	// gold chunks X[0,1) and X[0,1) of sentence 2; predicted only the first.
	if r1.Entities.Micro.Precision != 1 || r1.Entities.Micro.Recall != 0.5 {
		t.Errorf("entities %+v, want P 1 R 0.5", r1.Entities.Micro)
	}
	other, _ := NewAcc(clsTask)
	if err := other.Merge(a); err == nil {
		t.Error("merged the counts of two tasks")
	}
}

// The primary metric per task kind and scheme, and the names every figure is
// reported under, computed from hand-counted predictions.
func TestResultNames(t *testing.T) {
	cases := []struct {
		task    Task
		preds   []Prediction
		primary string
		score   float64
		names   []string
	}{
		{clsTask, []Prediction{{Gold: 0, Pred: 0}, {Gold: 1, Pred: 2}, {Gold: 2, Pred: 2}, {Gold: -1, Pred: 1}},
			Accuracy, 2.0 / 3, []string{"accuracy", "macro_f1", "mcc", "f1[a]", "f1[b]", "f1[c]"}},
		{regTask, []Prediction{{GoldValue: 1, PredValue: 1}, {GoldValue: 2, PredValue: 3}, {GoldValue: 3, PredValue: 5}},
			Pearson, 1, []string{"pearson", "spearman", "mse"}},
		{nerTask, []Prediction{{Words: []string{"a", "b", "c"}, GoldTags: []string{"B-PER", "O", "B-LOC"}, PredTags: []string{"B-PER", "O", "O"}}},
			EntityF1, 2.0 / 3, []string{"entity_precision", "entity_recall", "entity_f1", "token_accuracy", "entity_f1[LOC]", "entity_f1[PER]"}},
		{Task{Name: "pos", Kind: model.TokenClassification, Labels: []string{"DET", "NOUN"}, TagScheme: "none"},
			[]Prediction{{Words: []string{"a", "b"}, GoldTags: []string{"DET", "NOUN"}, PredTags: []string{"DET", "DET"}}},
			TokenAccuracy, 0.5, []string{"token_accuracy"}},
		{Task{Name: "mlm", Kind: model.MaskedLM}, []Prediction{{Masked: 3, Correct: 2, NLL: 3}, {Masked: 1, NLL: 1}},
			MaskedAccuracy, 0.5, []string{"masked_accuracy", "perplexity", "masked_tokens"}},
	}
	for _, c := range cases {
		a, err := NewAcc(c.task)
		if err != nil {
			t.Fatal(err)
		}
		for _, p := range c.preds {
			p.Task = c.task.Name
			if err := a.Add(p); err != nil {
				t.Fatal(err)
			}
		}
		r := a.Result()
		var names []string
		for _, m := range r.Metrics() {
			names = append(names, m.Name)
		}
		if r.Primary != c.primary || c.task.PrimaryMetric() != c.primary || math.Abs(r.Score-c.score) > 1e-12 || !reflect.DeepEqual(names, c.names) {
			t.Errorf("%s: primary %s = %v, metrics %q; want %s = %v, %q", c.task.Name, r.Primary, r.Score, names, c.primary, c.score, c.names)
		}
		if v, ok := r.Metric(c.primary); !ok || v != r.Score {
			t.Errorf("%s: Metric(%s) = %v, %v", c.task.Name, c.primary, v, ok)
		}
	}
	for _, bad := range []Task{
		{Name: "x", Kind: "language_model"},
		{Name: "x", Kind: model.TokenClassification, Labels: []string{"O"}, TagScheme: "bio"},
		{Name: "x", Kind: model.SequenceClassification},
	} {
		if _, err := NewAcc(bad); err == nil {
			t.Errorf("%+v accepted", bad)
		}
	}
}

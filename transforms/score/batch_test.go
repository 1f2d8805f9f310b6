package score

import (
	"reflect"
	"testing"

	"github.com/taskweave/taskweave/io/shards"
	"github.com/taskweave/taskweave/model"
	"github.com/taskweave/taskweave/model/scoring"
)

func tinyModel(t testing.TB) *model.Model {
	t.Helper()
	cfg := model.Config{VocabSize: 50, HiddenSize: 16, NumHiddenLayers: 1, NumAttentionHeads: 2, IntermediateSize: 32,
		MaxPositionEmbeddings: 32, TypeVocabSize: 2, LayerNormEps: 1e-12, HiddenAct: "gelu"}
	m, err := model.New(cfg, []model.HeadSpec{{Task: "cls", Kind: model.SequenceClassification, NumLabels: 3}}, 7)
	if err != nil {
		t.Fatal(err)
	}
	m.SetTraining(false)
	return m
}

// The DoFn's scoring is model/scoring's: the same predictions as
// scoring.Score on the same rows, each tagged with the model's name and the
// shard its row came from.
func TestScoreRowsKeepsParts(t *testing.T) {
	m := tinyModel(t)
	task := scoring.Task{Name: "cls", Kind: model.SequenceClassification, Labels: []string{"a", "b", "c"}}
	var rows pending
	for i, n := range []int{9, 1, 5, 12, 3} {
		ids := []int32{2}
		for j := 0; j < n; j++ {
			ids = append(ids, int32(5+(j*7+i)%40))
		}
		r := shards.Row{Task: "cls", ExampleID: string(rune('a' + i)), InputIDs: append(ids, 3), Label: int32(i % 3)}
		rows.parts = append(rows.parts, "part-"+r.ExampleID)
		rows.exs = append(rows.exs, scoring.Example(r))
	}
	want := map[string]scoring.Prediction{}
	err := scoring.Score(m, task, rows.exs, scoring.Options{BatchSize: 2}, func(i int, p scoring.Prediction) error {
		want[p.ExampleID] = p
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	err = scoreRows(m, task, "compare", &rows, 2, func(p Prediction) {
		n++
		if p.Model != "compare" || p.Part != "part-"+p.ExampleID || !reflect.DeepEqual(p.Prediction, want[p.ExampleID]) {
			t.Errorf("%+v, want part-%s and %+v", p, p.ExampleID, want[p.ExampleID])
		}
	})
	if err != nil || n != len(rows.exs) {
		t.Fatalf("%d predictions, %v", n, err)
	}
}

// Accumulators cross workers as JSON; merged, they equal one accumulator.
func TestMetricsFnMerge(t *testing.T) {
	tasks := []scoring.Task{{Name: "ner", Kind: model.TokenClassification, Labels: []string{"O", "B-X", "I-X"}, TagScheme: "iob1"}}
	tok := func(words, gold, pred []string) Prediction {
		return Prediction{Model: "model", Prediction: scoring.Prediction{Task: "ner", Kind: model.TokenClassification, Words: words, GoldTags: gold, PredTags: pred, Tokens: 3}}
	}
	preds := []Prediction{
		tok([]string{"a", "b"}, []string{"I-X", "O"}, []string{"I-X", "O"}),
		tok([]string{"c"}, []string{"I-X"}, []string{"O"}),
		tok([]string{"d"}, nil, []string{"O"}),
	}
	f := &MetricsFn{Tasks: tasks}
	one := f.CreateAccumulator()
	for _, p := range preds {
		var err error
		if one, err = f.AddInput(one, p); err != nil {
			t.Fatal(err)
		}
	}
	a, _ := f.AddInput(f.CreateAccumulator(), preds[0])
	b, _ := f.AddInput(f.CreateAccumulator(), preds[1])
	b, _ = f.AddInput(b, preds[2])
	eb, err := encodeAcc(b)
	if err != nil {
		t.Fatal(err)
	}
	db, err := decodeAcc(eb)
	if err != nil {
		t.Fatal(err)
	}
	merged, err := f.MergeAccumulators(f.CreateAccumulator(), db)
	if err != nil {
		t.Fatal(err)
	}
	if merged, err = f.MergeAccumulators(merged, a); err != nil {
		t.Fatal(err)
	}
	r1, r2 := one.Result(), merged.Result()
	if !reflect.DeepEqual(r1, r2) || r2.Examples != 3 || r2.Unlabeled != 1 || r2.Entities.Micro.Recall != 0.5 {
		t.Errorf("merged %+v\nsingle %+v", r2, r1)
	}
	if _, err := f.AddInput(f.CreateAccumulator(), Prediction{Prediction: scoring.Prediction{Task: "pos"}}); err == nil {
		t.Error("a prediction of an unknown task was counted")
	}
}

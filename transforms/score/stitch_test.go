package score

import (
	"reflect"
	"testing"

	"github.com/taskweave/taskweave/model/metrics"
)

func TestStitchWindows(t *testing.T) {
	// "New York City" is cut between windows 0 and 1; windows arrive out of order.
	w := []Prediction{
		{Model: "model", Task: "ner", Kind: KindToken, Part: "p1", ExampleID: "s#w1", Tokens: 5,
			Words: []string{"City", "now"}, GoldTags: []string{"I-LOC", "O"}, PredTags: []string{"I-LOC", "O"}, WordScores: []float32{.5, .6}},
		{Model: "model", Task: "ner", Kind: KindToken, Part: "p0", ExampleID: "s#w0", Tokens: 4,
			Words: []string{"New", "York"}, GoldTags: []string{"B-LOC", "I-LOC"}, PredTags: []string{"B-LOC", "I-LOC"}, WordScores: []float32{.9, .8}},
	}
	var whole []Prediction
	keys := map[string][]Prediction{}
	for _, p := range append(w, Prediction{Task: "ner", Kind: KindToken, ExampleID: "t"}) {
		SplitWindowsFn(p, func(p Prediction) { whole = append(whole, p) }, func(k string, p Prediction) { keys[k] = append(keys[k], p) })
	}
	if len(whole) != 1 || len(keys) != 1 || len(keys["model/ner/s"]) != 2 {
		t.Fatalf("split: whole %v keys %v", whole, keys)
	}
	var got []Prediction
	i := 0
	in := keys["model/ner/s"]
	err := StitchFn("model/ner/s", func(p *Prediction) bool {
		if i == len(in) {
			return false
		}
		*p = in[i]
		i++
		return true
	}, func(p Prediction) { got = append(got, p) })
	if err != nil || len(got) != 1 {
		t.Fatalf("stitch: %v, %d outputs", err, len(got))
	}
	s := got[0]
	if s.ExampleID != "s" || s.Part != "p0" || s.Rows != 2 || s.Tokens != 9 ||
		!reflect.DeepEqual(s.Words, []string{"New", "York", "City", "now"}) ||
		!reflect.DeepEqual(s.GoldTags, []string{"B-LOC", "I-LOC", "I-LOC", "O"}) ||
		!reflect.DeepEqual(s.WordScores, []float32{.9, .8, .5, .6}) {
		t.Errorf("stitched %+v", s)
	}
	// One gold chunk, as in the source sentence; scored per window it would be two.
	e := metrics.NewEntities(metrics.IOB2)
	e.Add(s.GoldTags, s.PredTags)
	if r := e.Result(); r.Micro.Support != 1 || r.Micro.Correct != 1 {
		t.Errorf("stitched sentence gives %+v, want one correct chunk", r.Micro)
	}
	var a Acc
	a, _ = newAcc(TaskSpec{Name: "ner", Kind: KindToken, Labels: []string{"O", "B-LOC", "I-LOC"}, TagScheme: "iob2"})
	a.add(s)
	if a.Examples != 2 || a.Sentences != 1 {
		t.Errorf("examples %d sentences %d, want 2 and 1", a.Examples, a.Sentences)
	}
}

package score

import (
	"reflect"
	"testing"

	"github.com/taskweave/taskweave/model"
	"github.com/taskweave/taskweave/model/scoring"
)

// Windows are routed by model, task and sentence, and stitched back with the
// shard of window 0 (model/scoring tests the joining itself).
func TestSplitAndStitchWindows(t *testing.T) {
	tok := func(id, part string, words ...string) Prediction {
		return Prediction{Model: "model", Part: part, Prediction: scoring.Prediction{Task: "ner", Kind: model.TokenClassification,
			ExampleID: id, Words: words, PredTags: make([]string, len(words))}}
	}
	var whole []Prediction
	keys := map[string][]Prediction{}
	for _, p := range []Prediction{tok("s#w1", "p1", "City"), tok("s#w0", "p0", "New", "York"), tok("t", "p0", "x"),
		{Model: "model", Prediction: scoring.Prediction{Task: "sst2", Kind: model.SequenceClassification, ExampleID: "u#w0"}}} {
		SplitWindowsFn(p, func(p Prediction) { whole = append(whole, p) }, func(k string, p Prediction) { keys[k] = append(keys[k], p) })
	}
	if len(whole) != 2 || len(keys) != 1 || len(keys["model/ner/s"]) != 2 {
		t.Fatalf("split: whole %v keys %v", whole, keys)
	}
	var got []Prediction
	in := keys["model/ner/s"]
	err := StitchFn("model/ner/s", func(p *Prediction) bool {
		if len(in) == 0 {
			return false
		}
		*p, in = in[0], in[1:]
		return true
	}, func(p Prediction) { got = append(got, p) })
	if err != nil || len(got) != 1 {
		t.Fatalf("stitch: %v, %d outputs", err, len(got))
	}
	if s := got[0]; s.ExampleID != "s" || s.Part != "p0" || s.Model != "model" || !reflect.DeepEqual(s.Words, []string{"New", "York", "City"}) {
		t.Errorf("stitched %+v", s)
	}
}

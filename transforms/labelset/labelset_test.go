package labelset

import (
	"reflect"
	"testing"

	"github.com/apache/beam/sdks/v2/go/pkg/beam"
	"github.com/apache/beam/sdks/v2/go/pkg/beam/testing/passert"
	"github.com/apache/beam/sdks/v2/go/pkg/beam/testing/ptest"

	"github.com/taskweave/taskweave/io/corpus"
	"github.com/taskweave/taskweave/transforms/readcorpus"
)

func TestMain(m *testing.M) { ptest.Main(m) }

// TestCollectFnOrderFree: however the labels are split into accumulators and
// merged, the lists come out sorted and the same.
func TestCollectFnOrderFree(t *testing.T) {
	in := []TaskLabel{{"ner", "O"}, {"pos", "NN"}, {"ner", "B-PER"}, {"ner", "O"}, {"pos", "DT"}, {"ner", "I-PER"}, {"pos", "NN"}}
	want := Sets{Tasks: []TaskLabels{{"ner", []string{"B-PER", "I-PER", "O"}}, {"pos", []string{"DT", "NN"}}}}
	var f CollectFn
	for split := 0; split <= len(in); split++ {
		a, b := f.CreateAccumulator(), f.CreateAccumulator()
		for _, l := range in[:split] {
			a = f.AddInput(a, l)
		}
		for i := len(in) - 1; i >= split; i-- { // reversed, for good measure
			b = f.AddInput(b, in[i])
		}
		for _, got := range []Sets{f.ExtractOutput(f.MergeAccumulators(a, b)), f.ExtractOutput(f.MergeAccumulators(b, a))} {
			if !reflect.DeepEqual(got, want) {
				t.Fatalf("split at %d: %+v, want %+v", split, got, want)
			}
		}
	}
	if got := want.Labels("pos"); !reflect.DeepEqual(got, []string{"DT", "NN"}) {
		t.Errorf("Labels(pos) = %q", got)
	}
	if got := want.Labels("sst2"); got != nil {
		t.Errorf("Labels(sst2) = %q, want nil", got)
	}
}

// TestCollect on prism: only the train split of the collected tasks counts.
func TestCollect(t *testing.T) {
	ex := func(task, split, label string, tags ...string) readcorpus.Example {
		return readcorpus.Example{Task: task, Split: split, Record: corpus.Record{Label: label, Tags: tags, Words: make([]string, len(tags))}}
	}
	p, s := beam.NewPipelineWithRoot()
	examples := beam.Create(s,
		ex("sst2", "train", "1"), ex("sst2", "train", "0"), ex("sst2", "validation", "7"),
		ex("ner", "train", "", "B-LOC", "O", "O"), ex("ner", "train", "", "B-PER", "I-PER"), ex("ner", "test", "", "B-MISC"),
		ex("fixed", "train", "x"))
	got := Collect(s, examples, map[string]bool{"sst2": true, "ner": true}, "train")
	passert.Equals(s, got, Sets{Tasks: []TaskLabels{
		{"ner", []string{"B-LOC", "B-PER", "I-PER", "O"}},
		{"sst2", []string{"0", "1"}},
	}})
	if err := ptest.Run(p); err != nil {
		t.Fatal(err)
	}
}

// TestCollectNothing: with no task to collect, the result is still one
// (empty) value, as a singleton side input requires.
func TestCollectNothing(t *testing.T) {
	p, s := beam.NewPipelineWithRoot()
	examples := beam.Create(s, readcorpus.Example{Task: "fixed", Split: "train", Record: corpus.Record{Label: "x"}})
	passert.Equals(s, Collect(s, examples, map[string]bool{}, "train"), Sets{})
	if err := ptest.Run(p); err != nil {
		t.Fatal(err)
	}
}

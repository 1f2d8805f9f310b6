package scan

import (
	"os"
	"path/filepath"
	"reflect"
	"testing"

	"github.com/apache/beam/sdks/v2/go/pkg/beam"
	"github.com/apache/beam/sdks/v2/go/pkg/beam/testing/passert"
	"github.com/apache/beam/sdks/v2/go/pkg/beam/testing/ptest"

	"github.com/taskweave/taskweave/io/corpus"
	"github.com/taskweave/taskweave/transforms/readcorpus"
)

func TestMain(m *testing.M) { ptest.Main(m) }

// TestMergeFnOrderFree: however the files' results are split into
// accumulators and merged, the lists come out sorted and the counts summed.
func TestMergeFnOrderFree(t *testing.T) {
	one := func(task, split string, n int64, labels ...string) Result {
		r := Result{}
		for _, l := range labels {
			r.addLabel(task, l)
		}
		r.addCount(Count{Task: task, Split: split, Records: n})
		return r
	}
	in := []Result{one("ner", "train", 3, "O", "B-PER"), one("pos", "train", 2, "NN"), one("ner", "train", 1, "I-PER", "O"),
		one("pos", "test", 4), one("pos", "train", 1, "DT", "NN")}
	want := Result{
		Tasks:  []TaskLabels{{"ner", []string{"B-PER", "I-PER", "O"}}, {"pos", []string{"DT", "NN"}}},
		Counts: []Count{{"ner", "train", 4}, {"pos", "test", 4}, {"pos", "train", 3}},
	}
	var f MergeFn
	// Accumulators are fresh for each merge: a merge may update its first
	// argument in place, as Beam allows.
	halves := func(split int) (a, b Result) {
		a, b = f.CreateAccumulator(), f.CreateAccumulator()
		for _, r := range in[:split] {
			a = f.AddInput(a, r)
		}
		for i := len(in) - 1; i >= split; i-- { // reversed, for good measure
			b = f.AddInput(b, in[i])
		}
		return a, b
	}
	for split := 0; split <= len(in); split++ {
		a1, b1 := halves(split)
		a2, b2 := halves(split)
		for _, got := range []Result{f.ExtractOutput(f.MergeAccumulators(a1, b1)), f.ExtractOutput(f.MergeAccumulators(b2, a2))} {
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
	if got := want.Records("pos", "train"); got != 3 {
		t.Errorf("Records(pos, train) = %d, want 3", got)
	}
}

// TestScan on prism: labels come from the train split of the collected
// tasks only; every split is counted, rejected records not included.
func TestScan(t *testing.T) {
	dir := t.TempDir()
	write := func(name, text string) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte(text), 0o644); err != nil {
			t.Fatal(err)
		}
		return p
	}
	tsv := corpus.Options{Format: corpus.TSV, TextColumns: []string{"sentence"}, LabelColumn: "label", MaxRecordBytes: 1 << 20}
	conll := corpus.Options{Format: corpus.CoNLL, WordColumn: 0, TagColumn: -1, MaxRecordBytes: 1 << 20}
	read := map[string]readcorpus.Task{"sst2": {Options: tsv, MaxRejectedFraction: 0.5}, "ner": {Options: conll}, "fixed": {Options: tsv}}
	srcs := []readcorpus.Source{
		{Task: "sst2", Split: "train", Path: write("a.tsv", "sentence\tlabel\ngood\t1\nbad\t0\nbroken\n")},
		{Task: "sst2", Split: "validation", Path: write("b.tsv", "sentence\tlabel\nodd\t7\n")},
		{Task: "ner", Split: "train", Path: write("c.conll", "Anna B-PER\nran O\n\nRome B-LOC\n")},
		{Task: "ner", Split: "test", Path: write("d.conll", "Oslo B-MISC\n")},
		{Task: "fixed", Split: "train", Path: write("e.tsv", "sentence\tlabel\nx\tq\n")},
	}
	p, s := beam.NewPipelineWithRoot()
	got := Scan(s, beam.CreateList(s, srcs), &ScanFn{Read: read, Collect: map[string]bool{"sst2": true, "ner": true}, Split: "train"})
	passert.Equals(s, got, Result{
		Tasks: []TaskLabels{{"ner", []string{"B-LOC", "B-PER", "O"}}, {"sst2", []string{"0", "1"}}},
		Counts: []Count{{"fixed", "train", 1}, {"ner", "test", 1}, {"ner", "train", 2},
			{"sst2", "train", 2}, {"sst2", "validation", 1}},
	})
	if err := ptest.Run(p); err != nil {
		t.Fatal(err)
	}
}

// TestScanNothing: with no input, the result is still one (empty) value, as
// a singleton side input requires.
func TestScanNothing(t *testing.T) {
	p, s := beam.NewPipelineWithRoot()
	passert.Equals(s, Scan(s, beam.CreateList(s, []readcorpus.Source{}), &ScanFn{}), Result{})
	if err := ptest.Run(p); err != nil {
		t.Fatal(err)
	}
}

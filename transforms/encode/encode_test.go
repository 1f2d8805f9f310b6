package encode

import (
	"fmt"
	"strings"
	"testing"

	"github.com/apache/beam/sdks/v2/go/pkg/beam"
	"github.com/apache/beam/sdks/v2/go/pkg/beam/register"
	"github.com/apache/beam/sdks/v2/go/pkg/beam/testing/passert"
	"github.com/apache/beam/sdks/v2/go/pkg/beam/testing/ptest"

	"github.com/taskweave/taskweave/io/corpus"
	"github.com/taskweave/taskweave/io/shards"
	"github.com/taskweave/taskweave/transforms/labelset"
	"github.com/taskweave/taskweave/transforms/readcorpus"
	"github.com/taskweave/taskweave/transforms/splitstats"
	"github.com/taskweave/taskweave/transforms/writeshards"
)

func TestMain(m *testing.M) { ptest.Main(m) }

func init() {
	register.Function2x1(showRow)
	register.Function1x1(showStats)
	register.Function1x1(showRejected)
}

func showRow(key string, r shards.Row) string {
	return fmt.Sprintf("%s %s ids=%v label=%d tl=%v", key, r.ExampleID, r.InputIDs, r.Label, r.TokenLabels)
}

func showStats(s splitstats.Stats) string {
	return fmt.Sprintf("%s/%s ex=%d rows=%d tok=%d", s.Task, s.Split, s.Examples, s.Rows, s.Tokens)
}

func showRejected(r readcorpus.Rejected) string {
	return fmt.Sprintf("%s/%s %s:%d", r.Task, r.Split, r.Rejection.File, r.Rejection.Line)
}

// Ids below are line numbers - 1 in the vocabulary: The 1109, film 1273, Anna 3883, ran 1868.
const vocab = "../../testdata/vocab/bert-base-cased-vocab.txt"

func encodeFn() *EncodeFn {
	return &EncodeFn{Vocab: vocab, MaxSeqLen: 16, Shards: 3, Split: "train", Tasks: map[string]Task{
		"sst2": {Type: "sequence_classification", LabelsSetting: "tasks[0].labels in the job spec"},
		"ner":  {Type: "token_classification", TagScheme: "iob2", Labels: []string{"O", "B-PER"}, LabelsSetting: "tasks[1].labels in the job spec"},
	}}
}

func sets() labelset.Sets {
	return labelset.Sets{Tasks: []labelset.TaskLabels{{Task: "sst2", Labels: []string{"0", "1"}}}}
}

// TestEncodeFn on prism: rows keyed by their shard, label ids from the side
// input (collected) or the spec (explicit), per-record counts, and a train
// record with an unknown tag set aside as a rejection.
func TestEncodeFn(t *testing.T) {
	p, s := beam.NewPipelineWithRoot()
	examples := beam.Create(s,
		readcorpus.Example{Task: "sst2", Split: "train", Record: corpus.Record{File: "t.tsv", Line: 2, ID: "t.tsv:1", Text: "The film", Label: "1"}},
		readcorpus.Example{Task: "ner", Split: "train", Record: corpus.Record{File: "n.conll", Line: 1, ID: "n.conll:1", Words: []string{"Anna", "ran"}, Tags: []string{"B-PER", "O"}}},
		readcorpus.Example{Task: "ner", Split: "train", Record: corpus.Record{File: "n.conll", Line: 4, ID: "n.conll:2", Words: []string{"Paris"}, Tags: []string{"B-LOC"}}},
	)
	labels := beam.Create(s, sets())
	rows, stats, rejected := beam.ParDo3(s, encodeFn(), examples, beam.SideInput{Input: labels})
	passert.Equals(s, beam.ParDo(s, showRow, rows),
		fmt.Sprintf("%s t.tsv:1 ids=[101 1109 1273 102] label=1 tl=[]", writeshards.Key("sst2", "train", writeshards.Shard("t.tsv:1", 3))),
		fmt.Sprintf("%s n.conll:1 ids=[101 3883 1868 102] label=-1 tl=[-100 1 0 -100]", writeshards.Key("ner", "train", writeshards.Shard("n.conll:1", 3))))
	passert.Equals(s, beam.ParDo(s, showStats, stats), "sst2/train ex=1 rows=1 tok=4", "ner/train ex=1 rows=1 tok=4")
	passert.Equals(s, beam.ParDo(s, showRejected, rejected), "ner/train n.conll:4")
	if err := ptest.Run(p); err != nil {
		t.Fatal(err)
	}
}

// TestEncodeFnStops: outside the train split an unusable record stops the
// run, naming file, line and where the label list is set.
func TestEncodeFnStops(t *testing.T) {
	cases := []struct {
		ex    readcorpus.Example
		wants []string
	}{
		{readcorpus.Example{Task: "sst2", Split: "validation", Record: corpus.Record{File: "dev.tsv", Line: 9, ID: "dev.tsv:8", Text: "x", Label: "2"}},
			[]string{"dev.tsv:9", `"2"`, "collected from the train split", "tasks[0].labels in the job spec"}},
		{readcorpus.Example{Task: "ner", Split: "test", Record: corpus.Record{File: "test.conll", Line: 30, ID: "test.conll:3", Words: []string{"Paris"}, Tags: []string{"B-LOC"}}},
			[]string{"test.conll:30", `"B-LOC"`, "(the list is tasks[1].labels in the job spec)"}},
	}
	for _, c := range cases {
		p, s := beam.NewPipelineWithRoot()
		beam.ParDo3(s, encodeFn(), beam.Create(s, c.ex), beam.SideInput{Input: beam.Create(s, sets())})
		err := ptest.Run(p)
		if err == nil {
			t.Fatalf("%s: pipeline succeeded", c.ex.Record.File)
		}
		for _, w := range c.wants {
			if !strings.Contains(err.Error(), w) {
				t.Errorf("error lacks %q:\n%v", w, err)
			}
		}
	}
}

package encode

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/apache/beam/sdks/v2/go/pkg/beam"
	"github.com/apache/beam/sdks/v2/go/pkg/beam/register"
	"github.com/apache/beam/sdks/v2/go/pkg/beam/testing/passert"
	"github.com/apache/beam/sdks/v2/go/pkg/beam/testing/ptest"

	"github.com/taskweave/taskweave/io/corpus"
	"github.com/taskweave/taskweave/io/shards"
	"github.com/taskweave/taskweave/transforms/readcorpus"
	"github.com/taskweave/taskweave/transforms/scan"
	"github.com/taskweave/taskweave/transforms/splitstats"
	"github.com/taskweave/taskweave/transforms/writeshards"
)

func TestMain(m *testing.M) { ptest.Main(m) }

func init() {
	register.Function1x1(showStats)
	register.Function1x1(showRejected)
}

func showStats(s splitstats.Stats) string {
	return fmt.Sprintf("%s/%s ex=%d rows=%d tok=%d", s.Task, s.Split, s.Examples, s.Rows, s.Tokens)
}

func showRejected(r readcorpus.Rejected) string {
	return fmt.Sprintf("%s/%s %s:%d", r.Task, r.Split, filepath.Base(r.Rejection.File), r.Rejection.Line)
}

// Ids below are line numbers - 1 in the vocabulary: The 1109, film 1273, Anna 3883, ran 1868.
const vocab = "../../testdata/vocab/bert-base-cased-vocab.txt"

var (
	tsv   = corpus.Options{Format: corpus.TSV, TextColumns: []string{"sentence"}, LabelColumn: "label", MaxRecordBytes: 1 << 20}
	conll = corpus.Options{Format: corpus.CoNLL, WordColumn: 0, TagColumn: -1, MaxRecordBytes: 1 << 20}
)

func encodeFn(tmp string, shards int) *EncodeFn {
	return &EncodeFn{Vocab: vocab, MaxSeqLen: 16, Shards: shards, Split: "train", Tmp: tmp, Tasks: map[string]Task{
		"sst2": {Type: "sequence_classification", LabelsSetting: "tasks[0].labels in the job spec", Read: readcorpus.Task{Options: tsv, MaxRejectedFraction: 1}},
		"ner": {Type: "token_classification", TagScheme: "iob2", Labels: []string{"O", "B-PER"}, LabelsSetting: "tasks[1].labels in the job spec",
			Read: readcorpus.Task{Options: conll, MaxRejectedFraction: 1}},
	}}
}

func scanned(counts ...scan.Count) scan.Result {
	return scan.Result{Tasks: []scan.TaskLabels{{Task: "sst2", Labels: []string{"0", "1"}}}, Counts: counts}
}

func writeFile(t *testing.T, dir, name, text string) string {
	t.Helper()
	p := filepath.Join(dir, name)
	if err := os.WriteFile(p, []byte(text), 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

// encodeAndMerge runs EncodeFn and the shard merge on prism and returns the
// pipeline's error.
func encodeAndMerge(s beam.Scope, fn *EncodeFn, srcs []readcorpus.Source, sc scan.Result, keys []string, out string) (beam.PCollection, beam.PCollection) {
	side := beam.Create(s, sc)
	runs, stats, rejected := beam.ParDo3(s, fn, beam.CreateList(s, srcs), beam.SideInput{Input: side})
	writeshards.Merge(s, runs, beam.CreateList(s, keys), out)
	return stats, rejected
}

// TestEncodeFn on prism: a file's rows reach their shards with label ids
// from the side input (collected) or the spec (explicit), one count per
// file, and a train record with an unknown tag set aside as a rejection.
func TestEncodeFn(t *testing.T) {
	dir, out := t.TempDir(), t.TempDir()
	srcs := []readcorpus.Source{
		{Task: "sst2", Split: "train", Path: writeFile(t, dir, "t.tsv", "sentence\tlabel\nThe film\t1\n")},
		{Task: "ner", Split: "train", Path: writeFile(t, dir, "n.conll", "Anna B-PER\nran O\n\nParis B-LOC\n")},
	}
	sc := scanned(scan.Count{Task: "ner", Split: "train", Records: 2}, scan.Count{Task: "sst2", Split: "train", Records: 1})
	keys := []string{writeshards.Key("sst2", "train", 0, 1), writeshards.Key("ner", "train", 0, 2), writeshards.Key("ner", "train", 1, 2)}
	p, s := beam.NewPipelineWithRoot()
	stats, rejected := encodeAndMerge(s, encodeFn(t.TempDir(), 3), srcs, sc, keys, out)
	passert.Equals(s, beam.ParDo(s, showStats, stats), "sst2/train ex=1 rows=1 tok=4", "ner/train ex=1 rows=1 tok=4")
	passert.Equals(s, beam.ParDo(s, showRejected, rejected), "ner/train n.conll:4")
	if err := ptest.Run(p); err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, rel := range []string{shards.RelPath("sst2", "train", 0, 1), shards.RelPath("ner", "train", 0, 2), shards.RelPath("ner", "train", 1, 2)} {
		rows, err := shards.ReadAll(context.Background(), filepath.Join(out, rel))
		if err != nil {
			t.Fatal(err)
		}
		for _, r := range rows {
			got = append(got, fmt.Sprintf("%s %s ids=%v label=%d tl=%v", rel, r.ExampleID, r.InputIDs, r.Label, r.TokenLabels))
		}
	}
	want := []string{
		fmt.Sprintf("%s t.tsv:1 ids=[101 1109 1273 102] label=1 tl=[]", shards.RelPath("sst2", "train", 0, 1)),
		fmt.Sprintf("%s n.conll:1 ids=[101 3883 1868 102] label=-1 tl=[-100 1 0 -100]", shards.RelPath("ner", "train", writeshards.Shard("n.conll:1", 2), 2)),
	}
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Errorf("rows:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
}

// TestSpillSizeDoesNotChangeShards: one file encoded on every core with a
// spill so small that each shard gets many runs gives the same shard bytes
// as one spill per shard.
func TestSpillSizeDoesNotChangeShards(t *testing.T) {
	dir := t.TempDir()
	var b strings.Builder
	b.WriteString("sentence\tlabel\n")
	for i := range 3000 {
		fmt.Fprintf(&b, "The film %d ran %s\t%d\n", i, strings.Repeat("Anna ", i%20), i%2)
	}
	srcs := []readcorpus.Source{{Task: "sst2", Split: "train", Path: writeFile(t, dir, "big.tsv", b.String())}}
	sc := scanned(scan.Count{Task: "sst2", Split: "train", Records: 3000})
	keys := []string{writeshards.Key("sst2", "train", 0, 2), writeshards.Key("sst2", "train", 1, 2)}
	outs := map[int64]string{}
	for _, size := range []int64{16 << 10, 1 << 30} {
		tmp, out := t.TempDir(), t.TempDir()
		fn := encodeFn(tmp, 2)
		fn.SpillSize = size
		p, s := beam.NewPipelineWithRoot()
		encodeAndMerge(s, fn, srcs, sc, keys, out)
		if err := ptest.Run(p); err != nil {
			t.Fatal(err)
		}
		runs, _ := filepath.Glob(filepath.Join(tmp, "*.run"))
		t.Logf("spill size %d: %d run files", size, len(runs))
		if size < 1<<20 && len(runs) < 10 {
			t.Errorf("spill size %d gave %d runs; the test needs many", size, len(runs))
		}
		outs[size] = out
	}
	for i := range 2 {
		small, err1 := os.ReadFile(shards.ShardPath(outs[16<<10], "sst2", "train", i, 2))
		whole, err2 := os.ReadFile(shards.ShardPath(outs[1<<30], "sst2", "train", i, 2))
		if err1 != nil || err2 != nil || !bytes.Equal(small, whole) || len(whole) < 1000 {
			t.Errorf("shard %d differs between spill sizes (%d vs %d bytes; %v %v)", i, len(small), len(whole), err1, err2)
		}
	}
}

// TestEncodeFnStops: outside the train split an unusable record stops the
// run, naming file, line and where the label list is set.
func TestEncodeFnStops(t *testing.T) {
	dir := t.TempDir()
	cases := []struct {
		src   readcorpus.Source
		wants []string
	}{
		{readcorpus.Source{Task: "sst2", Split: "validation", Path: writeFile(t, dir, "dev.tsv", "sentence\tlabel\nx\t1\ny\t2\n")},
			[]string{"dev.tsv:3", `"2"`, "collected from the train split", "tasks[0].labels in the job spec"}},
		{readcorpus.Source{Task: "ner", Split: "test", Path: writeFile(t, dir, "test.conll", "Anna B-PER\n\nParis B-LOC\n")},
			[]string{"test.conll:3", `"B-LOC"`, "(the list is tasks[1].labels in the job spec)"}},
	}
	for _, c := range cases {
		p, s := beam.NewPipelineWithRoot()
		sc := scanned(scan.Count{Task: c.src.Task, Split: c.src.Split, Records: 2})
		beam.ParDo3(s, encodeFn(t.TempDir(), 1), beam.Create(s, c.src), beam.SideInput{Input: beam.Create(s, sc)})
		err := ptest.Run(p)
		if err == nil {
			t.Fatalf("%s: pipeline succeeded", c.src.Path)
		}
		for _, w := range c.wants {
			if !strings.Contains(err.Error(), w) {
				t.Errorf("error lacks %q:\n%v", w, err)
			}
		}
	}
}

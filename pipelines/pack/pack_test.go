package pack

import (
	"context"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/apache/beam/sdks/v2/go/pkg/beam/testing/ptest"

	"github.com/taskweave/taskweave/io/corpus"
	"github.com/taskweave/taskweave/io/manifest"
	"github.com/taskweave/taskweave/io/shards"
	"github.com/taskweave/taskweave/pipelines/preprocess"
)

const vocab = "../../testdata/vocab/bert-base-cased-vocab.txt"

// preprocessed runs the real preprocess pipeline over a text task (story)
// and SST-2's demo sample (train and validation) into dir/data. storyTrain
// is the story task's train file list.
func preprocessed(t *testing.T, dir string, storyTrain ...string) string {
	t.Helper()
	abs := func(p string) string { a, _ := filepath.Abs(p); return a }
	for i := range storyTrain {
		storyTrain[i] = abs(storyTrain[i])
	}
	cfg := preprocess.Config{Out: filepath.Join(dir, "data"), Shards: 2, MaxRejectedFraction: 0.01, Vocab: abs(vocab), MaxSeqLen: 32,
		Tasks: []preprocess.Task{
			{Name: "story", Type: "masked_lm", Paths: map[string][]string{"train": storyTrain},
				Read: corpus.Options{Format: corpus.Text, MaxRecordBytes: 1 << 20}},
			{Name: "sst2", Type: "sequence_classification", Paths: map[string][]string{
				"train":      {abs("../../testdata/demo/sst2-train.tsv")},
				"validation": {abs("../../testdata/demo/sst2-validation.tsv")}},
				Read: corpus.Options{Format: corpus.TSV, TextColumns: []string{"sentence"}, LabelColumn: "label", MaxRecordBytes: 1 << 20}},
		}}
	if _, err := preprocess.Run(context.Background(), cfg, preprocess.Options{}); err != nil {
		t.Fatal(err)
	}
	return cfg.Out
}

// readSplit returns every row of a split of a data directory.
func readSplit(t *testing.T, dir, task, split string) []shards.Row {
	t.Helper()
	mp := manifest.Path(dir)
	m, err := manifest.Read(context.Background(), mp)
	if err != nil {
		t.Fatal(err)
	}
	paths, err := m.ShardPaths(mp, task, split)
	if err != nil {
		t.Fatal(err)
	}
	var rows []shards.Row
	for _, p := range paths {
		r, err := shards.ReadAll(context.Background(), p)
		if err != nil {
			t.Fatal(err)
		}
		rows = append(rows, r...)
	}
	return rows
}

// pieceCounts counts every id but [CLS] (101) and [SEP] (102).
func pieceCounts(rows []shards.Row) map[int32]int {
	c := map[int32]int{}
	for _, r := range rows {
		for _, id := range r.InputIDs {
			if id != 101 && id != 102 {
				c[id]++
			}
		}
	}
	return c
}

// Packing reads the sources' train text and nothing else: the pieces of
// the packed train and validation splits together are exactly the pieces
// of the sources' train rows (SST-2's validation sentences are not there),
// every packed row is full but a document's last, and the manifest says so.
func TestPackReadsTrainTextOnly(t *testing.T) {
	dir := t.TempDir()
	data := preprocessed(t, dir, "testdata/story.txt")
	cfg := Config{Data: data, Vocab: vocab, Sources: []string{"story", "sst2"}, Out: filepath.Join(dir, "packed"), Holdout: 0.4, Shards: 2}
	res, err := Run(context.Background(), cfg, "")
	if err != nil {
		t.Fatal(err)
	}
	train, val := readSplit(t, cfg.Out, Task, "train"), readSplit(t, cfg.Out, Task, "validation")
	if len(val) == 0 || len(train) == 0 {
		t.Fatalf("%d train and %d validation rows; want both (a share of the documents held out)", len(train), len(val))
	}
	want := pieceCounts(append(readSplit(t, data, "story", "train"), readSplit(t, data, "sst2", "train")...))
	got := pieceCounts(append(slices.Clone(train), val...))
	if !mapsEqual(got, want) {
		t.Fatalf("the packed pieces differ from the sources' train pieces (%d vs %d distinct)", len(got), len(want))
	}
	devOnly := 0
	for id := range pieceCounts(readSplit(t, data, "sst2", "validation")) {
		if want[id] == 0 {
			devOnly++
			if got[id] != 0 {
				t.Fatalf("piece %d occurs only in SST-2's validation split, yet it was packed", id)
			}
		}
	}
	if devOnly == 0 {
		t.Fatal("the check is empty: no piece is unique to the validation split")
	}
	short := map[string]int{}
	for _, r := range append(train, val...) {
		if len(r.InputIDs) > 32 || r.InputIDs[0] != 101 || r.InputIDs[len(r.InputIDs)-1] != 102 {
			t.Fatalf("row %s is not [CLS] … [SEP] within 32: %v", r.ExampleID, r.InputIDs)
		}
		if len(r.InputIDs) < 32 {
			short[r.ExampleID[:strings.LastIndexByte(r.ExampleID, '#')]]++
		}
	}
	for doc, n := range short {
		if n > 1 {
			t.Fatalf("document %s has %d short rows; only its last may be short", doc, n)
		}
	}
	st := res.Manifest.Tasks[Task].Splits["train"]
	if st.Examples != int64(len(train)) || res.Manifest.Tasks[Task].Type != manifest.MaskedLM {
		t.Fatalf("manifest: %+v", res.Manifest.Tasks[Task])
	}
	again, err := Run(context.Background(), cfg, "")
	if err != nil || !again.UpToDate {
		t.Fatalf("a second run with nothing changed: up to date %v, %v", again != nil && again.UpToDate, err)
	}
}

func mapsEqual(a, b map[int32]int) bool {
	if len(a) != len(b) {
		return false
	}
	for k, v := range a {
		if b[k] != v {
			return false
		}
	}
	return true
}

// A job whose pre-training source trains on a file another task is
// evaluated on is refused, naming the file and the split.
func TestPackRefusesEvaluatedText(t *testing.T) {
	dir := t.TempDir()
	dev, _ := filepath.Abs("../../testdata/demo/sst2-validation.tsv")
	data := preprocessed(t, dir, "testdata/story.txt", dev)
	_, err := Run(context.Background(), Config{Data: data, Vocab: vocab, Sources: []string{"story"}, Out: filepath.Join(dir, "packed"), Holdout: 0.05, Shards: 1}, "")
	if err == nil || !strings.Contains(err.Error(), "sst2-validation.tsv is also task sst2's validation split") {
		t.Fatalf("err = %v, want a refusal naming sst2-validation.tsv", err)
	}
}

func TestMain(m *testing.M) { ptest.Main(m) }

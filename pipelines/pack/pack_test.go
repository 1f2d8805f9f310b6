package pack

import (
	"context"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/apache/beam/sdks/v2/go/pkg/beam/testing/ptest"

	"github.com/taskweave/taskweave/io/corpus"
	"github.com/taskweave/taskweave/io/manifest"
	"github.com/taskweave/taskweave/io/shards"
	"github.com/taskweave/taskweave/pipelines/preprocess"
	tpack "github.com/taskweave/taskweave/transforms/pack"
	"github.com/taskweave/taskweave/transforms/writeshards"
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

// writeText writes n lines of random words from a small list to dir/name.
func writeText(t *testing.T, dir, name string, n int, r *rand.Rand) string {
	t.Helper()
	words := strings.Fields("the cat sat on a mat while two dogs ran far away from home and never came back to town")
	var b strings.Builder
	for range n {
		for j := range 3 + r.IntN(12) {
			if j > 0 {
				b.WriteByte(' ')
			}
			b.WriteString(words[r.IntN(len(words))])
		}
		b.WriteByte('\n')
	}
	p := filepath.Join(dir, name)
	if err := os.WriteFile(p, []byte(b.String()), 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

// reference packs rows as the documented algorithm does, all in memory:
// group by DocKey, sort each document by NaturalCompare of the ids, strip
// [CLS]/[SEP], Pack, hold a document out by Held, file each row under
// writeshards.Shard of its id, and order each shard by NaturalCompare.
func reference(rows []shards.Row, maxLen, n int, holdout float64) map[string][]shards.Row {
	docs := map[string][]tpack.Sentence{}
	for _, r := range rows {
		k := tpack.DocKey(r.Task, r.ExampleID)
		docs[k] = append(docs[k], tpack.Sentence{ID: r.ExampleID, Pieces: r.InputIDs[1 : len(r.InputIDs)-1]})
	}
	out := map[string][]shards.Row{}
	for k, sents := range docs {
		slices.SortFunc(sents, func(a, b tpack.Sentence) int { return writeshards.NaturalCompare(a.ID, b.ID) })
		split := tpack.Train
		if tpack.Held(k, holdout) {
			split = tpack.Validation
		}
		for i, ids := range tpack.Pack(sents, maxLen, 101, 102) {
			id := k + "#" + strconv.Itoa(i)
			rel := shards.RelPath(Task, split, writeshards.Shard(id, n), n)
			out[rel] = append(out[rel], shards.Row{ExampleID: id, InputIDs: ids})
		}
	}
	for _, rs := range out {
		slices.SortFunc(rs, func(a, b shards.Row) int { return writeshards.NaturalCompare(a.ExampleID, b.ExampleID) })
	}
	return out
}

// The flat pipeline (spilled sentences merged by document, packed rows
// spilled by shard) writes exactly the shards of the in-memory algorithm,
// row for row and in order, over documents spread across the source's
// shards, files cut into several ChunkRecords documents, and file names
// whose digit runs are equal as numbers (x1, x01) or prefixes (x1, x12),
// which must not interleave in the merge.
func TestPackMatchesInMemoryPacking(t *testing.T) {
	dir := t.TempDir()
	r := rand.New(rand.NewPCG(7, 8))
	files := []string{writeText(t, dir, "x1.txt", 300, r), writeText(t, dir, "x01.txt", 20, r),
		writeText(t, dir, "x12.txt", 5, r), writeText(t, dir, "y.txt", 600, r)}
	data := preprocessed(t, dir, files...)
	src := append(readSplit(t, data, "story", "train"), readSplit(t, data, "sst2", "train")...)
	docs := map[string]bool{}
	for _, r := range src {
		docs[tpack.DocKey(r.Task, r.ExampleID)] = true
	}
	if len(docs) < 8 {
		t.Fatalf("only %d documents: the check needs several per bucket", len(docs))
	}
	// One shard: every document in one bucket's merge; three: buckets and
	// shards of their own.
	for _, n := range []int{1, 3} {
		cfg := Config{Data: data, Vocab: vocab, Sources: []string{"story", "sst2"}, Out: filepath.Join(dir, fmt.Sprint("packed", n)), Holdout: 0.3, Shards: n}
		rows := checkAgainstReference(t, cfg, reference(src, 32, n, cfg.Holdout))
		t.Logf("%d shards: %d packed rows from %d source rows in %d documents", n, rows, len(src), len(docs))
	}
}

// checkAgainstReference packs cfg and compares every shard with want,
// returning the rows compared.
func checkAgainstReference(t *testing.T, cfg Config, want map[string][]shards.Row) int {
	t.Helper()
	res, err := Run(context.Background(), cfg, "")
	if err != nil {
		t.Fatal(err)
	}
	rows := 0
	for _, split := range []string{tpack.Train, tpack.Validation} {
		for _, rel := range res.Manifest.Tasks[Task].Splits[split].Shards {
			got, err := shards.ReadAll(context.Background(), filepath.Join(cfg.Out, rel))
			if err != nil {
				t.Fatal(err)
			}
			if len(got) != len(want[rel]) {
				t.Fatalf("%s: %d rows, want %d", rel, len(got), len(want[rel]))
			}
			for i := range got {
				if got[i].ExampleID != want[rel][i].ExampleID || !slices.Equal(got[i].InputIDs, want[rel][i].InputIDs) {
					t.Fatalf("%s row %d: %s %v, want %s %v", rel, i, got[i].ExampleID, got[i].InputIDs, want[rel][i].ExampleID, want[rel][i].InputIDs)
				}
			}
			rows += len(got)
		}
	}
	return rows
}

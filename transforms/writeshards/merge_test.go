package writeshards

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/apache/beam/sdks/v2/go/pkg/beam"
	"github.com/apache/beam/sdks/v2/go/pkg/beam/testing/ptest"

	"github.com/taskweave/taskweave/io/shards"
)

// testRows makes n rows of one split whose ids arrive out of order, some
// with windows, and whose lists have varied lengths.
func testRows(n int) [][]shards.Row {
	var recs [][]shards.Row
	for i := n - 1; i >= 0; i-- {
		id := fmt.Sprintf("f:%d", i*7%n)
		ids := []int32{101, int32(1000 + i), 102}
		row := shards.Row{Task: "ner", Split: "train", ExampleID: id, InputIDs: ids, TokenTypeIDs: make([]int32, 3),
			Label: -1, TokenLabels: []int32{-100, int32(i % 3), -100}, WordIDs: []int32{-1, 0, -1}, Words: []string{fmt.Sprint("w", i)}}
		rows := []shards.Row{row}
		if i%5 == 0 { // a windowed record: both windows share the record's shard
			w0, w1 := row, row
			w0.ExampleID, w1.ExampleID = id+"#w0", id+"#w1"
			rows = []shards.Row{w1, w0}
		}
		recs = append(recs, rows)
	}
	return recs
}

// spillAll files recs into a spill from two goroutines, as the encoder does.
func spillAll(t *testing.T, dir string, recs [][]shards.Row, n int, limit int64) []Run {
	t.Helper()
	sp := NewSpill(dir, "ner", "train", n, limit)
	var wg sync.WaitGroup
	errs := make(chan error, 2)
	for g := range 2 {
		wg.Go(func() {
			for i := g; i < len(recs); i += 2 {
				id, _, _ := strings.Cut(recs[i][0].ExampleID, "#")
				if err := sp.Add(context.Background(), id, recs[i]); err != nil {
					errs <- err
					return
				}
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
	runs, err := sp.Close(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	return runs
}

// merge runs Merge on prism over runs, with n shard keys for ner/train and
// two for ner/validation (which no run feeds).
func merge(t *testing.T, out string, runs []Run, n int) error {
	t.Helper()
	var keys []string
	for i := range n {
		keys = append(keys, Key("ner", "train", i, n))
	}
	keys = append(keys, Key("ner", "validation", 0, 2), Key("ner", "validation", 1, 2))
	p, s := beam.NewPipelineWithRoot()
	Merge(s, beam.CreateList(s, runs), beam.CreateList(s, keys), out)
	return ptest.Run(p)
}

// TestSpillMerge on prism: rows spilled in many small sorted runs from two
// goroutines and merged give, byte for byte, the shards that writing each
// shard's rows sorted in one call gives (what preprocess wrote before the
// spill existed); every expected shard exists, an unfed one empty.
func TestSpillMerge(t *testing.T) {
	const n = 3
	recs := testRows(300)
	tmp, out := t.TempDir(), t.TempDir()
	runs := spillAll(t, tmp, recs, n, 4<<10)
	if len(runs) < 3*n {
		t.Fatalf("%d runs; the limit should have forced several per shard", len(runs))
	}
	if err := merge(t, out, runs, n); err != nil {
		t.Fatal(err)
	}
	want := make([][]shards.Row, n)
	for _, rows := range recs {
		sh := Shard(strings.Split(rows[0].ExampleID, "#")[0], n)
		want[sh] = append(want[sh], rows...)
	}
	for i := range n {
		slices.SortFunc(want[i], func(a, b shards.Row) int { return NaturalCompare(a.ExampleID, b.ExampleID) })
		ref := filepath.Join(t.TempDir(), "ref.parquet")
		if err := shards.WriteFile(context.Background(), ref, want[i]); err != nil {
			t.Fatal(err)
		}
		wantBytes, _ := os.ReadFile(ref)
		got, err := os.ReadFile(shards.ShardPath(out, "ner", "train", i, n))
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(got, wantBytes) {
			t.Errorf("shard %d: %d bytes differ from the one-call write's %d", i, len(got), len(wantBytes))
		}
	}
	for i := range 2 {
		got, err := shards.ReadAll(context.Background(), shards.ShardPath(out, "ner", "validation", i, 2))
		if err != nil || len(got) != 0 {
			t.Errorf("validation shard %d: %d rows, %v; want an empty shard", i, len(got), err)
		}
	}
}

// TestMergeDuplicateID: an id in two runs (two files with one base name)
// stops the merge, naming the id and the fix.
func TestMergeDuplicateID(t *testing.T) {
	recs := testRows(20)
	tmp, out := t.TempDir(), t.TempDir()
	runs := spillAll(t, tmp, recs, 1, 1<<30)
	runs = append(runs, spillAll(t, tmp, recs[3:4], 1, 1<<30)...)
	err := merge(t, out, runs, 1)
	if err == nil || !strings.Contains(err.Error(), `example id "f:`) || !strings.Contains(err.Error(), "share a base name") {
		t.Errorf("duplicate id: %v", err)
	}
}

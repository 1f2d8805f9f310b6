package writeshards

import (
	"bufio"
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"slices"
	"testing"

	"github.com/apache/beam/sdks/v2/go/pkg/beam"
	"github.com/apache/beam/sdks/v2/go/pkg/beam/register"
	"github.com/apache/beam/sdks/v2/go/pkg/beam/testing/ptest"

	"github.com/taskweave/taskweave/io/corpus"
	"github.com/taskweave/taskweave/io/shards"
	"github.com/taskweave/taskweave/transforms/readcorpus"
)

func TestMain(m *testing.M) { ptest.Main(m) }

func init() {
	register.Function1x2(keyRow)
	register.Function1x2(mark)
}

func keyRow(r shards.Row) (string, shards.Row) { return Key(r.Task, r.Split, Shard(r.ExampleID, 2)), r }
func mark(key string) (string, int)            { return key, 0 }

func TestNaturalCompare(t *testing.T) {
	sorted := []string{"", "a", "a:1", "a:2", "a:9", "a:010", "a:10", "a:10#w0", "a:10#w1", "a:10#w2", "a:10#w10", "a:11", "b.txt:1", "b.txt:100", "b2", "b10"}
	for i := range sorted {
		for j := range sorted {
			got := NaturalCompare(sorted[i], sorted[j])
			want := 0
			if i < j {
				want = -1
			} else if i > j {
				want = 1
			}
			if got != want {
				t.Errorf("NaturalCompare(%q, %q) = %d, want %d", sorted[i], sorted[j], got, want)
			}
		}
	}
}

// TestShard pins the hash: FNV-1a 64 (offset basis 14695981039346656037,
// prime 1099511628211) of the id, mod n. Values computed with Python:
// h = 0xcbf29ce484222325; for b in s.encode(): h = ((h ^ b) * 0x100000001b3) % 2**64
func TestShard(t *testing.T) {
	for _, c := range []struct {
		id    string
		n, at int
	}{
		{"train.txt:1", 4, 2}, {"train.txt:2", 4, 3}, {"train_full.tsv:67349", 7, 4}, {"", 10, 7},
	} {
		if got := Shard(c.id, c.n); got != c.at {
			t.Errorf("Shard(%q, %d) = %d, want %d", c.id, c.n, got, c.at)
		}
	}
	task, split, shard, err := ParseKey(Key("ner", "train", 12))
	if err != nil || task != "ner" || split != "train" || shard != 12 {
		t.Errorf("ParseKey(Key(ner, train, 12)) = %s %s %d %v", task, split, shard, err)
	}
}

// TestWriteFn on prism: every expected shard is written (one that no row
// hashed to is empty but present), rows sorted by example id.
func TestWriteFn(t *testing.T) {
	out := t.TempDir()
	var rows []shards.Row
	for _, id := range []string{"f:10", "f:2", "f:1", "f:3#w1", "f:3#w0", "f:33"} {
		rows = append(rows, shards.Row{Task: "ner", Split: "train", ExampleID: id, InputIDs: []int32{101, 102}, Label: -1})
	}
	p, s := beam.NewPipelineWithRoot()
	keyed := beam.ParDo(s, keyRow, beam.CreateList(s, rows))
	marks := beam.ParDo(s, mark, beam.Create(s, Key("ner", "train", 0), Key("ner", "train", 1), Key("ner", "validation", 0), Key("ner", "validation", 1)))
	beam.ParDo0(s, &WriteFn{Out: out, Shards: 2}, beam.CoGroupByKey(s, keyed, marks))
	if err := ptest.Run(p); err != nil {
		t.Fatal(err)
	}
	var ids []string
	for _, rel := range []string{"ner/train/part-00000-of-00002.parquet", "ner/train/part-00001-of-00002.parquet"} {
		got, err := shards.ReadAll(context.Background(), filepath.Join(out, rel))
		if err != nil {
			t.Fatal(err)
		}
		var shardIDs []string
		for _, r := range got {
			shardIDs = append(shardIDs, r.ExampleID)
		}
		if !slices.IsSortedFunc(shardIDs, NaturalCompare) {
			t.Errorf("%s: %q not sorted", rel, shardIDs)
		}
		ids = append(ids, shardIDs...)
	}
	slices.SortFunc(ids, NaturalCompare)
	if want := []string{"f:1", "f:2", "f:3#w0", "f:3#w1", "f:10", "f:33"}; !slices.Equal(ids, want) {
		t.Errorf("rows %q, want %q", ids, want)
	}
	for _, rel := range []string{"ner/validation/part-00000-of-00002.parquet", "ner/validation/part-00001-of-00002.parquet"} {
		got, err := shards.ReadAll(context.Background(), filepath.Join(out, rel))
		if err != nil || len(got) != 0 {
			t.Errorf("%s: %d rows, %v; want an empty shard", rel, len(got), err)
		}
	}
}

// TestWriteRejectedFn: one JSON line per rejection, sorted by file and line.
func TestWriteRejectedFn(t *testing.T) {
	out := t.TempDir()
	rej := func(split, file string, line int) readcorpus.Rejected {
		return readcorpus.Rejected{Task: "sent", Split: split, Rejection: corpus.Rejection{File: file, Line: line, Reason: "bad", Raw: "x\ty"}}
	}
	p, s := beam.NewPipelineWithRoot()
	in := beam.Create(s, rej("validation", "dev.tsv", 7), rej("train", "train.tsv", 12), rej("train", "train.tsv", 3))
	beam.ParDo0(s, &WriteRejectedFn{Out: out}, beam.GroupByKey(s, KeyRejections(s, in)))
	if err := ptest.Run(p); err != nil {
		t.Fatal(err)
	}
	f, err := os.Open(filepath.Join(out, "rejected", "sent.jsonl"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var got []string
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		var m map[string]any
		if err := json.Unmarshal(sc.Bytes(), &m); err != nil {
			t.Fatal(err)
		}
		got = append(got, sc.Text())
	}
	want := []string{
		`{"split":"validation","file":"dev.tsv","line":7,"reason":"bad","raw":"x\ty"}`,
		`{"split":"train","file":"train.tsv","line":3,"reason":"bad","raw":"x\ty"}`,
		`{"split":"train","file":"train.tsv","line":12,"reason":"bad","raw":"x\ty"}`,
	}
	if !slices.Equal(got, want) {
		t.Errorf("rejected file:\n%s\nwant:\n%s", got, want)
	}
}

package writeshards

import (
	"bufio"
	"encoding/json"
	"os"
	"path/filepath"
	"slices"
	"testing"

	"github.com/apache/beam/sdks/v2/go/pkg/beam"
	"github.com/apache/beam/sdks/v2/go/pkg/beam/testing/ptest"

	"github.com/taskweave/taskweave/io/corpus"
	"github.com/taskweave/taskweave/transforms/readcorpus"
)

func TestMain(m *testing.M) { ptest.Main(m) }

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
	task, split, shard, n, err := ParseKey(Key("ner", "train", 12, 13))
	if err != nil || task != "ner" || split != "train" || shard != 12 || n != 13 {
		t.Errorf("ParseKey(Key(ner, train, 12, 13)) = %s %s %d %d %v", task, split, shard, n, err)
	}
	for _, bad := range []string{"ner/train/12", "ner/train/13/13", "ner/train/x/2"} {
		if _, _, _, _, err := ParseKey(bad); err == nil {
			t.Errorf("ParseKey(%q) accepted", bad)
		}
	}
}

// TestCount: the shard count is the count asked for, capped by the records.
func TestCount(t *testing.T) {
	for _, c := range []struct {
		asked   int
		records int64
		want    int
	}{{8, 67349, 8}, {5000, 1521, 1521}, {5000, 1, 1}, {3, 0, 1}, {1, 1 << 40, 1}} {
		if got := Count(c.asked, c.records); got != c.want {
			t.Errorf("Count(%d, %d) = %d, want %d", c.asked, c.records, got, c.want)
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

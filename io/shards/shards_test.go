package shards_test

import (
	"bytes"
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"math/rand/v2"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/parquet-go/parquet-go"
	"github.com/parquet-go/parquet-go/format"
	"github.com/taskweave/taskweave/io/shards"
	"github.com/taskweave/taskweave/io/shards/duckcheck"
	"github.com/taskweave/taskweave/io/storage"
	"github.com/taskweave/taskweave/io/storage/gcstest"
)

// makeRows builds n varied rows: sentence and token examples, empty lists,
// non-ASCII text and quotes, so every column carries real content.
func makeRows(n int, seed uint64) []shards.Row {
	rng := rand.New(rand.NewPCG(seed, 7))
	words := []string{"EU", "rejects", "German", "call", "to", "boycott", "British", "lamb", ".", "Zürich", "naïve", "İstanbul", "straße", "🙂", "it's", `"quoted"`}
	rows := make([]shards.Row, n)
	for i := range rows {
		r := shards.Row{Split: "train", ExampleID: fmt.Sprintf("train.txt:%d", i+1)}
		nw := rng.IntN(12)
		ids := []int32{101}
		tl := []int32{-100}
		wid := []int32{-1}
		for w := range nw {
			word := words[rng.IntN(len(words))]
			r.Words = append(r.Words, word)
			for s := range 1 + rng.IntN(3) { // subwords
				ids = append(ids, 1000+rng.Int32N(28000))
				wid = append(wid, int32(w))
				if s == 0 {
					tl = append(tl, rng.Int32N(9))
				} else {
					tl = append(tl, -100)
				}
			}
		}
		ids, tl, wid = append(ids, 102), append(tl, -100), append(wid, -1)
		r.InputIDs, r.WordIDs = ids, wid
		r.TokenTypeIDs = make([]int32, len(ids))
		if i%3 == 0 { // a sentence task row
			r.Task, r.Label, r.Text = "sst2", rng.Int32N(2), strings.Join(r.Words, " ")
			r.Words, r.WordIDs = nil, nil
		} else {
			r.Task, r.Label, r.TokenLabels = "ner", -1, tl
		}
		rows[i] = r
	}
	return rows
}

func write(t *testing.T, rows []shards.Row, opts ...shards.Option) []byte {
	t.Helper()
	var buf bytes.Buffer
	w := shards.NewWriter(&buf, opts...)
	// Several Write calls, as the pipeline streams rows in.
	for i := 0; i < len(rows); i += 1000 {
		if err := w.Write(rows[i:min(i+1000, len(rows))]...); err != nil {
			t.Fatal(err)
		}
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	if w.Rows() != int64(len(rows)) {
		t.Fatalf("Rows() = %d, want %d", w.Rows(), len(rows))
	}
	return buf.Bytes()
}

// Parquet does not distinguish a nil list from an empty one.
func normalize(rows []shards.Row) []shards.Row {
	out := make([]shards.Row, len(rows))
	for i, r := range rows {
		for _, s := range []*[]int32{&r.InputIDs, &r.TokenTypeIDs, &r.TokenLabels, &r.WordIDs} {
			if len(*s) == 0 {
				*s = nil
			}
		}
		if len(r.Words) == 0 {
			r.Words = nil
		}
		out[i] = r
	}
	return out
}

func readAllFrom(t *testing.T, data []byte, bufSize int) []shards.Row {
	t.Helper()
	r, err := shards.OpenReader(bytes.NewReader(data), int64(len(data)))
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	var got []shards.Row
	buf := make([]shards.Row, bufSize)
	for {
		n, err := r.Read(buf)
		got = append(got, buf[:n]...)
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
	}
	if int64(len(got)) != r.NumRows() {
		t.Fatalf("read %d rows, NumRows says %d", len(got), r.NumRows())
	}
	return got
}

func TestRoundTrip(t *testing.T) {
	for _, tc := range []struct {
		name    string
		rows    int
		bufSize int
	}{
		{"empty", 0, 8},
		{"one", 1, 8},
		{"small buffer across row groups", 20000, 7},
		{"large buffer", 20000, 5000},
	} {
		t.Run(tc.name, func(t *testing.T) {
			rows := makeRows(tc.rows, 1)
			got := readAllFrom(t, write(t, rows), tc.bufSize)
			if !reflect.DeepEqual(normalize(got), normalize(rows)) {
				for i := range rows {
					if !reflect.DeepEqual(normalize(got[i:i+1]), normalize(rows[i:i+1])) {
						t.Fatalf("row %d differs:\n got %+v\nwant %+v", i, got[i], rows[i])
					}
				}
				t.Fatalf("got %d rows, want %d", len(got), len(rows))
			}
		})
	}
}

// The same rows must give the same bytes: the pipeline's local and gs://
// runs (different processes, possibly different binaries) are compared
// byte for byte.
func TestDeterministic(t *testing.T) {
	rows := makeRows(12000, 2)
	a, b := write(t, rows), write(t, rows)
	if !bytes.Equal(a, b) {
		t.Fatal("two writes of the same rows differ")
	}
	f, err := parquet.OpenFile(bytes.NewReader(a), int64(len(a)))
	if err != nil {
		t.Fatal(err)
	}
	md := f.Metadata()
	if md.CreatedBy != "taskweave version 1(build shards)" {
		t.Errorf("created_by = %q: it must not depend on the binary", md.CreatedBy)
	}
	if len(md.KeyValueMetadata) != 0 {
		t.Errorf("unexpected key/value metadata (timestamps?): %v", md.KeyValueMetadata)
	}
}

// The storage choices of DESIGN.md hold in the file itself: zstd on every
// column, dictionary pages on list elements, bounded row groups.
func TestFileLayout(t *testing.T) {
	rows := makeRows(20000, 3)
	data := write(t, rows)
	f, err := parquet.OpenFile(bytes.NewReader(data), int64(len(data)))
	if err != nil {
		t.Fatal(err)
	}
	md := f.Metadata()
	if n := len(md.RowGroups); n != 3 {
		t.Errorf("%d rows in %d row groups, want 3 of at most %d", len(rows), n, shards.RowGroupRows)
	}
	dictCols := map[string]bool{"task": true, "split": true, "input_ids.list.element": true, "token_type_ids.list.element": true,
		"token_labels.list.element": true, "word_ids.list.element": true, "words.list.element": true}
	for gi, rg := range md.RowGroups {
		if rg.NumRows > shards.RowGroupRows {
			t.Errorf("row group %d holds %d rows", gi, rg.NumRows)
		}
		seen := 0
		for _, cc := range rg.Columns {
			m := cc.MetaData
			name := strings.Join(m.PathInSchema, ".")
			if m.Codec != format.Zstd {
				t.Errorf("column %s uses codec %v, want ZSTD", name, m.Codec)
			}
			hasDict := m.DictionaryPageOffset != 0
			if dictCols[name] {
				seen++
				if !hasDict {
					t.Errorf("column %s has no dictionary page", name)
				}
			}
		}
		if seen != len(dictCols) {
			t.Errorf("row group %d: found %d of the %d dictionary columns (schema changed?)", gi, seen, len(dictCols))
		}
	}
}

// Rows handed out by one Read must survive the next Read into the same buffer.
func TestReadDoesNotReuseReturnedRows(t *testing.T) {
	rows := makeRows(100, 4)
	data := write(t, rows)
	r, err := shards.OpenReader(bytes.NewReader(data), int64(len(data)))
	if err != nil {
		t.Fatal(err)
	}
	buf := make([]shards.Row, 10)
	if _, err := r.Read(buf); err != nil {
		t.Fatal(err)
	}
	first := buf[0]
	kept := append([]int32(nil), first.InputIDs...)
	if _, err := r.Read(buf); err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(first.InputIDs, kept) {
		t.Fatal("the second Read overwrote the input_ids of a row returned by the first")
	}
}

func TestOpenReaderRejectsOtherFiles(t *testing.T) {
	type other struct {
		A int32 `parquet:"a"`
	}
	var buf bytes.Buffer
	if err := parquet.Write(&buf, []other{{1}}); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name string
		data []byte
		want string
	}{
		{"not parquet", []byte("task\tsplit\nner\ttrain\n"), "corrupt Parquet file (no PAR1 magic"},
		{"truncated", write(t, makeRows(10, 5))[:200], "corrupt Parquet file (no PAR1 magic"},
		{"other schema", buf.Bytes(), "lacks column(s) task, split"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := shards.OpenReader(bytes.NewReader(tc.data), int64(len(tc.data)))
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("error = %v; want one containing %q", err, tc.want)
			}
		})
	}
}

func TestShardPath(t *testing.T) {
	for _, tc := range []struct {
		out, task, split string
		i, n             int
		want             string
	}{
		{"out", "ner", "train", 0, 4, "out/ner/train/part-00000-of-00004.parquet"},
		{"gs://b/run1", "sst2", "validation", 12, 100, "gs://b/run1/sst2/validation/part-00012-of-00100.parquet"},
	} {
		if got := shards.ShardPath(tc.out, tc.task, tc.split, tc.i, tc.n); got != tc.want {
			t.Errorf("ShardPath = %q, want %q", got, tc.want)
		}
	}
	if got := shards.RelPath("ner", "test", 3, 4); got != "ner/test/part-00003-of-00004.parquet" {
		t.Errorf("RelPath = %q", got)
	}
}

// Local and gs:// shards written from the same rows are byte-identical and
// read back the same.
func TestWriteFileLocalAndGCS(t *testing.T) {
	ctx := context.Background()
	rows := makeRows(3000, 6)
	bucket := gcstest.Start(t)
	var files [][]byte
	for _, out := range []string{t.TempDir(), "gs://" + bucket + "/out"} {
		p := shards.ShardPath(out, "ner", "train", 0, 1)
		if err := shards.WriteFile(ctx, p, rows); err != nil {
			t.Fatal(err)
		}
		got, err := shards.ReadAll(ctx, p)
		if err != nil {
			t.Fatal(err)
		}
		if !reflect.DeepEqual(normalize(got), normalize(rows)) {
			t.Fatalf("%s: rows read back differ from rows written", p)
		}
		b, err := storage.ReadFile(ctx, p)
		if err != nil {
			t.Fatal(err)
		}
		files = append(files, b)
	}
	if !bytes.Equal(files[0], files[1]) {
		t.Fatal("local and gs:// shards differ")
	}
	if _, err := shards.ReadAll(ctx, "gs://"+bucket+"/out/missing.parquet"); !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("ReadAll of a missing shard: %v; want os.ErrNotExist", err)
	}
}

// DuckDB (an independent Parquet reader) sees the same rows and values.
func TestIndependentReader(t *testing.T) {
	duckcheck.Require(t)
	rows := makeRows(20000, 8)
	dir := t.TempDir()
	var paths []string
	for i, part := range [][]shards.Row{rows[:15000], rows[15000:]} {
		p := shards.ShardPath(dir, "mixed", "train", i, 2)
		if err := shards.WriteFile(context.Background(), p, part); err != nil {
			t.Fatal(err)
		}
		paths = append(paths, p)
	}
	var want duckcheck.Summary
	ids := map[string]bool{}
	for _, r := range rows {
		want.Rows++
		ids[r.ExampleID] = true
		want.InputIDsLen += int64(len(r.InputIDs))
		for _, v := range r.InputIDs {
			want.InputIDsSum += int64(v)
		}
		want.TokenTypeIDsLen += int64(len(r.TokenTypeIDs))
		want.TokenLabelsLen += int64(len(r.TokenLabels))
		for _, v := range r.TokenLabels {
			want.TokenLabelsSum += int64(v)
		}
		want.WordIDsLen += int64(len(r.WordIDs))
		want.WordsLen += int64(len(r.Words))
		want.LabelSum += int64(r.Label)
		want.TextChars += int64(utf8.RuneCountInString(r.Text))
		if want.MinExampleID == "" || r.ExampleID < want.MinExampleID {
			want.MinExampleID = r.ExampleID
		}
		want.MaxExampleID = max(want.MaxExampleID, r.ExampleID)
	}
	want.DistinctExampleIDs = int64(len(ids))

	perFile, total, err := duckcheck.Summarize(filepath.Join(dir, "mixed", "train", "*.parquet"))
	if err != nil {
		t.Fatal(err)
	}
	if total != want {
		t.Fatalf("DuckDB sees\n%+v\nwant\n%+v", total, want)
	}
	if len(perFile) != 1 || perFile[0].Rows != 20000 {
		t.Fatalf("per-file summary of the glob: %+v", perFile)
	}
	perFile, _, err = duckcheck.Summarize(paths...)
	if err != nil {
		t.Fatal(err)
	}
	if len(perFile) != 2 || perFile[0].Rows != 15000 || perFile[1].Rows != 5000 {
		t.Fatalf("per-file rows: %+v", perFile)
	}

	// A few rows in full, every column.
	var got []struct {
		ExampleID    string   `json:"example_id"`
		Task         string   `json:"task"`
		InputIDs     []int32  `json:"input_ids"`
		TokenTypeIDs []int32  `json:"token_type_ids"`
		Label        int32    `json:"label"`
		TokenLabels  []int32  `json:"token_labels"`
		WordIDs      []int32  `json:"word_ids"`
		Words        []string `json:"words"`
		Text         string   `json:"text"`
	}
	sample := []int{0, 1, 4242, 14999, 15000, 19999}
	var in []string
	for _, i := range sample {
		in = append(in, "'"+rows[i].ExampleID+"'")
	}
	q := "SELECT * EXCLUDE (filename) FROM shards WHERE example_id IN (" + strings.Join(in, ",") + ") ORDER BY split, example_id"
	if err := duckcheck.Query(&got, q, paths...); err != nil {
		t.Fatal(err)
	}
	if len(got) != len(sample) {
		t.Fatalf("query returned %d rows, want %d", len(got), len(sample))
	}
	byID := map[string]shards.Row{}
	for _, i := range sample {
		byID[rows[i].ExampleID] = normalize(rows[i : i+1])[0]
	}
	for _, g := range got {
		w := byID[g.ExampleID]
		r := normalize([]shards.Row{{Task: g.Task, Split: w.Split, ExampleID: g.ExampleID, InputIDs: g.InputIDs, TokenTypeIDs: g.TokenTypeIDs,
			Label: g.Label, TokenLabels: g.TokenLabels, WordIDs: g.WordIDs, Words: g.Words, Text: g.Text}})[0]
		if !reflect.DeepEqual(r, w) {
			t.Errorf("DuckDB row %s:\n got %+v\nwant %+v", g.ExampleID, r, w)
		}
	}
}

var update = flag.Bool("update", false, "rewrite testdata/golden.parquet")

// A shard written by an earlier process must match byte for byte (a
// regression golden, see testdata/README.md): the local and gs:// runs of the
// pipeline are separate processes and their shards are compared for identity. A parquet-go upgrade may legitimately change the
// bytes; then re-run with -update and say so in the commit.
func TestGoldenShard(t *testing.T) {
	rows := makeRows(50, 9)
	got := write(t, rows)
	const golden = "testdata/golden.parquet"
	if *update {
		if err := os.WriteFile(golden, got, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(golden)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got, want) {
		t.Errorf("shard bytes differ from %s (%d vs %d bytes): non-deterministic writer or changed parquet-go; if intended, run go test ./io/shards -run GoldenShard -update", golden, len(got), len(want))
	}
	back, err := shards.ReadAll(context.Background(), golden)
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(normalize(back), normalize(rows)) {
		t.Fatal("rows read from the golden shard differ from the rows it was written from")
	}
}

func BenchmarkWrite(b *testing.B) {
	rows := makeRows(20000, 10)
	var size int
	for b.Loop() {
		var buf bytes.Buffer
		w := shards.NewWriter(&buf)
		if err := w.Write(rows...); err != nil {
			b.Fatal(err)
		}
		if err := w.Close(); err != nil {
			b.Fatal(err)
		}
		size = buf.Len()
	}
	b.ReportMetric(float64(len(rows))*float64(b.N)/b.Elapsed().Seconds(), "rows/s")
	b.ReportMetric(float64(size), "bytes/shard")
}

func BenchmarkRead(b *testing.B) {
	rows := makeRows(20000, 11)
	var buf bytes.Buffer
	w := shards.NewWriter(&buf)
	w.Write(rows...)
	w.Close()
	data := buf.Bytes()
	batch := make([]shards.Row, 512)
	for b.Loop() {
		r, err := shards.OpenReader(bytes.NewReader(data), int64(len(data)))
		if err != nil {
			b.Fatal(err)
		}
		for {
			_, err := r.Read(batch)
			if err == io.EOF {
				break
			}
			if err != nil {
				b.Fatal(err)
			}
		}
		r.Close()
	}
	b.ReportMetric(float64(len(rows))*float64(b.N)/b.Elapsed().Seconds(), "rows/s")
}

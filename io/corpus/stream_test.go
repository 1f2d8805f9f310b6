package corpus

import (
	"io"
	"runtime"
	"strings"
	"testing"
)

// repeatReader serves unit n times (forever when n < 0).
type repeatReader struct {
	unit []byte
	n    int
	pos  int
}

func (r *repeatReader) Read(p []byte) (int, error) {
	total := 0
	for len(p) > 0 {
		if r.pos == len(r.unit) {
			if r.n == 0 {
				break
			}
			r.pos = 0
		}
		if r.pos == 0 {
			r.n--
			if r.n < -1 {
				r.n = -1
			}
		}
		c := copy(p, r.unit[r.pos:])
		r.pos += c
		total += c
		p = p[c:]
	}
	if total == 0 {
		return 0, io.EOF
	}
	return total, nil
}

// countingReader counts the bytes a reader took from its source.
type countingReader struct {
	r io.Reader
	n int64
}

func (c *countingReader) Read(p []byte) (int, error) {
	n, err := c.r.Read(p)
	c.n += int64(n)
	return n, err
}

func generate(head, unit string, n int) *countingReader {
	return &countingReader{r: io.MultiReader(strings.NewReader(head), &repeatReader{unit: []byte(unit), n: n, pos: len(unit)})}
}

var streamFormats = []struct {
	name       string
	opt        Options
	head, unit string
}{
	{"tsv", opts(Options{Format: TSV}), "sentence\tlabel\n", "a fine and funny film . \t1\n"},
	{"conll", opts(Options{Format: CoNLL, TagScheme: "iob2"}), "-DOCSTART- -X- -X- O\n\n", "Acme NNP B-NP B-ORG\nbuys VBZ B-VP O\nit PRP B-NP O\n\n"},
	{"conllu", opts(Options{Format: CoNLLU}), "", "# text = Hi you\n1\tHi\thi\tINTJ\tUH\t_\t0\troot\t_\t_\n2\tyou\tyou\tPRON\tPRP\t_\t1\tvocative\t_\t_\n\n"},
	{"jsonl", opts(Options{Format: JSONL}), "", `{"text": "a fine and funny film .", "label": 1}` + "\n"},
}

// TestStreamingReadsAhead: the first record comes after reading no more
// than the reader's buffer from an endless stream.
func TestStreamingReadsAhead(t *testing.T) {
	for _, f := range streamFormats {
		t.Run(f.name, func(t *testing.T) {
			g := generate(f.head, f.unit, -1)
			rd := NewReader(g, "endless", f.opt)
			for i := 0; i < 100; i++ {
				if _, rej, err := rd.Next(); err != nil || rej != nil {
					t.Fatal(err, rej)
				}
			}
			if g.n > 128<<10 {
				t.Errorf("100 records took %d bytes from the stream; the reader reads ahead instead of streaming", g.n)
			}
		})
	}
}

// TestStreamingMemory reads a 16 MiB generated stream per format and checks
// the record count and that the heap never grows with the input.
func TestStreamingMemory(t *testing.T) {
	if testing.Short() {
		t.Skip("reads 16 MiB per format")
	}
	const total = 16 << 20
	for _, f := range streamFormats {
		t.Run(f.name, func(t *testing.T) {
			unitsWanted := (total - len(f.head)) / len(f.unit)
			g := generate(f.head, f.unit, unitsWanted)
			rd := NewReader(g, "big", f.opt)
			var ms runtime.MemStats
			runtime.GC()
			runtime.ReadMemStats(&ms)
			base, peak := ms.HeapAlloc, ms.HeapAlloc
			n := 0
			for {
				_, rej, err := rd.Next()
				if err == io.EOF {
					break
				}
				if err != nil || rej != nil {
					t.Fatal(err, rej)
				}
				if n++; n%50000 == 0 {
					runtime.ReadMemStats(&ms)
					peak = max(peak, ms.HeapAlloc)
				}
			}
			if n != unitsWanted {
				t.Errorf("records = %d, want %d", n, unitsWanted)
			}
			if grew := int64(peak) - int64(base); grew > 12<<20 {
				t.Errorf("heap grew by %d bytes while streaming %d bytes", grew, g.n)
			}
			t.Logf("%d records from %d bytes, heap peak %d KiB above start", n, g.n, (int64(peak)-int64(base))>>10)
		})
	}
}

// TestLongLines: lines far beyond bufio's 64 KiB default are read whole.
func TestLongLines(t *testing.T) {
	big := strings.Repeat("word ", 1<<20) // 5 MiB
	cases := []struct {
		name, input string
		opt         Options
		check       func(Record) bool
	}{
		{"jsonl 5 MiB text", `{"text": "` + big + `", "label": 1}` + "\n", opts(Options{Format: JSONL}),
			func(r Record) bool { return len(r.Text) == len(big) && r.Label == "1" }},
		{"tsv 5 MiB sentence", "sentence\tlabel\n" + big + "\t0\r\n", opts(Options{Format: TSV}),
			func(r Record) bool { return len(r.Text) == len(big)-1 && r.Label == "0" }},
		{"conll 1 MiB token", strings.Repeat("x", 1<<20) + " O\n", opts(Options{Format: CoNLL}),
			func(r Record) bool { return len(r.Words) == 1 && len(r.Words[0]) == 1<<20 && r.Tags[0] == "O" }},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			recs, rejs, err := ReadAll(strings.NewReader(c.input), "long", c.opt)
			if err != nil || len(rejs) != 0 || len(recs) != 1 || !c.check(recs[0]) {
				t.Errorf("err %v, %d rejections, %d records", err, len(rejs), len(recs))
			}
		})
	}
	// Over the limit: rejected with its size, Raw cut to about 1 KiB, and
	// the reader carries on with the next line.
	input := "sentence\tlabel\n" + big + "\t1\nnext\t0\n"
	recs, rejs, err := ReadAll(strings.NewReader(input), "long.tsv", opts(Options{Format: TSV, MaxRecordBytes: 1 << 20}))
	if err != nil || len(recs) != 1 || recs[0].Text != "next" || len(rejs) != 1 {
		t.Fatalf("err %v, records %v, rejections %d", err, recs, len(rejs))
	}
	// As errors and the rejected-records report print it: the file, the
	// line, and the spec key that raises the limit.
	want := "long.tsv:2: line is 5242882 bytes, over the 1048576-byte limit (a missing line break?); split it, or raise preprocess.max_record_bytes in the job spec"
	if got := rejs[0].String(); got != want {
		t.Errorf("rejection %q, want %q", got, want)
	}
	if n := len(rejs[0].Raw); n < 1024 || n > 1100 || !strings.HasSuffix(rejs[0].Raw, "…[5242882 bytes in all]") {
		t.Errorf("raw is %d bytes, ends %q", n, rejs[0].Raw[max(0, n-40):])
	}
}

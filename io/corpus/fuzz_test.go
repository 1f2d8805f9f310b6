package corpus

import (
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"unicode/utf8"
)

var fuzzOptions = []Options{
	opts(Options{Format: TSV}),
	opts(Options{Format: TSV, Unlabeled: true, TextBColumn: "label"}),
	opts(Options{Format: CoNLL, TagScheme: "iob2", MaxRecordBytes: 512}),
	opts(Options{Format: CoNLL, TagColumn: -2, TagScheme: "iob1"}),
	opts(Options{Format: CoNLL, Unlabeled: true}),
	opts(Options{Format: CoNLLU}),
	opts(Options{Format: CoNLLU, TagField: "xpos", MaxRecordBytes: 512}),
	opts(Options{Format: JSONL}),
	opts(Options{Format: JSONL, TokenLevel: true, TagScheme: "iob2", IDColumn: "id"}),
	opts(Options{Format: Text}),
	opts(Options{Format: Text, MaxRecordBytes: 64}),
}

// FuzzReaders feeds arbitrary bytes to every format and checks that the
// reader never panics or loops, and that what it yields is well formed:
// valid UTF-8 everywhere, lines in range and rising, Raw bounded, equal
// word and tag counts, a reason on every rejection.
//
//	go test ./io/corpus -run '^$' -fuzz FuzzReaders -fuzztime 30s
func FuzzReaders(f *testing.F) {
	files, _ := filepath.Glob(filepath.Join("testdata", "*"))
	for _, p := range files {
		if strings.HasSuffix(p, ".golden.json") {
			continue
		}
		if b, err := os.ReadFile(p); err == nil {
			for i := range fuzzOptions {
				f.Add(uint8(i), b)
			}
		}
	}
	f.Add(uint8(0), []byte("sentence\tlabel\r\nx \t1\r\n"))
	f.Add(uint8(7), []byte("{\"text\":\"a\",\"label\":1}\n{"))
	f.Fuzz(func(t *testing.T, which uint8, data []byte) {
		opt := fuzzOptions[int(which)%len(fuzzOptions)]
		lines := strings.Count(string(data), "\n") + 1
		rd := NewReader(strings.NewReader(string(data)), "fuzz", opt)
		last := 0
		for i := 0; ; i++ {
			if i > lines+1 {
				t.Fatalf("more items than lines (%d)", lines)
			}
			rec, rej, err := rd.Next()
			if err == io.EOF {
				break
			}
			if err != nil {
				if err.Error() == "" {
					t.Fatal("empty error")
				}
				break
			}
			if rej != nil {
				if rej.Reason == "" || rej.Line < 1 || rej.Line > lines || !utf8.ValidString(rej.Raw) || len(rej.Raw) > rawLimit+64 {
					t.Fatalf("bad rejection %+v", rej)
				}
				continue
			}
			if rec.Line < 1 || rec.Line > lines || rec.Line <= last || rec.ID == "" {
				t.Fatalf("bad record position %+v (previous line %d)", rec, last)
			}
			last = rec.Line
			if !opt.Unlabeled && len(rec.Tags) != len(rec.Words) {
				t.Fatalf("%d words, %d tags", len(rec.Words), len(rec.Tags))
			}
			if rec.Words == nil && strings.TrimSpace(rec.Text) == "" {
				t.Fatalf("record without text %+v", rec)
			}
			for _, s := range append(append([]string{rec.Text, rec.TextB, rec.Label}, rec.Words...), rec.Tags...) {
				if !utf8.ValidString(s) {
					t.Fatalf("invalid UTF-8 in %+v", rec)
				}
			}
		}
		st := rd.Stats()
		if st.Records+st.Rejected > lines {
			t.Fatalf("stats %+v for %d lines", st, lines)
		}
	})
}

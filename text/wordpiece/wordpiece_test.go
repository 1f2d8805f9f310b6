package wordpiece

import (
	"bufio"
	"compress/gzip"
	"encoding/json"
	"flag"
	"fmt"
	"go/format"
	"maps"
	"os"
	"slices"
	"strconv"
	"strings"
	"testing"
	"unicode/utf8"
)

// The two Google BERT vocabularies (Apache-2.0), byte-identical to
// ../shared/corpora/bert_vocab, gzipped so the tests run on a clean clone.
var vocabs = map[bool]struct{ file, sha string }{
	false: {"testdata/bert_cased_vocab.txt.gz", "eeaa9875b23b04b4c54ef759d03db9d1ba1554838f8fb26c5d96fa551df93d02"},
	true:  {"testdata/bert_uncased_vocab.txt.gz", "07eced375cec144d27c900241f3e339478dec958f92fddbc551f295c992038a3"},
}

func openGz(tb testing.TB, path string) *gzip.Reader {
	tb.Helper()
	f, err := os.Open(path)
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { f.Close() })
	zr, err := gzip.NewReader(f)
	if err != nil {
		tb.Fatalf("%s: %v", path, err)
	}
	return zr
}

func load(tb testing.TB, lowercase bool) *Tokenizer {
	tb.Helper()
	v := vocabs[lowercase]
	tok, err := Load(openGz(tb, v.file), lowercase)
	if err != nil {
		tb.Fatal(err)
	}
	if tok.SHA256() != v.sha {
		tb.Fatalf("%s: sha256 %s, want %s", v.file, tok.SHA256(), v.sha)
	}
	return tok
}

func TestVocabulary(t *testing.T) {
	cases := []struct {
		lowercase                bool
		size                     int
		pad, unk, cls, sep, mask int32
		the                      string
		theID                    int32
	}{
		{false, 28996, 0, 100, 101, 102, 103, "The", 1109},
		{true, 30522, 0, 100, 101, 102, 103, "the", 1996},
	}
	for _, c := range cases {
		tok := load(t, c.lowercase)
		if tok.Size() != c.size {
			t.Errorf("lowercase=%v: size %d, want %d", c.lowercase, tok.Size(), c.size)
		}
		got := []int32{tok.PAD(), tok.UNK(), tok.CLS(), tok.SEP(), tok.MASK()}
		if want := []int32{c.pad, c.unk, c.cls, c.sep, c.mask}; !slices.Equal(got, want) {
			t.Errorf("lowercase=%v: specials %v, want %v", c.lowercase, got, want)
		}
		if id, ok := tok.ID(c.the); !ok || id != c.theID || tok.Token(id) != c.the {
			t.Errorf("lowercase=%v: ID(%q) = %d,%v", c.lowercase, c.the, id, ok)
		}
		if tok.Token(-1) != "" || tok.Token(int32(c.size)) != "" {
			t.Errorf("out-of-range ids must decode to \"\"")
		}
	}
}

func TestLoadErrors(t *testing.T) {
	cases := []struct{ name, vocab, want string }{
		{"empty", "", "empty vocabulary"},
		{"no mask", "[PAD]\n[UNK]\n[CLS]\n[SEP]\nhello\n", "no [MASK] entry"},
	}
	for _, c := range cases {
		_, err := Load(strings.NewReader(c.vocab), false)
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s: error %v, want it to mention %q", c.name, err, c.want)
		}
	}
	if _, err := LoadFile("testdata/no-such-vocab.txt", false); err == nil || !strings.Contains(err.Error(), "no-such-vocab.txt") {
		t.Errorf("missing file: error %v should name the file", err)
	}
}

// A small vocabulary makes the greedy matching rules visible.
func TestGreedyMatching(t *testing.T) {
	vocab := "[PAD]\n[UNK]\n[CLS]\n[SEP]\n[MASK]\nun\nunaff\n##aff\n##able\n##a\n##ble\nwant\n##want\n##ed\nrunning\n##s\n,\n" +
		"trailing \r\n" + "é\n"
	tok, err := Load(strings.NewReader(vocab), false)
	if err != nil {
		t.Fatal(err)
	}
	cases := []struct {
		text string
		want []string
	}{
		{"unaffable", []string{"unaff", "##able"}},         // longest first piece wins, not un + ##aff
		{"wantwanted", []string{"want", "##want", "##ed"}}, // continuation pieces
		{"unwanted", []string{"un", "##want", "##ed"}},
		{"unx", []string{"[UNK]"}}, // "##x" matches nothing: the whole word is [UNK]
		{"runnings, want", []string{"running", "##s", ",", "want"}},
		{"trailing", []string{"trailing"}}, // entries are right-trimmed
		{"é", []string{"é"}},
		{"e\u0301", []string{"[UNK]"}}, // cased: no NFD, so e + combining acute is not é
		{"", nil},
		{"[CLS]running[SEP]", []string{"[CLS]", "running", "[SEP]"}},
	}
	for _, c := range cases {
		if got := tok.Tokenize(c.text); !slices.Equal(got, c.want) {
			t.Errorf("Tokenize(%q) = %q, want %q", c.text, got, c.want)
		}
	}
}

type goldenCase struct {
	Src     string   `json:"src"`
	Text    string   `json:"text"`
	Cased   []string `json:"cased"`
	Uncased []string `json:"uncased"`
}

func readGolden(tb testing.TB) []goldenCase {
	tb.Helper()
	sc := bufio.NewScanner(openGz(tb, "testdata/golden.jsonl.gz"))
	sc.Buffer(nil, 1<<20)
	var out []goldenCase
	for sc.Scan() {
		var c goldenCase
		if err := json.Unmarshal(sc.Bytes(), &c); err != nil {
			tb.Fatalf("golden.jsonl.gz line %d: %v", len(out)+1, err)
		}
		out = append(out, c)
	}
	if err := sc.Err(); err != nil {
		tb.Fatal(err)
	}
	return out
}

// TestGolden compares every case written by tools/tokref (Hugging Face
// tokenizers) with this package, cased and uncased, as tokens and as ids.
func TestGolden(t *testing.T) {
	cases := readGolden(t)
	if len(cases) < 10000 {
		t.Fatalf("only %d golden cases", len(cases))
	}
	for _, lowercase := range []bool{false, true} {
		tok := load(t, lowercase)
		fails := 0
		for _, c := range cases {
			want := c.Cased
			if lowercase {
				want = c.Uncased
			}
			got := tok.Tokenize(c.Text)
			ids := tok.Encode(c.Text)
			wantIDs := make([]int32, len(want))
			for i, w := range want {
				id, ok := tok.ID(w)
				if !ok {
					t.Fatalf("%s: golden token %q not in vocabulary", c.Src, w)
				}
				wantIDs[i] = id
			}
			if !slices.Equal(got, want) || !slices.Equal(ids, wantIDs) {
				if fails++; fails <= 20 {
					t.Errorf("lowercase=%v %s %q:\n got %q\nwant %q", lowercase, c.Src, c.Text, got, want)
				}
			}
			// Invalid UTF-8 decodes to U+FFFD, which the cleanup deletes: a
			// stray byte must act exactly like the replacement character.
			if strings.ContainsRune(c.Text, utf8.RuneError) {
				for _, bad := range []string{"\xff", "\xc3", "\xe2\x82", "\xed\xa0\x80"} {
					if got := tok.Tokenize(strings.ReplaceAll(c.Text, "\ufffd", bad)); !slices.Equal(got, want) {
						t.Errorf("%s with %q for U+FFFD: got %q, want %q", c.Src, bad, got, want)
					}
				}
			}
		}
		if fails > 0 {
			t.Errorf("lowercase=%v: %d of %d golden cases differ", lowercase, fails, len(cases))
		}
	}
}

var update = flag.Bool("update", false, "regenerate compat_tables.go from testdata/unicode_sweep.tsv.gz")

func readSweep(t *testing.T) map[rune]string {
	want := map[rune]string{}
	sc := bufio.NewScanner(openGz(t, "testdata/unicode_sweep.tsv.gz"))
	for sc.Scan() {
		line := sc.Text()
		if strings.HasPrefix(line, "#") {
			continue
		}
		rng, class, ok := strings.Cut(line, "\t")
		lo, hi, ok2 := strings.Cut(rng, "-")
		a, err1 := strconv.ParseInt(lo, 16, 32)
		b, err2 := strconv.ParseInt(hi, 16, 32)
		if !ok || !ok2 || err1 != nil || err2 != nil || strings.Count(class, "|") != 2 {
			t.Fatalf("unicode_sweep.tsv.gz: bad line %q", line)
		}
		for r := rune(a); r <= rune(b); r++ {
			want[r] = class
		}
	}
	if len(want) < 100000 {
		t.Fatalf("sweep lists only %d code points", len(want))
	}
	return want
}

// sweepClass describes what the normaliser does to the single character r,
// in the notation of unicode_sweep.tsv.gz.
func sweepClass(tok *Tokenizer, r rune) string {
	c := string(r)
	out := string(tok.normalize(nil, c, &buffers{}))
	switch out {
	case c:
		return "="
	case "":
		return "D"
	case " ":
		return "W"
	case " " + c + " ":
		return "P"
	}
	hex := make([]string, 0, 4)
	for _, x := range out {
		hex = append(hex, strconv.FormatInt(int64(x), 16))
	}
	return "L:" + strings.Join(hex, ",")
}

func sweepPunct(r rune) string {
	n := 0
	forEachWord([]byte("a"+string(r)+"a"), func([]byte) { n++ })
	if n == 3 {
		return "p"
	}
	return "-"
}

// sweepOutput turns a class back into the text it stands for.
func sweepOutput(class string, r rune) string {
	switch {
	case class == "=":
		return string(r)
	case class == "D":
		return ""
	case strings.HasPrefix(class, "L:"):
		var sb strings.Builder
		for _, h := range strings.Split(class[2:], ",") {
			v, _ := strconv.ParseInt(h, 16, 32)
			sb.WriteRune(rune(v))
		}
		return sb.String()
	}
	panic("no single output for class " + class)
}

func forEachCodePoint(fn func(r rune)) {
	for r := rune(0); r <= utf8.MaxRune; r++ {
		if r < 0xD800 || r > 0xDFFF {
			fn(r)
		}
	}
}

// TestUnicodeSweep checks every code point against the reference's
// normaliser and pre-tokenizer, so inputs outside the golden texts behave
// the same too. The reference's Unicode tables are a mix of versions (old
// categories, newer case mappings), so compat_tables.go lists the
// characters where Go's tables disagree; -update rebuilds it from the sweep
// (needed after a Go upgrade changes package unicode or x/text/unicode/norm).
func TestUnicodeSweep(t *testing.T) {
	want := readSweep(t)
	expect := func(r rune) []string {
		if w, ok := want[r]; ok {
			return strings.Split(w, "|")
		}
		return []string{"=", "=", "-"}
	}
	cased, uncased := load(t, false), load(t, true)
	if *update {
		controlCompat, punctCompat, uncasedCompat = map[rune]bool{}, map[rune]bool{}, map[rune]string{}
		forEachCodePoint(func(r rune) {
			e := expect(r)
			if got := sweepClass(cased, r); got != e[0] {
				if got+e[0] != "=D" && got+e[0] != "D=" {
					t.Fatalf("U+%04X: cased %s, want %s: not a control-character difference, fix the code", r, got, e[0])
				}
				controlCompat[r] = e[0] == "D"
			}
			if got := sweepPunct(r); got != e[2] {
				punctCompat[r] = e[2] == "p"
			}
		})
		forEachCodePoint(func(r rune) {
			e := expect(r)
			if got := sweepClass(uncased, r); got != e[1] {
				if e[0] != "=" {
					t.Fatalf("U+%04X: uncased %s, want %s for a character the cleanup does not keep as is", r, got, e[1])
				}
				uncasedCompat[r] = sweepOutput(e[1], r)
			}
		})
		writeCompat(t)
	}
	fails := 0
	forEachCodePoint(func(r rune) {
		got := sweepClass(cased, r) + "|" + sweepClass(uncased, r) + "|" + sweepPunct(r)
		if e := strings.Join(expect(r), "|"); got != e {
			if fails++; fails <= 30 {
				t.Errorf("U+%04X %q: got %s, want %s", r, r, got, e)
			}
		}
	})
	if fails > 0 {
		t.Errorf("%d code points differ from the reference; if the reference is right, run go test -run TestUnicodeSweep ./text/wordpiece -args -update", fails)
	}
}

func writeCompat(t *testing.T) {
	var sb strings.Builder
	sb.WriteString("// Code generated by go test -run TestUnicodeSweep . -args -update; DO NOT EDIT.\n\n")
	sb.WriteString("package wordpiece\n\n")
	sb.WriteString("// Characters whose treatment by the reference (Hugging Face tokenizers,\n")
	sb.WriteString("// testdata/unicode_sweep.tsv.gz) differs from what Go's Unicode tables give.\n\n")
	sb.WriteString("// controlCompat: deleted as a control character (true) or kept (false).\n")
	sb.WriteString("var controlCompat = map[rune]bool{\n")
	for _, r := range slices.Sorted(maps.Keys(controlCompat)) {
		fmt.Fprintf(&sb, "\t0x%04X: %v,\n", r, controlCompat[r])
	}
	sb.WriteString("}\n\n// punctCompat: split off as punctuation (true) or part of a word (false).\n")
	sb.WriteString("var punctCompat = map[rune]bool{\n")
	for _, r := range slices.Sorted(maps.Keys(punctCompat)) {
		fmt.Fprintf(&sb, "\t0x%04X: %v,\n", r, punctCompat[r])
	}
	sb.WriteString("}\n\n// uncasedCompat: the uncased normaliser's output for the character.\n")
	sb.WriteString("var uncasedCompat = map[rune]string{\n")
	for _, r := range slices.Sorted(maps.Keys(uncasedCompat)) {
		fmt.Fprintf(&sb, "\t0x%04X: %+q,\n", r, uncasedCompat[r])
	}
	sb.WriteString("}\n")
	src, err := format.Source([]byte(sb.String()))
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile("compat_tables.go", src, 0o644); err != nil {
		t.Fatal(err)
	}
	t.Logf("wrote compat_tables.go: %d control, %d punctuation, %d uncased entries", len(controlCompat), len(punctCompat), len(uncasedCompat))
}

func TestEncodeWords(t *testing.T) {
	tok := load(t, false)
	words := []string{"Hello", "unaffable", "\u200b", "[SEP]", "U.S.A.", ""}
	got := tok.EncodeWords(words)
	if len(got) != len(words) {
		t.Fatalf("%d results for %d words", len(got), len(words))
	}
	for i, w := range words {
		if want := tok.Encode(w); !slices.Equal(got[i], want) {
			t.Errorf("word %q: %v, want %v", w, got[i], want)
		}
	}
	if len(got[2]) != 0 || len(got[5]) != 0 {
		t.Errorf("a zero-width space or empty word has no pieces, got %v %v", got[2], got[5])
	}
	// Appending to one word's pieces must not overwrite the next word's.
	_ = append(got[0], 999)
	if !slices.Equal(got[1], tok.Encode("unaffable")) {
		t.Errorf("per-word slices share capacity")
	}
}

func BenchmarkEncode(b *testing.B) {
	for _, lowercase := range []bool{false, true} {
		b.Run(fmt.Sprintf("lowercase=%v", lowercase), func(b *testing.B) {
			tok := load(b, lowercase)
			var texts []string
			bytes := 0
			for _, c := range readGolden(b) {
				if strings.HasPrefix(c.Src, "sst2-dev:") || strings.HasPrefix(c.Src, "ud-ewt-dev:") || strings.HasPrefix(c.Src, "wnut17-dev:") {
					texts = append(texts, c.Text)
					bytes += len(c.Text)
				}
			}
			var dst []int32
			tokens := 0
			b.SetBytes(int64(bytes))
			b.ReportAllocs()
			b.ResetTimer()
			for b.Loop() {
				for _, s := range texts {
					dst = tok.AppendEncode(dst[:0], s)
					tokens += len(dst)
				}
			}
			b.ReportMetric(float64(tokens)/b.Elapsed().Seconds(), "tokens/s")
		})
	}
}

// FuzzTokenize checks invariants on arbitrary bytes: no panic, only
// vocabulary entries, ids and tokens agree, and invalid UTF-8 acts exactly
// like U+FFFD (which the cleanup deletes). `go test` runs the seeds;
// `go test -fuzz FuzzTokenize` explores.
func FuzzTokenize(f *testing.F) {
	for _, s := range []string{"", "İ", "ß", "a\xffb", "\xed\xa0\x80", "[CLS]x[SEP]", "👨‍👩‍👧", "e\u0301", "中文", "\u0378", strings.Repeat("é", 101)} {
		f.Add(s)
	}
	toks := map[bool]*Tokenizer{false: load(f, false), true: load(f, true)}
	f.Fuzz(func(t *testing.T, s string) {
		for lowercase, tok := range toks {
			got := tok.Tokenize(s)
			ids := tok.Encode(s)
			if len(got) != len(ids) {
				t.Fatalf("lowercase=%v %q: %d tokens, %d ids", lowercase, s, len(got), len(ids))
			}
			for i, g := range got {
				if id, ok := tok.ID(g); !ok || id != ids[i] {
					t.Fatalf("lowercase=%v %q: token %q id %d", lowercase, s, g, ids[i])
				}
			}
			if valid := strings.ToValidUTF8(s, "\ufffd"); valid != s {
				if want := tok.Tokenize(valid); !slices.Equal(got, want) {
					t.Fatalf("lowercase=%v %q: %q, but with U+FFFD for the bad bytes %q", lowercase, s, got, want)
				}
			}
		}
	})
}

// TestConcurrent: one Tokenizer shared by goroutines gives the same
// results as sequential calls (run with -race to check the buffers).
func TestConcurrent(t *testing.T) {
	tok := load(t, true)
	cases := readGolden(t)[:600]
	want := make([][]int32, len(cases))
	for i, c := range cases {
		want[i] = tok.Encode(c.Text)
	}
	errs := make(chan string, 4)
	for g := 0; g < 4; g++ {
		go func() {
			for i := range cases {
				c := cases[(i+g*150)%len(cases)]
				if got := tok.Encode(c.Text); !slices.Equal(got, want[(i+g*150)%len(cases)]) {
					errs <- c.Src
					return
				}
			}
			errs <- ""
		}()
	}
	for g := 0; g < 4; g++ {
		if src := <-errs; src != "" {
			t.Errorf("%s: concurrent result differs", src)
		}
	}
}

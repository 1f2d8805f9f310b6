package align

import (
	"bufio"
	"compress/gzip"
	"encoding/json"
	"errors"
	"math"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/taskweave/taskweave/internal/testcorpora"
	"github.com/taskweave/taskweave/io/corpus"
	"github.com/taskweave/taskweave/io/shards"
	"github.com/taskweave/taskweave/text/wordpiece"
)

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

// cased loads Google's bert-base-cased vocabulary kept by the wordpiece tests.
func cased(tb testing.TB) *wordpiece.Tokenizer {
	tb.Helper()
	tok, err := wordpiece.Load(openGz(tb, "../wordpiece/testdata/bert_cased_vocab.txt.gz"), false)
	if err != nil {
		tb.Fatal(err)
	}
	return tok
}

func readCorpus(tb testing.TB, path string, opt corpus.Options) []corpus.Record {
	tb.Helper()
	f, err := os.Open(path)
	if err != nil {
		tb.Fatal(err)
	}
	defer f.Close()
	recs, _, err := corpus.ReadAll(f, path, opt)
	if err != nil {
		tb.Fatal(err)
	}
	return recs
}

var sst2 = map[string]int32{"0": 0, "1": 1}

func TestSentence(t *testing.T) {
	tok := cased(t)
	cls := Task{Name: "sst2", Split: "train", Type: SequenceClassification, LabelIDs: sst2, MaxSeqLen: 16}
	reg := Task{Name: "stsb", Split: "validation", Type: SequenceRegression, MaxSeqLen: 16}
	short := cls
	short.MaxSeqLen = 5
	rec := func(text, textB, label string) corpus.Record {
		return corpus.Record{File: "dev.tsv", Line: 7, ID: "dev.tsv:6", Text: text, TextB: textB, Label: label}
	}
	cases := []struct {
		name      string
		task      Task
		rec       corpus.Record
		tokens    []string
		types     []int32
		label     int32
		target    float64 // NaN: must be NaN
		truncated int
		err       string
	}{
		{"single", cls, rec("it 's unaffable .", "", "1"), []string{"[CLS]", "it", "'", "s", "un", "##af", "##fa", "##ble", ".", "[SEP]"}, make([]int32, 10), 1, 0, 0, ""},
		{"unlabeled test row", cls, rec("Fine", "", ""), []string{"[CLS]", "Fine", "[SEP]"}, []int32{0, 0, 0}, -1, 0, 0, ""},
		{"empty text", cls, rec("", "", "0"), []string{"[CLS]", "[SEP]"}, []int32{0, 0}, 0, 0, 0, ""},
		{"truncated to max_seq_len", short, rec("the cat sat on the mat", "", "0"), []string{"[CLS]", "the", "cat", "sat", "[SEP]"}, make([]int32, 5), 0, 0, 1, ""},
		{"pair", cls, rec("A cat.", "It sat.", "1"), []string{"[CLS]", "A", "cat", ".", "[SEP]", "It", "sat", ".", "[SEP]"}, []int32{0, 0, 0, 0, 0, 1, 1, 1, 1}, 1, 0, 0, ""},
		{"regression", reg, rec("a", "b", " 3.25"), []string{"[CLS]", "a", "[SEP]", "b", "[SEP]"}, []int32{0, 0, 0, 1, 1}, -1, 3.25, 0, ""},
		{"regression unlabeled", reg, rec("a", "", ""), []string{"[CLS]", "a", "[SEP]"}, []int32{0, 0, 0}, -1, math.NaN(), 0, ""},
		{"unknown label", cls, rec("x", "", "2"), nil, nil, 0, 0, 0, `dev.tsv:7: task sst2, split train: label "2" is not one of the task's 2 labels`},
		{"bad target", reg, rec("x", "", "high"), nil, nil, 0, 0, 0, `dev.tsv:7: task stsb, split validation: regression target "high" is not a finite number`},
		{"infinite target", reg, rec("x", "", "Inf"), nil, nil, 0, 0, 0, "not a finite number"},
	}
	for _, c := range cases {
		rows, st, err := Align(tok, c.task, c.rec)
		if c.err != "" {
			if err == nil || !strings.Contains(err.Error(), c.err) {
				t.Errorf("%s: error %v, want %q", c.name, err, c.err)
			}
			var re *RecordError
			if !errors.As(err, &re) || re.Rejection().Line != 7 || re.Rejection().File != "dev.tsv" || re.Rejection().Raw != "x" {
				t.Errorf("%s: %v is not a RecordError with file, line and raw text", c.name, err)
			}
			if got, want := errors.Is(err, ErrUnknownLabel), c.name == "unknown label"; got != want {
				t.Errorf("%s: errors.Is(err, ErrUnknownLabel) = %v", c.name, got)
			}
			continue
		}
		if err != nil || len(rows) != 1 {
			t.Errorf("%s: %d rows, error %v", c.name, len(rows), err)
			continue
		}
		r := rows[0]
		if got := tok.Decode(r.InputIDs); !slices.Equal(got, c.tokens) {
			t.Errorf("%s: tokens %q, want %q", c.name, got, c.tokens)
		}
		if !slices.Equal(r.TokenTypeIDs, c.types) {
			t.Errorf("%s: token types %v, want %v", c.name, r.TokenTypeIDs, c.types)
		}
		if r.Label != c.label || r.Task != c.task.Name || r.Split != c.task.Split || r.ExampleID != "dev.tsv:6" {
			t.Errorf("%s: label %d task %s split %s id %s", c.name, r.Label, r.Task, r.Split, r.ExampleID)
		}
		if math.IsNaN(c.target) != math.IsNaN(float64(r.Target)) || !math.IsNaN(c.target) && float64(r.Target) != c.target {
			t.Errorf("%s: target %v, want %v", c.name, r.Target, c.target)
		}
		if r.TokenLabels != nil || r.WordIDs != nil || r.Words != nil {
			t.Errorf("%s: a sentence row has token columns", c.name)
		}
		want := Stats{Rows: 1, Tokens: len(c.tokens), Truncated: c.truncated}
		if st != want {
			t.Errorf("%s: stats %+v, want %+v", c.name, st, want)
		}
	}
}

// TestPairTruncation checks [CLS] a [SEP] b [SEP] against Hugging Face
// tokenizers (bertProcessing + LongestFirst truncation) for every length
// combination in testdata/pairs.jsonl (written by tools/tokref).
func TestPairTruncation(t *testing.T) {
	tok := cased(t)
	f, err := os.Open("testdata/pairs.jsonl")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	n, truncated := 0, 0
	for sc.Scan() {
		var c struct {
			A, B    string
			MaxLen  int `json:"max_len"`
			Tokens  []string
			TypeIDs []int32 `json:"type_ids"`
		}
		if err := json.Unmarshal(sc.Bytes(), &c); err != nil {
			t.Fatal(err)
		}
		n++
		task := Task{Name: "pair", Type: SequenceClassification, LabelIDs: sst2, MaxSeqLen: c.MaxLen}
		rows, st, err := Align(tok, task, corpus.Record{ID: strconv.Itoa(n), Text: c.A, TextB: c.B, Label: "1"})
		if err != nil {
			t.Fatal(err)
		}
		if got := tok.Decode(rows[0].InputIDs); !slices.Equal(got, c.Tokens) || !slices.Equal(rows[0].TokenTypeIDs, c.TypeIDs) {
			t.Errorf("%q + %q at %d:\n got %q %v\nwant %q %v", c.A, c.B, c.MaxLen, got, rows[0].TokenTypeIDs, c.Tokens, c.TypeIDs)
		}
		full := len(tok.Encode(c.A)) + len(tok.Encode(c.B)) + 3
		if want := full > c.MaxLen; (st.Truncated == 1) != want {
			t.Errorf("%q + %q at %d: truncated %d, want %v", c.A, c.B, c.MaxLen, st.Truncated, want)
		}
		truncated += st.Truncated
	}
	if n < 500 || truncated < 100 || truncated == n {
		t.Fatalf("pairs.jsonl: %d cases, %d truncated: not the grid tools/tokref writes", n, truncated)
	}
}

func TestTokens(t *testing.T) {
	tok := cased(t)
	ner := map[string]int32{"O": 0, "B-PER": 1, "I-PER": 2, "B-LOC": 3}
	task := Task{Name: "ner", Split: "train", Type: TokenClassification, LabelIDs: ner, MaxSeqLen: 32}
	const U = Ignore
	cases := []struct {
		name   string
		words  []string
		tags   []string
		tokens []string
		labels []int32
		wids   []int32
		err    string
	}{
		{"subwords", []string{"Jim", "visited", "Zaventem", "."}, []string{"B-PER", "O", "B-LOC", "O"},
			[]string{"[CLS]", "Jim", "visited", "Z", "##aven", "##tem", ".", "[SEP]"},
			[]int32{U, 1, 0, 3, U, U, 0, U}, []int32{-1, 0, 1, 2, 2, 2, 3, -1}, ""},
		{"punctuation inside a word", []string{"U.S.", "Jim-Bob"}, []string{"B-LOC", "B-PER"},
			[]string{"[CLS]", "U", ".", "S", ".", "Jim", "-", "Bob", "[SEP]"},
			[]int32{U, 3, U, U, U, 1, U, U, U}, []int32{-1, 0, 0, 0, 0, 1, 1, 1, -1}, ""},
		{"word without pieces keeps its place", []string{"a", "\u200b", "\x01\x02", "b"}, []string{"O", "B-PER", "I-PER", "O"},
			[]string{"[CLS]", "a", "[UNK]", "[UNK]", "b", "[SEP]"},
			[]int32{U, 0, 1, 2, 0, U}, []int32{-1, 0, 1, 2, 3, -1}, ""},
		{"unlabeled", []string{"Jim", "ran"}, nil,
			[]string{"[CLS]", "Jim", "ran", "[SEP]"}, []int32{U, U, U, U}, []int32{-1, 0, 1, -1}, ""},
		{"no words", nil, nil, []string{"[CLS]", "[SEP]"}, []int32{U, U}, []int32{-1, -1}, ""},
		{"unknown tag", []string{"Jim", "Paris"}, []string{"B-PER", "B-GPE"}, nil, nil, nil,
			`train.txt:12: task ner, split train: tag "B-GPE" of word 2 ("Paris") is not one of the task's 4 labels`},
		{"tags do not match words", []string{"Jim", "ran"}, []string{"O"}, nil, nil, nil, "1 tags for 2 words"},
	}
	for _, c := range cases {
		rec := corpus.Record{File: "train.txt", Line: 12, ID: "train.txt:3", Words: c.words, Tags: c.tags}
		rows, st, err := Align(tok, task, rec)
		if c.err != "" {
			if err == nil || !strings.Contains(err.Error(), c.err) {
				t.Errorf("%s: error %v, want %q", c.name, err, c.err)
			}
			if got, want := errors.Is(err, ErrUnknownLabel), c.name == "unknown tag"; got != want {
				t.Errorf("%s: errors.Is(err, ErrUnknownLabel) = %v", c.name, got)
			}
			continue
		}
		if err != nil || len(rows) != 1 {
			t.Fatalf("%s: %d rows, error %v", c.name, len(rows), err)
		}
		r := rows[0]
		if got := tok.Decode(r.InputIDs); !slices.Equal(got, c.tokens) {
			t.Errorf("%s: tokens %q, want %q", c.name, got, c.tokens)
		}
		if !slices.Equal(r.TokenLabels, c.labels) || !slices.Equal(r.WordIDs, c.wids) {
			t.Errorf("%s: labels %v word ids %v, want %v %v", c.name, r.TokenLabels, r.WordIDs, c.labels, c.wids)
		}
		if r.Label != -1 || r.ExampleID != "train.txt:3" || !slices.Equal(r.Words, c.words) || len(r.TokenTypeIDs) != len(r.InputIDs) {
			t.Errorf("%s: label %d id %s words %q", c.name, r.Label, r.ExampleID, r.Words)
		}
		if st != (Stats{Rows: 1, Tokens: len(c.tokens)}) {
			t.Errorf("%s: stats %+v", c.name, st)
		}
	}
}

func TestValidate(t *testing.T) {
	cases := []struct {
		task Task
		want string
	}{
		{Task{Name: "x", Type: "ranking", MaxSeqLen: 8}, `unknown type "ranking"`},
		{Task{Name: "x", Type: TokenClassification, MaxSeqLen: 8}, "has no labels"},
		{Task{Name: "x", Type: SequenceClassification, LabelIDs: sst2, MaxSeqLen: 2}, "max_seq_len 2 is too small"},
	}
	for _, c := range cases {
		if err := c.task.Validate(); err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%+v: %v, want %q", c.task, err, c.want)
		}
		if _, _, err := Align(nil, c.task, corpus.Record{}); err == nil {
			t.Errorf("Align accepted %+v", c.task)
		}
	}
}

// checkWindows verifies the windows of one record: every row fits, the
// windows' pieces concatenate to the record's pieces in order, every word's
// label sits on its first piece exactly once, and each window's words and
// word ids are the record's words that its pieces come from.
func checkWindows(t *testing.T, tok *wordpiece.Tokenizer, task Task, rec corpus.Record, rows []shards.Row, st Stats) {
	t.Helper()
	var want, wantLabels []int32
	var owner []int // source word of each piece
	for i, p := range tok.EncodeWords(rec.Words) {
		if len(p) == 0 {
			p = []int32{tok.UNK()}
		}
		want = append(want, p...)
		for j := range p {
			owner = append(owner, i)
			if j == 0 && rec.Tags != nil {
				wantLabels = append(wantLabels, task.LabelIDs[rec.Tags[i]])
			} else {
				wantLabels = append(wantLabels, Ignore)
			}
		}
	}
	var got, gotLabels []int32
	tokens := 0
	for k, r := range rows {
		n := len(r.InputIDs)
		tokens += n
		if n > task.MaxSeqLen || n < 3 && len(rec.Words) > 0 || r.InputIDs[0] != tok.CLS() || r.InputIDs[n-1] != tok.SEP() {
			t.Fatalf("%s window %d: %d ids %v", rec.ID, k, n, tok.Decode(r.InputIDs))
		}
		if len(r.TokenLabels) != n || len(r.WordIDs) != n || len(r.TokenTypeIDs) != n {
			t.Fatalf("%s window %d: column lengths differ", rec.ID, k)
		}
		if len(rows) > 1 && r.ExampleID != rec.ID+"#w"+strconv.Itoa(k) || len(rows) == 1 && r.ExampleID != rec.ID {
			t.Errorf("%s window %d: id %s", rec.ID, k, r.ExampleID)
		}
		if r.WordIDs[0] != -1 || r.WordIDs[n-1] != -1 || r.TokenLabels[0] != Ignore || r.TokenLabels[n-1] != Ignore {
			t.Errorf("%s window %d: specials not marked", rec.ID, k)
		}
		if n > 2 {
			base := len(got)
			first, last := owner[base], owner[base+n-3]
			if !slices.Equal(r.Words, rec.Words[first:last+1]) {
				t.Errorf("%s window %d: words %q, want %q", rec.ID, k, r.Words, rec.Words[first:last+1])
			}
			for i := 1; i < n-1; i++ {
				if int(r.WordIDs[i]) != owner[base+i-1]-first {
					t.Fatalf("%s window %d: word ids %v", rec.ID, k, r.WordIDs)
				}
			}
		}
		got = append(got, r.InputIDs[1:n-1]...)
		gotLabels = append(gotLabels, r.TokenLabels[1:n-1]...)
	}
	if !slices.Equal(got, want) || !slices.Equal(gotLabels, wantLabels) {
		t.Errorf("%s: windows do not concatenate to the record's pieces and labels", rec.ID)
	}
	if st != (Stats{Rows: len(rows), Tokens: tokens, Windows: len(rows) - 1}) {
		t.Errorf("%s: stats %+v for %d rows, %d tokens", rec.ID, st, len(rows), tokens)
	}
}

func TestWindows(t *testing.T) {
	tok := cased(t)
	tags := map[string]int32{"O": 0, "B-PER": 1}
	cases := []struct {
		name    string
		words   []string
		maxLen  int
		windows [][]string // tokens of each window
		words2  [][]string // words of each window
	}{
		{"fits", []string{"a", "b", "c"}, 5, [][]string{{"[CLS]", "a", "b", "c", "[SEP]"}}, [][]string{{"a", "b", "c"}}},
		{"split on word boundaries", []string{"Zaventem", "is", "big"}, 5,
			[][]string{{"[CLS]", "Z", "##aven", "##tem", "[SEP]"}, {"[CLS]", "is", "big", "[SEP]"}},
			[][]string{{"Zaventem"}, {"is", "big"}}},
		{"a word never straddles windows when it fits in one", []string{"is", "Zaventem", "big"}, 5,
			[][]string{{"[CLS]", "is", "[SEP]"}, {"[CLS]", "Z", "##aven", "##tem", "[SEP]"}, {"[CLS]", "big", "[SEP]"}},
			[][]string{{"is"}, {"Zaventem"}, {"big"}}},
		{"a word longer than a window is spread", []string{"a", "!!!!!", "b"}, 4,
			[][]string{{"[CLS]", "a", "[SEP]"}, {"[CLS]", "!", "!", "[SEP]"}, {"[CLS]", "!", "!", "[SEP]"}, {"[CLS]", "!", "b", "[SEP]"}},
			[][]string{{"a"}, {"!!!!!"}, {"!!!!!"}, {"!!!!!", "b"}}},
	}
	for _, c := range cases {
		task := Task{Name: "ner", Split: "validation", Type: TokenClassification, LabelIDs: tags, MaxSeqLen: c.maxLen}
		rec := corpus.Record{ID: "s:1", Words: c.words, Tags: slices.Repeat([]string{"B-PER"}, len(c.words))}
		rows, st, err := Align(tok, task, rec)
		if err != nil {
			t.Fatal(err)
		}
		if len(rows) != len(c.windows) {
			t.Fatalf("%s: %d windows, want %d", c.name, len(rows), len(c.windows))
		}
		for k, r := range rows {
			if got := tok.Decode(r.InputIDs); !slices.Equal(got, c.windows[k]) || !slices.Equal(r.Words, c.words2[k]) {
				t.Errorf("%s window %d: %q words %q, want %q %q", c.name, k, got, r.Words, c.windows[k], c.words2[k])
			}
		}
		checkWindows(t, tok, task, rec, rows, st)
	}
}

// TestWindowsOnWNUT17 windows every WNUT17 training tweet at several
// limits and checks nothing is lost or mislabeled.
func TestWindowsOnWNUT17(t *testing.T) {
	dir := testcorpora.Dir(t)
	tok := cased(t)
	recs := readCorpus(t, filepath.Join(dir, "wnut17/wnut17train.conll"), corpus.Options{Format: corpus.CoNLL, TagColumn: -1, MaxRecordBytes: 8 << 20})
	labels := map[string]int32{}
	for _, r := range recs {
		for _, tag := range r.Tags {
			if _, ok := labels[tag]; !ok {
				labels[tag] = int32(len(labels))
			}
		}
	}
	for _, maxLen := range []int{3, 8, 24, 128} {
		task := Task{Name: "wnut17", Split: "train", Type: TokenClassification, LabelIDs: labels, MaxSeqLen: maxLen}
		windows := 0
		for _, rec := range recs {
			rows, st, err := Align(tok, task, rec)
			if err != nil {
				t.Fatal(err)
			}
			checkWindows(t, tok, task, rec, rows, st)
			windows += st.Windows
		}
		t.Logf("max_seq_len %d: %d sentences, %d extra windows", maxLen, len(recs), windows)
		if maxLen < 128 && windows == 0 {
			t.Errorf("max_seq_len %d made no windows", maxLen)
		}
	}
}

// golden returns the Hugging Face reference tokens (cased) by source, from
// the wordpiece golden file.
func golden(t *testing.T) map[string]goldenCase {
	sc := bufio.NewScanner(openGz(t, "../wordpiece/testdata/golden.jsonl.gz"))
	sc.Buffer(nil, 1<<20)
	out := map[string]goldenCase{}
	for sc.Scan() {
		var c goldenCase
		if err := json.Unmarshal(sc.Bytes(), &c); err != nil {
			t.Fatal(err)
		}
		out[c.Src] = c
	}
	return out
}

type goldenCase struct {
	Src, Text string
	Cased     []string
}

// TestDecodeReproducesTokenizer: decoding input_ids of aligned rows gives
// back exactly the tokenizer's output, and the Hugging Face reference's,
// for every SST-2 dev sentence and every WNUT17 dev tweet.
func TestDecodeReproducesTokenizer(t *testing.T) {
	dir := testcorpora.Dir(t)
	tok := cased(t)
	ref := golden(t)
	refWords := map[string][]string{}
	for _, c := range ref {
		if strings.HasPrefix(c.Src, "wnut17-dev-word:") {
			refWords[c.Text] = c.Cased
		}
	}

	sst := readCorpus(t, filepath.Join(dir, "sst2/dev.tsv"), corpus.Options{Format: corpus.TSV, TextColumns: []string{"sentence"}, LabelColumn: "label", MaxRecordBytes: 8 << 20})
	task := Task{Name: "sst2", Split: "validation", Type: SequenceClassification, LabelIDs: sst2, MaxSeqLen: 512}
	for _, rec := range sst {
		rows, _, err := Align(tok, task, rec)
		if err != nil {
			t.Fatal(err)
		}
		got := tok.Decode(rows[0].InputIDs)
		want := append(append([]string{"[CLS]"}, tok.Tokenize(rec.Text)...), "[SEP]")
		g, ok := ref["sst2-dev:"+strconv.Itoa(rec.Line)]
		if !ok || strings.TrimRight(g.Text, " ") != strings.TrimRight(rec.Text, " ") {
			t.Fatalf("%s:%d: no reference tokens for %q", rec.File, rec.Line, rec.Text)
		}
		if !slices.Equal(got, want) || !slices.Equal(got[1:len(got)-1], g.Cased) {
			t.Errorf("%s:%d: decoded %q\ntokenizer %q\nreference %q", rec.File, rec.Line, got, want, g.Cased)
		}
	}

	wnut := readCorpus(t, filepath.Join(dir, "wnut17/emerging.dev.conll"), corpus.Options{Format: corpus.CoNLL, TagColumn: -1, MaxRecordBytes: 8 << 20})
	labels := map[string]int32{}
	for _, r := range wnut {
		for _, tag := range r.Tags {
			if _, ok := labels[tag]; !ok {
				labels[tag] = int32(len(labels))
			}
		}
	}
	task = Task{Name: "wnut17", Split: "validation", Type: TokenClassification, LabelIDs: labels, MaxSeqLen: 512}
	for _, rec := range wnut {
		rows, _, err := Align(tok, task, rec)
		if err != nil {
			t.Fatal(err)
		}
		if len(rows) != 1 {
			t.Fatalf("%s:%d: %d windows at 512", rec.File, rec.Line, len(rows))
		}
		r := rows[0]
		got := tok.Decode(r.InputIDs)
		want := []string{"[CLS]"}
		for _, w := range rec.Words {
			p, ok := refWords[w]
			if !ok {
				t.Fatalf("%s:%d: no reference tokens for word %q", rec.File, rec.Line, w)
			}
			if !slices.Equal(p, tok.TokenizeWord(w)) {
				t.Errorf("word %q: tokenizer %q, reference %q", w, tok.TokenizeWord(w), p)
			}
			if len(p) == 0 {
				p = []string{"[UNK]"}
			}
			want = append(want, p...)
		}
		want = append(want, "[SEP]")
		if !slices.Equal(got, want) {
			t.Errorf("%s:%d: decoded %q, want %q", rec.File, rec.Line, got, want)
		}
		// Decoding the first subword of each word gives back the word's tags.
		for i, wid := range r.WordIDs {
			if r.TokenLabels[i] != Ignore && labels[rec.Tags[wid]] != r.TokenLabels[i] {
				t.Errorf("%s:%d: word %d label %d, want tag %s", rec.File, rec.Line, wid, r.TokenLabels[i], rec.Tags[wid])
			}
		}
	}
	t.Logf("%d SST-2 dev sentences and %d WNUT17 dev tweets decode to the reference tokens", len(sst), len(wnut))
}

package corpus

import (
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/taskweave/taskweave/internal/testcorpora"
)

// summary is what the real-corpus table checks: record, token, label and
// entity counts quoted in shared/corpora/SOURCES.md (from the corpora's own
// documentation), and distinct tag counts taken with awk/sort -u.
type summary struct {
	records, tokens int
	labels          map[string]int // sentence label counts, or for token tasks the number of distinct tags under key "#tags"
	entities        map[string]int // chunks by type (B- tags) for IOB2 tasks
	firstID         string
	lastID          string
	looseIOB2       int // I-X tags starting a chunk in an iob2 file
}

func summarize(t *testing.T, path string, opt Options) summary {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	rd := NewReader(f, path, opt)
	s := summary{labels: map[string]int{}, entities: map[string]int{}}
	tags := map[string]bool{}
	for {
		rec, rej, err := rd.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		if rej != nil {
			t.Errorf("unexpected rejection %s\n%s", rej, rej.Raw)
			continue
		}
		if s.records == 0 {
			s.firstID = rec.ID
		}
		s.lastID = rec.ID
		s.records++
		s.tokens += len(rec.Words)
		if rec.Words == nil {
			s.labels[rec.Label]++
		}
		for _, tg := range rec.Tags {
			tags[tg] = true
			if typ, ok := strings.CutPrefix(tg, "B-"); ok {
				s.entities[typ]++
			}
		}
	}
	if err := rd.CheckNotEmpty(); err != nil {
		t.Fatal(err)
	}
	s.looseIOB2 = rd.Stats().LooseIOB2
	if len(tags) > 0 {
		s.labels = map[string]int{"#tags": len(tags)}
		if opt.TagScheme == "" {
			s.entities = map[string]int{}
		}
	}
	return s
}

func TestRealCorpora(t *testing.T) {
	dir := testcorpora.Dir(t)
	ner := func(col int) Options { return opts(Options{Format: CoNLL, TagColumn: col, TagScheme: "iob2"}) }
	cases := []struct {
		file string
		opt  Options
		want summary
	}{
		{"sst2/train_full.tsv", opts(Options{Format: TSV}), summary{records: 67349, labels: map[string]int{"1": 37569, "0": 29780},
			firstID: "train_full.tsv:1", lastID: "train_full.tsv:67349"}},
		{"sst2/dev.tsv", opts(Options{Format: TSV}), summary{records: 872, labels: map[string]int{"1": 444, "0": 428},
			firstID: "dev.tsv:1", lastID: "dev.tsv:872"}},
		// index column first, no labels: ids come from the index column
		{"sst2/test.tsv", opts(Options{Format: TSV, Unlabeled: true}), summary{records: 1821, labels: map[string]int{"": 1821},
			firstID: "test.tsv:0", lastID: "test.tsv:1820"}},
		// CRLF line endings, no trailing spaces
		{"sst2/test-labeled.tsv", opts(Options{Format: TSV}), summary{records: 1821, labels: map[string]int{"0": 917, "1": 904},
			firstID: "test-labeled.tsv:1", lastID: "test-labeled.tsv:1821"}},

		{"conll2003/train.txt", ner(3), summary{records: 14041, tokens: 203621, labels: map[string]int{"#tags": 9},
			entities: map[string]int{"LOC": 7140, "MISC": 3438, "ORG": 6321, "PER": 6600}, firstID: "train.txt:1", lastID: "train.txt:14041"}},
		{"conll2003/valid.txt", ner(3), summary{records: 3250, tokens: 51362, labels: map[string]int{"#tags": 9},
			entities: map[string]int{"LOC": 1837, "MISC": 922, "ORG": 1341, "PER": 1842}, firstID: "valid.txt:1", lastID: "valid.txt:3250"}},
		{"conll2003/test.txt", ner(3), summary{records: 3453, tokens: 46435, labels: map[string]int{"#tags": 9},
			entities: map[string]int{"LOC": 1668, "MISC": 702, "ORG": 1661, "PER": 1617}, firstID: "test.txt:1", lastID: "test.txt:3453"}},
		// the same file as POS and chunk tasks; the chunk column is IOB2 too
		{"conll2003/train.txt", opts(Options{Format: CoNLL, TagColumn: 1}), summary{records: 14041, tokens: 203621, labels: map[string]int{"#tags": 45}, firstID: "train.txt:1", lastID: "train.txt:14041"}},
		{"conll2003/train.txt", opts(Options{Format: CoNLL, TagColumn: 2, TagScheme: "iob2"}), summary{records: 14041, tokens: 203621, labels: map[string]int{"#tags": 20},
			firstID: "train.txt:1", lastID: "train.txt:14041"}},

		{"wnut17/wnut17train.conll", ner(0), summary{records: 3394, tokens: 62730, labels: map[string]int{"#tags": 13},
			entities: map[string]int{"": 1975}, firstID: "wnut17train.conll:1", lastID: "wnut17train.conll:3394"}},
		// one "Lil/B-person Sly-/I-person Turn/I-creative-work" sentence: kept, counted
		{"wnut17/emerging.dev.conll", ner(0), summary{records: 1009, tokens: 15733, labels: map[string]int{"#tags": 13}, looseIOB2: 1,
			firstID: "emerging.dev.conll:1", lastID: "emerging.dev.conll:1009"}},
		{"wnut17/emerging.test.annotated", ner(0), summary{records: 1287, tokens: 23394, labels: map[string]int{"#tags": 13},
			firstID: "emerging.test.annotated:1", lastID: "emerging.test.annotated:1287"}},

		{"ud_english_ewt/en_ewt-ud-dev.conllu", opts(Options{Format: CoNLLU}), summary{records: 2001, tokens: 25147, labels: map[string]int{"#tags": 17},
			firstID: "en_ewt-ud-dev.conllu:weblog-blogspot.com_nominations_20041117172713_ENG_20041117_172713-0001"}},
		{"ud_english_ewt/en_ewt-ud-test.conllu", opts(Options{Format: CoNLLU}), summary{records: 2077, tokens: 25094, labels: map[string]int{"#tags": 17}}},
		{"ud_english_ewt/en_ewt-ud-dev.conllu", opts(Options{Format: CoNLLU, TagField: "xpos"}), summary{records: 2001, tokens: 25147, labels: map[string]int{"#tags": 49}}},
	}
	for _, c := range cases {
		name := fmt.Sprintf("%s/%d", c.file, c.opt.TagColumn)
		if c.opt.TagField != "" {
			name += "/" + c.opt.TagField
		}
		t.Run(name, func(t *testing.T) {
			got := summarize(t, filepath.Join(dir, c.file), c.opt)
			if got.records != c.want.records || got.tokens != c.want.tokens {
				t.Errorf("records/tokens = %d/%d, want %d/%d", got.records, got.tokens, c.want.records, c.want.tokens)
			}
			if c.want.labels != nil && fmt.Sprint(got.labels) != fmt.Sprint(c.want.labels) {
				t.Errorf("labels = %v, want %v", got.labels, c.want.labels)
			}
			if want := c.want.entities; want != nil {
				if n, ok := want[""]; ok { // total only
					total := 0
					for _, v := range got.entities {
						total += v
					}
					if total != n {
						t.Errorf("entities = %d (%v), want %d", total, got.entities, n)
					}
				} else if len(want) > 0 && fmt.Sprint(got.entities) != fmt.Sprint(want) {
					t.Errorf("entities = %v, want %v", got.entities, want)
				}
			}
			if c.want.firstID != "" && got.firstID != c.want.firstID {
				t.Errorf("first id = %q, want %q", got.firstID, c.want.firstID)
			}
			if got.looseIOB2 != c.want.looseIOB2 {
				t.Errorf("I- tags starting a chunk = %d, want %d", got.looseIOB2, c.want.looseIOB2)
			}
			if c.want.lastID != "" && got.lastID != c.want.lastID {
				t.Errorf("last id = %q, want %q", got.lastID, c.want.lastID)
			}
		})
	}
}

// TestRealCorpusDetails checks quirks named in SOURCES.md one by one.
func TestRealCorpusDetails(t *testing.T) {
	dir := testcorpora.Dir(t)
	read := func(file string, opt Options) []Record {
		f, err := os.Open(filepath.Join(dir, file))
		if err != nil {
			t.Fatal(err)
		}
		defer f.Close()
		recs, rejs, err := ReadAll(f, file, opt)
		if err != nil || len(rejs) > 0 {
			t.Fatalf("%s: err %v, rejections %v", file, err, rejs)
		}
		return recs
	}

	// SST-2: the space GLUE puts before the TAB is gone.
	dev := read("sst2/dev.tsv", opts(Options{Format: TSV}))
	if got := dev[0]; got.Text != "it 's a charming and often affecting journey ." || got.Label != "1" || got.Line != 2 {
		t.Errorf("dev.tsv first record = %+v", got)
	}
	test := read("sst2/test.tsv", opts(Options{Format: TSV, Unlabeled: true}))
	if got := test[1]; got.ID != "test.tsv:1" || got.Label != "" || !strings.HasPrefix(got.Text, "this film 's relationship") {
		t.Errorf("test.tsv second record = %+v", got)
	}

	// CoNLL-2003: DOCSTART skipped, POS/chunk/NER from one file, NN|SYM kept, last sentence flushed.
	pos := read("conll2003/train.txt", opts(Options{Format: CoNLL, TagColumn: 1}))
	nerRecs := read("conll2003/train.txt", opts(Options{Format: CoNLL, TagColumn: 3}))
	first := Record{File: "conll2003/train.txt", Line: 3, ID: "train.txt:1",
		Words: strings.Fields("EU rejects German call to boycott British lamb ."),
		Tags:  strings.Fields("B-ORG O B-MISC O O O B-MISC O O")}
	if fmt.Sprint(nerRecs[0]) != fmt.Sprint(first) {
		t.Errorf("first NER record = %+v\nwant %+v", nerRecs[0], first)
	}
	if got := strings.Join(pos[0].Tags, " "); got != "NNP VBZ JJ NN TO VB JJ NN ." {
		t.Errorf("first POS tags = %s", got)
	}
	last := nerRecs[len(nerRecs)-1]
	if strings.Join(last.Words, " ") != "Swansea 1 Lincoln 2" || last.Line != 219550 {
		t.Errorf("last record (no blank line at EOF) = %+v", last)
	}
	sym := 0
	for _, r := range pos {
		sym += strings.Count(" "+strings.Join(r.Tags, " ")+" ", " NN|SYM ")
	}
	if sym == 0 {
		t.Error("POS tag NN|SYM not found")
	}

	// WNUT17 dev ends with a lone BOM line: no extra token, no rejection.
	wdev := read("wnut17/emerging.dev.conll", opts(Options{Format: CoNLL, TagScheme: "iob2"}))
	lw := wdev[len(wdev)-1]
	if got := strings.Join(lw.Words, " "); got != "This guy needs his own show on Discivery Channel !" {
		t.Errorf("last WNUT dev sentence = %q", got)
	}
	// the BOM inside a real token ("Dubbz\uFEFF") is data and stays
	found := false
	for _, r := range wdev {
		found = found || slices.Contains(r.Words, "Dubbz\uFEFF")
	}
	if !found {
		t.Error(`token "Dubbz\uFEFF" not kept`)
	}

	// UD EWT: multiword "1-2" lines skipped, words kept; XPOS as the tag.
	ud := read("ud_english_ewt/en_ewt-ud-dev.conllu", opts(Options{Format: CoNLLU, TagField: "xpos"}))
	if got := strings.Join(ud[0].Words, " ") + " / " + strings.Join(ud[0].Tags, " "); got != "From the AP comes this story : / IN DT NNP VBZ DT NN :" {
		t.Errorf("first UD sentence = %s", got)
	}
}

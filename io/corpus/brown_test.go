package corpus

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/taskweave/taskweave/internal/testcorpora"
)

func TestBrownTag(t *testing.T) {
	cases := []struct{ in, want string }{
		{"nn", "nn"},
		{"nn-tl", "nn"},
		{"nn-hl", "nn"},
		{"nn-nc", "nn"},
		{"nn-tl-hl", "nn"},     // stacked marks
		{"vbn-tl-nc", "vbn"},   // stacked marks
		{"np$", "np$"},         // possessive is grammar
		{"bedz*", "bedz*"},     // negation is grammar
		{"fw-in", "fw-in"},     // foreign word is kept
		{"ppss+md", "ppss+md"}, // joined tags stay one label
		{"fw-in+at-tl", "fw-in+at"},
		{"--", "--"},   // the dash's own tag
		{"-hl", "-hl"}, // a mark alone is not stripped to nothing
	}
	for _, c := range cases {
		if got := BrownTag(c.in); got != c.want {
			t.Errorf("BrownTag(%q) = %q, want %q", c.in, got, c.want)
		}
	}
}

// TestBrownStyle checks the hand-made file's records field by field (the
// golden file records the same, this says which values matter).
func TestBrownStyle(t *testing.T) {
	read := func(opt Options) ([]Record, []Rejection) {
		f, err := os.Open("testdata/brown_style.txt")
		if err != nil {
			t.Fatal(err)
		}
		defer f.Close()
		recs, rejs, err := ReadAll(f, "brown_style.txt", opts(opt))
		if err != nil {
			t.Fatal(err)
		}
		return recs, rejs
	}
	recs, rejs := read(Options{Format: Brown})
	if len(recs) != 3 || len(rejs) != 1 {
		t.Fatalf("%d records, %d rejections; want 3 and 1", len(recs), len(rejs))
	}
	if got := strings.Join(recs[0].Tags, " "); got != "at np nn jj nn vbd ." || recs[0].Line != 3 || recs[0].ID != "brown_style.txt:1" {
		t.Errorf("first record = %+v", recs[0])
	}
	if got := strings.Join(recs[1].Words, " "); got != "HEAD I'll go , 1/2 wasn't -- it" {
		t.Errorf("second record's words = %q (a slash inside a word stays in the word)", got)
	}
	if got := strings.Join(recs[1].Tags, " "); got != "nn ppss+md vb , cd bedz* -- pps" {
		t.Errorf("second record's tags = %q", got)
	}
	if r := rejs[0]; r.Line != 7 || !strings.Contains(r.Reason, `token 1 ("broken") is not word/tag`) {
		t.Errorf("rejection = %+v", r)
	}
	if recs[2].ID != "brown_style.txt:4" {
		t.Errorf("third record's id = %q; the rejected line keeps its number", recs[2].ID)
	}
	text, _ := read(Options{Format: Brown, BrownText: true})
	if got := text[0]; got.Text != "The Fulton County Grand Jury said ." || got.Words != nil || got.Tags != nil {
		t.Errorf("as text: %+v", got)
	}
	plain, _ := read(Options{Format: Brown, Unlabeled: true})
	if got := plain[0]; len(got.Words) != 7 || got.Tags != nil {
		t.Errorf("unlabeled: %+v", got)
	}
}

// TestBrownCorpus reads all 500 files of ../shared/corpora/brown and
// checks the counts SOURCES.md gives (57,340 sentences, 1,161,192 tokens),
// the tag set after BrownTag (232, of which 89 joined with +; 472 raw,
// counted with awk and sort -u) and that the text form keeps every word.
func TestBrownCorpus(t *testing.T) {
	dir := filepath.Join(testcorpora.Dir(t), "brown")
	files, err := filepath.Glob(filepath.Join(dir, "c[a-r][0-9][0-9]"))
	if err != nil {
		t.Fatal(err)
	}
	if len(files) != 500 {
		t.Fatalf("%d files c[a-r][0-9][0-9] in %s, want 500", len(files), dir)
	}
	var sentences, tokens, textWords int
	tags, joined := map[string]bool{}, map[string]bool{}
	for _, file := range files {
		for _, rec := range readAllFile(t, file, Options{Format: Brown}) {
			sentences++
			tokens += len(rec.Words)
			for _, tg := range rec.Tags {
				tags[tg] = true
				if strings.Contains(tg, "+") {
					joined[tg] = true
				}
			}
		}
		for _, rec := range readAllFile(t, file, Options{Format: Brown, BrownText: true}) {
			textWords += len(strings.Fields(rec.Text))
		}
	}
	if sentences != 57340 || tokens != 1161192 {
		t.Errorf("%d sentences, %d tokens; SOURCES.md gives 57,340 and 1,161,192", sentences, tokens)
	}
	if textWords != tokens {
		t.Errorf("text form has %d words, the tagged form %d", textWords, tokens)
	}
	if len(tags) != 232 || len(joined) != 89 {
		t.Errorf("%d tags, %d joined; want 232 and 89", len(tags), len(joined))
	}
}

func readAllFile(t *testing.T, file string, opt Options) []Record {
	t.Helper()
	f, err := os.Open(file)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	recs, rejs, err := ReadAll(f, file, opts(opt))
	if err != nil || len(rejs) > 0 {
		t.Fatalf("%s: err %v, rejections %v", file, err, rejs)
	}
	return recs
}

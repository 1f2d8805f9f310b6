package corpus

import (
	"bytes"
	"strings"
)

// brownReader reads the Brown Corpus, Form C: one sentence per line
// (tab-indented; blank lines between paragraphs separate nothing a task
// uses), tokens separated by spaces, each token word/tag. A word may hold
// a slash itself (1/2/cd), so the tag is what follows the last one.
//
// Tags are normalised by BrownTag. With Options.Unlabeled the record keeps
// its words only; with Options.BrownText the words are joined by spaces
// into Record.Text, the tags stripped, for masked LM and pre-training.
type brownReader struct{ r *Reader }

func (b *brownReader) next() (Record, *Rejection, error) {
	r := b.r
	l, rej, err := r.nextRecordLine()
	if rej != nil || err != nil {
		return Record{}, rej, err
	}
	if msg := checkText(l.text); msg != "" {
		return Record{}, r.reject(l.line, l.text, l.size, "line has %s", msg), nil
	}
	fields := bytes.Fields(l.text)
	words := make([]string, 0, len(fields))
	tags := make([]string, 0, len(fields))
	for i, f := range fields {
		slash := bytes.LastIndexByte(f, '/')
		if slash <= 0 || slash == len(f)-1 {
			return Record{}, r.reject(l.line, l.text, l.size,
				"token %d (%q) is not word/tag; Brown tokens are a word, a slash and a tag (the/at): fix the token, or read the file with another format", i+1, f), nil
		}
		words = append(words, string(f[:slash]))
		tags = append(tags, BrownTag(string(f[slash+1:])))
	}
	rec := Record{File: r.file, Line: l.line, ID: l.id}
	switch {
	case r.opt.BrownText:
		rec.Text = strings.Join(words, " ")
	case r.opt.Unlabeled:
		rec.Words = words
	default:
		rec.Words, rec.Tags = words, tags
	}
	return rec, nil, nil
}

// brownMarks are the suffixes Brown adds to a tag for where the word
// stands, not what it is: -hl in a headline, -tl in a title, -nc a cited
// word. They stack (nn-tl-hl). Stripping them keeps "City" in "City of
// Atlanta" an nn like any other noun, and brings the 472 raw tags of the
// corpus down to 232.
var brownMarks = []string{"-hl", "-tl", "-nc"}

// BrownTag normalises one Brown tag: the position marks (brownMarks) are
// stripped from the end of each part; the other marks stay, since they
// are grammar (fw- a foreign word, $ a possessive, * a negation).
//
// A tag joined with + (ppss+md for "I'll", pps+bez for "it's") stays one
// label: the token is one word in the text and gets one prediction, and
// taking its first part would call "it's" a pronoun and drop the verb
// that the tag also records. They are 89 of the 232 labels but only
// 2,801 of 1,161,192 tokens, so they cost a few rare classes and nothing
// else.
func BrownTag(tag string) string {
	if !strings.Contains(tag, "-") {
		return tag
	}
	parts := strings.Split(tag, "+")
	for i, p := range parts {
		for cut := true; cut; {
			cut = false
			for _, m := range brownMarks {
				if q, ok := strings.CutSuffix(p, m); ok && q != "" {
					p, cut = q, true
				}
			}
		}
		parts[i] = p
	}
	return strings.Join(parts, "+")
}

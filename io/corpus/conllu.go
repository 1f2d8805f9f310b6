package corpus

import (
	"bytes"
	"io"
	"strconv"
	"strings"
)

// conlluReader reads CoNLL-U: ten TAB-separated columns (ID FORM LEMMA UPOS
// XPOS FEATS HEAD DEPREL DEPS MISC), # comment lines before each sentence.
// Only syntactic words become tokens: multiword ranges ("1-2") and empty
// nodes ("8.1") are checked for their place and skipped. Word IDs must run
// 1, 2, 3, … so a lost line shows up as a rejection.
type conlluReader struct {
	r *Reader
}

func (c *conlluReader) next() (Record, *Rejection, error) {
	r := c.r
	tagCol := 3
	if strings.EqualFold(r.opt.TagField, "xpos") {
		tagCol = 4
	}
	var s sentence
	for {
		line, size, lineNo, err := r.nextLine()
		if err == io.EOF {
			if s.started() {
				return r.finish(&s)
			}
			return Record{}, nil, io.EOF
		}
		if err != nil {
			return Record{}, nil, err
		}
		if size <= r.opt.MaxRecordBytes && isBlank(line) {
			if s.started() {
				return r.finish(&s)
			}
			continue
		}
		if !r.addLine(&s, lineNo, size, line) {
			continue
		}
		if line[0] == '#' {
			if v, ok := bytes.CutPrefix(line, []byte("# sent_id")); ok {
				if v, ok = bytes.CutPrefix(bytes.TrimLeft(v, " \t"), []byte("=")); ok {
					s.id = string(bytes.TrimSpace(v))
				}
			}
			continue
		}
		c.word(&s, lineNo, strings.Split(string(line), "\t"), tagCol)
	}
}

// word checks one word line's columns and adds it to s (multiword ranges and
// empty nodes only have their place checked).
func (c *conlluReader) word(s *sentence, lineNo int, f []string, tagCol int) {
	r := c.r
	if len(f) != 10 {
		s.fail(lineNo, "line has %d TAB-separated columns, CoNLL-U needs 10; the line is truncated or uses spaces instead of TABs", len(f))
		return
	}
	id := f[0]
	if a, b, ok := strings.Cut(id, "-"); ok { // multiword token: the words follow on their own lines
		lo, err1 := strconv.Atoi(a)
		hi, err2 := strconv.Atoi(b)
		if err1 != nil || err2 != nil || lo != len(s.words)+1 || hi < lo {
			s.fail(lineNo, "multiword range %q does not start at the next word ID %d; fix the ID column", id, len(s.words)+1)
		}
		return
	}
	if a, b, ok := strings.Cut(id, "."); ok { // empty node: not a surface word
		n, err1 := strconv.Atoi(a)
		_, err2 := strconv.Atoi(b)
		if err1 != nil || err2 != nil || n != len(s.words) {
			s.fail(lineNo, "empty node %q does not follow word %d; fix the ID column", id, len(s.words))
		}
		return
	}
	n, err := strconv.Atoi(id)
	if err != nil || n != len(s.words)+1 {
		s.fail(lineNo, "word ID %q where %d was expected; a line is missing or the ID column is broken", id, len(s.words)+1)
		return
	}
	if f[1] == "" {
		s.fail(lineNo, "FORM (column 2) is empty; fix the line")
		return
	}
	s.words, s.wordLines = append(s.words, f[1]), append(s.wordLines, lineNo)
	if r.opt.Unlabeled {
		return
	}
	tag := f[tagCol]
	if tag == "" || tag == "_" {
		name := strings.ToUpper(r.opt.TagField)
		if name == "" {
			name = "UPOS"
		}
		s.fail(lineNo, "%s (column %d) is %q, no tag; annotate the word or read the other tag field", name, tagCol+1, tag)
		return
	}
	s.tags = append(s.tags, tag)
}

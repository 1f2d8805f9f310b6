package corpus

import (
	"bytes"
	"fmt"
	"io"
	"strings"
)

// sentence collects the lines of one CoNLL or CoNLL-U sentence. The first
// problem found marks it bad; the lines after that are still consumed (up to
// the blank line) so the next sentence starts in the right place.
type sentence struct {
	start       int // line of the first line that belongs to it
	words, tags []string
	wordLines   []int  // line of each word, for pointing at a bad tag
	raw         []byte // the sentence's text, up to a little over rawLimit
	bytes       int
	badLine     int
	badReason   string
	id          string // CoNLL-U sent_id
	loose       int    // I-X tags starting a chunk (iob2), for Record.LooseIOB2
}

func (s *sentence) started() bool { return s.start > 0 }

func (s *sentence) add(lineNo int, line []byte) {
	if s.start == 0 {
		s.start = lineNo
	}
	s.bytes += len(line) + 1
	if len(s.raw) <= rawLimit+4 {
		if len(s.raw) > 0 {
			s.raw = append(s.raw, '\n')
		}
		s.raw = append(s.raw, line[:min(len(line), rawLimit+4)]...)
	}
}

// addLine adds a sentence line and applies the checks every column format
// shares (size limits, text encoding); false means the line failed them and
// the sentence is already marked rejected, or was before.
func (r *Reader) addLine(s *sentence, lineNo, size int, line []byte) bool {
	s.add(lineNo, line)
	if s.badReason != "" {
		return false
	}
	if size > r.opt.MaxRecordBytes {
		s.fail(lineNo, "%s", r.tooLong(size))
		return false
	}
	if s.bytes > r.opt.MaxRecordBytes {
		s.fail(lineNo, "sentence is over %d bytes without a blank line; separate sentences with blank lines, or raise preprocess.max_record_bytes in the job spec", r.opt.MaxRecordBytes)
		return false
	}
	if msg := checkText(line); msg != "" {
		s.fail(lineNo, "%s", msg)
		return false
	}
	return true
}

func (s *sentence) fail(lineNo int, format string, args ...any) {
	if s.badReason == "" {
		s.badLine, s.badReason = lineNo, fmt.Sprintf(format, args...)
	}
}

// finish turns a collected sentence into a record or a rejection.
func (r *Reader) finish(s *sentence) (Record, *Rejection, error) {
	id := r.nextID()
	if s.id != "" {
		id = r.ownID(s.id)
	}
	if s.badReason == "" && len(s.words) == 0 {
		s.fail(s.start, "sentence has no tokens (only comments or multiword/empty-node lines); remove it or add its token lines")
	}
	if s.badReason == "" && !r.opt.Unlabeled {
		i, why, loose := checkTags(r.opt.TagScheme, s.tags)
		if i >= 0 {
			s.fail(s.wordLines[i], "token %d (%q): %s", i+1, s.words[i], why)
		} else {
			r.stats.LooseIOB2 += loose
			s.loose = loose
		}
	}
	if s.badReason != "" {
		rej := r.reject(s.badLine, s.raw, s.bytes-1, "%s", s.badReason)
		if s.badLine != s.start {
			rej.Reason = fmt.Sprintf("sentence starting at line %d: %s", s.start, s.badReason)
		}
		return Record{}, rej, nil
	}
	rec := Record{File: r.file, Line: s.start, ID: id, Words: s.words, LooseIOB2: s.loose}
	if !r.opt.Unlabeled {
		rec.Tags = s.tags
	}
	return rec, nil, nil
}

// conllReader reads CoNLL column files: one token per line, the columns
// split on TAB when the line has one (WNUT17) and on runs of spaces
// otherwise (CoNLL-2003), sentences separated by whitespace-only lines,
// -DOCSTART- lines as document breaks. Every token line must have the
// file's number of columns, the most common count at its start; a line with
// another count is truncated or broken, and is never read with the tag
// taken from the wrong column.
type conllReader struct {
	r       *Reader
	sniffed bool
	width   int
	source  string // how width was found, for messages
}

// sniffWidth takes the most common column count (the larger one on a tie)
// of the complete lines already in the read buffer, so that one truncated
// first line cannot turn the whole file into rejections.
func (c *conllReader) sniffWidth() {
	br := c.r.lines.br
	buf, err := br.Peek(br.Size())
	if err == nil || len(buf) == br.Size() { // more may follow: drop the partial last line
		buf = buf[:max(0, bytes.LastIndexByte(buf, '\n'))]
	}
	counts := map[int]int{}
	for _, line := range bytes.Split(buf, []byte("\n")) {
		line = bytes.TrimPrefix(bytes.TrimSuffix(line, []byte("\r")), bom)
		if isBlank(line) {
			continue
		}
		if f := splitColumns(line); f[0] != "-DOCSTART-" {
			counts[len(f)]++
		}
	}
	for w, n := range counts {
		if n > counts[c.width] || (n == counts[c.width] && w > c.width) {
			c.width = w
		}
	}
	if c.width > 0 {
		c.source = fmt.Sprintf("the file's token lines have %d (the most common count among the first %d)", c.width, sum(counts))
	}
}

func sum(m map[int]int) int {
	n := 0
	for _, v := range m {
		n += v
	}
	return n
}

func splitColumns(line []byte) []string {
	s := string(line)
	if strings.IndexByte(s, '\t') >= 0 {
		f := strings.Split(strings.TrimRight(s, " \t"), "\t")
		for i := range f {
			f[i] = strings.TrimSpace(f[i])
		}
		return f
	}
	return strings.FieldsFunc(s, func(c rune) bool { return c == ' ' })
}

// columns resolves the word and tag columns for a file of the given width;
// tag is -1 for unlabeled reading.
func (c *conllReader) columns(width int) (word, tag int, why string) {
	o := c.r.opt
	word, tag = o.WordColumn, -1
	if !o.Unlabeled {
		switch {
		case o.TagColumn >= 0:
			tag = o.TagColumn
		default:
			tag = width + o.TagColumn
		}
		if tag < 0 || tag == word {
			return 0, 0, fmt.Sprintf("a line with %d column(s) has no tag column apart from the word (column %d); a tag is missing, or read the file as unlabeled", width, word)
		}
	}
	if need := max(word, tag) + 1; width < need {
		return 0, 0, fmt.Sprintf("line has %d column(s) but the word/tag columns (%d/%d, 0-based) need %d; the line is truncated or the column options are wrong", width, word, tag, need)
	}
	return word, tag, ""
}

func (c *conllReader) next() (Record, *Rejection, error) {
	r := c.r
	if !c.sniffed {
		c.sniffed = true
		c.sniffWidth()
	}
	var s sentence
	for {
		line, size, lineNo, err := r.nextLine()
		if err == io.EOF {
			if s.started() { // CoNLL-2003 has no blank line after its last sentence
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
		if bytes.HasPrefix(line, []byte("-DOCSTART-")) {
			if f := splitColumns(line); len(f) > 0 && f[0] == "-DOCSTART-" {
				if s.started() {
					return r.finish(&s) // the DOCSTART line itself carries nothing
				}
				continue
			}
		}
		if !r.addLine(&s, lineNo, size, line) {
			continue
		}
		f := splitColumns(line)
		word, tag, why := c.columns(len(f))
		if why != "" {
			s.fail(lineNo, "%s", why)
			continue
		}
		if c.width == 0 { // nothing to go by at the start: the first line sets it
			c.width, c.source = len(f), fmt.Sprintf("the file's first token line (line %d) has %d", lineNo, len(f))
		} else if len(f) != c.width {
			s.fail(lineNo, "line has %d columns where %s; a column is missing or extra, fix the line", len(f), c.source)
			continue
		}
		if f[word] == "" {
			s.fail(lineNo, "word column %d is empty; fix the line", word)
			continue
		}
		s.words, s.wordLines = append(s.words, f[word]), append(s.wordLines, lineNo)
		if tag >= 0 {
			if f[tag] == "" {
				s.fail(lineNo, "tag column %d is empty; add the tag", tag)
				continue
			}
			s.tags = append(s.tags, f[tag])
		}
	}
}

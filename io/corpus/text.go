package corpus

import (
	"io"
	"strings"
)

// textReader reads plain text for a masked LM: one sentence or paragraph
// per line, no header, no label. Blank lines separate nothing and are
// skipped; lines are trimmed.
type textReader struct{ r *Reader }

func (t *textReader) next() (Record, *Rejection, error) {
	r := t.r
	for {
		line, size, lineNo, err := r.nextLine()
		if err == io.EOF {
			return Record{}, nil, io.EOF
		}
		if err != nil {
			return Record{}, nil, err
		}
		if isBlank(line) {
			continue
		}
		id := r.nextID()
		if size > r.opt.MaxRecordBytes {
			return Record{}, r.reject(lineNo, line, size, "%s", r.tooLong(size)), nil
		}
		if msg := checkText(line); msg != "" {
			return Record{}, r.reject(lineNo, line, size, "line has %s", msg), nil
		}
		return Record{File: r.file, Line: lineNo, ID: id, Text: strings.TrimSpace(string(line))}, nil, nil
	}
}

package corpus

import "strings"

// textReader reads plain text for a masked LM: one sentence or paragraph
// per line, no header, no label. Blank lines separate nothing and are
// skipped; lines are trimmed.
type textReader struct{ r *Reader }

func (t *textReader) next() (Record, *Rejection, error) {
	r := t.r
	l, rej, err := r.nextRecordLine()
	if rej != nil || err != nil {
		return Record{}, rej, err
	}
	if msg := checkText(l.text); msg != "" {
		return Record{}, r.reject(l.line, l.text, l.size, "line has %s", msg), nil
	}
	return Record{File: r.file, Line: l.line, ID: l.id, Text: strings.TrimSpace(string(l.text))}, nil, nil
}

package corpus

import (
	"fmt"
	"strconv"
	"strings"
)

// tsvReader reads GLUE-style TSV: a header row naming the columns, one
// example per row, fields split on TAB with no quoting (GLUE sentences hold
// quote characters verbatim). Fields are trimmed: GLUE's SST-2 puts a space
// before every TAB.
type tsvReader struct {
	r                  *Reader
	header             []string
	text, textB, label int // column indexes, -1 when not read
	id                 int
	haveHeader         bool
}

func (t *tsvReader) readHeader(line []byte, lineNo int) error {
	if msg := checkText(line); msg != "" {
		return fmt.Errorf("%s:%d: the header row has %s", t.r.file, lineNo, msg)
	}
	t.header = strings.Split(string(line), "\t")
	where := map[string]int{}
	for i, h := range t.header {
		h = strings.TrimSpace(h)
		t.header[i] = h
		if j, dup := where[h]; dup {
			return fmt.Errorf("%s:%d: header %q names column %q twice (columns %d and %d); rename one", t.r.file, lineNo, string(line), h, j+1, i+1)
		}
		where[h] = i
	}
	o := t.r.opt
	// key is the column's name in the job spec's tasks[].columns.
	find := func(key string, names ...string) (int, error) {
		for _, n := range names {
			if i, ok := where[n]; ok {
				return i, nil
			}
		}
		return -1, fmt.Errorf("%s:%d: header %q has no %s column (expected %s); name the right column in the job spec's tasks[].columns.%s",
			t.r.file, lineNo, strings.Join(t.header, "\t"), key, quoteAll(names), key)
	}
	var err error
	if t.text, err = find("text", o.TextColumns...); err != nil {
		return err
	}
	t.textB, t.label, t.id = -1, -1, -1
	if o.TextBColumn != "" {
		if t.textB, err = find("text_b", o.TextBColumn); err != nil {
			return err
		}
	}
	if !o.Unlabeled {
		if t.label, err = find("label", o.LabelColumn); err != nil {
			if _, hasIndex := where["index"]; hasIndex {
				err = fmt.Errorf("%w; this looks like an unlabeled test file (it has an index column), read it with Unlabeled", err)
			}
			return err
		}
	}
	if o.IDColumn != "" {
		if t.id, err = find("id", o.IDColumn); err != nil {
			return err
		}
	} else if i, ok := where["index"]; ok {
		t.id = i
	}
	return nil
}

func (t *tsvReader) next() (Record, *Rejection, error) {
	r := t.r
	for !t.haveHeader {
		line, size, lineNo, err := r.nextLine()
		if err != nil {
			return Record{}, nil, err
		}
		if isBlank(line) {
			continue
		}
		if size > r.opt.MaxRecordBytes {
			return Record{}, nil, fmt.Errorf("%s:%d: the header row is %d bytes, over the %d-byte limit; this is not a TSV file with a header row (or raise preprocess.max_record_bytes in the job spec)", r.file, lineNo, size, r.opt.MaxRecordBytes)
		}
		t.haveHeader = true
		if err := t.readHeader(line, lineNo); err != nil {
			return Record{}, nil, err
		}
	}
	l, rej, err := r.nextRecordLine()
	if rej != nil || err != nil {
		return Record{}, rej, err
	}
	line, size, lineNo, id := l.text, l.size, l.line, l.id
	if msg := checkText(line); msg != "" {
		return Record{}, r.reject(lineNo, line, size, "row has %s", msg), nil
	}
	fields := strings.Split(string(line), "\t")
	if len(fields) != len(t.header) {
		how := "a TAB inside the text? replace it with a space"
		if len(fields) < len(t.header) {
			how = "a field is missing (truncated row or absent label); complete the row"
		}
		return Record{}, r.reject(lineNo, line, size, "row has %d TAB-separated fields, the header has %d (%s); %s",
			len(fields), len(t.header), strings.Join(t.header, ", "), how), nil
	}
	for i := range fields {
		fields[i] = strings.TrimSpace(fields[i])
	}
	rec := Record{File: r.file, Line: lineNo, ID: id, Text: fields[t.text]}
	if rec.Text == "" {
		return Record{}, r.reject(lineNo, line, size, "column %q is empty; every example needs text", t.header[t.text]), nil
	}
	if t.textB >= 0 {
		if rec.TextB = fields[t.textB]; rec.TextB == "" {
			return Record{}, r.reject(lineNo, line, size, "column %q is empty; a pair task needs both texts", t.header[t.textB]), nil
		}
	}
	if t.label >= 0 {
		if rec.Label = fields[t.label]; rec.Label == "" {
			return Record{}, r.reject(lineNo, line, size, "column %q is empty; give the label, or read the file as unlabeled", t.header[t.label]), nil
		}
	}
	if t.id >= 0 {
		if fields[t.id] == "" {
			return Record{}, r.reject(lineNo, line, size, "id column %q is empty; every row needs its id", t.header[t.id]), nil
		}
		rec.ID = r.ownID(fields[t.id])
	}
	return rec, nil, nil
}

func quoteAll(names []string) string {
	q := make([]string, len(names))
	for i, n := range names {
		q[i] = strconv.Quote(n)
	}
	return strings.Join(q, " or ")
}

package corpus

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"path"
	"strconv"
	"strings"
	"unicode/utf8"
)

// Format names a corpus file layout.
type Format string

const (
	TSV    Format = "tsv"    // GLUE-style: header row, TAB-separated, no quoting
	CoNLL  Format = "conll"  // one token per line, columns split by TAB or spaces, blank line between sentences
	CoNLLU Format = "conllu" // Universal Dependencies: 10 TAB-separated columns, # comments
	JSONL  Format = "jsonl"  // one JSON object per line
	Text   Format = "text"   // plain text, one sentence or paragraph per line, no labels (masked LM)
	Brown  Format = "brown"  // Brown Corpus form C: one sentence per line, tokens word/tag
)

// formatList is what an unknown format's message offers.
const formatList = "tsv, conll, conllu, jsonl, text, brown"

// rawLimit is how much of a rejected record's text a Rejection keeps.
const rawLimit = 1024

// Options select the format and the columns to read. The reader supplies
// no defaults: every name and limit a format needs is given (the job spec's
// defaults table, jobs/spec.Defaults, is where they come from), and a
// missing one is an error before any input is read. Empty strings mean
// "not read" only where a field says so.
type Options struct {
	Format Format

	// TSV: header names of the columns. JSONL: object keys of a sentence
	// record. TextColumns are the names the text may be under, in order of
	// preference: the first the file has is read (the spec's default tries
	// sentence, then text, for TSV and the reverse for JSONL). LabelColumn
	// is required unless Unlabeled. TextBColumn (second text of a pair task)
	// is read only when set. IDColumn: values become record ids; a TSV
	// header column named "index" is used when it is empty (GLUE test
	// files), JSONL reads ids only when it is set.
	TextColumns                        []string
	TextBColumn, LabelColumn, IDColumn string

	// JSONL only: records hold a word list and a tag list (token tasks)
	// under WordsKey and TagsKey (TagsKey is not needed when Unlabeled).
	TokenLevel        bool
	WordsKey, TagsKey string

	// CoNLL: 0-based column of the word and of the tag; a negative tag
	// column counts from the end (-1 = last, -2 = the one before). A
	// CoNLL-2003 file gives POS at 1, chunk at 2 and NER at 3.
	WordColumn, TagColumn int

	// CoNLL-U: which column is the tag, "upos" or "xpos".
	TagField string

	// "iob1", "iob2", "none" or "" (no check). With iob1/iob2 every tag must
	// be O, B-X or I-X, or the record is rejected. An I-X that starts a chunk
	// is kept under both (iob1 uses it by design; under iob2 it is counted
	// in Stats.LooseIOB2).
	TagScheme string

	// BrownText (brown only) gives each sentence as Record.Text, its words
	// joined by spaces and its tags stripped: the corpus as plain text for
	// a masked LM or pre-training.
	BrownText bool `json:",omitempty"`

	// Unlabeled reads test files without labels: records carry no Label/Tags
	// and a label column is neither required nor read.
	Unlabeled bool

	// MaxRecordBytes bounds a line and a CoNLL sentence (> 0); longer ones
	// are rejected, so a file without line breaks cannot make a reader hold
	// it all in memory. The job spec's preprocess.max_record_bytes.
	MaxRecordBytes int
}

// Validate reports options that cannot work, before any input is read.
func (o Options) Validate() error {
	switch o.Format {
	case TSV, CoNLL, CoNLLU, JSONL, Text, Brown:
	case "":
		return errors.New("corpus: no format given; use one of " + formatList)
	default:
		return fmt.Errorf("corpus: unknown format %q; use one of %s", o.Format, formatList)
	}
	if o.BrownText && o.Format != Brown {
		return fmt.Errorf("corpus: BrownText applies to the brown format only, not %s", o.Format)
	}
	switch strings.ToLower(o.TagScheme) {
	case "", "iob1", "iob2", "none":
	default:
		return fmt.Errorf("corpus: unknown tag scheme %q; use iob1, iob2, none or leave it empty", o.TagScheme)
	}
	switch strings.ToLower(o.TagField) {
	case "", "upos", "xpos":
	default:
		return fmt.Errorf("corpus: unknown CoNLL-U tag field %q; use upos or xpos", o.TagField)
	}
	if o.WordColumn < 0 {
		return fmt.Errorf("corpus: word column %d is negative; columns are 0-based", o.WordColumn)
	}
	if o.Format == CoNLL && !o.Unlabeled && o.TagColumn == o.WordColumn {
		return fmt.Errorf("corpus: word and tag column are both %d", o.TagColumn)
	}
	if o.TokenLevel && o.Format != JSONL {
		return fmt.Errorf("corpus: TokenLevel applies to jsonl only; %s is always %s", o.Format, map[bool]string{true: "token-level", false: "sentence-level"}[o.Format != TSV])
	}
	if o.MaxRecordBytes <= 0 {
		return fmt.Errorf("corpus: MaxRecordBytes %d; give the longest record in bytes, > 0 (the job spec's preprocess.max_record_bytes)", o.MaxRecordBytes)
	}
	return o.checkNames()
}

// checkNames reports a column or key name the format needs but the options
// leave empty. Each message names the job spec key that supplies it.
func (o Options) checkNames() error {
	need := func(v, field, key string) error {
		if strings.TrimSpace(v) == "" {
			return fmt.Errorf("corpus: %s format needs Options.%s, which is empty; the job spec's %s gives it", o.Format, field, key)
		}
		return nil
	}
	var errs []error
	switch {
	case o.Format == CoNLLU:
		errs = append(errs, need(o.TagField, "TagField", "tasks[].columns.field"))
	case o.Format == JSONL && o.TokenLevel:
		errs = append(errs, need(o.WordsKey, "WordsKey", "tasks[].columns.tokens"))
		if !o.Unlabeled {
			errs = append(errs, need(o.TagsKey, "TagsKey", "tasks[].columns.tags"))
		}
	case o.Format == TSV, o.Format == JSONL:
		if len(o.TextColumns) == 0 {
			errs = append(errs, need("", "TextColumns", "tasks[].columns.text"))
		}
		for _, c := range o.TextColumns {
			errs = append(errs, need(c, "TextColumns", "tasks[].columns.text"))
		}
		if !o.Unlabeled {
			errs = append(errs, need(o.LabelColumn, "LabelColumn", "tasks[].columns.label"))
		}
	}
	return errors.Join(errs...)
}

// Stats counts what a Reader has produced so far.
type Stats struct {
	Lines    int // lines read, including headers, comments and blank lines
	Records  int
	Rejected int
	// LooseIOB2 counts I-X tags that start a chunk in records read with
	// TagScheme iob2; they are kept (conlleval reads them as chunk starts)
	// and worth a line in the run's report.
	LooseIOB2 int
}

// Reader streams records out of one corpus file. It holds at most one
// record (and one line buffer) in memory.
type Reader struct {
	file, base string
	opt        Options
	lines      *lineReader
	parse      func() (Record, *Rejection, error)
	stats      Stats
	seq        int // records seen, rejected ones included, so ids do not shift when one is fixed
	err        error
	firstRej   *Rejection
	started    bool
	idLines    map[string]int // id the file gave -> line of the record that has it
	gaveID     bool           // the record being parsed has an id from the file
}

// NewReader reads the stream r, which came from file (a local path or a
// gs:// URL; only its base name goes into record ids). Invalid options are
// reported by the first call to Next.
func NewReader(r io.Reader, file string, opt Options) *Reader {
	rd := &Reader{file: file, base: path.Base(file), opt: opt}
	if err := opt.Validate(); err != nil {
		rd.err = fmt.Errorf("%s: %w", file, err)
		return rd
	}
	rd.lines = &lineReader{br: bufio.NewReaderSize(r, 64<<10), max: opt.MaxRecordBytes}
	switch opt.Format {
	case TSV:
		rd.parse = (&tsvReader{r: rd}).next
	case CoNLL:
		rd.parse = (&conllReader{r: rd}).next
	case CoNLLU:
		rd.parse = (&conlluReader{r: rd}).next
	case JSONL:
		rd.parse = (&jsonlReader{r: rd}).next
	case Text:
		rd.parse = (&textReader{r: rd}).next
	case Brown:
		rd.parse = (&brownReader{r: rd}).next
	}
	return rd
}

// Next returns the next record, or a rejection for a record that failed
// validation (exactly one of them is meaningful when err is nil). At the end
// of the input err is io.EOF; any other error (a failed read, a missing
// header column, a binary file) is final and names the file.
func (r *Reader) Next() (Record, *Rejection, error) {
	if r.err != nil {
		return Record{}, nil, r.err
	}
	if !r.started {
		r.started = true
		if err := r.sniff(); err != nil {
			r.err = err
			return Record{}, nil, err
		}
	}
	r.gaveID = false
	rec, rej, err := r.parse()
	if err == nil && rej == nil && r.gaveID {
		rej = r.checkUnique(rec)
	}
	switch {
	case err != nil:
		r.err = err
	case rej != nil:
		r.stats.Rejected++
		if r.firstRej == nil {
			c := *rej
			r.firstRej = &c
		}
	default:
		r.stats.Records++
	}
	r.stats.Lines = r.lines.n
	return rec, rej, err
}

// Stats returns the counts so far.
func (r *Reader) Stats() Stats { return r.stats }

// ErrEmpty is wrapped by CheckNotEmpty's error.
var ErrEmpty = errors.New("no usable records")

// CheckNotEmpty, called after Next returned io.EOF, reports a corpus that
// gave no record at all: an empty file, or one whose every record was
// rejected (usually the wrong format or columns rather than bad data).
func (r *Reader) CheckNotEmpty() error {
	if r.stats.Records > 0 {
		return nil
	}
	if r.firstRej != nil {
		return fmt.Errorf("%s: %w: all %d records were rejected, the first at line %d: %s; check the format and column options for this file",
			r.file, ErrEmpty, r.stats.Rejected, r.firstRej.Line, r.firstRej.Reason)
	}
	return fmt.Errorf("%s: %w: the file has %d lines but no records (empty, or only headers, comments and blank lines); point the task at the right file", r.file, ErrEmpty, r.stats.Lines)
}

// ReadAll reads a whole corpus into memory, for tests and small files. It
// fails on an empty or all-rejected corpus (see CheckNotEmpty).
func ReadAll(r io.Reader, file string, opt Options) ([]Record, []Rejection, error) {
	rd := NewReader(r, file, opt)
	var recs []Record
	var rejs []Rejection
	for {
		rec, rej, err := rd.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			return recs, rejs, err
		}
		if rej != nil {
			rejs = append(rejs, *rej)
		} else {
			recs = append(recs, rec)
		}
	}
	return recs, rejs, rd.CheckNotEmpty()
}

// sniff turns away inputs that are not text at all, where every line would
// be rejected for the same reason.
func (r *Reader) sniff() error {
	head, _ := r.lines.br.Peek(4)
	switch {
	case bytes.HasPrefix(head, []byte{0x1f, 0x8b}):
		return fmt.Errorf("%s: the file is gzip-compressed; decompress it (gunzip) or give the reader the decompressed stream", r.file)
	case bytes.HasPrefix(head, []byte{0xff, 0xfe}), bytes.HasPrefix(head, []byte{0xfe, 0xff}):
		return fmt.Errorf("%s: the file is UTF-16; convert it to UTF-8 (iconv -f UTF-16 -t UTF-8)", r.file)
	}
	return nil
}

// maxTrackedIDs bounds the ids checkUnique remembers, so a reader's memory
// stays bounded whatever the file's size; duplicates past it are still
// caught when the shards are written, without a line number.
const maxTrackedIDs = 1 << 20

// checkUnique rejects a record whose id an earlier record of the file
// already has (a repeated TSV index, JSONL id or CoNLL-U sent_id): two
// examples under one id would collide in the shards, where the file and
// line are no longer known. Only ids the file gives are remembered: the
// reader's own numbering cannot repeat.
func (r *Reader) checkUnique(rec Record) *Rejection {
	if r.idLines == nil {
		r.idLines = map[string]int{}
	}
	if first, dup := r.idLines[rec.ID]; dup {
		id := strings.TrimPrefix(rec.ID, r.base+":")
		raw, _ := json.Marshal(rec) // the parsed record: its source line is gone
		return r.reject(rec.Line, raw, len(raw),
			"id %q was already given to the record at line %d; ids must be unique within a file: fix the id", id, first)
	}
	if len(r.idLines) < maxTrackedIDs {
		r.idLines[rec.ID] = rec.Line
	}
	return nil
}

// ownID makes a record id from an id the file gives.
func (r *Reader) ownID(id string) string {
	r.gaveID = true
	return r.base + ":" + id
}

// nextID numbers every record, rejected ones included.
func (r *Reader) nextID() string {
	r.seq++
	return r.base + ":" + strconv.Itoa(r.seq)
}

// reject builds a rejection; raw is the record's text or a prefix of its
// total bytes.
func (r *Reader) reject(line int, raw []byte, total int, format string, args ...any) *Rejection {
	return &Rejection{File: r.file, Line: line, Reason: fmt.Sprintf(format, args...), Raw: rawText(raw, total)}
}

// String formats a rejection the way error messages do: file:line: reason.
func (j Rejection) String() string { return fmt.Sprintf("%s:%d: %s", j.File, j.Line, j.Reason) }

// lineReader yields lines of any length up to max bytes, without their
// terminator (LF or CRLF), and numbers them from 1.
// nextLine reads the next line for a format reader: io.EOF at the end, any
// other error already naming the file and line.
func (r *Reader) nextLine() (line []byte, size, lineNo int, err error) {
	line, size, err = r.lines.next()
	if err != nil && err != io.EOF {
		return nil, 0, 0, fmt.Errorf("%s: reading line %d: %w", r.file, r.lines.n+1, err)
	}
	return line, size, r.lines.n, err
}

type lineReader struct {
	br  *bufio.Reader
	max int
	n   int
	buf []byte
	eof bool
}

// next returns the next line and its full length; when size > max the line
// holds only the first max bytes. The slice is valid until the next call.
func (l *lineReader) next() (line []byte, size int, err error) {
	if l.eof {
		return nil, 0, io.EOF
	}
	l.buf = l.buf[:0]
	var prev, last byte // the line's last two bytes, for the terminator of a line cut off in l.buf
	for {
		chunk, err := l.br.ReadSlice('\n')
		size += len(chunk)
		switch n := len(chunk); {
		case n >= 2:
			prev, last = chunk[n-2], chunk[n-1]
		case n == 1:
			prev, last = last, chunk[0]
		}
		if room := l.max + 2 - len(l.buf); room > 0 {
			l.buf = append(l.buf, chunk[:min(room, len(chunk))]...)
		}
		if err == bufio.ErrBufferFull {
			continue
		}
		if err == io.EOF {
			l.eof = true
			if size == 0 {
				return nil, 0, io.EOF
			}
			break
		}
		if err != nil {
			return nil, 0, err
		}
		break
	}
	l.n++
	if last == '\n' {
		size--
		if prev == '\r' {
			size--
		}
	}
	line = l.buf[:min(len(l.buf), size)]
	if len(line) > l.max { // cut off: the caller sees size > max and keeps the head for the record
		return line[:l.max], size, nil
	}
	if l.n == 1 {
		if t, ok := bytes.CutPrefix(line, bom); ok {
			line, size = t, size-len(bom)
		}
	}
	return line, size, nil
}

var bom = []byte("\uFEFF")

// isBlank: only whitespace and byte-order marks. WNUT17 separates sentences
// with lone TABs and ends one file with a stray BOM line.
func isBlank(line []byte) bool {
	for len(line) > 0 {
		c := line[0]
		if c == ' ' || c == '\t' || c == '\r' || c == '\v' || c == '\f' {
			line = line[1:]
			continue
		}
		if t, ok := bytes.CutPrefix(line, bom); ok {
			line = t
			continue
		}
		return false
	}
	return true
}

// checkText reports why a line cannot be text, or "" when it can.
func checkText(line []byte) string {
	if !utf8.Valid(line) {
		i := 0
		for i < len(line) {
			r, w := utf8.DecodeRune(line[i:])
			if r == utf8.RuneError && w == 1 {
				break
			}
			i += w
		}
		return fmt.Sprintf("invalid UTF-8 (byte 0x%02X at byte offset %d); re-encode the file as UTF-8, e.g. iconv -f LATIN1 -t UTF-8", line[i], i)
	}
	if i := bytes.IndexByte(line, 0); i >= 0 {
		return fmt.Sprintf("NUL byte at byte offset %d; the file looks binary or UTF-16, convert it to UTF-8 text", i)
	}
	return ""
}

// rawText keeps a rejected record readable in JSON: invalid UTF-8 bytes
// become \xNN escapes (encoding/json would turn them into U+FFFD) and the
// text is cut to about rawLimit bytes. raw may already be a prefix of a
// record of total bytes.
func rawText(raw []byte, total int) string {
	var b strings.Builder
	i := 0
	for i < len(raw) && b.Len() < rawLimit {
		r, w := utf8.DecodeRune(raw[i:])
		if r == utf8.RuneError && w == 1 {
			fmt.Fprintf(&b, `\x%02X`, raw[i])
		} else {
			b.Write(raw[i : i+w])
		}
		i += w
	}
	if i < len(raw) || total > len(raw) {
		fmt.Fprintf(&b, "…[%d bytes in all]", max(total, len(raw)))
	}
	return b.String()
}

// tooLong is the reason for a line over the limit.
func (r *Reader) tooLong(size int) string {
	return fmt.Sprintf("line is %d bytes, over the %d-byte limit (a missing line break?); split it, or raise preprocess.max_record_bytes in the job spec", size, r.opt.MaxRecordBytes)
}

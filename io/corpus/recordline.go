package corpus

// recordLine is a line that becomes a record or a rejection, with the
// record id it was given.
type recordLine struct {
	text       []byte
	size, line int
	id         string
}

// nextRecordLine reads up to the next non-blank line and gives it the next
// record id; the line-per-record formats (TSV rows, JSONL, text) share it.
// A line over MaxRecordBytes comes back as a rejection: only a prefix of it
// was kept, so it is never taken for blank. io.EOF passes through.
func (r *Reader) nextRecordLine() (recordLine, *Rejection, error) {
	for {
		line, size, lineNo, err := r.nextLine()
		if err != nil {
			return recordLine{}, nil, err
		}
		if size <= r.opt.MaxRecordBytes && isBlank(line) {
			continue
		}
		id := r.nextID()
		if size > r.opt.MaxRecordBytes {
			return recordLine{}, r.reject(lineNo, line, size, "%s", r.tooLong(size)), nil
		}
		return recordLine{text: line, size: size, line: lineNo, id: id}, nil, nil
	}
}

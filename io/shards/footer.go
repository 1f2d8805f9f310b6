package shards

import (
	"encoding/binary"
	"errors"
	"fmt"
	"io"
)

// checkFooter validates a Parquet file's trailer and the thrift structure of
// its footer before parquet-go decodes it. parquet-go allocates whatever a
// footer claims (a 4 GiB footer length, a list of 2^31 row groups, a 2 GiB
// string), and a Go out-of-memory is fatal, not a recoverable panic: two
// flipped bytes would kill the trainer. Every length is therefore checked
// against the bytes that are actually there, which bounds parquet-go's
// allocations by a small multiple of the file size.
func checkFooter(r io.ReaderAt, size int64) error {
	if size < 12 {
		return fmt.Errorf("%d bytes is too short for a Parquet file (at least 12)", size)
	}
	var magic [4]byte
	if _, err := r.ReadAt(magic[:], 0); err != nil {
		return fmt.Errorf("reading the header: %w", err)
	}
	var tail [8]byte
	if _, err := r.ReadAt(tail[:], size-8); err != nil {
		return fmt.Errorf("reading the trailer: %w", err)
	}
	if string(magic[:]) != "PAR1" || string(tail[4:]) != "PAR1" {
		return fmt.Errorf("no PAR1 magic at the start and end (found %q and %q)", magic[:], tail[4:])
	}
	n := int64(binary.LittleEndian.Uint32(tail[:4]))
	if n == 0 || n > size-12 {
		return fmt.Errorf("footer length %d does not fit in a %d-byte file", n, size)
	}
	footer := make([]byte, n)
	if _, err := r.ReadAt(footer, size-8-n); err != nil {
		return fmt.Errorf("reading the %d-byte footer: %w", n, err)
	}
	w := thriftWalker{b: footer}
	if err := w.structure(0); err != nil {
		return fmt.Errorf("footer metadata at byte %d of %d: %w", w.pos, n, err)
	}
	if w.pos != len(footer) {
		return fmt.Errorf("footer metadata ends at byte %d of %d", w.pos, n)
	}
	return nil
}

// thriftWalker walks a thrift compact-protocol struct without decoding it,
// refusing any length that the remaining bytes cannot hold. Every list
// element takes at least one byte on the wire, so a list size larger than
// what remains is a lie.
type thriftWalker struct {
	b   []byte
	pos int
}

const maxThriftDepth = 32

var errTruncated = errors.New("truncated thrift data")

func (w *thriftWalker) byte() (byte, error) {
	if w.pos >= len(w.b) {
		return 0, errTruncated
	}
	c := w.b[w.pos]
	w.pos++
	return c, nil
}

func (w *thriftWalker) uvarint() (uint64, error) {
	v, n := binary.Uvarint(w.b[w.pos:])
	if n <= 0 {
		return 0, fmt.Errorf("bad varint")
	}
	w.pos += n
	return v, nil
}

func (w *thriftWalker) remaining() uint64 { return uint64(len(w.b) - w.pos) }

func (w *thriftWalker) structure(depth int) error {
	if depth > maxThriftDepth {
		return fmt.Errorf("structures nested deeper than %d", maxThriftDepth)
	}
	for {
		h, err := w.byte()
		if err != nil {
			return err
		}
		typ := h & 0x0f
		if typ == 0 { // stop
			return nil
		}
		if h>>4 == 0 { // long form: the field id follows as a varint
			if _, err := w.uvarint(); err != nil {
				return err
			}
		}
		if typ == 1 || typ == 2 { // booleans live in the field header
			continue
		}
		if err := w.value(typ, depth); err != nil {
			return err
		}
	}
}

func (w *thriftWalker) value(typ byte, depth int) error {
	switch typ {
	case 1, 2, 3: // a boolean list element, or a byte
		_, err := w.byte()
		return err
	case 4, 5, 6: // i16, i32, i64 as zigzag varints
		_, err := w.uvarint()
		return err
	case 7: // double
		if w.remaining() < 8 {
			return errTruncated
		}
		w.pos += 8
		return nil
	case 8: // binary or string
		n, err := w.uvarint()
		if err != nil {
			return err
		}
		if n > w.remaining() {
			return fmt.Errorf("a %d-byte string with %d bytes left", n, w.remaining())
		}
		w.pos += int(n)
		return nil
	case 9, 10: // list, set
		h, err := w.byte()
		if err != nil {
			return err
		}
		n := uint64(h >> 4)
		if n == 15 {
			if n, err = w.uvarint(); err != nil {
				return err
			}
		}
		if n > w.remaining() {
			return fmt.Errorf("a list of %d items with %d bytes left", n, w.remaining())
		}
		for i := uint64(0); i < n; i++ {
			if err := w.value(h&0x0f, depth+1); err != nil {
				return err
			}
		}
		return nil
	case 11: // map
		n, err := w.uvarint()
		if err != nil {
			return err
		}
		if n == 0 {
			return nil
		}
		if n > w.remaining()/2 {
			return fmt.Errorf("a map of %d entries with %d bytes left", n, w.remaining())
		}
		kv, err := w.byte()
		if err != nil {
			return err
		}
		for i := uint64(0); i < n; i++ {
			if err := w.value(kv>>4, depth+1); err != nil {
				return err
			}
			if err := w.value(kv&0x0f, depth+1); err != nil {
				return err
			}
		}
		return nil
	case 12:
		return w.structure(depth + 1)
	}
	return fmt.Errorf("unknown thrift type %d", typ)
}

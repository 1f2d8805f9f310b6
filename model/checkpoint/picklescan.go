package checkpoint

import (
	"encoding/binary"
	"fmt"
	"io"
)

// scanPickle walks one pickle's opcodes up to its STOP without building
// anything, refusing a length argument larger than the bytes left (limit)
// and any opcode it does not know. gopickle allocates every length it reads
// before reading the bytes, so without this a 4-byte field in a damaged
// file becomes a multi-gigabyte allocation. After a successful scan,
// gopickle's allocations are bounded by the pickle's size.
func scanPickle(r io.ByteReader, limit int64) error {
	s := &pickleScan{r: r, limit: limit}
	for {
		op, err := s.next()
		if err != nil {
			return err
		}
		if op == '.' { // STOP
			return nil
		}
		if err := s.skipArgument(op); err != nil {
			return err
		}
	}
}

// pickleScan reads one pickle's bytes, counting them against its limit.
type pickleScan struct {
	r     io.ByteReader
	limit int64
	pos   int64 // bytes read
}

// skipArgument reads past opcode op's argument, whose form the opcode
// fixes: none, a fixed-width integer, a length and that many bytes, or
// newline-terminated text.
func (s *pickleScan) skipArgument(op byte) error {
	switch op {
	case '(', '0', '1', '2', 'N', 'R', 'a', 'b', 'd', '}', 'e', 'l', ']', 'o', 's', 't', ')', 'u', 'Q',
		0x81, 0x85, 0x86, 0x87, 0x88, 0x89, 0x8f, 0x90, 0x91, 0x92, 0x93, 0x94, 0x97, 0x98:
		return nil // no argument
	case 'K', 'h', 'q', 0x80, 0x82: // one byte
		_, err := s.uint(1)
		return err
	case 'M', 0x83:
		_, err := s.uint(2)
		return err
	case 'J', 'j', 'r', 0x84:
		_, err := s.uint(4)
		return err
	case 'G':
		_, err := s.uint(8)
		return err
	case 'U', 0x8c, 'C', 0x8a: // 1-byte length, then the bytes
		return s.skipCounted(1)
	case 'T', 'X', 'B', 0x8b: // 4-byte length
		return s.skipCounted(4)
	case 0x8d, 0x8e, 0x96: // 8-byte length
		return s.skipCounted(8)
	case 0x95: // FRAME: its opcodes follow inline, only the length is checked
		n, err := s.uint(8)
		if err == nil && n > uint64(s.limit-s.pos) {
			err = fmt.Errorf("a frame of %d bytes at byte %d, with %d bytes left", n, s.pos, s.limit-s.pos)
		}
		return err
	case 'I', 'L', 'F', 'S', 'V', 'P', 'g', 'p': // newline-terminated text
		return s.line()
	case 'c', 'i': // module and name, two lines
		if err := s.line(); err != nil {
			return err
		}
		return s.line()
	}
	return fmt.Errorf("unknown pickle opcode 0x%02x at byte %d", op, s.pos-1)
}

func (s *pickleScan) next() (byte, error) {
	if s.pos >= s.limit {
		return 0, fmt.Errorf("pickle runs past the end of its %d bytes (truncated?)", s.limit)
	}
	b, err := s.r.ReadByte()
	if err != nil {
		return 0, fmt.Errorf("pickle ends at byte %d without STOP (truncated?): %w", s.pos, err)
	}
	s.pos++
	return b, nil
}

// skipCounted reads a little-endian length of width bytes, then skips
// that many bytes.
func (s *pickleScan) skipCounted(width int) error {
	n, err := s.uint(width)
	if err != nil {
		return err
	}
	return s.skip(n)
}

func (s *pickleScan) skip(n uint64) error {
	if n > uint64(s.limit-s.pos) {
		return fmt.Errorf("an argument of %d bytes at byte %d, with %d bytes left", n, s.pos, s.limit-s.pos)
	}
	for ; n > 0; n-- {
		if _, err := s.next(); err != nil {
			return err
		}
	}
	return nil
}

// uint reads a little-endian unsigned integer of width bytes.
func (s *pickleScan) uint(width int) (uint64, error) {
	var b [8]byte
	for i := 0; i < width; i++ {
		c, err := s.next()
		if err != nil {
			return 0, err
		}
		b[i] = c
	}
	return binary.LittleEndian.Uint64(b[:]), nil
}

// line reads past the next newline.
func (s *pickleScan) line() error {
	for {
		c, err := s.next()
		if err != nil {
			return err
		}
		if c == '\n' {
			return nil
		}
	}
}

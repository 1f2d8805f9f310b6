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
	var pos int64
	next := func() (byte, error) {
		if pos >= limit {
			return 0, fmt.Errorf("pickle runs past the end of its %d bytes (truncated?)", limit)
		}
		b, err := r.ReadByte()
		if err != nil {
			return 0, fmt.Errorf("pickle ends at byte %d without STOP (truncated?): %w", pos, err)
		}
		pos++
		return b, nil
	}
	skip := func(n uint64) error {
		if n > uint64(limit-pos) {
			return fmt.Errorf("an argument of %d bytes at byte %d, with %d bytes left", n, pos, limit-pos)
		}
		for ; n > 0; n-- {
			if _, err := next(); err != nil {
				return err
			}
		}
		return nil
	}
	uint := func(width int) (uint64, error) {
		var b [8]byte
		for i := 0; i < width; i++ {
			c, err := next()
			if err != nil {
				return 0, err
			}
			b[i] = c
		}
		return binary.LittleEndian.Uint64(b[:]), nil
	}
	line := func() error {
		for {
			c, err := next()
			if err != nil {
				return err
			}
			if c == '\n' {
				return nil
			}
		}
	}
	for {
		op, err := next()
		if err != nil {
			return err
		}
		var err2 error
		switch op {
		case '.': // STOP
			return nil
		case '(', '0', '1', '2', 'N', 'R', 'a', 'b', 'd', '}', 'e', 'l', ']', 'o', 's', 't', ')', 'u', 'Q',
			0x81, 0x85, 0x86, 0x87, 0x88, 0x89, 0x8f, 0x90, 0x91, 0x92, 0x93, 0x94, 0x97, 0x98:
			// no argument
		case 'K', 'h', 'q', 0x80, 0x82: // one byte
			_, err2 = uint(1)
		case 'M', 0x83:
			_, err2 = uint(2)
		case 'J', 'j', 'r', 0x84:
			_, err2 = uint(4)
		case 'G':
			_, err2 = uint(8)
		case 'U', 0x8c, 'C', 0x8a: // 1-byte length, then the bytes
			var n uint64
			if n, err2 = uint(1); err2 == nil {
				err2 = skip(n)
			}
		case 'T', 'X', 'B', 0x8b: // 4-byte length
			var n uint64
			if n, err2 = uint(4); err2 == nil {
				err2 = skip(n)
			}
		case 0x8d, 0x8e, 0x96: // 8-byte length
			var n uint64
			if n, err2 = uint(8); err2 == nil {
				err2 = skip(n)
			}
		case 0x95: // FRAME: its opcodes follow inline, only the length is checked
			var n uint64
			if n, err2 = uint(8); err2 == nil && n > uint64(limit-pos) {
				err2 = fmt.Errorf("a frame of %d bytes at byte %d, with %d bytes left", n, pos, limit-pos)
			}
		case 'I', 'L', 'F', 'S', 'V', 'P', 'g', 'p': // newline-terminated text
			err2 = line()
		case 'c', 'i': // module and name, two lines
			if err2 = line(); err2 == nil {
				err2 = line()
			}
		default:
			return fmt.Errorf("unknown pickle opcode 0x%02x at byte %d", op, pos-1)
		}
		if err2 != nil {
			return err2
		}
	}
}

package checkpoint

import (
	"bufio"
	"encoding/binary"
	"encoding/json"
	"fmt"
	"io"
	"math"
	"sort"
	"strings"
)

// Tensor is one named tensor of a safetensors file. Floating-point tensors
// (F32, F16, BF16, F64) are held as float32 in Data whatever their stored
// dtype; DType keeps the stored one. Integer and boolean tensors (such as
// Hugging Face's position_ids buffer) are listed with Data nil: nothing in
// taskweave needs their values, and refusing the whole file for them would
// refuse ordinary Hugging Face checkpoints.
type Tensor struct {
	Name  string
	DType string
	Shape []int
	Data  []float32
}

// NumElements is the product of the shape (1 for a scalar).
func (t *Tensor) NumElements() int {
	n := 1
	for _, d := range t.Shape {
		n *= d
	}
	return n
}

// maxHeaderBytes bounds the JSON header so that a corrupt length prefix
// fails with a message instead of an enormous allocation. The safetensors
// reference implementation uses the same 100 MB limit.
const maxHeaderBytes = 100 << 20

var dtypeSize = map[string]int{
	"F64": 8, "F32": 4, "F16": 2, "BF16": 2,
	"I64": 8, "U64": 8, "I32": 4, "U32": 4, "I16": 2, "U16": 2,
	"I8": 1, "U8": 1, "BOOL": 1, "F8_E4M3": 1, "F8_E5M2": 1,
}

type headerEntry struct {
	DType       string   `json:"dtype"`
	Shape       []int    `json:"shape"`
	DataOffsets [2]int64 `json:"data_offsets"`
}

// ReadSafetensors reads a whole safetensors stream: the 8-byte little-endian
// header length, the JSON header, then the byte buffer. It reads
// sequentially (no seeking), so it works on any io.Reader, a gs:// object
// included. name is used in error messages only. Tensors are returned in
// file order (by offset); metadata is the optional __metadata__ map.
func ReadSafetensors(r io.Reader, name string) (tensors []*Tensor, metadata map[string]string, err error) {
	br := bufio.NewReaderSize(r, 1<<20)
	entries, metadata, err := readSafetensorsHeader(br, name)
	if err != nil {
		return nil, nil, err
	}
	var pos int64
	buf := make([]byte, readChunk)
	for _, e := range entries {
		n, size, err := e.check(pos, name)
		if err != nil {
			return nil, nil, err
		}
		t, err := e.read(br, n, size, buf, name)
		if err != nil {
			return nil, nil, err
		}
		pos = e.DataOffsets[1]
		tensors = append(tensors, t)
	}
	// Trailing bytes would mean the header does not describe the file.
	if n, _ := io.Copy(io.Discard, br); n != 0 {
		return nil, nil, fmt.Errorf("%s: %d bytes after the last tensor are not described by the header", name, n)
	}
	return tensors, metadata, nil
}

// placedEntry is a header entry with its tensor's name.
type placedEntry struct {
	headerEntry
	name string
}

// readSafetensorsHeader reads the header length and the JSON header: the
// tensors' entries in data-buffer order, and __metadata__.
func readSafetensorsHeader(br io.Reader, name string) ([]placedEntry, map[string]string, error) {
	var lenBuf [8]byte
	if _, err := io.ReadFull(br, lenBuf[:]); err != nil {
		return nil, nil, fmt.Errorf("%s: reading the safetensors header length: %w (is this a safetensors file?)", name, err)
	}
	hlen := binary.LittleEndian.Uint64(lenBuf[:])
	if hlen == 0 || hlen > maxHeaderBytes {
		return nil, nil, fmt.Errorf("%s: safetensors header length %d is out of range (1..%d): not a safetensors file, or a corrupt one", name, hlen, maxHeaderBytes)
	}
	hdr := make([]byte, hlen)
	if _, err := io.ReadFull(br, hdr); err != nil {
		return nil, nil, fmt.Errorf("%s: reading the %d-byte safetensors header: %w (file truncated?)", name, hlen, err)
	}
	var raw map[string]json.RawMessage
	if err := json.Unmarshal(hdr, &raw); err != nil {
		return nil, nil, fmt.Errorf("%s: safetensors header is not a JSON object: %w", name, err)
	}
	var metadata map[string]string
	entries := make([]placedEntry, 0, len(raw))
	for k, v := range raw {
		if k == "__metadata__" {
			if err := json.Unmarshal(v, &metadata); err != nil {
				return nil, nil, fmt.Errorf("%s: __metadata__ must map strings to strings: %w", name, err)
			}
			continue
		}
		var e headerEntry
		dec := json.NewDecoder(strings.NewReader(string(v)))
		dec.DisallowUnknownFields()
		if err := dec.Decode(&e); err != nil {
			return nil, nil, fmt.Errorf("%s: header entry for tensor %q: %w", name, k, err)
		}
		entries = append(entries, placedEntry{e, k})
	}
	sort.Slice(entries, func(i, j int) bool {
		if entries[i].DataOffsets[0] != entries[j].DataOffsets[0] {
			return entries[i].DataOffsets[0] < entries[j].DataOffsets[0]
		}
		return entries[i].DataOffsets[1] < entries[j].DataOffsets[1]
	})
	return entries, metadata, nil
}

// check returns the entry's element count and element size after checking
// its dtype, its shape, and that its bytes start at pos (where the previous
// tensor ended) and match its shape.
func (e *placedEntry) check(pos int64, name string) (n int64, size int, err error) {
	size, ok := dtypeSize[e.DType]
	if !ok {
		return 0, 0, fmt.Errorf("%s: tensor %q has unknown dtype %q", name, e.name, e.DType)
	}
	n = 1
	for _, d := range e.Shape {
		if d < 0 || (d > 0 && n > math.MaxInt64/int64(size)/int64(d)) {
			return 0, 0, fmt.Errorf("%s: tensor %q has shape %v: a negative dimension, or more bytes than a file can hold", name, e.name, e.Shape)
		}
		n *= int64(d)
	}
	start, end := e.DataOffsets[0], e.DataOffsets[1]
	if start != pos {
		// The format forbids holes and overlaps: the buffer is fully indexed.
		return 0, 0, fmt.Errorf("%s: tensor %q starts at byte %d of the data buffer, expected %d (holes and overlaps are not allowed)", name, e.name, start, pos)
	}
	if end-start != n*int64(size) {
		return 0, 0, fmt.Errorf("%s: tensor %q: data_offsets [%d, %d] hold %d bytes, but %s %v needs %d", name, e.name, start, end, end-start, e.DType, e.Shape, n*int64(size))
	}
	return n, size, nil
}

// read reads the entry's n elements of size bytes through buf. The
// header's sizes are claims: it reads and decodes in chunks, so memory
// grows with the bytes actually present and a header claiming 10^12
// elements over a small file fails as truncated instead of allocating
// terabytes.
func (e *placedEntry) read(br io.Reader, n int64, size int, buf []byte, name string) (*Tensor, error) {
	start, end := e.DataOffsets[0], e.DataOffsets[1]
	t := &Tensor{Name: e.name, DType: e.DType, Shape: append([]int{}, e.Shape...)}
	if t.Shape == nil {
		t.Shape = []int{}
	}
	if isFloat(e.DType) {
		t.Data = make([]float32, 0, min(n, readChunk/int64(size)))
	}
	for off := start; off < end; {
		b := buf[:min(int64(len(buf)), end-off)]
		if _, err := io.ReadFull(br, b); err != nil {
			return nil, fmt.Errorf("%s: reading tensor %q (bytes %d..%d of the data buffer): %w (file truncated?)", name, e.name, start, end, err)
		}
		if t.Data != nil {
			// Grow by doubling (up to n) so that a large tensor is copied
			// O(1) times on average.
			if k := len(b) / size; cap(t.Data)-len(t.Data) < k {
				grown := make([]float32, len(t.Data), min(n, max(2*int64(cap(t.Data)), int64(len(t.Data)+k))))
				copy(grown, t.Data)
				t.Data = grown
			}
			t.Data = appendFloats(t.Data, e.DType, b)
		}
		off += int64(len(b))
	}
	return t, nil
}

// readChunk is how many bytes of tensor data are read at a time.
const readChunk = 1 << 20

func isFloat(dtype string) bool {
	return dtype == "F32" || dtype == "F64" || dtype == "BF16" || dtype == "F16"
}

// appendFloats converts little-endian floating-point bytes to float32 and
// appends them to out; it returns out unchanged for non-float dtypes. b
// holds whole elements (readChunk is a multiple of every dtype's size).
func appendFloats(out []float32, dtype string, b []byte) []float32 {
	switch dtype {
	case "F32":
		for i := 0; i+4 <= len(b); i += 4 {
			out = append(out, math.Float32frombits(binary.LittleEndian.Uint32(b[i:])))
		}
	case "F64":
		for i := 0; i+8 <= len(b); i += 8 {
			out = append(out, float32(math.Float64frombits(binary.LittleEndian.Uint64(b[i:]))))
		}
	case "BF16":
		// bfloat16 is the top half of a float32.
		for i := 0; i+2 <= len(b); i += 2 {
			out = append(out, math.Float32frombits(uint32(binary.LittleEndian.Uint16(b[i:]))<<16))
		}
	case "F16":
		for i := 0; i+2 <= len(b); i += 2 {
			out = append(out, halfToFloat(binary.LittleEndian.Uint16(b[i:])))
		}
	}
	return out
}

// halfToFloat widens an IEEE 754 binary16 value exactly.
func halfToFloat(h uint16) float32 {
	sign := uint32(h>>15) << 31
	exp := uint32(h>>10) & 0x1f
	frac := uint32(h) & 0x3ff
	switch {
	case exp == 0x1f: // Inf or NaN: keep the payload
		return math.Float32frombits(sign | 0xff<<23 | frac<<13)
	case exp != 0: // normal
		return math.Float32frombits(sign | (exp+127-15)<<23 | frac<<13)
	case frac == 0: // signed zero
		return math.Float32frombits(sign)
	}
	// Subnormal half: value = frac * 2^-24, exactly representable in float32.
	v := float32(frac) * (1.0 / (1 << 24))
	if sign != 0 {
		v = -v
	}
	return v
}

// WriteSafetensors writes F32 tensors in the safetensors format: tensors
// sorted by name (so equal models give equal bytes), the JSON header padded
// with spaces to a multiple of 8 bytes so the data buffer is aligned, and
// metadata under __metadata__ when non-empty.
func WriteSafetensors(w io.Writer, tensors []*Tensor, metadata map[string]string) error {
	sorted := append([]*Tensor{}, tensors...)
	sort.Slice(sorted, func(i, j int) bool { return sorted[i].Name < sorted[j].Name })
	header := make(map[string]any, len(sorted)+1)
	if len(metadata) > 0 {
		header["__metadata__"] = metadata
	}
	var off int64
	for i, t := range sorted {
		if t.Name == "" || t.Name == "__metadata__" {
			return fmt.Errorf("safetensors: tensor %d has the reserved or empty name %q", i, t.Name)
		}
		if i > 0 && sorted[i-1].Name == t.Name {
			return fmt.Errorf("safetensors: tensor name %q appears twice", t.Name)
		}
		if n := t.NumElements(); n != len(t.Data) {
			return fmt.Errorf("safetensors: tensor %q has shape %v (%d elements) but %d values", t.Name, t.Shape, n, len(t.Data))
		}
		shape := t.Shape
		if shape == nil {
			shape = []int{}
		}
		end := off + 4*int64(len(t.Data))
		header[t.Name] = headerEntry{DType: "F32", Shape: shape, DataOffsets: [2]int64{off, end}}
		off = end
	}
	hdr, err := json.Marshal(header) // map keys are sorted by encoding/json
	if err != nil {
		return fmt.Errorf("safetensors: encoding the header: %w", err)
	}
	if pad := (8 - len(hdr)%8) % 8; pad > 0 {
		hdr = append(hdr, strings.Repeat(" ", pad)...)
	}
	bw := bufio.NewWriterSize(w, 1<<20)
	var lenBuf [8]byte
	binary.LittleEndian.PutUint64(lenBuf[:], uint64(len(hdr)))
	bw.Write(lenBuf[:])
	bw.Write(hdr)
	chunk := make([]byte, 0, 1<<16)
	for _, t := range sorted {
		for start := 0; start < len(t.Data); start += cap(chunk) / 4 {
			chunk = chunk[:0]
			for _, v := range t.Data[start:min(len(t.Data), start+cap(chunk)/4)] {
				chunk = binary.LittleEndian.AppendUint32(chunk, math.Float32bits(v))
			}
			if _, err := bw.Write(chunk); err != nil {
				return fmt.Errorf("safetensors: writing tensor %q: %w", t.Name, err)
			}
		}
	}
	if err := bw.Flush(); err != nil {
		return fmt.Errorf("safetensors: %w", err)
	}
	return nil
}

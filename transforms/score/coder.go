package score

import (
	"encoding/binary"
	"errors"
	"fmt"
	"math"

	"github.com/taskweave/taskweave/model"
)

// Predictions cross the runner twice (to the group by shard file and back,
// and through the metrics combiner), and a token task's prediction holds
// four per-word slices. The schema coder encodes them field by field through
// reflection, which showed up as the largest cost of the pipeline outside
// the forward pass; this hand-written format is a few times cheaper.
//
// Layout: strings and slices are a uvarint length then the contents; a slice
// length is stored +1 so that 0 means nil (a nil GoldTags means "unlabeled"
// and must survive the trip); integers are varints; float32s and float64s
// are their IEEE bits, little-endian.

func encodePrediction(p Prediction) ([]byte, error) {
	n := 80 + len(p.Model) + len(p.Task) + len(p.Kind) + len(p.Part) + len(p.ExampleID) + len(p.Text) +
		4*len(p.Scores) + 5*len(p.WordScores) + 4*len(p.Logits)
	for _, ss := range [][]string{p.Words, p.GoldTags, p.PredTags} {
		for _, s := range ss {
			n += len(s) + 1
		}
	}
	b := make([]byte, 0, n)
	for _, s := range []string{p.Model, p.Task, string(p.Kind), p.Part, p.ExampleID, p.Text} {
		b = appendString(b, s)
	}
	b = binary.AppendVarint(b, p.Tokens)
	b = binary.AppendVarint(b, p.Rows)
	b = binary.AppendVarint(b, int64(p.Gold))
	b = binary.AppendVarint(b, int64(p.Pred))
	b = appendFloats(b, p.Scores)
	b = binary.LittleEndian.AppendUint32(b, math.Float32bits(p.GoldValue))
	b = binary.LittleEndian.AppendUint32(b, math.Float32bits(p.PredValue))
	b = appendStrings(b, p.Words)
	b = appendStrings(b, p.GoldTags)
	b = appendStrings(b, p.PredTags)
	b = appendFloats(b, p.WordScores)
	b = appendFloats(b, p.Logits)
	b = binary.AppendVarint(b, p.Masked)
	b = binary.AppendVarint(b, p.Correct)
	b = binary.LittleEndian.AppendUint64(b, math.Float64bits(p.NLL))
	return b, nil
}

func decodePrediction(b []byte) (Prediction, error) {
	d := predDecoder{b: b}
	var p Prediction
	var kind string
	for _, s := range []*string{&p.Model, &p.Task, &kind, &p.Part, &p.ExampleID, &p.Text} {
		*s = d.string()
	}
	p.Kind = model.HeadKind(kind)
	p.Tokens = d.varint()
	p.Rows = d.varint()
	p.Gold = int32(d.varint())
	p.Pred = int32(d.varint())
	p.Scores = d.floats()
	p.GoldValue = d.float()
	p.PredValue = d.float()
	p.Words = d.strings()
	p.GoldTags = d.strings()
	p.PredTags = d.strings()
	p.WordScores = d.floats()
	p.Logits = d.floats()
	p.Masked = d.varint()
	p.Correct = d.varint()
	p.NLL = d.float64()
	if d.err == nil && len(d.b) != 0 {
		d.err = fmt.Errorf("%d bytes left over", len(d.b))
	}
	if d.err != nil {
		return Prediction{}, fmt.Errorf("score: decoding a prediction: %w", d.err)
	}
	return p, nil
}

func appendString(b []byte, s string) []byte {
	b = binary.AppendUvarint(b, uint64(len(s)))
	return append(b, s...)
}

func appendStrings(b []byte, ss []string) []byte {
	if ss == nil {
		return append(b, 0)
	}
	b = binary.AppendUvarint(b, uint64(len(ss))+1)
	for _, s := range ss {
		b = appendString(b, s)
	}
	return b
}

func appendFloats(b []byte, fs []float32) []byte {
	if fs == nil {
		return append(b, 0)
	}
	b = binary.AppendUvarint(b, uint64(len(fs))+1)
	for _, f := range fs {
		b = binary.LittleEndian.AppendUint32(b, math.Float32bits(f))
	}
	return b
}

var errShort = errors.New("truncated")

// predDecoder reads the layout above; the first error sticks and every
// later read returns a zero value.
type predDecoder struct {
	b   []byte
	err error
}

func (d *predDecoder) uvarint() uint64 {
	if d.err != nil {
		return 0
	}
	v, n := binary.Uvarint(d.b)
	if n <= 0 {
		d.err = errShort
		return 0
	}
	d.b = d.b[n:]
	return v
}

func (d *predDecoder) varint() int64 {
	if d.err != nil {
		return 0
	}
	v, n := binary.Varint(d.b)
	if n <= 0 {
		d.err = errShort
		return 0
	}
	d.b = d.b[n:]
	return v
}

func (d *predDecoder) string() string {
	n := d.uvarint()
	if d.err != nil {
		return ""
	}
	if n > uint64(len(d.b)) {
		d.err = errShort
		return ""
	}
	s := string(d.b[:n])
	d.b = d.b[n:]
	return s
}

// count reads a slice length (+1, 0 = nil) and checks at least min bytes
// per element remain, so a corrupt length cannot allocate wildly.
func (d *predDecoder) count(min int) (int, bool) {
	n := d.uvarint()
	if d.err != nil || n == 0 {
		return 0, false
	}
	n--
	if n > uint64(len(d.b)/min) {
		d.err = errShort
		return 0, false
	}
	return int(n), true
}

func (d *predDecoder) strings() []string {
	n, ok := d.count(1)
	if !ok {
		return nil
	}
	ss := make([]string, n)
	for i := range ss {
		ss[i] = d.string()
	}
	return ss
}

func (d *predDecoder) float() float32 {
	if d.err != nil {
		return 0
	}
	if len(d.b) < 4 {
		d.err = errShort
		return 0
	}
	v := math.Float32frombits(binary.LittleEndian.Uint32(d.b))
	d.b = d.b[4:]
	return v
}

func (d *predDecoder) float64() float64 {
	if d.err != nil {
		return 0
	}
	if len(d.b) < 8 {
		d.err = errShort
		return 0
	}
	v := math.Float64frombits(binary.LittleEndian.Uint64(d.b))
	d.b = d.b[8:]
	return v
}

func (d *predDecoder) floats() []float32 {
	n, ok := d.count(4)
	if !ok {
		return nil
	}
	fs := make([]float32, n)
	for i := range fs {
		fs[i] = d.float()
	}
	return fs
}

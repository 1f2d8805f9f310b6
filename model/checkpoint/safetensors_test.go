package checkpoint

import (
	"bytes"
	"encoding/binary"
	"encoding/json"
	"math"
	"os"
	"strings"
	"testing"
)

// TestReadDtypes reads a file written by torch (testdata/gen_dtypes.py) and
// checks every dtype against torch's own widening to float32, bit for bit.
func TestReadDtypes(t *testing.T) {
	f, err := os.Open("testdata/dtypes.safetensors")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	ts, meta, err := ReadSafetensors(f, "dtypes.safetensors")
	if err != nil {
		t.Fatal(err)
	}
	if meta["made_by"] != "gen_dtypes.py" || meta["format"] != "pt" {
		t.Errorf("metadata = %v", meta)
	}
	raw, err := os.ReadFile("testdata/dtypes.json")
	if err != nil {
		t.Fatal(err)
	}
	var want map[string][]float64
	if err := json.Unmarshal(raw, &want); err != nil {
		t.Fatal(err)
	}
	byName := map[string]*Tensor{}
	for _, x := range ts {
		byName[x.Name] = x
	}
	if len(byName) != 6 {
		t.Fatalf("got %d tensors, want 6", len(byName))
	}
	for name, w := range want {
		got := byName[name]
		if got == nil {
			t.Fatalf("tensor %q missing", name)
		}
		if len(got.Data) != len(w) {
			t.Fatalf("%s: %d values, want %d", name, len(got.Data), len(w))
		}
		for i := range w {
			if math.Float32bits(got.Data[i]) != math.Float32bits(float32(w[i])) {
				t.Errorf("%s[%d] (%s) = %g, torch says %g", name, i, got.DType, got.Data[i], w[i])
			}
		}
	}
	if s := byName["scalar"]; len(s.Shape) != 0 || s.NumElements() != 1 {
		t.Errorf("scalar shape %v", s.Shape)
	}
	if ids := byName["ids"]; ids.DType != "I64" || ids.Data != nil || len(ids.Shape) != 2 || ids.Shape[1] != 5 {
		t.Errorf("ids = %+v, want I64 [1 5] without float data", ids)
	}
}

func TestHalfToFloat(t *testing.T) {
	for _, c := range []struct {
		h    uint16
		want float32
	}{
		{0x3c00, 1}, {0xc000, -2}, {0x7bff, 65504}, {0x0001, 5.960464477539063e-08},
		{0x03ff, 6.097555160522461e-05}, {0x0400, 6.103515625e-05}, {0x8000, float32(math.Copysign(0, -1))},
		{0x7c00, float32(math.Inf(1))}, {0xfc00, float32(math.Inf(-1))},
	} {
		got := halfToFloat(c.h)
		if math.Float32bits(got) != math.Float32bits(c.want) {
			t.Errorf("halfToFloat(%#04x) = %g, want %g", c.h, got, c.want)
		}
	}
	if v := halfToFloat(0x7e00); !math.IsNaN(float64(v)) {
		t.Errorf("NaN half widened to %g", v)
	}
}

func TestWriteRoundTripAndLayout(t *testing.T) {
	in := []*Tensor{
		{Name: "b", Shape: []int{2, 3}, Data: []float32{1, 2, 3, 4, 5, 6}},
		{Name: "a.weight", Shape: []int{1}, Data: []float32{-7.5}},
		{Name: "s", Shape: []int{}, Data: []float32{float32(math.Inf(1))}},
	}
	var buf bytes.Buffer
	if err := WriteSafetensors(&buf, in, map[string]string{"format": "pt"}); err != nil {
		t.Fatal(err)
	}
	b := buf.Bytes()
	hlen := binary.LittleEndian.Uint64(b)
	if hlen%8 != 0 {
		t.Errorf("header length %d is not a multiple of 8", hlen)
	}
	hdr := string(b[8 : 8+hlen])
	// Sorted by name: a.weight's data comes first.
	if !strings.Contains(hdr, `"a.weight":{"dtype":"F32","shape":[1],"data_offsets":[0,4]}`) ||
		!strings.Contains(hdr, `"b":{"dtype":"F32","shape":[2,3],"data_offsets":[4,28]}`) ||
		!strings.Contains(hdr, `"s":{"dtype":"F32","shape":[],"data_offsets":[28,32]}`) {
		t.Errorf("header = %s", hdr)
	}
	if got := math.Float32frombits(binary.LittleEndian.Uint32(b[8+hlen:])); got != -7.5 {
		t.Errorf("first value %g, want a.weight's -7.5", got)
	}
	if int(8+hlen+32) != len(b) {
		t.Errorf("file is %d bytes, want %d", len(b), 8+hlen+32)
	}
	out, meta, err := ReadSafetensors(bytes.NewReader(b), "mem")
	if err != nil {
		t.Fatal(err)
	}
	if meta["format"] != "pt" || len(out) != 3 {
		t.Fatalf("meta %v, %d tensors", meta, len(out))
	}
	for i, name := range []string{"a.weight", "b", "s"} {
		if out[i].Name != name {
			t.Errorf("tensor %d is %q, want %q", i, out[i].Name, name)
		}
	}
	if out[1].Data[5] != 6 || !math.IsInf(float64(out[2].Data[0]), 1) {
		t.Errorf("values: %v %v", out[1].Data, out[2].Data)
	}
}

// TestReadReferenceFile reads the model.safetensors that
// ../shared/reference/bert_reference.py wrote (testdata/ref, see README.md)
// and checks that re-writing it reproduces the reference bytes: same sorting,
// same padding, same offsets.
func TestReadReferenceFile(t *testing.T) {
	want, err := os.ReadFile("testdata/ref/model.safetensors")
	if err != nil {
		t.Fatal(err)
	}
	ts, meta, err := ReadSafetensors(bytes.NewReader(want), "ref/model.safetensors")
	if err != nil {
		t.Fatal(err)
	}
	if len(ts) != 39 { // 5 embeddings + 16 per layer × 2 + 2 pooler
		t.Errorf("%d tensors, want 39", len(ts))
	}
	var buf bytes.Buffer
	if err := WriteSafetensors(&buf, ts, meta); err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(buf.Bytes(), want) {
		t.Errorf("re-written file differs from the reference's (%d vs %d bytes)", buf.Len(), len(want))
	}
}

func TestReadRefusals(t *testing.T) {
	good := func() []byte {
		var buf bytes.Buffer
		WriteSafetensors(&buf, []*Tensor{{Name: "x", Shape: []int{2}, Data: []float32{1, 2}}}, nil)
		return buf.Bytes()
	}
	withHeader := func(h string, data int) []byte {
		b := make([]byte, 8)
		binary.LittleEndian.PutUint64(b, uint64(len(h)))
		return append(append(b, h...), make([]byte, data)...)
	}
	for _, c := range []struct {
		name string
		file []byte
		want string
	}{
		{"empty", nil, "header length"},
		{"huge header", []byte{0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0, 0}, "out of range"},
		{"truncated data", good()[:len(good())-1], "file truncated"},
		{"trailing bytes", append(good(), 0, 0, 0, 0), "not described by the header"},
		{"not json", withHeader("{nope", 0), "not a JSON object"},
		{"bad dtype", withHeader(`{"x":{"dtype":"Q7","shape":[1],"data_offsets":[0,4]}}`, 4), `unknown dtype "Q7"`},
		{"size mismatch", withHeader(`{"x":{"dtype":"F32","shape":[2],"data_offsets":[0,4]}}`, 4), "needs 8"},
		{"hole", withHeader(`{"x":{"dtype":"F32","shape":[1],"data_offsets":[4,8]}}`, 8), "holes"},
		{"unknown field", withHeader(`{"x":{"dtype":"F32","shape":[1],"data_offsets":[0,4],"z":1}}`, 4), `tensor "x"`},
	} {
		_, _, err := ReadSafetensors(bytes.NewReader(c.file), "f.safetensors")
		if err == nil || !strings.Contains(err.Error(), c.want) || !strings.Contains(err.Error(), "f.safetensors") {
			t.Errorf("%s: err = %v, want it to name the file and say %q", c.name, err, c.want)
		}
	}
}

func TestWriteRefusals(t *testing.T) {
	for _, c := range []struct {
		name string
		ts   []*Tensor
		want string
	}{
		{"dup", []*Tensor{{Name: "a", Shape: []int{1}, Data: []float32{1}}, {Name: "a", Shape: []int{1}, Data: []float32{1}}}, "twice"},
		{"shape", []*Tensor{{Name: "a", Shape: []int{2}, Data: []float32{1}}}, "shape [2]"},
		{"reserved", []*Tensor{{Name: "__metadata__", Shape: []int{1}, Data: []float32{1}}}, "reserved"},
	} {
		if err := WriteSafetensors(&bytes.Buffer{}, c.ts, nil); err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s: err = %v, want %q", c.name, err, c.want)
		}
	}
}

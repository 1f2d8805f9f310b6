package checkpoint

import (
	"encoding/json"
	"math"
	"os"
	"testing"
)

// TestReadPytorchViews reads a torch.save'd state_dict of strided views and
// mixed dtypes (testdata/gen_pytorch.py) and compares with torch's values.
func TestReadPytorchViews(t *testing.T) {
	ts, err := readPytorch("testdata/views.bin", "views.bin")
	if err != nil {
		t.Fatal(err)
	}
	raw, err := os.ReadFile("testdata/views.json")
	if err != nil {
		t.Fatal(err)
	}
	var want map[string]struct {
		Shape  []int
		Values []float64
	}
	if err := json.Unmarshal(raw, &want); err != nil {
		t.Fatal(err)
	}
	order := []string{"plain", "transposed", "sliced", "half", "double", "bf16", "ids"}
	if len(ts) != len(order) {
		t.Fatalf("%d tensors, want %d", len(ts), len(order))
	}
	for i, got := range ts {
		if got.Name != order[i] {
			t.Errorf("tensor %d is %q, want %q (file order)", i, got.Name, order[i])
		}
		if got.Name == "ids" {
			if got.DType != "I64" || got.Data != nil {
				t.Errorf("ids: %+v", got)
			}
			continue
		}
		w := want[got.Name]
		if len(got.Shape) != len(w.Shape) {
			t.Fatalf("%s: shape %v, want %v", got.Name, got.Shape, w.Shape)
		}
		for i := range w.Values {
			if math.Float32bits(got.Data[i]) != math.Float32bits(float32(w.Values[i])) {
				t.Errorf("%s[%d] = %g, torch says %g", got.Name, i, got.Data[i], w.Values[i])
			}
		}
	}
}

// TestPytorchMatchesSafetensors reads the camphr checkpoint's two weight
// files (pytorch_model.bin and its safetensors conversion) and requires the
// same tensors, bit for bit.
func TestPytorchMatchesSafetensors(t *testing.T) {
	dir := camphrDir(t)
	fromBin, err := readPytorch(dir+"/pytorch_model.bin", "pytorch_model.bin")
	if err != nil {
		t.Fatal(err)
	}
	f, err := os.Open(dir + "/model.safetensors")
	if err != nil {
		t.Skip("no model.safetensors beside pytorch_model.bin:", err)
	}
	defer f.Close()
	fromST, _, err := ReadSafetensors(f, "model.safetensors")
	if err != nil {
		t.Fatal(err)
	}
	st := map[string]*Tensor{}
	for _, x := range fromST {
		st[x.Name] = x
	}
	compared := 0
	for _, b := range fromBin {
		s := st[b.Name]
		if s == nil {
			if b.Name != "bert.embeddings.position_ids" {
				t.Errorf("%s only in pytorch_model.bin", b.Name)
			}
			continue
		}
		if len(s.Data) != len(b.Data) {
			t.Fatalf("%s: %d vs %d values", b.Name, len(s.Data), len(b.Data))
		}
		for i := range s.Data {
			if s.Data[i] != b.Data[i] {
				t.Fatalf("%s[%d]: bin %g, safetensors %g", b.Name, i, b.Data[i], s.Data[i])
			}
		}
		compared++
	}
	if compared != 23 {
		t.Errorf("compared %d tensors, want 23", compared)
	}
}

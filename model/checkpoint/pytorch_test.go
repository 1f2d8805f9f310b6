package checkpoint

import (
	"encoding/json"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/taskweave/taskweave/internal/hostile"
	"github.com/taskweave/taskweave/internal/testcorpora"
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
		testcorpora.Missing(t, "no model.safetensors beside pytorch_model.bin: %v", err)
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

// TestReadPytorchLegacy reads the legacy (pre-1.6) layout written by
// testdata/gen_legacy.py: a float32 storage shared by a tensor and its
// transpose, and a float64 one.
func TestReadPytorchLegacy(t *testing.T) {
	ts, err := readPytorch("testdata/legacy.bin", "legacy.bin")
	if err != nil {
		t.Fatal(err)
	}
	want := map[string][]float32{"w": {1, 2, 3, 4, 5, 6}, "wt": {1, 4, 2, 5, 3, 6}, "b": {0.5, -0.25}}
	if len(ts) != len(want) {
		t.Fatalf("%d tensors, want %d", len(ts), len(want))
	}
	for _, got := range ts {
		if fmt.Sprint(got.Data) != fmt.Sprint(want[got.Name]) {
			t.Errorf("%s = %v, want %v", got.Name, got.Data, want[got.Name])
		}
	}
}

// TestReadPytorchHostile: an empty file hung forever in gopickle (its tar
// probe loops on EOF), a truncated zip said "unsupported persistent ID", and
// a storage claiming 10^12 elements was allocated before its bytes were
// read. Each must now fail fast, within a small allocation, naming the file.
func TestReadPytorchHostile(t *testing.T) {
	views, err := os.ReadFile("testdata/views.bin")
	if err != nil {
		t.Fatal(err)
	}
	legacy, err := os.ReadFile("testdata/legacy.bin")
	if err != nil {
		t.Fatal(err)
	}
	tarHead := make([]byte, 1024)
	copy(tarHead[257:], "ustar")
	hugeString := append([]byte{0x80, 0x02, 'X', 0xff, 0xff, 0xff, 0x7f}, "abc"...)
	for _, tc := range []struct {
		name string
		data []byte
		want string
	}{
		{"empty", nil, "is empty (0 bytes)"},
		{"truncated zip", views[:len(views)/2], "not a readable zip archive"},
		{"truncated zip header", views[:3], "is not a PyTorch file"},
		{"truncated legacy", legacy[:len(legacy)-20], "truncated or damaged"},
		{"legacy pickle only", legacy[:100], "truncated or damaged"},
		{"tar", tarHead, "is a tar archive"},
		{"text", []byte("version https://git-lfs.github.com/spec/v1\n"), "is not a PyTorch file"},
		{"2 GiB string", hugeString, "an argument of 2147483647 bytes"},
		{"zip storage claims 1e12", readFile(t, "testdata/claim_zip.bin"), "claims 1000000000000 elements"},
		{"legacy storage claims 1e12", readFile(t, "testdata/claim_legacy.bin"), "claims 1000000000000 elements"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p := filepath.Join(t.TempDir(), "pytorch_model.bin")
			if err := os.WriteFile(p, tc.data, 0o644); err != nil {
				t.Fatal(err)
			}
			out, problem := hostile.Run(hostile.Limits{Time: 5 * time.Second, Alloc: 32 << 20}, func() error {
				_, err := readPytorch(p, "ckpt/pytorch_model.bin")
				return err
			})
			if problem != nil {
				t.Fatal(problem)
			}
			if out.Err == nil || !strings.HasPrefix(out.Err.Error(), "ckpt/pytorch_model.bin") || !strings.Contains(out.Err.Error(), tc.want) {
				t.Fatalf("error = %v; want one naming ckpt/pytorch_model.bin and containing %q", out.Err, tc.want)
			}
		})
	}
}

func readFile(t *testing.T, p string) []byte {
	t.Helper()
	b, err := os.ReadFile(p)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

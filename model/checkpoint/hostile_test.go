package checkpoint

import (
	"bytes"
	"encoding/binary"
	"encoding/json"
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/taskweave/taskweave/internal/hostile"
)

// caseLimits bound every hostile checkpoint case: a tiny model's load
// allocates well under 32 MB, and the claims below are gigabytes to
// terabytes.
var caseLimits = hostile.Limits{Time: 10 * time.Second, Alloc: 32 << 20}

func runBounded(t *testing.T, f func() error) error {
	t.Helper()
	out, problem := hostile.Run(caseLimits, f)
	if problem != nil {
		t.Fatal(problem)
	}
	return out.Err
}

// safetensorsWithHeader is an 8-byte length, header h, then data zero bytes.
func safetensorsWithHeader(h string, data int) []byte {
	b := make([]byte, 8)
	binary.LittleEndian.PutUint64(b, uint64(len(h)))
	return append(append(b, h...), make([]byte, data)...)
}

// TestSafetensorsHugeClaims: a header claiming 10^12 elements made the
// reader allocate 4 TB for the tensor before reading a byte of it (a fatal
// out-of-memory); a shape whose product overflows int64 passed the size
// check. Both must fail within a small allocation, naming the file.
func TestSafetensorsHugeClaims(t *testing.T) {
	for _, c := range []struct {
		name, header, want string
	}{
		{"1e12 elements", `{"w":{"dtype":"F32","shape":[1000000,1000000],"data_offsets":[0,4000000000000]}}`, "file truncated"},
		{"1e12 bf16 elements", `{"w":{"dtype":"BF16","shape":[1000000000000],"data_offsets":[0,2000000000000]}}`, "file truncated"},
		{"overflowing shape", `{"w":{"dtype":"F32","shape":[4294967296,4294967296,16],"data_offsets":[0,0]}}`, "more bytes than a file can hold"},
	} {
		t.Run(c.name, func(t *testing.T) {
			file := safetensorsWithHeader(c.header, 16)
			err := runBounded(t, func() error {
				_, _, err := ReadSafetensors(bytes.NewReader(file), "ckpt/model.safetensors")
				return err
			})
			if err == nil || !strings.Contains(err.Error(), "ckpt/model.safetensors") || !strings.Contains(err.Error(), c.want) {
				t.Fatalf("err = %v; want it to name the file and say %q", err, c.want)
			}
		})
	}
}

// editConfig rewrites keys of a saved checkpoint's config.json.
func editConfig(t *testing.T, dir string, edit map[string]any) {
	t.Helper()
	p := filepath.Join(dir, ConfigFile)
	raw, err := os.ReadFile(p)
	if err != nil {
		t.Fatal(err)
	}
	var cfg map[string]any
	if err := json.Unmarshal(raw, &cfg); err != nil {
		t.Fatal(err)
	}
	for k, v := range edit {
		cfg[k] = v
	}
	if raw, err = json.Marshal(cfg); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(p, raw, 0o644); err != nil {
		t.Fatal(err)
	}
}

// TestConfigHugeSizes: config.json is read before the weights and sized the
// model: vocab_size 2e9 or 100,000 layers allocated tens of gigabytes (a
// fatal out-of-memory) before the shape check could say they do not match.
// Now the sizes are checked against the weights file first, for
// taskweave's own checkpoints and for imported Hugging Face ones.
func TestConfigHugeSizes(t *testing.T) {
	for _, c := range []struct {
		name string
		edit map[string]any
	}{
		{"vocab_size 2e9", map[string]any{"vocab_size": 2e9}},
		{"100000 layers", map[string]any{"num_hidden_layers": 100000}},
		{"intermediate_size 1e9", map[string]any{"intermediate_size": 1e9}},
	} {
		for _, hf := range []bool{false, true} {
			name := c.name + " taskweave"
			if hf {
				name = c.name + " huggingface"
			}
			t.Run(name, func(t *testing.T) {
				m, meta := tinyModel(t)
				dir := t.TempDir()
				if err := Save(LocalDir(dir), m, meta); err != nil {
					t.Fatal(err)
				}
				edit := c.edit
				if hf { // without the taskweave section it is read as a Hugging Face BertModel
					edit = map[string]any{"taskweave": nil}
					for k, v := range c.edit {
						edit[k] = v
					}
				}
				editConfig(t, dir, edit)
				if hf {
					raw, _ := os.ReadFile(filepath.Join(dir, ConfigFile))
					raw = bytes.Replace(raw, []byte(`"taskweave":null,`), nil, 1)
					raw = bytes.Replace(raw, []byte(`,"taskweave":null`), nil, 1)
					os.WriteFile(filepath.Join(dir, ConfigFile), raw, 0o644)
				}
				err := runBounded(t, func() error {
					_, _, err := LoadWith(LocalDir(dir), Options{IgnoreTensors: []string{"heads."}, Warn: discard{}})
					return err
				})
				if err == nil || !strings.Contains(err.Error(), dir) || !strings.Contains(err.Error(), "config.json") || !strings.Contains(err.Error(), "fix its sizes") {
					t.Fatalf("err = %v; want it to name %s/config.json and the fix", err, dir)
				}
			})
		}
	}
}

// TestLoadRefusesNonFiniteWeights: a checkpoint with a NaN or Inf weight
// loaded as normal and was scored (accuracy 0.5, argmax of NaN logits) and
// could be promoted. Load must fail naming the tensor.
func TestLoadRefusesNonFiniteWeights(t *testing.T) {
	for _, v := range []float32{float32(math.NaN()), float32(math.Inf(1)), float32(math.Inf(-1))} {
		m, meta := tinyModel(t)
		p := m.Params()[7]
		p.W[3] = v
		dir := t.TempDir()
		if err := Save(LocalDir(dir), m, meta); err != nil {
			t.Fatal(err)
		}
		_, _, err := Load(LocalDir(dir))
		if err == nil || !strings.Contains(err.Error(), "tensor "+p.Name) || !strings.Contains(err.Error(), "model.safetensors") || !strings.Contains(err.Error(), "element 3") {
			t.Errorf("%g in %s: err = %v; want it to name the file, the tensor and the element", v, p.Name, err)
		}
	}
}

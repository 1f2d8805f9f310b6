package checkpoint

import (
	"fmt"
	"sort"

	"github.com/nlpodyssey/gopickle/pytorch"
	"github.com/nlpodyssey/gopickle/types"
)

// readPytorch reads a PyTorch state_dict file (pytorch_model.bin: the zip
// format of torch.save since 1.6, or the legacy one) through gopickle, which
// unpickles it without running any Python code. Tensors are gathered through
// their size, stride and storage offset, so views and shared storages come
// out as plain row-major data. name is used in messages.
func readPytorch(path, name string) (ts []*Tensor, err error) {
	defer func() {
		// gopickle panics on some legacy (tar) archives instead of failing.
		if r := recover(); r != nil {
			err = fmt.Errorf("%s: gopickle could not read this PyTorch file: %v (convert it to model.safetensors)", name, r)
		}
	}()
	v, err := pytorch.Load(path)
	if err != nil {
		return nil, fmt.Errorf("%s: reading the PyTorch file: %w", name, err)
	}
	entries, err := stateDictEntries(v)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", name, err)
	}
	for _, e := range entries {
		t, ok := e.value.(*pytorch.Tensor)
		if !ok {
			return nil, fmt.Errorf("%s: entry %q is a %T, not a tensor: is this a state_dict (torch.save(model.state_dict()))?", name, e.key, e.value)
		}
		out, err := gatherTensor(e.key, t)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", name, err)
		}
		ts = append(ts, out)
	}
	return ts, nil
}

type dictEntry struct {
	key   string
	value any
}

// stateDictEntries lists a state_dict's entries in file order (sorted by
// name for a plain dict, whose order gopickle does not keep).
func stateDictEntries(v any) ([]dictEntry, error) {
	var out []dictEntry
	switch d := v.(type) {
	case *types.OrderedDict:
		for el := d.List.Front(); el != nil; el = el.Next() {
			e := el.Value.(*types.OrderedDictEntry)
			k, ok := e.Key.(string)
			if !ok {
				return nil, fmt.Errorf("state_dict key %v is a %T, not a string", e.Key, e.Key)
			}
			out = append(out, dictEntry{k, e.Value})
		}
	case *types.Dict:
		for _, e := range *d {
			k, ok := e.Key.(string)
			if !ok {
				return nil, fmt.Errorf("state_dict key %v is a %T, not a string", e.Key, e.Key)
			}
			out = append(out, dictEntry{k, e.Value})
		}
		sort.Slice(out, func(i, j int) bool { return out[i].key < out[j].key })
	default:
		return nil, fmt.Errorf("the file holds a %T, not a state_dict", v)
	}
	return out, nil
}

// gatherTensor copies a (possibly strided) tensor view into row-major float32.
// Integer and boolean tensors keep their dtype name and no data, as in
// ReadSafetensors.
func gatherTensor(name string, t *pytorch.Tensor) (*Tensor, error) {
	var src []float32
	var src64 []float64
	var dtype string
	switch s := t.Source.(type) {
	case *pytorch.FloatStorage:
		src, dtype = s.Data, "F32"
	case *pytorch.HalfStorage:
		src, dtype = s.Data, "F16"
	case *pytorch.BFloat16Storage:
		src, dtype = s.Data, "BF16"
	case *pytorch.DoubleStorage:
		src64, dtype = s.Data, "F64"
	case *pytorch.LongStorage:
		dtype = "I64"
	case *pytorch.IntStorage:
		dtype = "I32"
	case *pytorch.ShortStorage:
		dtype = "I16"
	case *pytorch.CharStorage:
		dtype = "I8"
	case *pytorch.ByteStorage:
		dtype = "U8"
	case *pytorch.BoolStorage:
		dtype = "BOOL"
	default:
		return nil, fmt.Errorf("tensor %q has unsupported storage %T", name, t.Source)
	}
	out := &Tensor{Name: name, DType: dtype, Shape: append([]int{}, t.Size...)}
	if src == nil && src64 == nil {
		return out, nil
	}
	if len(t.Stride) != len(t.Size) {
		return nil, fmt.Errorf("tensor %q: %d strides for %d dimensions", name, len(t.Stride), len(t.Size))
	}
	n := out.NumElements()
	srcLen := len(src) + len(src64)
	out.Data = make([]float32, n)
	idx := make([]int, len(t.Size))
	for i := 0; i < n; i++ {
		off := t.StorageOffset
		for d, k := range idx {
			off += k * t.Stride[d]
		}
		if off < 0 || off >= srcLen {
			return nil, fmt.Errorf("tensor %q: element %d lies at storage offset %d, outside its storage of %d", name, i, off, srcLen)
		}
		if src != nil {
			out.Data[i] = src[off]
		} else {
			out.Data[i] = float32(src64[off])
		}
		for d := len(idx) - 1; d >= 0; d-- { // row-major increment
			idx[d]++
			if idx[d] < t.Size[d] {
				break
			}
			idx[d] = 0
		}
	}
	return out, nil
}

package checkpoint

import (
	"archive/zip"
	"bufio"
	"bytes"
	"encoding/binary"
	"fmt"
	"io"
	"math"
	"math/big"
	"os"
	"path"
	"sort"
	"strings"

	"github.com/nlpodyssey/gopickle/pickle"
	"github.com/nlpodyssey/gopickle/pytorch"
	"github.com/nlpodyssey/gopickle/types"
)

// readPytorch reads a PyTorch state_dict file (pytorch_model.bin: the zip
// format of torch.save since 1.6, or the legacy pickle one) with gopickle's
// unpickler, which runs no Python code. Tensors are gathered through their
// size, stride and storage offset, so views and shared storages come out as
// plain row-major data. name is used in messages.
//
// The file is untrusted: gopickle's own loader hangs on an empty file (its
// tar probe loops on EOF), allocates whatever a pickle or a storage claims,
// and panics on legacy tar archives and storage views. So the container is
// checked here first (its magic, a zip's records), every pickle is scanned
// for length fields the bytes cannot hold before gopickle reads it (see
// scanPickle), and each storage's claimed size is checked against the bytes
// that hold it before it is allocated.
func readPytorch(path, name string) (ts []*Tensor, err error) {
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("%s: gopickle could not read this PyTorch file: %v (convert it to model.safetensors)", name, r)
		}
	}()
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", name, err)
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		return nil, fmt.Errorf("%s: %w", name, err)
	}
	size := st.Size()
	var head [512]byte
	n, _ := io.ReadFull(f, head[:])
	var v any
	switch {
	case size == 0:
		return nil, fmt.Errorf("%s is empty (0 bytes): an interrupted download or copy; fetch the file again, or use model.safetensors", name)
	case n >= 4 && string(head[:4]) == "PK\x03\x04":
		v, err = loadTorchZip(f, size)
	case n == 512 && string(head[257:262]) == "ustar":
		return nil, fmt.Errorf("%s is a tar archive (the torch.save format before PyTorch 0.4), which cannot be read; re-save it with a recent PyTorch or convert it to model.safetensors", name)
	case n >= 2 && head[0] == 0x80 && head[1] <= 5: // a pickle PROTO opcode
		v, err = loadTorchLegacy(f, size)
	default:
		return nil, fmt.Errorf("%s is not a PyTorch file: it starts with % x, neither a zip archive (torch.save since 1.6) nor a pickle; check the file, or use model.safetensors", name, head[:min(n, 8)])
	}
	if err != nil {
		return nil, fmt.Errorf("%s: %w (the file is truncated or damaged? fetch it again, or use model.safetensors)", name, err)
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

// torchClasses maps the globals a state_dict pickle names to gopickle's
// implementations; anything else is refused (a state_dict needs no more).
var torchClasses = map[string]func() any{
	"torch._utils._rebuild_tensor_v2": func() any { return &pytorch.RebuildTensorV2{} },
	"torch.FloatStorage":              func() any { return &pytorch.FloatStorageClass{} },
	"torch.HalfStorage":               func() any { return &pytorch.HalfStorageClass{} },
	"torch.BFloat16Storage":           func() any { return &pytorch.BFloat16StorageClass{} },
	"torch.DoubleStorage":             func() any { return &pytorch.DoubleStorageClass{} },
	"torch.CharStorage":               func() any { return &pytorch.CharStorageClass{} },
	"torch.ShortStorage":              func() any { return &pytorch.ShortStorageClass{} },
	"torch.IntStorage":                func() any { return &pytorch.IntStorageClass{} },
	"torch.LongStorage":               func() any { return &pytorch.LongStorageClass{} },
	"torch.ByteStorage":               func() any { return &pytorch.ByteStorageClass{} },
	"torch.BoolStorage":               func() any { return &pytorch.BoolStorageClass{} },
}

func findTorchClass(module, name string) (any, error) {
	if c, ok := torchClasses[module+"."+name]; ok {
		return c(), nil
	}
	return nil, fmt.Errorf("the pickle names %s.%s, which a state_dict does not use", module, name)
}

// storageElemBytes is the element size of a gopickle storage.
func storageElemBytes(s pytorch.StorageInterface) int64 {
	switch s.(type) {
	case *pytorch.DoubleStorage, *pytorch.LongStorage:
		return 8
	case *pytorch.FloatStorage, *pytorch.IntStorage:
		return 4
	case *pytorch.HalfStorage, *pytorch.BFloat16Storage, *pytorch.ShortStorage:
		return 2
	}
	return 1
}

// persistentStorage parses a pickled ("storage", class, key, location,
// size, …) persistent id.
func persistentStorage(id any, minLen int) (pytorch.StorageClassInterface, string, string, int, error) {
	t, ok := id.(*types.Tuple)
	if !ok || t.Len() < minLen {
		return nil, "", "", 0, fmt.Errorf("persistent id %v is not a storage tuple of %d items", id, minLen)
	}
	if s, _ := t.Get(0).(string); s != "storage" {
		return nil, "", "", 0, fmt.Errorf("persistent id of type %v; only storages are expected", t.Get(0))
	}
	class, ok1 := t.Get(1).(pytorch.StorageClassInterface)
	key, ok2 := t.Get(2).(string)
	loc, ok3 := t.Get(3).(string)
	size, ok4 := t.Get(4).(int)
	if !ok1 || !ok2 || !ok3 || !ok4 || size < 0 {
		return nil, "", "", 0, fmt.Errorf("malformed storage id %v", id)
	}
	return class, key, loc, size, nil
}

// loadTorchZip reads torch.save's zip format: <archive>/data.pkl holds the
// pickled state_dict, <archive>/data/<key> the bytes of each storage.
func loadTorchZip(f *os.File, size int64) (any, error) {
	zr, err := zip.NewReader(f, size)
	if err != nil {
		return nil, fmt.Errorf("not a readable zip archive: %w", err)
	}
	records := map[string]*zip.File{}
	var data *zip.File
	for _, zf := range zr.File {
		dir, base := path.Split(zf.Name)
		switch {
		case base == "data.pkl":
			data = zf
		case base == "constants.pkl":
			return nil, fmt.Errorf("it is a TorchScript archive, not a state_dict")
		case strings.HasSuffix(dir, "/data/"):
			records[base] = zf
		}
	}
	if data == nil {
		return nil, fmt.Errorf("the zip archive has no data.pkl")
	}
	pkl, err := readZipRecord(data, maxPickleBytes)
	if err != nil {
		return nil, err
	}
	if err := scanPickle(bufio.NewReader(bytes.NewReader(pkl)), int64(len(pkl))); err != nil {
		return nil, fmt.Errorf("data.pkl: %w", err)
	}
	loaded := map[string]pytorch.StorageInterface{}
	u := pickle.NewUnpickler(bytes.NewReader(pkl))
	u.FindClass = findTorchClass
	u.PersistentLoad = func(id any) (any, error) {
		class, key, loc, n, err := persistentStorage(id, 5)
		if err != nil {
			return nil, err
		}
		if s, ok := loaded[key]; ok {
			return s, nil
		}
		rec, ok := records[key]
		if !ok {
			return nil, fmt.Errorf("storage %q has no data record in the archive", key)
		}
		s := class.New(n, loc)
		if need := int64(n) * storageElemBytes(s); rec.UncompressedSize64 != uint64(need) {
			return nil, fmt.Errorf("storage %q claims %d elements (%d bytes) but its record holds %d bytes", key, n, need, rec.UncompressedSize64)
		}
		r, err := rec.Open()
		if err != nil {
			return nil, fmt.Errorf("storage %q: %w", key, err)
		}
		defer r.Close()
		if err := s.SetFromFileWithSize(r, n); err != nil {
			return nil, fmt.Errorf("storage %q: %w", key, err)
		}
		loaded[key] = s
		return s, nil
	}
	return u.Load()
}

// maxPickleBytes bounds data.pkl, which holds names and shapes only (the
// tensor bytes are separate records): a BERT-large state_dict's is ~30 KB.
const maxPickleBytes = 64 << 20

func readZipRecord(zf *zip.File, limit int64) ([]byte, error) {
	if zf.UncompressedSize64 > uint64(limit) {
		return nil, fmt.Errorf("%s claims %d bytes (limit %d)", zf.Name, zf.UncompressedSize64, limit)
	}
	r, err := zf.Open()
	if err != nil {
		return nil, fmt.Errorf("%s: %w", zf.Name, err)
	}
	defer r.Close()
	b, err := io.ReadAll(io.LimitReader(r, limit+1))
	if err != nil {
		return nil, fmt.Errorf("%s: %w", zf.Name, err)
	}
	return b, nil
}

// legacyMagic is the pickled integer torch.save's legacy format starts with.
const legacyMagic = "1950a86a20f9469cfc6c"

// loadTorchLegacy reads the pre-1.6 format: five pickles (magic number,
// protocol version, system info, the state_dict, the storage keys) and then
// each storage as an 8-byte element count and its bytes.
func loadTorchLegacy(f *os.File, size int64) (any, error) {
	if _, err := f.Seek(0, io.SeekStart); err != nil {
		return nil, err
	}
	// Scan the five pickles first: every length field must fit in the file.
	br := bufio.NewReader(f)
	cr := &countingReader{r: br}
	for i := 0; i < 5; i++ {
		if err := scanPickle(cr, size-cr.n); err != nil {
			return nil, fmt.Errorf("pickle %d of the legacy header: %w", i+1, err)
		}
	}
	if _, err := f.Seek(0, io.SeekStart); err != nil {
		return nil, err
	}
	br = bufio.NewReader(f)
	cr = &countingReader{r: br}
	unpickle := func() (any, error) {
		u := pickle.NewUnpickler(cr)
		u.FindClass = findTorchClass
		return u.Load()
	}
	magic, err := unpickle()
	if err != nil {
		return nil, err
	}
	if m, ok := magic.(*big.Int); !ok || m.Text(16) != legacyMagic {
		return nil, fmt.Errorf("a pickle without torch.save's magic number")
	}
	if _, err := unpickle(); err != nil { // protocol version
		return nil, err
	}
	if _, err := unpickle(); err != nil { // system info
		return nil, err
	}
	storages := map[string]pytorch.StorageInterface{}
	u := pickle.NewUnpickler(cr)
	u.FindClass = findTorchClass
	u.PersistentLoad = func(id any) (any, error) {
		class, key, loc, n, err := persistentStorage(id, 6)
		if err != nil {
			return nil, err
		}
		if view := id.(*types.Tuple).Get(5); view != nil {
			return nil, fmt.Errorf("storage %q is a storage view, which cannot be read", key)
		}
		s, ok := storages[key]
		if !ok {
			s = class.New(n, loc)
			storages[key] = s
		}
		return s, nil
	}
	result, err := u.Load()
	if err != nil {
		return nil, err
	}
	rawKeys, err := unpickle()
	if err != nil {
		return nil, err
	}
	if err := readLegacyStorages(cr, rawKeys, storages, size); err != nil {
		return nil, err
	}
	return result, nil
}

// readLegacyStorages reads the storages' data, which follows the pickles in
// the order of the key list rawKeys; each size is checked against what is
// left of the file's size bytes before it is read.
func readLegacyStorages(cr *countingReader, rawKeys any, storages map[string]pytorch.StorageInterface, size int64) error {
	keys, ok := rawKeys.(*types.List)
	if !ok {
		return fmt.Errorf("the storage key list is a %T", rawKeys)
	}
	for _, k := range *keys {
		key, _ := k.(string)
		s, ok := storages[key]
		if !ok {
			return fmt.Errorf("storage key %v names no storage of the state_dict", k)
		}
		var nb [8]byte
		if _, err := io.ReadFull(cr, nb[:]); err != nil {
			return fmt.Errorf("storage %q: reading its size: %w", key, err)
		}
		n := binary.LittleEndian.Uint64(nb[:])
		if left := uint64(size - cr.n); n > left/uint64(storageElemBytes(s)) {
			return fmt.Errorf("storage %q claims %d elements but only %d bytes are left in the file", key, n, left)
		}
		if err := s.SetFromFileWithSize(cr, int(n)); err != nil {
			return fmt.Errorf("storage %q: %w", key, err)
		}
	}
	return nil
}

type countingReader struct {
	r *bufio.Reader
	n int64
}

func (c *countingReader) Read(p []byte) (int, error) {
	n, err := c.r.Read(p)
	c.n += int64(n)
	return n, err
}

func (c *countingReader) ReadByte() (byte, error) {
	b, err := c.r.ReadByte()
	if err == nil {
		c.n++
	}
	return b, err
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
	srcLen := len(src) + len(src64)
	n, err := storageExtent(name, t, srcLen)
	if err != nil {
		return nil, err
	}
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

// storageExtent checks that every element of t lies inside its storage of
// srcLen elements and returns the element count. The shape, strides and
// offset come from the pickle: they are checked before anything is allocated.
func storageExtent(name string, t *pytorch.Tensor, srcLen int) (int, error) {
	n, lo, hi := 1, t.StorageOffset, t.StorageOffset
	for d, k := range t.Size {
		if k < 0 || (k > 0 && n > math.MaxInt32/k) {
			return 0, fmt.Errorf("tensor %q has shape %v: negative or over 2^31 elements", name, t.Size)
		}
		n *= k
		if st := t.Stride[d]; k > 1 && (st > srcLen || st < -srcLen) {
			return 0, fmt.Errorf("tensor %q has stride %v, past its storage of %d", name, t.Stride, srcLen)
		}
		if k > 0 {
			if st := t.Stride[d]; st >= 0 {
				hi += (k - 1) * st
			} else {
				lo += (k - 1) * st
			}
		}
	}
	if t.StorageOffset < 0 || t.StorageOffset > srcLen || (n > 0 && (lo < 0 || hi >= srcLen)) {
		return 0, fmt.Errorf("tensor %q (shape %v, stride %v, offset %d) reaches storage offsets %d..%d, outside its storage of %d", name, t.Size, t.Stride, t.StorageOffset, lo, hi, srcLen)
	}
	return n, nil
}

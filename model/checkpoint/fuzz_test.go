package checkpoint

import (
	"bytes"
	"os"
	"path/filepath"
	"testing"
)

// The fuzz targets below cover every parser of checkpoint bytes. Their
// seeds under testdata/fuzz/<target> include the files that crashed,
// hung or exhausted memory before the bounds were added; plain `go test`
// (and so `make test`) runs them.
//
//	go test ./model/checkpoint -run '^$' -fuzz FuzzReadSafetensors -fuzztime 60s

// FuzzReadSafetensors: arbitrary bytes give tensors or an error, within
// memory proportional to the input (the fuzzer's own limits catch the rest).
func FuzzReadSafetensors(f *testing.F) {
	for _, p := range []string{"testdata/dtypes.safetensors"} {
		if b, err := os.ReadFile(p); err == nil {
			f.Add(b)
		}
	}
	f.Add(safetensorsWithHeader(`{"x":{"dtype":"F32","shape":[2],"data_offsets":[0,8]}}`, 8))
	f.Fuzz(func(t *testing.T, data []byte) {
		ts, _, err := ReadSafetensors(bytes.NewReader(data), "fuzz.safetensors")
		checkTensors(t, ts, err)
	})
}

// FuzzReadPytorch: arbitrary bytes as pytorch_model.bin.
func FuzzReadPytorch(f *testing.F) {
	for _, p := range []string{"testdata/views.bin", "testdata/legacy.bin"} {
		if b, err := os.ReadFile(p); err == nil {
			f.Add(b)
		}
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		p := filepath.Join(t.TempDir(), "pytorch_model.bin")
		if err := os.WriteFile(p, data, 0o644); err != nil {
			t.Fatal(err)
		}
		ts, err := readPytorch(p, "fuzz/pytorch_model.bin")
		checkTensors(t, ts, err)
	})
}

// FuzzLoadConfig: arbitrary config.json and vocab.txt next to a tiny
// model's real weights, read as a taskweave checkpoint or (without the
// taskweave section) a Hugging Face one.
func FuzzLoadConfig(f *testing.F) {
	m, meta := tinyModel(f)
	saved := memFS{}
	if err := Save(saved, m, meta); err != nil {
		f.Fatal(err)
	}
	f.Add(saved[ConfigFile], saved[VocabFile])
	f.Add([]byte(`{"vocab_size":2000000000,"hidden_size":8,"num_hidden_layers":2,"num_attention_heads":2,"intermediate_size":16,"max_position_embeddings":20,"type_vocab_size":2}`), saved[VocabFile])
	f.Fuzz(func(t *testing.T, config, vocab []byte) {
		fs := memFS{}
		for k, v := range saved {
			fs[k] = v
		}
		fs[ConfigFile], fs[VocabFile] = config, vocab
		if m, meta, err := LoadWith(fs, Options{Warn: discard{}, IgnoreTensors: []string{"heads."}}); err == nil {
			if len(meta.Vocab) != 0 && len(meta.Vocab) != m.Config().VocabSize {
				t.Fatalf("loaded a vocabulary of %d for vocab_size %d", len(meta.Vocab), m.Config().VocabSize)
			}
		}
	})
}

// checkTensors requires what a reader returned without error to be
// consistent: every float tensor holds exactly its shape's values.
func checkTensors(t *testing.T, ts []*Tensor, err error) {
	if err != nil {
		return
	}
	for _, tensor := range ts {
		if tensor.Data != nil && len(tensor.Data) != tensor.NumElements() {
			t.Fatalf("tensor %s: %d values for shape %v", tensor.Name, len(tensor.Data), tensor.Shape)
		}
	}
}

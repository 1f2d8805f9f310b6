package manifest

import (
	"context"
	"os"
	"path/filepath"
	"testing"
)

// FuzzRead feeds arbitrary bytes to Read as manifest.json: a validated
// manifest or an error naming the file, never a panic.
//
//	go test ./io/manifest -run '^$' -fuzz FuzzRead -fuzztime 60s
func FuzzRead(f *testing.F) {
	if b, err := os.ReadFile(filepath.Join("testdata", "manifest.json")); err == nil {
		f.Add(b)
	}
	f.Add([]byte(`{"format_version": 1, "tasks": {"ner": {"splits": {"train": {"shards": ["../x"]}}}}}`))
	f.Fuzz(func(t *testing.T, data []byte) {
		p := filepath.Join(t.TempDir(), FileName)
		if err := os.WriteFile(p, data, 0o644); err != nil {
			t.Fatal(err)
		}
		m, err := Read(context.Background(), p)
		if err == nil {
			if verr := m.Validate(); verr != nil {
				t.Fatalf("Read accepted a manifest Validate refuses: %v", verr)
			}
		}
	})
}

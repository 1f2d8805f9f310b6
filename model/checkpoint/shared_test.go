package checkpoint

import (
	"os"
	"path/filepath"
	"testing"
)

// sharedCorpora walks up from the test's directory to the first
// shared/corpora (the repository sits beside ../shared), or skips.
func sharedCorpora(t *testing.T) string {
	t.Helper()
	dir, err := os.Getwd()
	if err != nil {
		t.Fatal(err)
	}
	for {
		c := filepath.Join(dir, "shared", "corpora")
		if st, err := os.Stat(c); err == nil && st.IsDir() {
			return c
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			t.Skip("shared/corpora not found above the test directory; it is kept beside the repository (../shared)")
		}
		dir = parent
	}
}

func camphrDir(t *testing.T) string {
	t.Helper()
	d := filepath.Join(sharedCorpora(t), "tiny_bert_camphr_ner")
	if _, err := os.Stat(filepath.Join(d, "pytorch_model.bin")); err != nil {
		t.Skip("tiny_bert_camphr_ner not in shared/corpora:", err)
	}
	return d
}

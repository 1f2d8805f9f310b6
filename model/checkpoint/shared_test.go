package checkpoint

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/taskweave/taskweave/internal/testcorpora"
)

func camphrDir(t *testing.T) string {
	t.Helper()
	d := filepath.Join(testcorpora.Dir(t), "tiny_bert_camphr_ner")
	if _, err := os.Stat(filepath.Join(d, "pytorch_model.bin")); err != nil {
		t.Skip("tiny_bert_camphr_ner not in shared/corpora:", err)
	}
	return d
}

package checkpoint

import (
	"path/filepath"
	"testing"

	"github.com/taskweave/taskweave/internal/testcorpora"
)

func camphrDir(t *testing.T) string {
	t.Helper()
	return filepath.Dir(testcorpora.File(t, "tiny_bert_camphr_ner", "pytorch_model.bin"))
}

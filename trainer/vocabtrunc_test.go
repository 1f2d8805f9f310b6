package trainer

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestInitVocabTruncation: `train` with model.init set to a checkpoint
// whose vocab.txt is longer than its vocab_size suggested
// --allow-vocab-truncation, which train did not have (issue 26). The
// error now names both the flag and the spec key, and with the option the
// run starts from the checkpoint, warning in the log.
func TestInitVocabTruncation(t *testing.T) {
	hf := hfFixture(t)
	var v []string
	for i := range 123 { // the fixture's vocab_size is 120
		v = append(v, fmt.Sprintf("t%d", i))
	}
	if err := os.WriteFile(filepath.Join(hf, "vocab.txt"), []byte(strings.Join(v, "\n")+"\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	data := synthDataVocab(t, 64, 120)
	cfg := baseConfig(data, filepath.Join(t.TempDir(), "run"))
	cfg.Init, cfg.Size, cfg.Steps = hf, "", 2
	_, err := Train(context.Background(), cfg)
	if err == nil || !strings.Contains(err.Error(), "--allow-vocab-truncation (predict, train) or model.allow_vocab_truncation: true") {
		t.Fatalf("err = %v; want the flag and the spec key", err)
	}
	var log bytes.Buffer
	cfg.AllowVocabTruncation, cfg.Log = true, &log
	if _, err := Train(context.Background(), cfg); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(log.String(), "vocab.txt has 123 entries but vocab_size is 120: keeping only the first 120") {
		t.Errorf("no truncation warning in the log:\n%s", log.String())
	}
}

package evaluate

import (
	"context"
	"encoding/binary"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestCorruptShardError: a shard with two damaged footer bytes made the
// pipeline print parquet-go's panic in 113 lines without naming the shard.
// Now the error is the shard reader's, on one line, naming the shard and
// the fix, without the Beam plan around it.
func TestCorruptShardError(t *testing.T) {
	f := newFixture(t, defaultTasks[:1], 3)
	p := filepath.Join(f.data, "sst", "test", "part-00001-of-00002.parquet")
	b, err := os.ReadFile(p)
	if err != nil {
		t.Fatal(err)
	}
	footer := len(b) - 8 - int(binary.LittleEndian.Uint32(b[len(b)-8:]))
	b[footer+11], b[footer+12] = 0x7f, b[footer+12]^0xff
	if err := os.WriteFile(p, b, 0o644); err != nil {
		t.Fatal(err)
	}
	_, err = Run(context.Background(), Options{Model: f.ckpt, Data: f.data, Split: "test", Out: t.TempDir(), BatchSize: 8})
	if err == nil {
		t.Fatal("a corrupt shard was scored")
	}
	msg := err.Error()
	if !strings.HasPrefix(msg, p+": corrupt Parquet file (") || !strings.Contains(msg, "re-run preprocess") || strings.Count(msg, "\n") > 0 {
		t.Fatalf("error = %q; want one line %q…", msg, p+": corrupt Parquet file (")
	}
}

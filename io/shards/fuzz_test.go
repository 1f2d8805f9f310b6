package shards_test

import (
	"os"
	"strings"
	"testing"
)

// FuzzOpenReader feeds arbitrary bytes to the shard reader: it must return
// rows or an error, never panic, hang or allocate from a lying footer. The
// seeds under testdata/fuzz/FuzzOpenReader are the corruptions that crashed
// parquet-go before the footer check (a panic, and a fatal out-of-memory).
//
//	go test ./io/shards -run '^$' -fuzz FuzzOpenReader -fuzztime 60s
func FuzzOpenReader(f *testing.F) {
	if b, err := os.ReadFile("testdata/golden.parquet"); err == nil {
		f.Add(b)
	}
	f.Add([]byte("PAR1\x00\x00\x00\x00PAR1"))
	f.Fuzz(func(t *testing.T, data []byte) {
		err := readShard(data)
		if err != nil && strings.Contains(err.Error(), "panic") && !strings.Contains(err.Error(), "corrupt Parquet file") {
			t.Fatalf("unrecovered panic text: %v", err)
		}
	})
}

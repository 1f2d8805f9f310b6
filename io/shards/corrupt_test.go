package shards_test

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/taskweave/taskweave/internal/hostile"
	"github.com/taskweave/taskweave/io/shards"
)

// readShard opens and reads every row of data, as the trainer does.
func readShard(data []byte) error {
	r, err := shards.OpenReader(bytes.NewReader(data), int64(len(data)))
	if err != nil {
		return err
	}
	defer r.Close()
	buf := make([]shards.Row, 64)
	for {
		if _, err := r.Read(buf); err != nil {
			if errors.Is(err, io.EOF) {
				return nil
			}
			return err
		}
	}
}

// TestCorruptFooterNeverPanicsOrOverallocates overwrites every byte of a
// shard's footer with a few patterns (one byte, two bytes, a varint claiming
// 2^31 items) and its length field with 4 GiB. Before the footer check and
// the recover at this boundary, two flipped bytes panicked parquet-go
// (slice bounds out of range, unsafe.Slice on nil) and a large claim ended
// in a fatal out-of-memory.
func TestCorruptFooterNeverPanicsOrOverallocates(t *testing.T) {
	data := write(t, makeRows(50, 1))
	flen := int(binary.LittleEndian.Uint32(data[len(data)-8:]))
	start := len(data) - 8 - flen
	lim := hostile.Limits{Time: 10 * time.Second, Alloc: 64 << 20}
	patterns := [][]byte{{0x7f}, {0x00}, {0xff, 0x7f}, {0xff, 0xff, 0xff, 0xff, 0x07}}
	var cases, failed int
	check := func(what string, d []byte) {
		cases++
		out, problem := hostile.Run(lim, func() error { return readShard(d) })
		if problem != nil {
			failed++
			if failed <= 5 {
				t.Errorf("%s: %v", what, problem)
			}
			return
		}
		if out.Err != nil && !strings.Contains(out.Err.Error(), "corrupt Parquet file") && !strings.Contains(out.Err.Error(), "lacks column") && !strings.Contains(out.Err.Error(), "reading rows") {
			t.Errorf("%s: error %q is neither a corrupt-file nor a schema error", what, out.Err)
		}
	}
	for pos := start; pos < len(data)-8; pos++ {
		for _, p := range patterns {
			d := append([]byte(nil), data...)
			copy(d[pos:len(d)-8], p)
			check(fmt.Sprintf("footer byte %d, pattern %x", pos-start, p), d)
		}
	}
	d := append([]byte(nil), data...)
	binary.LittleEndian.PutUint32(d[len(d)-8:], 0xffffffff)
	check("footer length 4 GiB", d)
	if failed > 0 {
		t.Fatalf("%d of %d corruptions panicked, hung or over-allocated", failed, cases)
	}
}

// TestOpenNamesCorruptShard: the error names the shard and the fix.
func TestOpenNamesCorruptShard(t *testing.T) {
	data := write(t, makeRows(20, 2))
	flen := int(binary.LittleEndian.Uint32(data[len(data)-8:]))
	data[len(data)-8-flen+11] = 0x7f // a panic in parquet-go before the fix
	p := filepath.Join(t.TempDir(), "part-00000-of-00001.parquet")
	if err := os.WriteFile(p, data, 0o644); err != nil {
		t.Fatal(err)
	}
	_, err := shards.ReadAll(context.Background(), p)
	if err == nil || !strings.HasPrefix(err.Error(), p+": corrupt Parquet file (") || !strings.Contains(err.Error(), "re-run preprocess") {
		t.Fatalf("error = %v; want %q naming the fix", err, p+": corrupt Parquet file (…)")
	}
}

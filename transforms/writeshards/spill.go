package writeshards

import (
	"bufio"
	"context"
	"crypto/rand"
	"encoding/gob"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"slices"
	"sync"

	"github.com/taskweave/taskweave/io/shards"
	"github.com/taskweave/taskweave/io/storage"
)

// SpillBytes is how many bytes of rows (by rowBytes' estimate) a Spill holds
// before it writes them out as runs. 64 MiB keeps a worker's share of the
// heap small while a split of 6.7M rows still gives under a hundred runs
// per shard to merge.
const SpillBytes = 64 << 20

// runChunk is how many rows one gob value of a run file holds: enough to
// amortise gob's per-value cost, few enough that a merge holding one chunk
// per run stays small.
const runChunk = 256

// Run is one sorted run file of one shard.
type Run struct {
	Key, Path string
}

// Spill collects the rows of one task and split, hashed into n shards, and
// writes them as sorted run files under dir whenever it holds limit bytes.
// Add may be called from several goroutines.
type Spill struct {
	dir, task, split string
	n                int
	limit            int64

	mu    sync.Mutex
	buf   map[int][]shards.Row
	bytes int64
	runs  []Run
}

// NewSpill starts a spill of one task and split into n shards.
func NewSpill(dir, task, split string, n int, limit int64) *Spill {
	return &Spill{dir: dir, task: task, split: split, n: n, limit: limit, buf: map[int][]shards.Row{}}
}

// rowBytes estimates the memory a row holds: its slices and strings plus the
// headers around them.
func rowBytes(r *shards.Row) int64 {
	b := 256 + len(r.ExampleID) + len(r.Text) +
		4*(len(r.InputIDs)+len(r.TokenTypeIDs)+len(r.TokenLabels)+len(r.WordIDs))
	for _, w := range r.Words {
		b += 16 + len(w)
	}
	return int64(b)
}

// Add files the rows of one record (all windows share its id's shard) and
// writes runs when the spill is full.
func (s *Spill) Add(ctx context.Context, recordID string, rows []shards.Row) error {
	sh := Shard(recordID, s.n)
	s.mu.Lock()
	for i := range rows {
		s.bytes += rowBytes(&rows[i])
	}
	s.buf[sh] = append(s.buf[sh], rows...)
	var full map[int][]shards.Row
	if s.bytes >= s.limit {
		full, s.buf, s.bytes = s.buf, map[int][]shards.Row{}, 0
	}
	s.mu.Unlock()
	if full == nil {
		return nil
	}
	// Written outside the lock: the other encoders keep filling the new buffer.
	return s.write(ctx, full)
}

// Close writes what is left and returns every run written.
func (s *Spill) Close(ctx context.Context) ([]Run, error) {
	s.mu.Lock()
	full := s.buf
	s.buf, s.bytes = map[int][]shards.Row{}, 0
	s.mu.Unlock()
	if err := s.write(ctx, full); err != nil {
		return nil, err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	return slices.Clone(s.runs), nil
}

// write sorts each shard's rows by example id and writes them as one run.
// A run's name is random: a retried bundle writes new runs, and only the
// runs of the attempt that succeeded are handed on.
func (s *Spill) write(ctx context.Context, buf map[int][]shards.Row) error {
	for sh, rows := range buf {
		slices.SortFunc(rows, func(a, b shards.Row) int { return NaturalCompare(a.ExampleID, b.ExampleID) })
		var id [8]byte
		_, _ = rand.Read(id[:])
		run := Run{Key: Key(s.task, s.split, sh, s.n),
			Path: storage.Join(s.dir, fmt.Sprintf("%s.%s.%05d.%s.run", s.task, s.split, sh, hex.EncodeToString(id[:])))}
		if err := writeRun(ctx, run.Path, rows); err != nil {
			return err
		}
		s.mu.Lock()
		s.runs = append(s.runs, run)
		s.mu.Unlock()
	}
	return nil
}

// writeRun writes rows as a stream of gob-encoded chunks.
func writeRun(ctx context.Context, path string, rows []shards.Row) error {
	w, err := storage.Create(ctx, path)
	if err != nil {
		return err
	}
	defer storage.Abort(w)
	bw := bufio.NewWriterSize(w, 1<<20)
	enc := gob.NewEncoder(bw)
	for len(rows) > 0 {
		k := min(runChunk, len(rows))
		if err := enc.Encode(rows[:k]); err != nil {
			return fmt.Errorf("%s: %w", path, err)
		}
		rows = rows[k:]
	}
	if err := bw.Flush(); err != nil {
		return fmt.Errorf("%s: %w", path, err)
	}
	return w.Close()
}

// runReader streams the rows of one run file.
type runReader struct {
	path  string
	c     io.Closer
	dec   *gob.Decoder
	chunk []shards.Row
}

func openRun(ctx context.Context, path string) (*runReader, error) {
	r, err := storage.Open(ctx, path)
	if err != nil {
		return nil, err
	}
	return &runReader{path: path, c: r, dec: gob.NewDecoder(bufio.NewReaderSize(r, 64<<10))}, nil
}

// next returns the run's next row; ok is false at its end.
func (r *runReader) next() (row shards.Row, ok bool, err error) {
	for len(r.chunk) == 0 {
		r.chunk = nil
		if err := r.dec.Decode(&r.chunk); err == io.EOF {
			return row, false, nil
		} else if err != nil {
			return row, false, fmt.Errorf("%s: %w", r.path, err)
		}
	}
	row, r.chunk = r.chunk[0], r.chunk[1:]
	return row, true, nil
}

// RemoveRuns removes a spill directory: the run files directly under dir (a
// spill writes no subdirectories), then dir itself where the storage has
// directories (gs:// has none). A missing dir is not an error.
func RemoveRuns(ctx context.Context, dir string) error {
	found, err := storage.List(ctx, storage.Join(dir, "*"))
	if err != nil && !errors.Is(err, fs.ErrNotExist) {
		return err
	}
	for _, f := range found {
		if err := storage.Remove(ctx, f); err != nil && !errors.Is(err, fs.ErrNotExist) {
			return err
		}
	}
	if !storage.IsRemote(dir) {
		if err := os.Remove(dir); err != nil && !errors.Is(err, fs.ErrNotExist) {
			return err
		}
	}
	return nil
}

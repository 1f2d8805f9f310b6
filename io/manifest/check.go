package manifest

import (
	"context"
	"errors"
	"fmt"
	"io"
	"strings"

	"github.com/taskweave/taskweave/io/shards"
	"github.com/taskweave/taskweave/io/storage"
)

// CheckShards is the one check a stage runs on the shards it is about to
// read, before it reads them: each path (resolved by ShardPaths against
// manifestPath) must be a shard the manifest lists, with the size and
// checksum it recorded, and its rows must carry the task and split the
// manifest lists it under. A test shard copied over a train shard was
// trained on with exit 0 (issue 26), and evaluate found it only after
// scoring, behind pages of Beam errors; this names the file and the fix in
// the first second. The row check reads one row per shard, so shards from
// a manifest too old to record checksums are still caught.
func (m *Manifest) CheckShards(ctx context.Context, manifestPath string, paths []string) error {
	where := m.shardIndex(manifestPath)
	var bad []string
	for _, p := range paths {
		at, ok := where[p]
		if !ok {
			bad = append(bad, fmt.Sprintf("%s is not a shard the manifest lists", p))
			continue
		}
		why, err := m.checkShard(ctx, p, at)
		if err != nil {
			return err // a damaged shard: the reader's error names it and the fix
		}
		if why != "" {
			bad = append(bad, why)
		}
	}
	if len(bad) == 0 {
		return nil
	}
	return fmt.Errorf("%s: the shards no longer match %s; re-run `taskweave preprocess`, which rewrites changed shards (never copy or rename shards by hand)",
		strings.Join(bad, "; "), manifestPath)
}

// shardPlace is where the manifest lists a shard.
type shardPlace struct{ task, split, rel string }

// shardIndex maps every resolved shard path to its place in the manifest.
func (m *Manifest) shardIndex(manifestPath string) map[string]shardPlace {
	dir := dirOf(manifestPath)
	out := map[string]shardPlace{}
	for task, t := range m.Tasks {
		for split, s := range t.Splits {
			for _, rel := range s.Shards {
				out[storage.Join(dir, rel)] = shardPlace{task, split, rel}
			}
		}
	}
	return out
}

// checkShard compares one shard's size and checksum with the record (when
// the manifest has records) and its first row's task and split with its
// place, and says what differs ("" when nothing does).
func (m *Manifest) checkShard(ctx context.Context, p string, at shardPlace) (string, error) {
	if want, ok := m.ShardFiles[at.rel]; ok {
		got, err := Stat(ctx, p)
		if err != nil {
			return "", fmt.Errorf("%s: %w", p, err)
		}
		switch {
		case got.Size != want.Size:
			return fmt.Sprintf("%s has %d bytes, the manifest recorded %d", p, got.Size, want.Size), nil
		case got.Checksum != want.Checksum:
			return fmt.Sprintf("%s has checksum %s, the manifest recorded %s", p, got.Checksum, want.Checksum), nil
		}
	}
	r, err := shards.Open(ctx, p)
	if err != nil {
		return "", err // names p and the fix
	}
	defer r.Close()
	row := make([]shards.Row, 1)
	n, err := r.Read(row)
	switch {
	case n == 0 && err != nil && !errors.Is(err, io.EOF):
		return "", fmt.Errorf("%s: %w", p, err)
	case n == 0:
		return "", nil // an empty shard holds no one else's rows
	case row[0].Task != at.task || row[0].Split != at.split:
		return fmt.Sprintf("%s holds rows of task %q split %q, but the manifest lists it under task %q split %q", p, row[0].Task, row[0].Split, at.task, at.split), nil
	}
	return "", nil
}

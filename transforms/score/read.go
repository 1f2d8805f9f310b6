package score

import (
	"context"
	"errors"
	"fmt"
	"io"
	"slices"

	"github.com/taskweave/taskweave/io/shards"
)

// ReadShardFn streams the rows [ref.Start, ref.End) of one shard file (local
// or gs://), keyed by the shard's file name so predictions can be written
// per shard. Row ranges let several workers read one shard. A group's
// shards (ref.Members) are read in step: each element carries a row and
// its members' rows, checked to be the same example and word pieces.
type ReadShardFn struct{}

// ProcessElement reads ref's rows and checks each belongs to ref's task.
func (f *ReadShardFn) ProcessElement(ctx context.Context, ref ShardRef, emit func(string, RowGroup)) error {
	rds := make([]*shards.Reader, 0, 1+len(ref.Members))
	defer func() {
		for _, r := range rds {
			r.Close()
		}
	}()
	for _, m := range append([]Member{{ref.Task, ref.Path}}, ref.Members...) {
		r, err := openRange(ctx, m, ref)
		if err != nil {
			return err
		}
		rds = append(rds, r)
	}
	bufs := make([][]shards.Row, len(rds))
	for i := range bufs {
		bufs[i] = make([]shards.Row, 256)
	}
	for left := ref.End - ref.Start; left > 0; {
		want := min(int64(len(bufs[0])), left)
		n, err := readRows(rds, bufs, want, ref)
		if err != nil {
			return err
		}
		for k := range n {
			g := RowGroup{Rows: make([]shards.Row, len(rds))}
			for i := range rds {
				g.Rows[i] = bufs[i][k]
			}
			if err := checkRowGroup(ref, g); err != nil {
				return err
			}
			emit(ref.Part, g)
		}
		left -= int64(n)
	}
	return nil
}

// openRange opens one shard of ref's group at ref.Start; every shard of a
// group must have the leader's rows.
func openRange(ctx context.Context, m Member, ref ShardRef) (*shards.Reader, error) {
	r, err := shards.Open(ctx, m.Path)
	if err != nil {
		return nil, err
	}
	if ref.End > r.NumRows() || ref.Start > ref.End {
		r.Close()
		return nil, fmt.Errorf("score: %s has %d rows, not the range %d..%d the launcher planned; the shard changed since, re-run evaluate",
			m.Path, r.NumRows(), ref.Start, ref.End)
	}
	if err := r.SeekToRow(ref.Start); err != nil {
		r.Close()
		return nil, fmt.Errorf("score: %s: %w", m.Path, err)
	}
	return r, nil
}

// readRows reads the next want rows of every reader into bufs (a reader
// may give fewer per call, at a row group's end: it is called again).
func readRows(rds []*shards.Reader, bufs [][]shards.Row, want int64, ref ShardRef) (int, error) {
	for i, r := range rds {
		path := ref.Path
		if i > 0 {
			path = ref.Members[i-1].Path
		}
		for got := int64(0); got < want; {
			n, err := r.Read(bufs[i][got:want])
			got += int64(n)
			if errors.Is(err, io.EOF) && got < want {
				return 0, fmt.Errorf("score: %s ended before row %d", path, ref.End)
			}
			if err != nil && !errors.Is(err, io.EOF) {
				return 0, fmt.Errorf("score: reading %s: %w", path, err)
			}
		}
	}
	return int(want), nil
}

// checkRowGroup checks each row's task and that a group's rows are one example.
func checkRowGroup(ref ShardRef, g RowGroup) error {
	for i, row := range g.Rows {
		task, path := ref.Task, ref.Path
		if i > 0 {
			task, path = ref.Members[i-1].Task, ref.Members[i-1].Path
		}
		if row.Task != task {
			return fmt.Errorf("score: %s holds a row of task %q (example %s) but the manifest lists it under task %q; re-run preprocess",
				path, row.Task, row.ExampleID, task)
		}
		if i > 0 && (row.ExampleID != g.Rows[0].ExampleID || !slices.Equal(row.InputIDs, g.Rows[0].InputIDs)) {
			return fmt.Errorf("score: %s has example %s where %s (task %s, whose rows it labels) has %s, or other word pieces: the group's shards were not written from the same rows; re-run preprocess",
				path, row.ExampleID, ref.Path, ref.Task, g.Rows[0].ExampleID)
		}
	}
	return nil
}

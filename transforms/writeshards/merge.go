package writeshards

import (
	"bufio"
	"container/heap"
	"context"
	"fmt"
	"reflect"
	"slices"

	"github.com/apache/beam/sdks/v2/go/pkg/beam"
	"github.com/apache/beam/sdks/v2/go/pkg/beam/register"

	"github.com/taskweave/taskweave/io/shards"
	"github.com/taskweave/taskweave/io/storage"
	"github.com/taskweave/taskweave/transforms/scan"
)

func init() {
	register.DoFn4x1[context.Context, string, func(*string) bool, func(*int) bool, error](&MergeFn{})
	register.Iter1[string]()
	register.Iter1[int]()
	register.Function1x2(placeholder)
	register.Function1x2(runKey)
	register.DoFn3x0[[]byte, scan.Result, func(string)](&KeysFn{})
	register.Emitter1[string]()
	beam.RegisterType(reflect.TypeFor[Split]())
	beam.RegisterType(reflect.TypeFor[shards.Row]())
	beam.RegisterType(reflect.TypeFor[Run]())
}

// mergeBatch is how many merged rows go to the Parquet writer per call.
const mergeBatch = 512

// MergeFn writes one shard from its sorted runs. Its input is the co-grouped
// (key, run paths, placeholders): the placeholder makes every shard of a
// split exist, even one that no record hashed to, so part-i-of-N is always
// complete. Memory: a chunk per run and one Parquet row group.
type MergeFn struct {
	Out string // output directory, local or gs://
}

// ProcessElement merges the runs by example id into the shard's file.
func (f *MergeFn) ProcessElement(ctx context.Context, key string, runs func(*string) bool, marks func(*int) bool) error {
	task, split, shard, n, err := ParseKey(key)
	if err != nil {
		return err
	}
	var paths []string
	var p string
	for runs(&p) {
		paths = append(paths, p)
	}
	var m int
	for marks(&m) {
	}
	h, err := openRuns(ctx, paths)
	defer h.close()
	if err != nil {
		return err
	}
	path := shards.ShardPath(f.Out, task, split, shard, n)
	if err := writeMerged(ctx, path, h); err != nil {
		return fmt.Errorf("%s/%s: %w", task, split, err)
	}
	return nil
}

// openRuns opens the runs at paths into a heap ordered by example id; the
// heap must be closed, also after an error.
func openRuns(ctx context.Context, paths []string) (*runHeap, error) {
	paths = slices.Sorted(slices.Values(paths)) // the order runs are opened in does not change the output; this keeps errors repeatable
	h := &runHeap{}
	for _, p := range paths {
		r, err := openRun(ctx, p)
		if err != nil {
			return h, err
		}
		h.all = append(h.all, r)
		if err := h.push(r); err != nil {
			return h, err
		}
	}
	return h, nil
}

// MergeRuns streams the rows of the sorted runs at paths to yield in
// example-id order (NaturalCompare), holding one chunk per run: the merge
// of MergeFn, for a consumer other than a shard file.
func MergeRuns(ctx context.Context, paths []string, yield func(shards.Row) error) error {
	h, err := openRuns(ctx, paths)
	defer h.close()
	if err != nil {
		return err
	}
	for h.Len() > 0 {
		row, err := h.pop()
		if err != nil {
			return err
		}
		if err := yield(row); err != nil {
			return err
		}
	}
	return nil
}

// writeMerged writes the heap's rows in example-id order to path.
func writeMerged(ctx context.Context, path string, h *runHeap) error {
	w, err := storage.Create(ctx, path)
	if err != nil {
		return err
	}
	defer storage.Abort(w)
	bw := bufio.NewWriterSize(w, 1<<20)
	sw := shards.NewWriter(bw)
	batch := make([]shards.Row, 0, mergeBatch)
	last, first := "", true
	for h.Len() > 0 {
		row, err := h.pop()
		if err != nil {
			return err
		}
		if !first && row.ExampleID == last {
			return fmt.Errorf("example id %q occurs twice; two input files of the split share a base name (ids are <base name>:<n>), rename one (a file that repeats an id of its own is caught when read, with the line)", row.ExampleID)
		}
		last, first = row.ExampleID, false
		if batch = append(batch, row); len(batch) == mergeBatch {
			if err := sw.Write(batch...); err != nil {
				return fmt.Errorf("%s: %w", path, err)
			}
			batch = batch[:0]
		}
	}
	if err := sw.Write(batch...); err != nil {
		return fmt.Errorf("%s: %w", path, err)
	}
	if err := sw.Close(); err != nil {
		return fmt.Errorf("%s: %w", path, err)
	}
	if err := bw.Flush(); err != nil {
		return fmt.Errorf("%s: %w", path, err)
	}
	return w.Close()
}

// runHeap orders the runs by their current row's example id.
type runHeap struct {
	all   []*runReader // every run opened, to close
	heads []head
}

type head struct {
	row shards.Row
	run *runReader
}

func (h *runHeap) Len() int { return len(h.heads) }
func (h *runHeap) Less(i, j int) bool {
	return NaturalCompare(h.heads[i].row.ExampleID, h.heads[j].row.ExampleID) < 0
}
func (h *runHeap) Swap(i, j int) { h.heads[i], h.heads[j] = h.heads[j], h.heads[i] }
func (h *runHeap) Push(x any)    { h.heads = append(h.heads, x.(head)) }
func (h *runHeap) Pop() any {
	x := h.heads[len(h.heads)-1]
	h.heads = h.heads[:len(h.heads)-1]
	return x
}

// push adds a run's next row, if it has one.
func (h *runHeap) push(r *runReader) error {
	row, ok, err := r.next()
	if err != nil || !ok {
		return err
	}
	heap.Push(h, head{row: row, run: r})
	return nil
}

// pop takes the smallest row and refills from its run.
func (h *runHeap) pop() (shards.Row, error) {
	top := heap.Pop(h).(head)
	return top.row, h.push(top.run)
}

func (h *runHeap) close() {
	for _, r := range h.all {
		r.c.Close()
	}
}

// placeholder keys an expected shard so CoGroupByKey yields it even when no
// record hashed to it.
func placeholder(key string) (string, int) { return key, 0 }

// runKey keys a run path by its shard.
func runKey(r Run) (string, string) { return r.Key, r.Path }

// Merge writes the shards: runs is a PCollection<Run>, keys a
// PCollection<string> with the Key of every shard that must exist.
func Merge(s beam.Scope, runs, keys beam.PCollection, out string) {
	s = s.Scope("MergeShards")
	grouped := beam.CoGroupByKey(s, beam.ParDo(s, runKey, runs), beam.ParDo(s, placeholder, keys))
	beam.ParDo0(s, &MergeFn{Out: out}, grouped)
}

// Split names one task's split.
type Split struct {
	Task, Split string
}

// KeysFn emits the Key of every shard of every split: Count(Shards, the
// split's records) shards each. Its main input is one impulse; the record
// counts arrive as a side input.
type KeysFn struct {
	Shards int
	Splits []Split
}

// ProcessElement emits the keys.
func (f *KeysFn) ProcessElement(_ []byte, sc scan.Result, emit func(string)) {
	for _, sp := range f.Splits {
		n := Count(f.Shards, sc.Records(sp.Task, sp.Split))
		for i := range n {
			emit(Key(sp.Task, sp.Split, i, n))
		}
	}
}

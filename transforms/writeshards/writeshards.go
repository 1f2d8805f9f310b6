// Package writeshards holds the DoFns that write a split's rows as Parquet
// shards and a task's rejected records as JSON lines, and the stable hash
// that decides which shard a record goes to.
//
// Every file is written through io/storage.Create (temporary name, renamed
// or finalised on Close), and its content depends only on the rows, never
// on the order a runner delivered them: rows are sorted by example id and
// rejections by file and line before writing. Running the same job twice,
// or once locally and once to gs://, gives byte-identical files.
package writeshards

import (
	"bufio"
	"cmp"
	"context"
	"encoding/json"
	"fmt"
	"hash/fnv"
	"reflect"
	"slices"
	"strconv"
	"strings"

	"github.com/apache/beam/sdks/v2/go/pkg/beam"
	"github.com/apache/beam/sdks/v2/go/pkg/beam/register"

	"github.com/taskweave/taskweave/io/corpus"
	"github.com/taskweave/taskweave/io/shards"
	"github.com/taskweave/taskweave/io/storage"
	"github.com/taskweave/taskweave/transforms/readcorpus"
)

func init() {
	register.DoFn4x1[context.Context, string, func(*shards.Row) bool, func(*int) bool, error](&WriteFn{})
	register.DoFn3x1[context.Context, string, func(*readcorpus.Rejected) bool, error](&WriteRejectedFn{})
	register.Iter1[shards.Row]()
	register.Iter1[int]()
	register.Iter1[readcorpus.Rejected]()
	register.Function1x2(rejectionByTask)
	beam.RegisterType(reflect.TypeFor[shards.Row]())
}

// Shard picks the shard of a record: FNV-64a of its source example id, mod n.
// The hash is of the record id (not of a window's id) so all windows of one
// long sentence land in the same shard.
func Shard(exampleID string, n int) int {
	h := fnv.New64a()
	h.Write([]byte(exampleID))
	return int(h.Sum64() % uint64(n))
}

// Key is the grouping key of a shard: task, split and shard number.
func Key(task, split string, shard int) string {
	return task + "/" + split + "/" + strconv.Itoa(shard)
}

// ParseKey splits a Key.
func ParseKey(key string) (task, split string, shard int, err error) {
	parts := strings.Split(key, "/")
	if len(parts) != 3 {
		return "", "", 0, fmt.Errorf("writeshards: bad shard key %q", key)
	}
	shard, err = strconv.Atoi(parts[2])
	return parts[0], parts[1], shard, err
}

// RejectedPath is a task's rejected-records file relative to the output directory.
func RejectedPath(task string) string { return "rejected/" + task + ".jsonl" }

// WriteFn writes one shard. Its input is the co-grouped (key, rows,
// placeholders): the placeholder makes every shard of a split exist, even
// one that no record hashed to, so part-i-of-N is always complete.
type WriteFn struct {
	Out    string // output directory, local or gs://
	Shards int    // shards per task and split
}

// ProcessElement sorts the shard's rows and writes them.
func (f *WriteFn) ProcessElement(ctx context.Context, key string, rows func(*shards.Row) bool, marks func(*int) bool) error {
	task, split, shard, err := ParseKey(key)
	if err != nil {
		return err
	}
	var all []shards.Row
	var r shards.Row
	for rows(&r) {
		all = append(all, r)
		r = shards.Row{}
	}
	var m int
	for marks(&m) {
	}
	slices.SortFunc(all, func(a, b shards.Row) int { return NaturalCompare(a.ExampleID, b.ExampleID) })
	for i := 1; i < len(all); i++ {
		if all[i].ExampleID == all[i-1].ExampleID {
			return fmt.Errorf("writeshards: example id %q occurs twice in %s/%s; two input files of the split share a base name (ids are <base name>:<n>), rename one (a file that repeats an id of its own is caught when read, with the line)", all[i].ExampleID, task, split)
		}
	}
	path := shards.ShardPath(f.Out, task, split, shard, f.Shards)
	w, err := storage.Create(ctx, path)
	if err != nil {
		return err
	}
	defer storage.Abort(w)
	bw := bufio.NewWriterSize(w, 1<<20)
	sw := shards.NewWriter(bw)
	if err := sw.Write(all...); err != nil {
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

// NaturalCompare orders strings with digit runs compared as numbers, so
// "train.txt:9" sorts before "train.txt:10". Ties in value fall back to the
// plain byte order, keeping it a total order.
func NaturalCompare(a, b string) int {
	i, j := 0, 0
	for i < len(a) && j < len(b) {
		ca, cb := a[i], b[j]
		if isDigit(ca) && isDigit(cb) {
			si, sj := i, j
			for i < len(a) && isDigit(a[i]) {
				i++
			}
			for j < len(b) && isDigit(b[j]) {
				j++
			}
			na := strings.TrimLeft(a[si:i], "0")
			nb := strings.TrimLeft(b[sj:j], "0")
			if c := cmp.Compare(len(na), len(nb)); c != 0 {
				return c
			}
			if c := strings.Compare(na, nb); c != 0 {
				return c
			}
			continue
		}
		if ca != cb {
			return cmp.Compare(ca, cb)
		}
		i++
		j++
	}
	if c := cmp.Compare(len(a)-i, len(b)-j); c != 0 {
		return c
	}
	return strings.Compare(a, b)
}

func isDigit(c byte) bool { return '0' <= c && c <= '9' }

// rejectionByTask keys a rejection by its task.
func rejectionByTask(r readcorpus.Rejected) (string, readcorpus.Rejected) { return r.Task, r }

// KeyRejections keys PCollection<readcorpus.Rejected> by task.
func KeyRejections(s beam.Scope, rej beam.PCollection) beam.PCollection {
	return beam.ParDo(s, rejectionByTask, rej)
}

// rejectedLine is one line of rejected/<task>.jsonl.
type rejectedLine struct {
	Split string `json:"split"`
	corpus.Rejection
}

// WriteRejectedFn writes one task's rejections, sorted by file and line.
type WriteRejectedFn struct {
	Out string
}

// ProcessElement writes <out>/rejected/<task>.jsonl.
func (f *WriteRejectedFn) ProcessElement(ctx context.Context, task string, rejs func(*readcorpus.Rejected) bool) error {
	var all []readcorpus.Rejected
	var r readcorpus.Rejected
	for rejs(&r) {
		all = append(all, r)
	}
	slices.SortFunc(all, func(a, b readcorpus.Rejected) int {
		if c := NaturalCompare(a.Rejection.File, b.Rejection.File); c != 0 {
			return c
		}
		return cmp.Compare(a.Rejection.Line, b.Rejection.Line)
	})
	path := storage.Join(f.Out, RejectedPath(task))
	w, err := storage.Create(ctx, path)
	if err != nil {
		return err
	}
	defer storage.Abort(w)
	bw := bufio.NewWriter(w)
	enc := json.NewEncoder(bw)
	enc.SetEscapeHTML(false)
	for _, r := range all {
		if err := enc.Encode(rejectedLine{Split: r.Split, Rejection: r.Rejection}); err != nil {
			return fmt.Errorf("%s: %w", path, err)
		}
	}
	if err := bw.Flush(); err != nil {
		return fmt.Errorf("%s: %w", path, err)
	}
	return w.Close()
}

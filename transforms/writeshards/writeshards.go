// Package writeshards writes a split's rows as Parquet shards and a task's
// rejected records as JSON lines, and holds the stable hash that decides
// which shard a record goes to.
//
// Rows reach the shards in two steps, so that no runner ever has to hold a
// whole split: the encoder hands its rows to a Spill, which sorts them by
// example id in bounded batches and writes each batch as one run file per
// shard; MergeFn then merges a shard's sorted runs into its Parquet file.
// Only run paths pass through the pipeline's one grouping.
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
	"slices"
	"strconv"
	"strings"

	"github.com/apache/beam/sdks/v2/go/pkg/beam"
	"github.com/apache/beam/sdks/v2/go/pkg/beam/register"

	"github.com/taskweave/taskweave/io/corpus"
	"github.com/taskweave/taskweave/io/storage"
	"github.com/taskweave/taskweave/transforms/readcorpus"
)

func init() {
	register.DoFn3x1[context.Context, string, func(*readcorpus.Rejected) bool, error](&WriteRejectedFn{})
	register.Iter1[readcorpus.Rejected]()
	register.Function1x2(rejectionByTask)
}

// Shard picks the shard of a record: FNV-64a of its source example id, mod n.
// The hash is of the record id (not of a window's id) so all windows of one
// long sentence land in the same shard.
func Shard(exampleID string, n int) int {
	h := fnv.New64a()
	h.Write([]byte(exampleID))
	return int(h.Sum64() % uint64(n))
}

// Count is the number of shards a split gets: the count asked for, but no
// more than the split's records (a shard per record at most, never zero).
// More shards than records can only add empty files, and thousands of them
// take minutes to write for nothing.
func Count(asked int, records int64) int {
	return int(max(1, min(int64(asked), records)))
}

// Key is the grouping key of a shard: task, split, shard number and the
// split's shard count.
func Key(task, split string, shard, n int) string {
	return task + "/" + split + "/" + strconv.Itoa(shard) + "/" + strconv.Itoa(n)
}

// ParseKey splits a Key.
func ParseKey(key string) (task, split string, shard, n int, err error) {
	parts := strings.Split(key, "/")
	if len(parts) != 4 {
		return "", "", 0, 0, fmt.Errorf("writeshards: bad shard key %q", key)
	}
	shard, err1 := strconv.Atoi(parts[2])
	n, err2 := strconv.Atoi(parts[3])
	if err1 != nil || err2 != nil || shard < 0 || shard >= n {
		return "", "", 0, 0, fmt.Errorf("writeshards: bad shard key %q", key)
	}
	return parts[0], parts[1], shard, n, nil
}

// RejectedPath is a task's rejected-records file relative to the output directory.
func RejectedPath(task string) string { return "rejected/" + task + ".jsonl" }

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

// Package pack holds the DoFns that turn preprocessed sentences into
// pre-training sequences packed to max_seq_len: the rows of a source
// task's train shards are keyed by the document they came from (their
// source file, in runs of ChunkRecords records so no document grows without
// bound), each document's sentences are put back in file order, their word
// pieces run together, and the run is cut into [CLS] … [SEP] sequences of
// exactly max_seq_len (the document's tail is the one shorter sequence).
// Sentences are split across sequences where the cut falls, as RoBERTa's
// and Hugging Face's run_mlm packing do: no capacity is left empty, so a
// batch of packed rows spends nothing on padding.
//
// A document is held out whole (validation) or packed for training by a
// hash of its key, so the masked-LM figures of a pre-training run come from
// text it never trained on, and no sequence mixes the two.
//
// Memory stays flat in the corpus size: no stage holds the corpus or passes
// it to the runner. ReadFn spills each shard's sentences to sorted run files
// (transforms/writeshards' Spill), in buckets by document, ordered so that a
// document's sentences are consecutive and in file order; PackFn merges a
// bucket's runs, packs each document as its last sentence goes by, and
// spills the packed rows by output shard for writeshards.Merge. Only run
// file paths go between the stages.
package pack

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"hash/fnv"
	"io"
	"reflect"
	"slices"
	"strconv"
	"strings"

	"github.com/apache/beam/sdks/v2/go/pkg/beam"
	"github.com/apache/beam/sdks/v2/go/pkg/beam/register"

	"github.com/taskweave/taskweave/io/shards"
	"github.com/taskweave/taskweave/model/scoring"
	"github.com/taskweave/taskweave/transforms/writeshards"
)

func init() {
	register.DoFn3x1[context.Context, string, func(writeshards.Run), error](&ReadFn{})
	register.DoFn4x1[context.Context, string, func(*string) bool, func(writeshards.Run), error](&PackFn{})
	register.Function1x2(BucketOf)
	register.Emitter1[writeshards.Run]()
	register.Iter1[string]()
	beam.RegisterType(reflect.TypeFor[Sentence]())
}

// ChunkRecords bounds a document group: records n and m of one file share a
// group when n/ChunkRecords == m/ChunkRecords. A Brown file (about 100
// sentences) is one group; SST-2's 67,349-line train file is 264.
const ChunkRecords = 256

// Split names of the packed task.
const (
	Train      = "train"
	Validation = "validation"
)

// Sentence is one source row on its way to packing: its example id (file
// order comes from it) and its word pieces without [CLS] and [SEP].
type Sentence struct {
	ID     string
	Pieces []int32
}

// ReadFn reads one train shard and spills its sentences under Tmp, in
// Buckets buckets by document, and emits the run files.
type ReadFn struct {
	CLS, SEP int32
	Tmp      string
	Buckets  int
}

// ProcessElement streams the shard at path.
func (f *ReadFn) ProcessElement(ctx context.Context, path string, emit func(writeshards.Run)) error {
	r, err := shards.Open(ctx, path)
	if err != nil {
		return err
	}
	defer r.Close()
	sp := writeshards.NewSpill(f.Tmp, docsTask, docsSplit, f.Buckets, writeshards.SpillBytes)
	buf := make([]shards.Row, 256)
	for {
		n, err := r.Read(buf)
		for _, row := range buf[:n] {
			key := DocKey(row.Task, row.ExampleID)
			s := shards.Row{Task: row.Task, ExampleID: sentenceID(key, row.ExampleID), InputIDs: f.strip(row.InputIDs)}
			if err := sp.Add(ctx, key, []shards.Row{s}); err != nil {
				return err
			}
		}
		if errors.Is(err, io.EOF) || (err == nil && n == 0) {
			break
		}
		if err != nil {
			return fmt.Errorf("pack: %s: %w", path, err)
		}
	}
	runs, err := sp.Close(ctx)
	for _, run := range runs {
		emit(run)
	}
	return err
}

// The spilled sentences are filed as this task and split (run file names
// and keys only; the packed rows are Task's).
const (
	docsTask  = "pack"
	docsSplit = "documents"
)

// sentenceID is the spilled id of a sentence: the 64-bit hash of its
// document key in 20 decimal digits, the key, and the sentence's own id,
// separated by NUL. Runs are sorted and merged by NaturalCompare of this id,
// which orders first by the hash (a digit run of fixed width), so each
// document's sentences come together, then within a document by the
// sentence's id: file order, as packing needs.
func sentenceID(key, id string) string {
	return fmt.Sprintf("%020d\x00%s\x00%s", docHash(key), key, id)
}

// parseSentenceID splits a sentenceID into the document's hash prefix,
// key and the sentence's id.
func parseSentenceID(s string) (hash, key, id string, err error) {
	parts := strings.SplitN(s, "\x00", 3)
	if len(parts) != 3 {
		return "", "", "", fmt.Errorf("pack: spilled sentence id %q is not <hash>NUL<document>NUL<id>", s)
	}
	return parts[0], parts[1], parts[2], nil
}

func docHash(key string) uint64 {
	h := fnv.New64a()
	h.Write([]byte(key))
	return h.Sum64()
}

// BucketOf keys a run of spilled sentences by its bucket.
func BucketOf(r writeshards.Run) (string, string) { return r.Key, r.Path }

// strip drops the [CLS] and [SEP] every preprocessed row starts and ends with.
func (f *ReadFn) strip(ids []int32) []int32 {
	if len(ids) > 0 && ids[0] == f.CLS {
		ids = ids[1:]
	}
	if len(ids) > 0 && ids[len(ids)-1] == f.SEP {
		ids = ids[:len(ids)-1]
	}
	return slices.Clone(ids)
}

// DocKey is the document group of a row: its task, the file its id names
// (ids are <file base>:<record>, windows <…>#w<k>) and its run of
// ChunkRecords records. An id without a record number groups by file alone.
func DocKey(task, id string) string {
	if s, _, ok := scoring.ParseWindowID(id); ok {
		id = s
	}
	base, rec := id, ""
	if i := strings.LastIndexByte(id, ':'); i >= 0 {
		base, rec = id[:i], id[i+1:]
	}
	chunk := 0
	if n, err := strconv.Atoi(rec); err == nil {
		chunk = n / ChunkRecords
	}
	return task + "/" + base + "/" + strconv.Itoa(chunk)
}

// Held reports whether a document group is held out for validation: FNV-64a
// of its key below holdout of the hash range.
func Held(key string, holdout float64) bool {
	h := fnv.New64a()
	h.Write([]byte(key))
	return float64(h.Sum64()%1_000_000) < holdout*1_000_000
}

// PackFn packs the documents of one bucket of spilled sentences and spills
// the packed rows, keyed by their shard, under Tmp.
type PackFn struct {
	Task      string // the packed task's name
	MaxSeqLen int
	CLS, SEP  int32
	Holdout   float64
	Shards    int
	Tmp       string
}

// ProcessElement merges the bucket's runs; a document is packed when the
// merge moves past its last sentence.
func (f *PackFn) ProcessElement(ctx context.Context, _ string, runs func(*string) bool, emit func(writeshards.Run)) error {
	var paths []string
	var p string
	for runs(&p) {
		paths = append(paths, p)
	}
	out := map[string]*writeshards.Spill{}
	for _, split := range []string{Train, Validation} {
		out[split] = writeshards.NewSpill(f.Tmp, f.Task, split, f.Shards, writeshards.SpillBytes/2)
	}
	var doc []Sentence
	var hash, key string
	flush := func() error {
		err := f.packDoc(ctx, key, doc, out)
		doc = doc[:0]
		return err
	}
	err := writeshards.MergeRuns(ctx, paths, func(r shards.Row) error {
		h, k, id, err := parseSentenceID(r.ExampleID)
		if err != nil {
			return err
		}
		if k != key && len(doc) > 0 {
			if h == hash { // never seen: 64-bit FNV of two file names and chunks alike
				return fmt.Errorf("pack: documents %s and %s share the hash %s, so their sentences would interleave; rename one of the files", key, k, h)
			}
			if err := flush(); err != nil {
				return err
			}
		}
		hash, key = h, k
		doc = append(doc, Sentence{ID: id, Pieces: r.InputIDs})
		return nil
	})
	if err == nil && len(doc) > 0 {
		err = flush()
	}
	for _, split := range []string{Train, Validation} {
		rs, cerr := out[split].Close(ctx)
		for _, run := range rs {
			emit(run)
		}
		err = cmp.Or(err, cerr)
	}
	return err
}

// packDoc packs one document's sentences (in file order) into its split's
// spill, each row filed under its shard.
func (f *PackFn) packDoc(ctx context.Context, key string, sents []Sentence, out map[string]*writeshards.Spill) error {
	split := Train
	if Held(key, f.Holdout) {
		split = Validation
	}
	for i, ids := range Pack(sents, f.MaxSeqLen, f.CLS, f.SEP) {
		id := key + "#" + strconv.Itoa(i)
		row := shards.Row{Task: f.Task, Split: split, ExampleID: id, InputIDs: ids, TokenTypeIDs: make([]int32, len(ids)), Label: -1}
		if err := out[split].Add(ctx, id, []shards.Row{row}); err != nil {
			return err
		}
	}
	return nil
}

// Pack runs the sentences' pieces together and cuts them into sequences of
// at most maxLen ids, each [CLS] pieces [SEP]; every sequence but the last
// is exactly maxLen long.
func Pack(sents []Sentence, maxLen int, cls, sep int32) [][]int32 {
	room := maxLen - 2
	var out [][]int32
	cur := []int32{cls}
	for _, s := range sents {
		p := s.Pieces
		for len(p) > 0 {
			k := min(len(p), room-(len(cur)-1))
			cur = append(cur, p[:k]...)
			p = p[k:]
			if len(cur)-1 == room {
				out = append(out, append(cur, sep))
				cur = []int32{cls}
			}
		}
	}
	if len(cur) > 1 {
		out = append(out, append(cur, sep))
	}
	return out
}

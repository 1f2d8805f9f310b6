// Package pack holds the DoFns that turn preprocessed sentences into
// pre-training sequences packed to max_seq_len: the rows of a source
// task's train shards are keyed by the document they came from (their
// source file, in runs of ChunkRecords records so no group grows without
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
package pack

import (
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
	register.DoFn3x1[context.Context, string, func(string, Sentence), error](&ReadFn{})
	register.DoFn3x1[string, func(*Sentence) bool, func(string, shards.Row), error](&PackFn{})
	register.Emitter2[string, Sentence]()
	register.Emitter2[string, shards.Row]()
	register.DoFn4x1[context.Context, string, func(*shards.Row) bool, func(writeshards.Run), error](&SpillFn{})
	register.Iter1[shards.Row]()
	register.Emitter1[writeshards.Run]()
	register.Iter1[Sentence]()
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

// ReadFn reads one train shard and emits every row's pieces keyed by its
// document group.
type ReadFn struct {
	CLS, SEP int32
}

// ProcessElement streams the shard at path.
func (f *ReadFn) ProcessElement(ctx context.Context, path string, emit func(string, Sentence)) error {
	r, err := shards.Open(ctx, path)
	if err != nil {
		return err
	}
	defer r.Close()
	buf := make([]shards.Row, 256)
	for {
		n, err := r.Read(buf)
		for _, row := range buf[:n] {
			emit(DocKey(row.Task, row.ExampleID), Sentence{ID: row.ExampleID, Pieces: f.strip(row.InputIDs)})
		}
		if errors.Is(err, io.EOF) || (err == nil && n == 0) {
			return nil
		}
		if err != nil {
			return fmt.Errorf("pack: %s: %w", path, err)
		}
	}
}

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

// PackFn packs one document group into sequences and keys each by its shard.
type PackFn struct {
	Task      string // the packed task's name
	MaxSeqLen int
	CLS, SEP  int32
	Holdout   float64
	Shards    int
}

// ProcessElement sorts the group's sentences into file order and packs them.
func (f *PackFn) ProcessElement(key string, iter func(*Sentence) bool, emit func(string, shards.Row)) error {
	var sents []Sentence
	var s Sentence
	for iter(&s) {
		sents = append(sents, s)
		s = Sentence{}
	}
	slices.SortFunc(sents, func(a, b Sentence) int { return writeshards.NaturalCompare(a.ID, b.ID) })
	split := Train
	if Held(key, f.Holdout) {
		split = Validation
	}
	for i, ids := range Pack(sents, f.MaxSeqLen, f.CLS, f.SEP) {
		id := key + "#" + strconv.Itoa(i)
		row := shards.Row{Task: f.Task, Split: split, ExampleID: id, InputIDs: ids, TokenTypeIDs: make([]int32, len(ids)), Label: -1}
		emit(writeshards.Key(f.Task, split, writeshards.Shard(id, f.Shards), f.Shards), row)
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

// SpillFn files one shard's packed rows as sorted run files for
// writeshards.Merge, which writes the shard as preprocess's shards are
// written: one Parquet writer for both pipelines.
type SpillFn struct {
	Tmp string // directory for the run files
}

// ProcessElement spills the rows of the shard named by key.
func (f *SpillFn) ProcessElement(ctx context.Context, key string, rows func(*shards.Row) bool, emit func(writeshards.Run)) error {
	task, split, _, n, err := writeshards.ParseKey(key)
	if err != nil {
		return err
	}
	sp := writeshards.NewSpill(f.Tmp, task, split, n, writeshards.SpillBytes)
	var r shards.Row
	for rows(&r) {
		if err := sp.Add(ctx, r.ExampleID, []shards.Row{r}); err != nil {
			return err
		}
		r = shards.Row{}
	}
	runs, err := sp.Close(ctx)
	for _, run := range runs {
		emit(run)
	}
	return err
}

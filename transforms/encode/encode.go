// Package encode is the Beam DoFn that turns one input file into shard
// rows: WordPiece ids, label ids (from the job spec's list or the list the
// scan collected from the train split, which arrives as a side input),
// first-subword token labels, word ids and windows. The rows go to a
// writeshards.Spill (sorted run files per shard), not to the pipeline: only
// the run paths, one count per file and the rejections are emitted, so the
// runner never holds the corpus.
//
// One element is a whole file, read in order (example ids number the records
// from the file's start), and its records are encoded on every core: a
// reader goroutine hands batches to one encoder per CPU. A single large file
// therefore keeps the machine busy without being split into byte ranges.
//
// A record align cannot use (an unknown label, a target that is not a
// number, tags that do not match the words) is set aside as a rejection in
// the train split; in any other split it stops the run with an error naming
// the file, the line and the fix: an evaluation split that silently loses
// records gives numbers nobody can compare.
package encode

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"reflect"

	"github.com/apache/beam/sdks/v2/go/pkg/beam"
	"github.com/apache/beam/sdks/v2/go/pkg/beam/register"

	"github.com/taskweave/taskweave/io/storage"
	"github.com/taskweave/taskweave/text/align"
	"github.com/taskweave/taskweave/text/wordpiece"
	"github.com/taskweave/taskweave/transforms/readcorpus"
	"github.com/taskweave/taskweave/transforms/scan"
	"github.com/taskweave/taskweave/transforms/splitstats"
	"github.com/taskweave/taskweave/transforms/writeshards"
)

func init() {
	register.DoFn6x1[context.Context, readcorpus.Source, scan.Result, func(writeshards.Run), func(splitstats.Stats), func(readcorpus.Rejected), error](&EncodeFn{})
	register.Emitter1[writeshards.Run]()
	register.Emitter1[splitstats.Stats]()
	register.Emitter1[readcorpus.Rejected]()
	register.Function1x1(rejectedStats)
	beam.RegisterType(reflect.TypeFor[Task]())
}

// Task is what the encoder needs to know about one task.
type Task struct {
	Type      string   // sequence_classification | token_classification | sequence_regression
	TagScheme string   // token tasks: none | iob1 | iob2
	Labels    []string // from the job spec; empty = use the collected list
	// LabelsSetting names where the label list is set, for messages:
	// "tasks[1].labels in the job spec" or "--label-list".
	LabelsSetting string
	Read          readcorpus.Task // how to read the task's files
}

// EncodeFn reads and encodes one file per element.
type EncodeFn struct {
	Vocab     string // vocab.txt, local or gs://
	Lowercase bool
	MaxSeqLen int
	Shards    int    // shards asked for per split (capped by each split's records)
	Split     string // the split whose labels were collected (train)
	Tasks     map[string]Task
	Tmp       string // where run files go, local or gs://
	SpillSize int64  // bytes of rows held before a spill; 0 = writeshards.SpillBytes

	tok   *wordpiece.Tokenizer
	tasks map[string]align.Task // built on first use, once the side input is there
}

// Setup loads the vocabulary once per DoFn instance.
func (f *EncodeFn) Setup(ctx context.Context) error {
	data, err := storage.ReadFile(ctx, f.Vocab)
	if err != nil {
		return fmt.Errorf("encode: vocabulary: %w; fix tokenizer.vocab in the job spec", err)
	}
	f.tok, err = wordpiece.Load(bytes.NewReader(data), f.Lowercase)
	if err != nil {
		return fmt.Errorf("encode: %s: %w", f.Vocab, err)
	}
	return nil
}

// index builds the label → id maps from the spec's lists and the collected ones.
// The side input is one value for the whole run, so building it once is enough.
func (f *EncodeFn) index(sc scan.Result) {
	f.tasks = make(map[string]align.Task, len(f.Tasks))
	for name, t := range f.Tasks {
		list := t.Labels
		if len(list) == 0 {
			list = sc.Labels(name)
		}
		m := make(map[string]int32, len(list))
		for i, l := range list {
			m[l] = int32(i)
		}
		f.tasks[name] = align.Task{Name: name, Type: t.Type, LabelIDs: m, MaxSeqLen: f.MaxSeqLen}
	}
}

// ProcessElement encodes one file into run files and emits them, the file's
// counts and its rejections. A group's file (src.Members) is read and
// tokenized once, each task's rows going to its own spill: the same rows,
// so the same shard and place in it, with each task's labels.
func (f *EncodeFn) ProcessElement(ctx context.Context, src readcorpus.Source, sc scan.Result, emitRun func(writeshards.Run), stats func(splitstats.Stats), reject func(readcorpus.Rejected)) error {
	if f.tasks == nil {
		f.index(sc)
	}
	names := src.Tasks()
	limit := f.SpillSize
	if limit <= 0 {
		limit = writeshards.SpillBytes
	}
	limit /= int64(len(names)) // a group's spills share one budget
	ts := make([]align.Task, len(names))
	sps := make([]*writeshards.Spill, len(names))
	for i, name := range names {
		t, ok := f.tasks[name]
		if !ok {
			return fmt.Errorf("encode: no settings for task %q (pipeline construction bug)", name)
		}
		t.Split = src.Split
		ts[i] = t
		sps[i] = writeshards.NewSpill(f.Tmp, name, src.Split, writeshards.Count(f.Shards, sc.Records(name, src.Split)), limit)
	}
	st, err := f.encodeFile(ctx, src, ts, sps, reject)
	if err != nil {
		return err
	}
	for _, sp := range sps {
		runs, err := sp.Close(ctx)
		if err != nil {
			return err
		}
		for _, r := range runs {
			emitRun(r)
		}
	}
	for _, s := range st {
		stats(s)
	}
	return nil
}

// encode aligns one record (one per task of a group) and files its rows; a
// bad record becomes a rejection (train) or the run's error (other
// splits). In a group, a record one task cannot align is rejected for
// every task, so that their shards keep the same rows.
func (f *EncodeFn) encode(ctx context.Context, ts []align.Task, rec recordIn, sps []*writeshards.Spill, out *batchOut) error {
	rows, st, err := align.AlignGroup(f.tok, ts, rec.Records)
	if err != nil {
		var re *align.RecordError
		if !errors.As(err, &re) {
			return err
		}
		if ts[0].Split != f.Split {
			return f.stop(re.Task, re)
		}
		for _, t := range ts {
			j := re.Rejection()
			if t.Name != re.Task {
				j.Reason = readcorpus.GroupReason(re.Task, j.Reason)
			}
			out.rejected = append(out.rejected, readcorpus.Rejected{Task: t.Name, Split: t.Split, Rejection: j})
		}
		return nil
	}
	for i := range ts {
		s := &out.stats[i]
		s.Examples++
		s.Rows += int64(st.Rows)
		s.Tokens += int64(st.Tokens)
		s.Truncated += int64(st.Truncated)
		s.Windows += int64(st.Windows)
		s.LooseIOB2 += int64(rec.Records[i].LooseIOB2)
		if err := sps[i].Add(ctx, rec.Records[i].ID, rows[i]); err != nil {
			return err
		}
	}
	return nil
}

// stop turns a bad record outside the train split into the run's error,
// with the fix that applies.
func (f *EncodeFn) stop(task string, re *align.RecordError) error {
	spec := f.Tasks[task]
	switch {
	case !errors.Is(re, align.ErrUnknownLabel):
		return fmt.Errorf("%w; fix the record (bad records are only set aside in the %s split)", re, f.Split)
	case len(spec.Labels) > 0:
		return fmt.Errorf("%w (the list is %s)", re, spec.LabelsSetting)
	default:
		return fmt.Errorf("%w; the list was collected from the %s split, which never has this label: fix the record, or give every label in %s", re, f.Split, spec.LabelsSetting)
	}
}

// rejectedStats counts one rejection towards its split's totals.
func rejectedStats(r readcorpus.Rejected) splitstats.Stats {
	return splitstats.Stats{Task: r.Task, Split: r.Split, Rejected: 1}
}

// CountRejected maps PCollection<readcorpus.Rejected> to PCollection<splitstats.Stats>.
func CountRejected(s beam.Scope, rej beam.PCollection) beam.PCollection {
	return beam.ParDo(s, rejectedStats, rej)
}

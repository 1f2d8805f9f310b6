// Package encode is the Beam DoFn that turns corpus records into shard rows:
// WordPiece ids, label ids (from the job spec's list or the list collected
// from the train split, which arrives as a side input), first-subword token
// labels, word ids and windows. Each row is keyed by the shard its record
// hashes to; a per-row count goes to a second output for the split's totals.
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

	"github.com/taskweave/taskweave/io/shards"
	"github.com/taskweave/taskweave/io/storage"
	"github.com/taskweave/taskweave/text/align"
	"github.com/taskweave/taskweave/text/wordpiece"
	"github.com/taskweave/taskweave/transforms/labelset"
	"github.com/taskweave/taskweave/transforms/readcorpus"
	"github.com/taskweave/taskweave/transforms/splitstats"
	"github.com/taskweave/taskweave/transforms/writeshards"
)

func init() {
	register.DoFn6x1[context.Context, readcorpus.Example, labelset.Sets, func(string, shards.Row), func(splitstats.Stats), func(readcorpus.Rejected), error](&EncodeFn{})
	register.Emitter2[string, shards.Row]()
	register.Emitter1[splitstats.Stats]()
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
}

// EncodeFn tokenizes and aligns one record per element.
type EncodeFn struct {
	Vocab     string // vocab.txt, local or gs://
	Lowercase bool
	MaxSeqLen int
	Shards    int
	Split     string // the split whose labels were collected (train)
	Tasks     map[string]Task

	tok   *wordpiece.Tokenizer
	tasks map[string]align.Task // built on first use, once the label side input is there
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
func (f *EncodeFn) index(sets labelset.Sets) {
	f.tasks = make(map[string]align.Task, len(f.Tasks))
	for name, t := range f.Tasks {
		list := t.Labels
		if len(list) == 0 {
			list = sets.Labels(name)
		}
		m := make(map[string]int32, len(list))
		for i, l := range list {
			m[l] = int32(i)
		}
		f.tasks[name] = align.Task{Name: name, Type: t.Type, LabelIDs: m, MaxSeqLen: f.MaxSeqLen}
	}
}

// ProcessElement encodes one record into one row, or several windows. A
// record align cannot use goes to the rejections in the train split; in the
// other splits it stops the run, since evaluating on silently fewer records
// would give numbers nobody can compare.
func (f *EncodeFn) ProcessElement(ctx context.Context, ex readcorpus.Example, sets labelset.Sets, emit func(string, shards.Row), stats func(splitstats.Stats), reject func(readcorpus.Rejected)) error {
	if f.tasks == nil {
		f.index(sets)
	}
	t, ok := f.tasks[ex.Task]
	if !ok {
		return fmt.Errorf("encode: no settings for task %q (pipeline construction bug)", ex.Task)
	}
	t.Split = ex.Split
	rows, st, err := align.Align(f.tok, t, ex.Record)
	if err != nil {
		var re *align.RecordError
		if !errors.As(err, &re) {
			return err
		}
		if ex.Split == f.Split {
			reject(readcorpus.Rejected{Task: ex.Task, Split: ex.Split, Rejection: re.Rejection()})
			return nil
		}
		return f.stop(ex, re)
	}
	key := writeshards.Key(ex.Task, ex.Split, writeshards.Shard(ex.Record.ID, f.Shards))
	for _, r := range rows {
		emit(key, r)
	}
	stats(splitstats.Stats{Task: ex.Task, Split: ex.Split, Examples: 1, Rows: int64(st.Rows),
		Tokens: int64(st.Tokens), Truncated: int64(st.Truncated), Windows: int64(st.Windows),
		LooseIOB2: int64(ex.Record.LooseIOB2)})
	return nil
}

// stop turns a bad record outside the train split into the run's error,
// with the fix that applies.
func (f *EncodeFn) stop(ex readcorpus.Example, re *align.RecordError) error {
	spec := f.Tasks[ex.Task]
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

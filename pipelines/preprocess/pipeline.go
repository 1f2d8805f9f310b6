// Package preprocess builds and runs the preprocessing pipeline: corpora →
// WordPiece ids and aligned labels → Parquet shards, plus manifest.json.
//
//	(task, split, file) ─ReadFn─┬─ records ──┬─ EncodeFn ─┬─ (shard key, row)
//	                            │            │            └─ bad train records ─┐
//	                            │            └─ labels of train (combine) → EncodeFn side input
//	                            └─ rejections ─────────────────── GroupByKey(task) ─ rejected/<task>.jsonl
//	rows + one placeholder per shard ─ CoGroupByKey ─ WriteFn ─ part-i-of-N.parquet
//	per-row counts + rejections ─ combine ─ summary file ─→ launcher writes manifest.json
//
// The graph runs on any Beam runner (prism by default, in this process). The
// manifest is written by the launcher after the pipeline has succeeded, so a
// manifest only ever describes a complete set of shards. A fingerprint of the
// config and of every input file's bytes lets a rerun with nothing changed
// return "up to date" without touching the output.
//
// Choices the contracts leave open, fixed here:
//   - a task without a label list in the spec gets the sorted list of the
//     labels (or tags) of its train split; a label outside the list in any
//     other split stops the run, naming the file, the line and the spec key;
//   - manifest "examples" counts shard rows, as io/manifest documents it;
//     "windows" counts the extra rows of token sentences split to fit, so
//     source records = examples - windows;
//   - rejected/<task>.jsonl lines carry the split besides file, line,
//     reason and raw;
//   - a test-split TSV file without a label column (GLUE test files) is read
//     as unlabeled: its rows have label -1.
package preprocess

import (
	"reflect"

	"github.com/apache/beam/sdks/v2/go/pkg/beam"
	"github.com/apache/beam/sdks/v2/go/pkg/beam/register"

	"github.com/taskweave/taskweave/io/manifest"
	"github.com/taskweave/taskweave/transforms/encode"
	"github.com/taskweave/taskweave/transforms/labelset"
	"github.com/taskweave/taskweave/transforms/readcorpus"
	"github.com/taskweave/taskweave/transforms/splitstats"
	"github.com/taskweave/taskweave/transforms/writeshards"
)

func init() {
	register.Function1x2(placeholder)
	beam.RegisterType(reflect.TypeFor[readcorpus.Source]())
}

// trainSplit is where label lists are collected from.
const trainSplit = "train"

// placeholder keys an expected shard so CoGroupByKey yields it even when no
// record hashed to it.
func placeholder(key string) (string, int) { return key, 0 }

// Build adds the pipeline for cfg to s. summary is where the per-split counts
// and collected labels are written for the launcher to read back.
func Build(s beam.Scope, cfg Config, summary string) {
	var sources []readcorpus.Source
	var keys []string
	read := map[string]readcorpus.Task{}
	enc := map[string]encode.Task{}
	collect := map[string]bool{}
	for _, t := range cfg.Tasks {
		read[t.Name] = readcorpus.Task{Options: t.Read, MaxRejectedFraction: cfg.MaxRejectedFraction, Where: t.where(),
			LimitSetting: t.Setting("max_rejected_fraction")}
		enc[t.Name] = encode.Task{Type: t.Type, TagScheme: t.TagScheme, Labels: t.Labels, LabelsSetting: t.Setting("labels")}
		if len(t.Labels) == 0 && t.Type != manifest.SequenceRegression {
			collect[t.Name] = true
		}
		for _, split := range t.splits() {
			for _, p := range t.Paths[split] {
				sources = append(sources, readcorpus.Source{Task: t.Name, Split: split, Path: p})
			}
			for i := range cfg.Shards {
				keys = append(keys, writeshards.Key(t.Name, split, i))
			}
		}
	}

	s = s.Scope("Preprocess")
	// Reshuffle spreads the files over workers; Create alone would read them
	// all in one bundle.
	srcs := beam.Reshuffle(s, beam.CreateList(s, sources))
	examples, rejected := beam.ParDo2(s, &readcorpus.ReadFn{Tasks: read}, srcs)

	labels := labelset.Collect(s, examples, collect, trainSplit)
	rows, stats, badRecords := beam.ParDo3(s, &encode.EncodeFn{
		Vocab: cfg.Vocab, Lowercase: cfg.Lowercase, MaxSeqLen: cfg.MaxSeqLen,
		Shards: cfg.Shards, Split: trainSplit, Tasks: enc,
	}, examples, beam.SideInput{Input: labels})

	marks := beam.ParDo(s, placeholder, beam.CreateList(s, keys))
	grouped := beam.CoGroupByKey(s, rows, marks)
	beam.ParDo0(s, &writeshards.WriteFn{Out: cfg.Out, Shards: cfg.Shards}, grouped)

	rejected = beam.Flatten(s, rejected, badRecords)
	byTask := beam.GroupByKey(s, writeshards.KeyRejections(s, rejected))
	beam.ParDo0(s, &writeshards.WriteRejectedFn{Out: cfg.Out}, byTask)

	splitstats.Write(s, beam.Flatten(s, stats, encode.CountRejected(s, rejected)), labels, summary)
}

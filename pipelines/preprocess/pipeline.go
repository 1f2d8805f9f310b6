// Package preprocess builds and runs the preprocessing pipeline: corpora →
// WordPiece ids and aligned labels → Parquet shards, plus manifest.json.
//
//	(task, split, file) ─┬─ ScanFn ─ combine ─→ label lists + record counts (side input)
//	                     └─ EncodeFn ─┬─ sorted run files per shard (written by the DoFn) → run paths ─┐
//	                                  ├─ counts per file ──────────────────────────── combine ─ summary │
//	                                  └─ rejections ─ GroupByKey(task) ─ rejected/<task>.jsonl          │
//	shard keys (from the counts) ─────────────────────────────────────── CoGroupByKey ─ MergeFn ─┘
//	                                                                      part-i-of-N.parquet
//
// A group (tasks with input_from: CoNLL-2003's NER, POS and chunk columns)
// is one source per file: the scan and the encoder each read it once for
// all of its tasks (readcorpus.StreamGroup), the encoder tokenizes each
// record once (align.AlignGroup) and files each task's rows into that
// task's spill. Each task keeps its own shards, manifest entry and
// rejected file, as a task alone has: the trainer and evaluation read a
// group's shards in step, shard j of each holding the same rows in the same
// order (placed and sorted by example id), which one pass guarantees.
//
// Memory does not grow with the corpus (docs/architecture.md, "preprocess:
// memory"): the scan keeps label sets and counts, not examples; the encoder
// writes its rows to run files in bounded batches, so only run paths, one
// count per file and the rejections pass between stages; each shard is a
// streaming merge of its runs.
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
//   - a split gets min(preprocess.shards, its records) shards
//     (writeshards.Count), and the launcher says so when that is fewer;
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

	"github.com/taskweave/taskweave/io/manifest"
	"github.com/taskweave/taskweave/transforms/encode"
	"github.com/taskweave/taskweave/transforms/readcorpus"
	"github.com/taskweave/taskweave/transforms/scan"
	"github.com/taskweave/taskweave/transforms/splitstats"
	"github.com/taskweave/taskweave/transforms/writeshards"
)

func init() {
	beam.RegisterType(reflect.TypeFor[readcorpus.Source]())
}

// trainSplit is where label lists are collected from.
const trainSplit = "train"

// graphInputs is what Build derives from the config: the input files and
// each task's settings for the scan and the encoder.
type graphInputs struct {
	sources []readcorpus.Source
	splits  []writeshards.Split
	read    map[string]readcorpus.Task
	enc     map[string]encode.Task
	collect map[string]bool
}

func inputsOf(cfg Config) graphInputs {
	in := graphInputs{read: map[string]readcorpus.Task{}, enc: map[string]encode.Task{}, collect: map[string]bool{}}
	members := cfg.members()
	for _, t := range cfg.Tasks {
		rt := readcorpus.Task{Options: t.Read, MaxRejectedFraction: cfg.MaxRejectedFraction, Where: t.where(),
			LimitSetting: t.Setting("max_rejected_fraction")}
		in.read[t.Name] = rt
		in.enc[t.Name] = encode.Task{Type: t.Type, TagScheme: t.TagScheme, Labels: t.Labels, LabelsSetting: t.Setting("labels"), Read: rt}
		if len(t.Labels) == 0 && t.Type != manifest.SequenceRegression {
			in.collect[t.Name] = true
		}
		for _, split := range t.splits() {
			for _, p := range t.Paths[split] {
				if t.InputFrom == "" { // a group's files are read with its input task's
					in.sources = append(in.sources, readcorpus.Source{Task: t.Name, Split: split, Path: p, Members: members[t.Name]})
				}
			}
			in.splits = append(in.splits, writeshards.Split{Task: t.Name, Split: split})
		}
	}
	return in
}

// Build adds the pipeline for cfg to s. summary is where the per-split counts
// and the scan's result are written for the launcher to read back; run files
// go under tmp.
func Build(s beam.Scope, cfg Config, summary, tmp string) {
	in := inputsOf(cfg)
	s = s.Scope("Preprocess")
	// Reshuffle spreads the files over workers; Create alone would read them
	// all in one bundle.
	srcs := beam.Reshuffle(s, beam.CreateList(s, in.sources))
	sc := scan.Scan(s, srcs, &scan.ScanFn{Read: in.read, Collect: in.collect, Split: trainSplit})
	runs, stats, rejected := beam.ParDo3(s, &encode.EncodeFn{
		Vocab: cfg.Vocab, Lowercase: cfg.Lowercase, MaxSeqLen: cfg.MaxSeqLen,
		Shards: cfg.Shards, Split: trainSplit, Tasks: in.enc, Tmp: tmp,
	}, srcs, beam.SideInput{Input: sc})

	keys := beam.ParDo(s, &writeshards.KeysFn{Shards: cfg.Shards, Splits: in.splits}, beam.Impulse(s), beam.SideInput{Input: sc})
	writeshards.Merge(s, runs, keys, cfg.Out)

	byTask := beam.GroupByKey(s, writeshards.KeyRejections(s, rejected))
	beam.ParDo0(s, &writeshards.WriteRejectedFn{Out: cfg.Out}, byTask)

	splitstats.Write(s, beam.Flatten(s, stats, encode.CountRejected(s, rejected)), sc, summary)
}

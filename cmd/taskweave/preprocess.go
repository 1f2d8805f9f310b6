package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"strings"

	"github.com/taskweave/taskweave/jobs/spec"
	"github.com/taskweave/taskweave/jobs/stages"
	"github.com/taskweave/taskweave/pipelines/preprocess"
)

func init() {
	register("preprocess", "tokenize and align corpora into Parquet shards + manifest.json (a Beam pipeline)", setupPreprocess)
}

func setupPreprocess(fs *flag.FlagSet) func(context.Context, []string) error {
	config := fs.String("config", "", "job spec (YAML); or use the quick-run flags below")
	out := fs.String("out", "", "output directory, local or gs:// (overrides the job's preprocess.output)")
	shards := fs.Int("shards", spec.DefaultValue[int]("preprocess.shards"), "shards per task and split (overrides the job's preprocess.shards)")
	force := fs.Bool("force", false, "run even if the manifest says inputs and config are unchanged")
	quiet := fs.Bool("quiet", false, "no progress line")
	verbose := fs.Bool("verbose", false, "show the Beam runner's log")
	var q stages.Quick
	tagColumn := quickRunFlags(fs, &q)

	return func(ctx context.Context, args []string) error {
		if len(args) > 0 {
			return fmt.Errorf("unexpected arguments %q; give files with --train/--validation/--test or a job with --config", args)
		}
		if !*verbose {
			// Prism logs a failing DoFn's error several times over, wrapped
			// in its execution plan; the error this command prints says it once.
			slog.SetDefault(slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelError + 1})))
		}
		var cfg preprocess.Config
		var err error
		switch {
		case *config != "" && q.Task != "":
			return errors.New("give either --config or the quick-run flags (--task …), not both")
		case *config != "":
			s, err := spec.Load(*config)
			if err != nil {
				return err
			}
			if err := applyRunner(s); err != nil {
				return err
			}
			if cfg, err = stages.PreprocessConfig(s); err != nil {
				return fmt.Errorf("%s: %w", *config, err)
			}
		case q.Task != "":
			q.Out, q.Shards = *out, *shards
			if given()["tag-column"] {
				q.TagColumn = tagColumn
			}
			if cfg, err = q.Config(); err != nil {
				return err
			}
		default:
			return errors.New("nothing to do: give --config job.yaml, or a quick run with --task, --type, --format, --train, --vocab and --out")
		}
		set := given()
		if set["out"] {
			cfg.Out = *out
		}
		if set["shards"] {
			cfg.Shards = *shards
		}
		var progress io.Writer = os.Stderr
		if *quiet {
			progress = nil
		}
		res, err := preprocess.Run(ctx, cfg, preprocess.Options{Runner: beamRunner(), Force: *force, Progress: progress, Log: os.Stdout})
		if err != nil || res.DryRun {
			return err
		}
		return report(os.Stdout, res)
	}
}

func report(w io.Writer, res *preprocess.Result) error {
	if res.UpToDate {
		fmt.Fprintf(w, "up to date: inputs and config unchanged since %s (%s); nothing written (--force to redo)\n",
			res.Manifest.Created.Format("2006-01-02 15:04:05 MST"), res.ManifestPath)
		return nil
	}
	for _, c := range res.Capped {
		fmt.Fprintf(w, "fewer shards: %s\n", c)
	}
	for _, st := range res.Stale {
		fmt.Fprintf(w, "rebuilt: a shard changed since the manifest was written: %s\n", st)
	}
	if err := preprocess.WriteTable(w, res.Manifest); err != nil {
		return err
	}
	fmt.Fprintf(w, "wrote %s in %.1fs (examples = shard rows; windows = extra rows from splitting long token sentences)\n",
		res.ManifestPath, res.Elapsed.Seconds())
	return nil
}

// beamRunner is the --runner flag Beam registered (set from the job's runner
// section by applyRunner unless given on the command line); "" means prism.
func beamRunner() string {
	if f := flag.Lookup("runner"); f != nil {
		return f.Value.String()
	}
	return ""
}

// quickRunFlags defines the flags of a quick run (one task, no job spec) on
// fs, filling q; it returns the tag column flag, which applies only when
// given.
func quickRunFlags(fs *flag.FlagSet, q *stages.Quick) *int {
	// The quick-run flags stand in for one task's spec keys; their defaults
	// are the spec's (jobs/spec.Defaults).
	fs.StringVar(&q.Task, "task", "", "quick run: task name")
	fs.StringVar(&q.Type, "type", "", "quick run: "+strings.Join(spec.TaskTypes, " | "))
	fs.StringVar(&q.Format, "format", "", "quick run: "+strings.Join(spec.Formats, " | "))
	fs.StringVar(&q.Train, "train", "", "quick run: train file(s), comma-separated")
	fs.StringVar(&q.Validation, "validation", "", "quick run: validation file(s), comma-separated")
	fs.StringVar(&q.Test, "test", "", "quick run: test file(s), comma-separated")
	fs.StringVar(&q.Vocab, "vocab", "", "quick run: BERT vocab.txt")
	fs.BoolVar(&q.Lowercase, "lowercase", false, "quick run: uncased vocabulary (lower-case and strip accents)")
	fs.IntVar(&q.MaxSeqLen, "max-seq-len", spec.DefaultValue[int]("tokenizer.max_seq_len"), "quick run: ids per row, [CLS] and [SEP] included")
	fs.Float64Var(&q.MaxRejectedFraction, "max-rejected", spec.DefaultValue[float64]("preprocess.max_rejected_fraction"),
		"quick run: largest share of rejected records per file before the run stops (0 = none allowed)")
	fs.StringVar(&q.TagScheme, "tag-scheme", "", "quick run, token tasks: "+strings.Join(spec.TagSchemes, " | ")+" (default none)")
	fs.StringVar(&q.Labels, "label-list", "", "quick run: label list, comma-separated (default: collected from train)")
	fs.IntVar(&q.MaxRecordBytes, "max-record-bytes", spec.DefaultValue[int]("preprocess.max_record_bytes"),
		"quick run: longest line (or CoNLL sentence) in bytes; longer ones are rejected")
	fs.StringVar(&q.Text, "text-column", "", "quick run, tsv/jsonl: text column, or several comma-separated (the first the file has; default sentence,text for tsv, text,sentence for jsonl)")
	fs.StringVar(&q.Label, "label-column", "", "quick run, tsv/jsonl: label column (default "+spec.DefaultValue[string]("tasks[].columns.label")+")")
	fs.IntVar(&q.WordColumn, "word-column", 0, "quick run, conll: 0-based word column")
	fs.StringVar(&q.Field, "field", "", "quick run, conllu: "+strings.Join(spec.ConlluFields, " | ")+" (default upos)")
	return fs.Int("tag-column", 0, "quick run, conll: 0-based tag column, negative counts from the end (default -1, the last)")
}

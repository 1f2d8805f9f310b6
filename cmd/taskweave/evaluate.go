package main

import (
	"cmp"
	"context"
	"errors"
	"flag"
	"fmt"
	"os"
	"strings"

	"github.com/taskweave/taskweave/jobs/spec"
	"github.com/taskweave/taskweave/jobs/stages"
	"github.com/taskweave/taskweave/pipelines/evaluate"
	"github.com/taskweave/taskweave/trainer"
)

func init() {
	register("evaluate", "score a checkpoint's heads over a split of the shards (Beam pipeline); writes report.json/.md, charts, predictions",
		func(fs *flag.FlagSet) func(ctx context.Context, args []string) error {
			var o evaluate.Options
			var tasks string
			config := fs.String("config", "", "job spec (YAML) whose data, split, batch size and output to use; the flags below override it")
			fs.StringVar(&o.Model, "model", "", "checkpoint directory (local or gs://)")
			fs.StringVar(&o.Data, "data", "", "shards directory written by preprocess (local or gs://), or its manifest.json (default with --config: the job's preprocess.output)")
			fs.StringVar(&o.Split, "split", spec.DefaultValue[string]("evaluate.split"), "split to score (overrides evaluate.split)")
			fs.StringVar(&o.Out, "out", "", "report directory (local or gs://) (default with --config: the job's evaluate.output)")
			fs.StringVar(&tasks, "tasks", "", "comma-separated tasks to score (default: every task of the split)")
			fs.IntVar(&o.BatchSize, "batch", spec.DefaultValue[int]("evaluate.batch_size"), "examples per model batch (overrides evaluate.batch_size)")
			fs.StringVar(&o.Compare, "compare", "", "second checkpoint to score on the same shards, reported side by side")
			fs.StringVar(&o.Precision, "precision", "", "fp32 | bf16: number format of the matrix products (default: the job's train.precision, else fp32)")
			return func(ctx context.Context, args []string) error {
				if len(args) > 0 {
					return fmt.Errorf("unexpected arguments %q; every input is a flag (see -h)", args)
				}
				if *config != "" {
					s, err := spec.Load(*config)
					if err != nil {
						return err
					}
					// The job's values, then the flags the command line gives.
					flags := o
					o = stages.EvaluateOptions(s, cmp.Or(flags.Data, s.Path(s.Preprocess.Output)), flags.Model, flags.Compare,
						cmp.Or(flags.Out, s.Path(s.Evaluate.Output)))
					set := given()
					if set["split"] {
						o.Split = flags.Split
					}
					if set["batch"] {
						o.BatchSize = flags.BatchSize
					}
					if set["precision"] {
						o.Precision = flags.Precision
					}
				}
				if o.Model == "" {
					return errors.New("--model is required: the checkpoint to score")
				}
				for _, t := range strings.Split(tasks, ",") {
					if t = strings.TrimSpace(t); t != "" {
						o.Tasks = append(o.Tasks, t)
					}
				}
				o.Log = os.Stderr
				var err error
				for _, m := range []*string{&o.Model, &o.Compare} {
					if *m, err = trainer.FollowLast(ctx, *m); err != nil { // <out>/last on gs:// is a pointer
						return err
					}
				}
				rep, err := evaluate.Run(ctx, o)
				if err != nil || rep.DryRun {
					return err
				}
				for _, t := range rep.Tasks {
					for _, m := range rep.Models {
						r := t.Results[m.Name]
						fmt.Printf("%-12s %-8s %-16s %.4f  (%d examples)\n", t.Task, m.Name, r.Primary, r.Score, r.Examples)
					}
				}
				for _, u := range rep.Unscored {
					fmt.Printf("%-12s %-8s not scored: %s\n", u.Task, u.Model, u.Reason)
				}
				return nil
			}
		})
}

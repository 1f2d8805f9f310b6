package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"os"

	"github.com/taskweave/taskweave/io/storage"
	"github.com/taskweave/taskweave/jobs/stages"
	"github.com/taskweave/taskweave/pipelines/sweep"
)

func init() {
	register("sweep", "train the trials of the spec's sweep: block on Beam, rank them, and take the best through the registry and promotion gate", func(fs *flag.FlagSet) func(context.Context, []string) error {
		force := fs.Bool("force", false, "rebuild the shards even if their manifest says they are up to date")
		return func(ctx context.Context, args []string) error {
			if len(args) != 1 {
				return errors.New("usage: taskweave sweep [--force] job.yaml")
			}
			s, _, err := loadJob(args[0])
			if err != nil {
				return err
			}
			if !s.Sweep.Active() {
				return fmt.Errorf("%s has no sweep: block; add one (see README, \"Sweeps\")", args[0])
			}
			st := jobStages()
			pre, err := st.Preprocess(ctx, s, *force)
			if err != nil {
				return err
			}
			res, err := stages.RunSweep(ctx, s, st, pre.Dir, os.Stderr)
			if res == nil {
				return err
			}
			fmt.Print(sweep.Table(res.Results, res.Ranking))
			fmt.Printf("\ntable: %s\nchart: %s\n", storage.Join(res.Dir, "results.md"), storage.Join(res.Dir, "results.png"))
			if res.Best == nil {
				return err
			}
			j := res.Judgment
			fmt.Printf("best: trial %s (%s %.4f on %s)\n", res.Best.Trial, s.Sweep.Metric, res.Best.Metric, s.Train.EvalSplit)
			switch {
			case err != nil:
			case j.Existed:
				fmt.Printf("registry: version %s was registered by an earlier run of this sweep; nothing new to judge\n", j.Version.ID)
			default:
				fmt.Printf("registry: version %s, %s\n", j.Version.ID, j.Decision.Reason)
				if j.Eval.Report != "" {
					fmt.Printf("report: %s\n", reportMarkdown(j.Eval.Report))
				}
			}
			return err
		}
	})
}

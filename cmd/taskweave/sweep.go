package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"os"

	"github.com/taskweave/taskweave/io/storage"
	"github.com/taskweave/taskweave/jobs/runner"
	"github.com/taskweave/taskweave/jobs/runrecord"
	"github.com/taskweave/taskweave/jobs/spec"
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
			s, data, err := loadJob(args[0])
			if err != nil {
				return err
			}
			if !s.Sweep.Active() {
				return fmt.Errorf("%s has no sweep: block; add one (see README, \"Sweeps\")", args[0])
			}
			var res *stages.SweepResult
			// Under the job's lock, with a run record, as `run` is: a sweep
			// trains, registers and may promote, so it must not overlap a run.
			rec, err := runner.Guard(ctx, s, runner.Options{Force: *force, LockTTL: s.Run.LeaseTTL(), SpecData: data, Log: logStderr},
				func(ss *runner.Session) error { return sweepSession(ss, s, *force, &res) })
			if rec != nil {
				fmt.Fprintf(os.Stderr, "run record: %s\n", storage.Join(runner.RunsDir(s), rec.ID+".json"))
			}
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

// sweepSession is the sweep's run: preprocess, then the trials and the
// judgment of the best as one stage, the record's outcome the gate's.
func sweepSession(ss *runner.Session, s *spec.Spec, force bool, res **stages.SweepResult) error {
	st := jobStages()
	pre, err := ss.Preprocess(st, force)
	if err != nil {
		return err
	}
	err = ss.Stage("sweep", func() (runrecord.Stage, error) {
		r, err := stages.RunSweep(ss.Ctx, s, st, pre.Dir, os.Stderr)
		*res = r
		if r == nil {
			return runrecord.Stage{Note: "dry run: nothing trained"}, err
		}
		sr := runrecord.Stage{Location: r.Dir}
		if r.Best != nil {
			sr.Note = fmt.Sprintf("best trial %s (%s %.4f)", r.Best.Trial, s.Sweep.Metric, r.Best.Metric)
		}
		return sr, err
	})
	if err != nil || *res == nil || (*res).Best == nil {
		return err
	}
	j := (*res).Judgment
	ss.Record.Version, ss.Record.Metrics, ss.Record.Report, ss.Record.Decision = j.Version.ID, j.Eval.Scores, j.Eval.Report, j.Decision.Code
	if j.Existed {
		ss.Finish(false, "version "+j.Version.ID+" was registered by an earlier run of this sweep")
		return nil
	}
	ss.Finish(j.Decision.Promote, j.Decision.Reason)
	return nil
}

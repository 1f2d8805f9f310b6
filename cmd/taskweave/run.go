package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"os"
	"time"

	"github.com/taskweave/taskweave/jobs/lock"
	"github.com/taskweave/taskweave/jobs/runner"
	"github.com/taskweave/taskweave/jobs/runs"
	"github.com/taskweave/taskweave/jobs/schedule"
	"github.com/taskweave/taskweave/jobs/spec"
)

// exitLocked is the exit status when another run holds the job's lock, so
// external schedulers can tell "busy" from "failed".
const exitLocked = 3

func init() {
	register("run", "run a job: preprocess → train → evaluate → register → promote", func(fs *flag.FlagSet) func(context.Context, []string) error {
		once := fs.Bool("once", true, "run the job once and exit (for cron, Kubernetes CronJob, Cloud Scheduler)")
		wait := fs.Bool("wait", false, "if another run holds the job's lock, wait for it instead of exiting with status 3")
		return func(ctx context.Context, args []string) error {
			if len(args) != 1 {
				return errors.New("usage: taskweave run [--once] [--wait] job.yaml")
			}
			_ = once // a run is always a single run; --once documents intent for external schedulers
			s, data, err := loadJob(args[0])
			if err != nil {
				return err
			}
			rec, err := runner.Run(ctx, s, jobStages(), runner.Options{Wait: *wait, SpecData: data, Log: logStderr})
			return finishRun(s, rec, err)
		}
	})
	register("schedule", "run a job on its cron schedule (the spec's schedule:)", func(fs *flag.FlagSet) func(context.Context, []string) error {
		dry := fs.Int("dry-run", 0, "print the next N fire times and exit")
		return func(ctx context.Context, args []string) error {
			if len(args) != 1 {
				return errors.New("usage: taskweave schedule job.yaml")
			}
			s, data, err := loadJob(args[0])
			if err != nil {
				return err
			}
			if s.Schedule == "" {
				return fmt.Errorf("%s has no schedule:; add a cron expression such as \"0 3 * * *\", or use taskweave run --once from an external scheduler", args[0])
			}
			if *dry > 0 {
				next, err := schedule.Next(s.Schedule, time.Now(), *dry)
				if err != nil {
					return err
				}
				for _, t := range next {
					fmt.Println(t.Format(time.RFC3339))
				}
				return nil
			}
			logStderr("scheduling job %q on %q", s.Name, s.Schedule)
			return schedule.Loop(ctx, s.Schedule, func(ctx context.Context) {
				// Re-read the spec each time so an edited job takes effect at the next tick.
				s, data2, err := loadJob(args[0])
				if err != nil {
					logStderr("run skipped: %v", err)
					return
				}
				_ = data
				rec, err := runner.Run(ctx, s, jobStages(), runner.Options{SpecData: data2, Log: logStderr})
				if err := finishRun(s, rec, err); err != nil {
					logStderr("%v", err)
				}
			}, logStderr)
		}
	})
}

func loadJob(path string) (*spec.Spec, []byte, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, nil, err
	}
	s, err := spec.Load(path)
	if err != nil {
		return nil, nil, err
	}
	if err := applyRunner(s); err != nil {
		return nil, nil, err
	}
	if err := checkJob(s); err != nil {
		return nil, nil, fmt.Errorf("%s: %w", path, err)
	}
	return s, data, nil
}

func finishRun(s *spec.Spec, rec *runs.Record, err error) error {
	var held *lock.HeldError
	if errors.As(err, &held) {
		fmt.Fprintf(os.Stderr, "taskweave run: %v\n", err)
		os.Exit(exitLocked)
	}
	if rec != nil {
		fmt.Printf("run %s: %s", rec.ID, rec.Outcome)
		if rec.Reason != "" {
			fmt.Printf(" — %s", rec.Reason)
		}
		fmt.Println()
		for _, st := range rec.Stages {
			note := st.Note
			if st.Error != "" {
				note = "error: " + st.Error
			}
			fmt.Printf("  %-10s %7.1fs  %s\n", st.Name, st.Seconds, note)
		}
		if rec.Report != "" {
			fmt.Printf("report: %s\n", reportMarkdown(rec.Report))
		}
		fmt.Printf("run record: %s/%s.json\n", runner.RunsDir(s), rec.ID)
	}
	return err
}

func logStderr(format string, args ...any) {
	fmt.Fprintf(os.Stderr, "taskweave: "+format+"\n", args...)
}

package main

import (
	"cmp"
	"context"
	"errors"
	"flag"
	"fmt"
	"os"
	"time"

	"github.com/taskweave/taskweave/jobs/lock"
	"github.com/taskweave/taskweave/jobs/runner"
	"github.com/taskweave/taskweave/jobs/runrecord"
	"github.com/taskweave/taskweave/jobs/schedule"
	"github.com/taskweave/taskweave/jobs/spec"
)

func init() {
	register("run", "run a job: preprocess → train → evaluate → register → promote", func(fs *flag.FlagSet) func(context.Context, []string) error {
		once := fs.Bool("once", true, "run the job once and exit (for cron, Kubernetes CronJob, Cloud Scheduler); --once=false keeps running it on the spec's schedule:, like taskweave schedule")
		wait := fs.Bool("wait", false, "if another run holds the job's lock, wait for it instead of exiting with status 3")
		force := fs.Bool("force", false, "rebuild the shards even if their manifest says they are up to date")
		return func(ctx context.Context, args []string) error {
			if len(args) != 1 {
				return errors.New("usage: taskweave run [--once] [--wait] [--force] job.yaml")
			}
			if !*once {
				return scheduleLoop(ctx, args[0], runOptions{wait: *wait, force: *force})
			}
			s, data, err := loadJob(args[0])
			if err != nil {
				return err
			}
			rec, err := runner.Run(ctx, s, jobStages(), runner.Options{Wait: *wait, Force: *force,
				LockTTL: s.Run.LeaseTTL(), SpecData: data, Log: logStderr})
			printRun(s, rec)
			return err
		}
	})
	register("schedule", "run a job on its cron schedule (the spec's schedule:)", func(fs *flag.FlagSet) func(context.Context, []string) error {
		dry := fs.Int("dry-run", 0, "print the next N fire times and exit")
		return func(ctx context.Context, args []string) error {
			if len(args) != 1 {
				return errors.New("usage: taskweave schedule job.yaml")
			}
			if *dry > 0 {
				s, _, err := loadJob(args[0])
				if err != nil {
					return err
				}
				if s.Schedule == "" {
					return noSchedule(args[0])
				}
				next, err := schedule.Next(s.Schedule, time.Now(), *dry)
				if err != nil {
					return err
				}
				for _, t := range next {
					fmt.Println(t.Format(time.RFC3339))
				}
				return nil
			}
			return scheduleLoop(ctx, args[0], runOptions{})
		}
	})
}

type runOptions struct{ wait, force bool }

func noSchedule(path string) error {
	return fmt.Errorf("%s has no schedule:; add a cron expression such as \"0 3 * * *\", or use taskweave run --once from an external scheduler", path)
}

// scheduleLoop runs the job at every tick of its schedule until ctx ends.
// Nothing a single run does ends the loop: a tick that finds the job locked
// by another process is skipped, a failed run is logged, and the next tick
// comes as planned. Only a signal (ctx) stops it.
func scheduleLoop(ctx context.Context, path string, o runOptions) error {
	s, _, err := loadJob(path)
	if err != nil {
		return err
	}
	if s.Schedule == "" {
		return noSchedule(path)
	}
	logStderr("scheduling job %q on %q", s.Name, s.Schedule)
	return schedule.Loop(ctx, s.Schedule, func(ctx context.Context) {
		// Re-read the spec each time so an edited job takes effect at the next tick.
		s, data, err := loadJob(path)
		if err != nil {
			logStderr("run skipped: %v", err)
			return
		}
		rec, err := runner.Run(ctx, s, jobStages(), runner.Options{Wait: o.wait, Force: o.force,
			LockTTL: s.Run.LeaseTTL(), SpecData: data, Log: logStderr})
		var held *lock.HeldError
		if errors.As(err, &held) {
			logStderr("tick skipped: %v", err)
			return
		}
		printRun(s, rec)
		if err != nil {
			logStderr("%v", err)
		}
	}, logStderr)
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

// printRun prints a run's outcome, stages and where its record is.
func printRun(s *spec.Spec, rec *runrecord.Record) {
	if rec == nil {
		return
	}
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
	if m := modelOf(rec); m != "" {
		fmt.Printf("model: %s\n", m)
	}
	if rec.Report != "" {
		fmt.Printf("report: %s\n", reportMarkdown(rec.Report))
	}
	fmt.Printf("run record: %s/%s.json\n", runner.RunsDir(s), rec.ID)
}

func logStderr(format string, args ...any) {
	fmt.Fprintf(os.Stderr, "taskweave: "+format+"\n", args...)
}

// modelOf is where a run's trained model is: the registry version when the
// run registered one (immutable, what promotion points at), else the
// train stage's best/ checkpoint; "" before training finished. A new user
// could not find it from the summary (issue 26).
func modelOf(rec *runrecord.Record) string {
	where := map[string]string{}
	for _, st := range rec.Stages {
		if st.Error == "" {
			where[st.Name] = st.Location
		}
	}
	return cmp.Or(where["register"], where["train"])
}

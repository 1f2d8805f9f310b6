package main

import (
	"cmp"
	"context"
	"errors"
	"flag"
	"fmt"
	"os"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/taskweave/taskweave/jobs/registry"
	"github.com/taskweave/taskweave/jobs/runner"
	"github.com/taskweave/taskweave/jobs/runrecord"
	"github.com/taskweave/taskweave/jobs/schedule"
	"github.com/taskweave/taskweave/jobs/spec"
	"github.com/taskweave/taskweave/jobs/stages"
)

func init() {
	register("validate", "check a job spec without running it (every key, its range and the rules between keys)", validateCmd)
	register("runs", "list a job's run records", runsCmd)
	register("promote", "point production at a registered model version", promoteCmd)
	register("rollback", "point production back at the previous version", rollbackCmd)
}

// validateCmd is `taskweave validate`: load and check the spec, then say
// what the job would run.
func validateCmd(fs *flag.FlagSet) func(context.Context, []string) error {
	defaults := fs.Bool("defaults", false, "print the default of every key that has one (a Markdown table) and exit")
	return func(ctx context.Context, args []string) error {
		if *defaults {
			return spec.WriteDefaults(os.Stdout)
		}
		if len(args) != 1 {
			return errors.New("usage: taskweave validate job.yaml")
		}
		s, err := spec.Load(args[0])
		if err != nil {
			return err
		}
		// The stage mappings check what only they know (corpus columns per format).
		if _, err := stages.PreprocessConfig(s); err != nil {
			return fmt.Errorf("%s: %w", args[0], err)
		}
		describeJob(args[0], s)
		return nil
	}
}

// describeJob prints what a valid job runs: its tasks, model, strategy and
// output, the spec's warnings, its sweep and its next scheduled run.
func describeJob(path string, s *spec.Spec) {
	fmt.Printf("%s: ok — job %q, %d tasks, model %s, strategy %s, output %s\n", path, s.Name, len(s.Tasks),
		cmp.Or(s.Model.Size, s.Model.Init), s.Train.Strategy.Name, s.Path(s.Output))
	for _, w := range s.Warnings() {
		fmt.Printf("warning: %s\n", w)
	}
	if s.Sweep.Active() {
		fmt.Printf("sweep %s: %d trials over %s, %d at a time, ranked by %s on %s, into %s\n", s.Sweep.ID(), len(s.Trials()),
			strings.Join(s.Sweep.Keys(), ", "), s.Sweep.Parallel, s.Sweep.Metric, s.Train.EvalSplit, stages.SweepDir(s))
	}
	if s.Schedule != "" {
		next, _ := schedule.Next(s.Schedule, time.Now(), 1)
		fmt.Printf("schedule %q: next run %s\n", s.Schedule, next[0].Format(time.RFC3339))
	}
}

// runsCmd is `taskweave runs`: a job's run records, newest first.
func runsCmd(fs *flag.FlagSet) func(context.Context, []string) error {
	limit := fs.Int("n", 20, "show at most this many runs")
	return func(ctx context.Context, args []string) error {
		if len(args) != 1 {
			return errors.New("usage: taskweave runs job.yaml")
		}
		s, err := spec.Load(args[0])
		if err != nil {
			return err
		}
		recs, err := runner.Records(ctx, s)
		if err != nil {
			return err
		}
		if len(recs) == 0 {
			fmt.Printf("no runs yet under %s\n", runner.RunsDir(s))
			return nil
		}
		return writeRuns(recs, *limit)
	}
}

// writeRuns prints the first limit run records as a table (all of them
// when limit is negative).
func writeRuns(recs []runrecord.Record, limit int) error {
	tw := tabwriter.NewWriter(os.Stdout, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "RUN\tSTARTED\tSECONDS\tOUTCOME\tMETRICS\tREASON")
	for i, r := range recs {
		if i == limit {
			break
		}
		secs := ""
		if !r.Finished.IsZero() {
			secs = fmt.Sprintf("%.0f", r.Finished.Sub(r.Started).Seconds())
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\n", r.ID, r.Started.Local().Format("2006-01-02 15:04"), secs, r.Outcome, fmtScores(r.Metrics), r.Reason)
	}
	return tw.Flush()
}

// registryFlags are the flags promote and rollback share: which registry,
// and the reason recorded with the new pointer.
func registryFlags(fs *flag.FlagSet, defaultReason string) (reg, cfg, reason *string) {
	reg = fs.String("registry", "", "registry location (default: the job spec's registry)")
	cfg = fs.String("config", "", "job spec whose registry to use")
	reason = fs.String("reason", defaultReason, "reason recorded with the pointer")
	return reg, cfg, reason
}

// promoteCmd is `taskweave promote VERSION`.
func promoteCmd(fs *flag.FlagSet) func(context.Context, []string) error {
	reg, cfg, reason := registryFlags(fs, "manual promotion")
	return func(ctx context.Context, args []string) error {
		if len(args) != 1 {
			return errors.New("usage: taskweave promote [--config job.yaml | --registry DIR] VERSION")
		}
		r, err := openRegistry(*reg, *cfg)
		if err != nil {
			return err
		}
		p, err := r.Promote(ctx, args[0], *reason)
		if err != nil {
			return err
		}
		fmt.Printf("production → %s (%s)\n", p.Version, p.Reason)
		return nil
	}
}

// rollbackCmd is `taskweave rollback`.
func rollbackCmd(fs *flag.FlagSet) func(context.Context, []string) error {
	reg, cfg, reason := registryFlags(fs, "manual rollback")
	return func(ctx context.Context, args []string) error {
		if len(args) != 0 {
			return errors.New("usage: taskweave rollback [--config job.yaml | --registry DIR]")
		}
		r, err := openRegistry(*reg, *cfg)
		if err != nil {
			return err
		}
		p, err := r.Rollback(ctx, *reason)
		if err != nil {
			return err
		}
		fmt.Printf("production → %s (%s)\n", p.Version, p.Reason)
		return nil
	}
}

func openRegistry(reg, cfg string) (*registry.Registry, error) {
	switch {
	case reg != "":
		return registry.Open(reg), nil
	case cfg != "":
		s, err := spec.Load(cfg)
		if err != nil {
			return nil, err
		}
		return registry.Open(s.Path(s.Registry.Path)), nil
	}
	return nil, errors.New("say which registry: --config job.yaml or --registry DIR")
}

func fmtScores(m map[string]float64) string {
	var parts []string
	for _, k := range sortedKeys(m) {
		parts = append(parts, fmt.Sprintf("%s=%.4f", k, m[k]))
	}
	return strings.Join(parts, " ")
}

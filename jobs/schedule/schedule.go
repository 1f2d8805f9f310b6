// Package schedule reruns a job on its cron expression. Overlap is prevented
// twice over: ticks that fire while this process is still running a job are
// skipped, and the job's lease lock (jobs/lock) stops runs in other processes
// or machines from overlapping with this one.
package schedule

import (
	"context"
	"fmt"
	"time"

	"github.com/robfig/cron/v3"
)

// Parse checks a standard five-field cron expression (or a descriptor such as
// @daily, @every 6h) and returns its schedule.
func Parse(expr string) (cron.Schedule, error) {
	p := cron.NewParser(cron.Minute | cron.Hour | cron.Dom | cron.Month | cron.Dow | cron.Descriptor)
	s, err := p.Parse(expr)
	if err != nil {
		return nil, fmt.Errorf("schedule %q: %v; use five fields (minute hour day-of-month month day-of-week), e.g. \"0 3 * * *\", or @daily / @every 6h", expr, err)
	}
	return s, nil
}

// Next lists the next n fire times after t, for `taskweave schedule --dry-run`.
func Next(expr string, t time.Time, n int) ([]time.Time, error) {
	s, err := Parse(expr)
	if err != nil {
		return nil, err
	}
	out := make([]time.Time, 0, n)
	for i := 0; i < n; i++ {
		t = s.Next(t)
		out = append(out, t)
	}
	return out, nil
}

// Loop calls run at every tick of expr until ctx ends. A tick that comes
// while the previous run is still going is skipped and logged.
func Loop(ctx context.Context, expr string, run func(ctx context.Context), logf func(string, ...any)) error {
	if _, err := Parse(expr); err != nil {
		return err
	}
	c := cron.New(cron.WithChain(cron.SkipIfStillRunning(cronLogger{logf})))
	if _, err := c.AddFunc(expr, func() { run(ctx) }); err != nil {
		return err
	}
	c.Start()
	for _, e := range c.Entries() {
		logf("next run at %s", e.Next.Format(time.RFC3339))
	}
	<-ctx.Done()
	// Let a run in progress see the cancellation and write its checkpoint.
	<-c.Stop().Done()
	return nil
}

type cronLogger struct{ logf func(string, ...any) }

func (l cronLogger) Info(msg string, kv ...any) {
	if msg == "skip" {
		l.logf("tick skipped: the previous run is still going")
	}
}
func (l cronLogger) Error(err error, msg string, kv ...any) { l.logf("scheduler: %s: %v", msg, err) }

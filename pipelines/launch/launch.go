// Package launch is what taskweave's Beam pipelines do at launch, before
// any worker sees the job: refuse a runner that cannot work, refuse paths
// the runner's workers cannot reach, and tell a dry run from a finished one.
//
// Paths are made absolute by storage.Abs (the one rule) in each pipeline's
// own config resolution; Check only judges them. The runner and --dry_run
// are Beam's own flags (registered by the runner packages imported here),
// so the job spec's runner section and the command line both reach them.
package launch

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"strings"

	"github.com/apache/beam/sdks/v2/go/pkg/beam"
	"github.com/apache/beam/sdks/v2/go/pkg/beam/runners"
	_ "github.com/apache/beam/sdks/v2/go/pkg/beam/x/beamx" // registers every runner and filesystem

	"github.com/taskweave/taskweave/io/storage"
)

// DefaultRunner runs pipelines in this process.
const DefaultRunner = "prism"

// Runner is the runner chosen with --runner (or the job spec's runner
// section); DefaultRunner when none was.
func Runner() string {
	if *runners.Runner == "" {
		return DefaultRunner
	}
	return *runners.Runner
}

// DryRun reports Beam's --dry_run flag.
func DryRun() bool {
	f := flag.Lookup("dry_run")
	return f != nil && f.Value.String() == "true"
}

// Path is a path a pipeline reads or writes, with the setting it comes
// from, so an error can say what to change.
type Path struct {
	Setting string // e.g. "--out" or "tasks[0].paths.train in the job spec"
	Value   string
}

// ErrDirect explains why the direct runner is refused.
var ErrDirect = errors.New("--runner=direct: Beam has deprecated the direct runner (it is unmaintained and skips parts of the model, e.g. windowing and retries); use prism, the default, which also runs in this process")

// Check refuses what cannot work on runner: the deprecated direct runner,
// and on Dataflow any path that is not gs:// (Dataflow's workers are other
// machines; they see neither this machine's disk nor its working directory).
func Check(runner string, paths []Path) error {
	switch runner {
	case "direct":
		return ErrDirect
	case "dataflow":
		var errs []error
		for _, p := range paths {
			if p.Value != "" && !storage.IsGCS(p.Value) {
				errs = append(errs, fmt.Errorf("%s is %s, a local path; Dataflow workers cannot read or write it: use a gs:// location", p.Setting, p.Value))
			}
		}
		if len(errs) > 0 {
			return fmt.Errorf("--runner=dataflow needs every input, output, model and registry path on gs://:\n%w", errors.Join(errs...))
		}
	}
	return nil
}

// Execute runs p on runner and waits for it. In a dry run nothing is
// executed: the plan is written to w (on Dataflow Beam also logs the job it
// would have submitted) and Execute returns false.
func Execute(ctx context.Context, runner string, p *beam.Pipeline, dryRun bool, plan string, w io.Writer) (ran bool, err error) {
	if !dryRun {
		_, err := beam.Run(ctx, runner, p)
		return err == nil, err
	}
	if w == nil {
		w = io.Discard
	}
	fmt.Fprintf(w, "dry run on %s: would run %s\n", runner, strings.TrimSpace(plan))
	if runner == "dataflow" {
		// Beam's Dataflow runner translates the job and prints it instead of
		// submitting it; it returns no result.
		if _, err := beam.Run(ctx, runner, p); err != nil {
			return false, err
		}
	}
	fmt.Fprintln(w, "dry run: nothing was submitted, written or deleted")
	return false, nil
}

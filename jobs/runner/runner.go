// Package runner runs a job's stages in order — preprocess, train, evaluate,
// register, promote — under the job's lease lock, and writes a run record
// whatever happens. The stages themselves are plain functions supplied by the
// caller (the taskweave binary wires in the real pipelines and trainer), so
// the orchestration is one piece of code for the CLI, the scheduler and tests.
package runner

import (
	"context"
	"fmt"
	"time"

	"github.com/taskweave/taskweave/io/storage"
	"github.com/taskweave/taskweave/jobs/lock"
	"github.com/taskweave/taskweave/jobs/registry"
	"github.com/taskweave/taskweave/jobs/runrecord"
	"github.com/taskweave/taskweave/jobs/spec"
)

// PreprocessResult is what the preprocess stage reports.
type PreprocessResult struct {
	Dir         string // shards + manifest.json
	Fingerprint string
	UpToDate    bool // the manifest fingerprint matched: nothing was written
}

// EvalResult is what the evaluate stage reports: the candidate's primary
// score per task and, when an incumbent was given, the incumbent's scores on
// the same data.
type EvalResult struct {
	Report         string
	Scores         map[string]float64
	IncumbentScore map[string]float64
	// Examples counts the labelled examples each task was scored on, so the
	// gate can refuse a candidate judged on fewer than production was.
	Examples map[string]int64
}

// Stages are the job's steps.
type Stages struct {
	// Preprocess rebuilds the shards unless they are up to date (their
	// manifest's fingerprint matches and every shard has its recorded size
	// and checksum); force rebuilds them anyway.
	Preprocess func(ctx context.Context, s *spec.Spec, force bool) (PreprocessResult, error)
	// Pretrain (jobs with a pretrain block) trains the encoder the train
	// stage starts from, unless it is up to date; nil = no such stage.
	Pretrain func(ctx context.Context, s *spec.Spec, dataDir string) (location string, upToDate bool, err error)
	// Train writes under a directory of its own for runID, so a run never
	// mistakes an earlier run's checkpoint for its own.
	Train func(ctx context.Context, s *spec.Spec, dataDir, runID string) (checkpointDir string, err error)
	// Evaluate scores ckpt (and incumbent, when not "") on the evaluation split of dataDir.
	Evaluate func(ctx context.Context, s *spec.Spec, dataDir, ckpt, incumbent, runID string) (EvalResult, error)
}

// Options tune a run.
type Options struct {
	Wait    bool          // wait for the lock instead of exiting when another run holds it
	LockTTL time.Duration // lease length (the spec's run.lease_ttl); renewed while the run is alive
	// Force re-runs preprocessing even when its manifest says the shards are up to date.
	Force    bool
	SpecData []byte // the spec file's bytes, hashed into the record
	Log      func(format string, args ...any)
}

// RunsDir and LockPath place a job's records and lease under its output.
func RunsDir(s *spec.Spec) string  { return storage.Join(s.Path(s.Output), "runs") }
func LockPath(s *spec.Spec) string { return storage.Join(s.Path(s.Output), "job.lock") }

// Run executes the job once. It returns the run record (also saved under
// RunsDir) and an error if a stage failed or the lock was held
// (*lock.HeldError). If the lease is lost while a stage runs, the stage's
// context is cancelled (the trainer saves and stops) and the error wraps
// lock.ErrLost: another run may be active, so this one must not go on.
func Run(ctx context.Context, s *spec.Spec, st Stages, opt Options) (*runrecord.Record, error) {
	return Guard(ctx, s, opt, func(ss *Session) error {
		pre, err := ss.Preprocess(st, opt.Force)
		if err != nil {
			return err
		}
		if s.Pretrains() && st.Pretrain != nil {
			if err := ss.Stage("pretrain", func() (runrecord.Stage, error) {
				loc, up, err := st.Pretrain(ss.Ctx, s, pre.Dir)
				return runrecord.Stage{Skipped: up, Location: loc, Note: map[bool]string{true: "up to date: the encoder was pre-trained with these settings"}[up]}, err
			}); err != nil {
				return err
			}
		}
		var ckpt string
		if err := ss.Stage("train", func() (runrecord.Stage, error) {
			var err error
			ckpt, err = st.Train(ss.Ctx, s, pre.Dir, ss.Record.ID)
			return runrecord.Stage{Location: ckpt}, err
		}); err != nil {
			return err
		}
		return ss.judge(st, pre, ckpt)
	})
}

// judge evaluates the trained checkpoint against production, registers it
// and promotes it if the gate agrees: the end of Run.
func (ss *Session) judge(st Stages, pre PreprocessResult, ckpt string) error {
	s, rec := ss.spec, ss.Record
	reg := registry.Open(s.Path(s.Registry.Path))
	prod, _, hasProd, err := reg.Production(ss.Ctx)
	if err != nil {
		return ss.failed("registry", err)
	}
	incumbent := ""
	if hasProd {
		incumbent = reg.ModelDir(prod.Version)
	}
	var ev EvalResult
	if err := ss.Stage("evaluate", func() (runrecord.Stage, error) {
		var err error
		ev, err = st.Evaluate(ss.Ctx, s, pre.Dir, ckpt, incumbent, rec.ID)
		note := ""
		if incumbent != "" {
			note = "compared with production version " + prod.Version
		}
		return runrecord.Stage{Location: ev.Report, Note: note}, err
	}); err != nil {
		return err
	}
	rec.Metrics, rec.Report = ev.Scores, ev.Report
	policy, auxList := Policy(s)
	inc, err := incumbentEvaluation(ss.Ctx, reg, prod, hasProd, ev)
	if err != nil {
		return ss.failed("promote", err)
	}
	if err := ss.Stage("register", func() (runrecord.Stage, error) {
		v, err := reg.Register(ss.Ctx, ckpt, ev.Report, registry.Version{ID: rec.ID, RunID: rec.ID, SpecHash: rec.SpecHash,
			Scores: ev.Scores, Examples: ev.Examples, Auxiliary: auxList, DataHash: pre.Fingerprint})
		rec.Version = v.ID
		return runrecord.Stage{Location: reg.ModelDir(v.ID)}, err
	}); err != nil {
		return err
	}
	decision := registry.Gate(registry.Evaluation{Scores: ev.Scores, Examples: ev.Examples}, inc, policy)
	rec.Decision = decision.Code
	if err := ss.Stage("promote", func() (runrecord.Stage, error) {
		if !decision.Promote {
			return runrecord.Stage{Skipped: true, Note: decision.Reason}, nil
		}
		_, err := reg.Promote(ss.Ctx, rec.ID, decision.Reason)
		return runrecord.Stage{Note: decision.Reason}, err
	}); err != nil {
		return err
	}
	ss.Finish(decision.Promote, decision.Reason)
	return nil
}

// Records lists the job's run records, newest first. A record still marked
// running whose process died (kill -9, a lost machine) would say "running"
// forever; the job's lease tells: if it is not held by that run any more
// (expired, or taken over by a later run), the run is reported as crashed.
func Records(ctx context.Context, s *spec.Spec) ([]runrecord.Record, error) {
	recs, err := runrecord.List(ctx, RunsDir(s))
	if err != nil {
		return nil, err
	}
	lease, held, err := lock.Read(ctx, LockPath(s))
	if err != nil {
		return nil, err
	}
	for i := range recs {
		r := &recs[i]
		if r.Outcome != runrecord.Running || (held && lease.Owner == r.ID && lease.Live(time.Now()) && !lease.HolderGone()) {
			continue
		}
		r.Outcome = runrecord.Crashed
		switch {
		case held && lease.Owner == r.ID && lease.Live(time.Now()):
			r.Reason = fmt.Sprintf("the run stopped without finishing its record; its process (pid %d on this host) is gone", lease.PID)
		case held && lease.Owner == r.ID:
			r.Reason = fmt.Sprintf("the run stopped without finishing its record; its lease expired at %s", lease.Expires.Format(time.RFC3339))
		default:
			r.Reason = "the run stopped without finishing its record; its lease expired and was taken by a later run"
		}
	}
	return recs, nil
}

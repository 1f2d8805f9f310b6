// Package runner runs a job's stages in order — preprocess, train, evaluate,
// register, promote — under the job's lease lock, and writes a run record
// whatever happens. The stages themselves are plain functions supplied by the
// caller (the taskweave binary wires in the real pipelines and trainer), so
// the orchestration is one piece of code for the CLI, the scheduler and tests.
package runner

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"time"

	"github.com/taskweave/taskweave/io/storage"
	"github.com/taskweave/taskweave/jobs/lock"
	"github.com/taskweave/taskweave/jobs/registry"
	"github.com/taskweave/taskweave/jobs/runs"
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
}

// Stages are the job's steps.
type Stages struct {
	Preprocess func(ctx context.Context, s *spec.Spec) (PreprocessResult, error)
	// Train writes under a directory of its own for runID, so a run never
	// mistakes an earlier run's checkpoint for its own.
	Train func(ctx context.Context, s *spec.Spec, dataDir, runID string) (checkpointDir string, err error)
	// Evaluate scores ckpt (and incumbent, when not "") on the evaluation split of dataDir.
	Evaluate func(ctx context.Context, s *spec.Spec, dataDir, ckpt, incumbent, runID string) (EvalResult, error)
}

// Options tune a run.
type Options struct {
	Wait     bool          // wait for the lock instead of exiting when another run holds it
	LockTTL  time.Duration // lease length; renewed while the run is alive
	Poll     time.Duration
	SpecData []byte // the spec file's bytes, hashed into the record
	Log      func(format string, args ...any)
}

// RunsDir and LockPath place a job's records and lease under its output.
func RunsDir(s *spec.Spec) string  { return storage.Join(s.Path(s.Output), "runs") }
func LockPath(s *spec.Spec) string { return storage.Join(s.Path(s.Output), "job.lock") }

// Run executes the job once. It returns the run record (also saved under
// RunsDir) and an error if a stage failed or the lock was held.
func Run(ctx context.Context, s *spec.Spec, st Stages, opt Options) (*runs.Record, error) {
	if opt.LockTTL == 0 {
		opt.LockTTL = 2 * time.Minute
	}
	if opt.Poll == 0 {
		opt.Poll = 5 * time.Second
	}
	logf := opt.Log
	if logf == nil {
		logf = func(string, ...any) {}
	}
	host, _ := os.Hostname()
	sum := sha256.Sum256(opt.SpecData)
	rec := &runs.Record{ID: runs.NewID(time.Now()), Job: s.Name, SpecHash: "sha256:" + hex.EncodeToString(sum[:]),
		Host: host, Started: time.Now().UTC(), Outcome: "running"}

	var l *lock.Lock
	var err error
	if opt.Wait {
		logf("waiting for the job lock %s", LockPath(s))
		l, err = lock.Acquire(ctx, LockPath(s), rec.ID, opt.LockTTL, opt.Poll)
	} else {
		l, err = lock.TryAcquire(ctx, LockPath(s), rec.ID, opt.LockTTL)
	}
	if err != nil {
		return nil, err
	}
	defer l.Release(context.WithoutCancel(ctx))
	rec.Started = time.Now().UTC() // a waiting run starts when it holds the lock

	save := func() {
		if err := runs.Save(context.WithoutCancel(ctx), RunsDir(s), rec); err != nil {
			logf("warning: could not save run record: %v", err)
		}
	}
	save()
	fail := func(stage string, err error) (*runs.Record, error) {
		rec.Outcome, rec.Reason, rec.Finished = "failed", fmt.Sprintf("%s: %v", stage, err), time.Now().UTC()
		rec.Interrupted = errors.Is(err, context.Canceled) || ctx.Err() != nil
		save()
		return rec, fmt.Errorf("run %s: %s stage: %w", rec.ID, stage, err)
	}
	stage := func(name string, f func() (runs.Stage, error)) error {
		if err := l.Lost(); err != nil {
			return err
		}
		logf("== %s", name)
		t0 := time.Now()
		sr, err := f()
		sr.Name, sr.Seconds = name, time.Since(t0).Seconds()
		if err != nil {
			sr.Error = err.Error()
		}
		rec.Stages = append(rec.Stages, sr)
		save()
		return err
	}

	var pre PreprocessResult
	if err := stage("preprocess", func() (runs.Stage, error) {
		var err error
		pre, err = st.Preprocess(ctx, s)
		note := ""
		if pre.UpToDate {
			note = "up to date: inputs and config unchanged, nothing written"
		}
		return runs.Stage{Skipped: pre.UpToDate, Note: note, Location: pre.Dir}, err
	}); err != nil {
		return fail("preprocess", err)
	}
	rec.Inputs = pre.Fingerprint

	var ckpt string
	if err := stage("train", func() (runs.Stage, error) {
		var err error
		ckpt, err = st.Train(ctx, s, pre.Dir, rec.ID)
		return runs.Stage{Location: ckpt}, err
	}); err != nil {
		return fail("train", err)
	}

	reg := registry.Open(s.Path(s.Registry.Path))
	prod, _, hasProd, err := reg.Production(ctx)
	if err != nil {
		return fail("registry", err)
	}
	incumbent := ""
	if hasProd {
		incumbent = reg.ModelDir(prod.Version)
	}
	var ev EvalResult
	if err := stage("evaluate", func() (runs.Stage, error) {
		var err error
		ev, err = st.Evaluate(ctx, s, pre.Dir, ckpt, incumbent, rec.ID)
		note := ""
		if incumbent != "" {
			note = "compared with production version " + prod.Version
		}
		return runs.Stage{Location: ev.Report, Note: note}, err
	}); err != nil {
		return fail("evaluate", err)
	}
	rec.Metrics, rec.Report = ev.Scores, ev.Report

	aux := map[string]bool{}
	var auxList []string
	for _, t := range s.Tasks {
		if t.Auxiliary {
			aux[t.Name] = true
			auxList = append(auxList, t.Name)
		}
	}
	var inc map[string]float64
	if hasProd {
		inc = ev.IncumbentScore
		if inc == nil {
			return fail("promote", errors.New("evaluation returned no scores for the production model"))
		}
	}
	var decision registry.Decision
	if err := stage("register", func() (runs.Stage, error) {
		v, err := reg.Register(ctx, ckpt, ev.Report, registry.Version{ID: rec.ID, RunID: rec.ID, SpecHash: rec.SpecHash,
			Scores: ev.Scores, Auxiliary: auxList, DataHash: pre.Fingerprint})
		rec.Version = v.ID
		return runs.Stage{Location: reg.ModelDir(v.ID)}, err
	}); err != nil {
		return fail("register", err)
	}
	decision = registry.Gate(ev.Scores, inc, aux, s.Registry.Tolerance)
	if err := stage("promote", func() (runs.Stage, error) {
		if !decision.Promote {
			return runs.Stage{Skipped: true, Note: decision.Reason}, nil
		}
		_, err := reg.Promote(ctx, rec.ID, decision.Reason)
		return runs.Stage{Note: decision.Reason}, err
	}); err != nil {
		return fail("promote", err)
	}
	rec.Reason = decision.Reason
	rec.Outcome = "not-promoted"
	if decision.Promote {
		rec.Outcome = "promoted"
	}
	rec.Finished = time.Now().UTC()
	save()
	return rec, nil
}

package stages

import (
	"context"
	"errors"
	"fmt"
	"io"
	"time"

	"github.com/taskweave/taskweave/io/storage"
	"github.com/taskweave/taskweave/jobs/registry"
	"github.com/taskweave/taskweave/jobs/runner"
	"github.com/taskweave/taskweave/jobs/spec"
	"github.com/taskweave/taskweave/model"
	"github.com/taskweave/taskweave/model/scoring"
	"github.com/taskweave/taskweave/pipelines/launch"
	"github.com/taskweave/taskweave/pipelines/sweep"
)

// SweepDir is where a job's sweep writes: <output>/sweeps/<id>.
func SweepDir(s *spec.Spec) string {
	return storage.Join(s.Path(s.Output), "sweeps", s.Sweep.ID())
}

// SweepOptions maps the spec's sweep block onto the sweep pipeline: each
// trial is the spec with its settings written in (spec.With), mapped by
// TrainConfig like any job, training into <sweep>/<trial> on the shards in
// data. On prism the trials share this machine, sweep.parallel at a time;
// on a cluster runner each worker process trains one at a time.
func SweepOptions(s *spec.Spec, data, runnerName string) (sweep.Options, error) {
	if !s.Sweep.Active() {
		return sweep.Options{}, errors.New("the job spec has no sweep: block; add sweep.grid (e.g. train.lr: [1e-3, 3e-4]) or sweep.random")
	}
	dir, err := storage.Abs(SweepDir(s))
	if err != nil {
		return sweep.Options{}, err
	}
	if data, err = storage.Abs(data); err != nil {
		return sweep.Options{}, err
	}
	o := sweep.Options{Dir: dir, Parallel: 1, Ranking: sweep.Ranking{Metric: s.Sweep.Metric, Split: s.Train.EvalSplit, Primary: map[string]string{}}}
	if runnerName == "" || runnerName == launch.DefaultRunner {
		o.Parallel = s.Sweep.Parallel
	}
	for _, t := range s.Tasks {
		o.Ranking.Primary[t.Name] = scoring.Task{Name: t.Name, Kind: model.HeadKind(t.Type), TagScheme: t.TagScheme}.PrimaryMetric()
		if t.Auxiliary {
			o.Ranking.Auxiliary = append(o.Ranking.Auxiliary, t.Name)
		}
	}
	for i, settings := range s.Trials() {
		ts, err := s.With(settings)
		if err != nil {
			return o, err
		}
		id := fmt.Sprintf("t%03d", i)
		cfg := TrainConfig(ts, data, storage.Join(dir, id))
		cfg.TimeLimit = time.Duration(s.Sweep.TrialSeconds * float64(time.Second))
		tr := sweep.Trial{ID: id, Config: cfg}
		for _, st := range settings {
			tr.Settings = append(tr.Settings, sweep.Setting{Key: st.Key, Value: spec.FormatValue(st.Value)})
		}
		o.Trials = append(o.Trials, tr)
	}
	return o, nil
}

// SweepResult is what RunSweep found and did.
type SweepResult struct {
	Dir      string
	Ranking  sweep.Ranking
	Results  []sweep.Result // best first; failed trials last
	Best     *sweep.Result  // nil when every trial failed
	Judgment runner.Judgement
}

// RunSweep runs the sweep pipeline on the shards in data and takes its best
// trial's best/ checkpoint through evaluation against production, the
// registry (as version sweep-<id>-<trial>) and the promotion gate. A sweep
// whose trials all failed returns the results and an error.
func RunSweep(ctx context.Context, s *spec.Spec, st runner.Stages, data string, log io.Writer) (*SweepResult, error) {
	o, err := SweepOptions(s, data, launch.Runner())
	if err != nil {
		return nil, err
	}
	o.Log = log
	rs, err := sweep.Run(ctx, o)
	if err != nil || rs == nil { // rs nil: a dry run
		return nil, err
	}
	res := &SweepResult{Dir: o.Dir, Ranking: o.Ranking, Results: rs}
	if rs[0].Failed() {
		return res, fmt.Errorf("sweep: every trial failed (see %s); the first error: %s", storage.Join(o.Dir, "results.md"), rs[0].Error)
	}
	res.Best = &rs[0]
	ckpt := storage.Join(res.Best.Dir, "best")
	res.Judgment, err = runner.Judge(ctx, s, st, data, ckpt, registry.Version{ID: "sweep-" + s.Sweep.ID() + "-" + res.Best.Trial, RunID: "sweep-" + s.Sweep.ID()})
	return res, err
}

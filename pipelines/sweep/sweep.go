// Package sweep builds and runs the sweep pipeline of `taskweave sweep`:
// many training trials of one job, each with a few train or model keys set
// otherwise, fanned out over Beam workers and ranked.
//
//	trials → Reshuffle → TrialFn (train one trial with the trainer into
//	<sweep>/<trial>/, rank it by its dev evaluation) → results
//	results → one key → GroupByKey → WriteResultsFn (results.json,
//	results.md, results.png)
//
// The launcher (jobs/stages.Sweep) makes the trials from the job spec and
// takes the best one through evaluation, the registry and the promotion
// gate. The Reshuffle is what spreads trials: on prism a slow bundle is
// split and its rest runs as another bundle, so trials run side by side
// (TrialFn caps them at Parallel per process); on Dataflow or Flink each
// worker takes its own.
//
// Re-running is cheap: a trial whose summary.json says it finished is read
// back, not retrained (the same holds for a bundle the runner retries), and
// a failed trial is a row of the table with its error, not a failed sweep.
package sweep

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"reflect"

	"github.com/apache/beam/sdks/v2/go/pkg/beam"

	"github.com/taskweave/taskweave/internal/beamerr"
	"github.com/taskweave/taskweave/io/storage"
	"github.com/taskweave/taskweave/pipelines/launch"
	"github.com/taskweave/taskweave/trainer"
)

func init() {
	// Trials and results carry maps and the trainer's configuration; JSON
	// keeps them exact.
	beam.RegisterType(reflect.TypeOf((*Trial)(nil)).Elem())
	beam.RegisterType(reflect.TypeOf((*Result)(nil)).Elem())
	// (Beam finds coder functions by name, so no generic instances.)
	beam.RegisterCoder(reflect.TypeOf((*Trial)(nil)).Elem(), encodeTrial, decodeTrial)
	beam.RegisterCoder(reflect.TypeOf((*Result)(nil)).Elem(), encodeResult, decodeResult)
}

func encodeTrial(t Trial) ([]byte, error)   { return json.Marshal(t) }
func encodeResult(r Result) ([]byte, error) { return json.Marshal(r) }

func decodeTrial(b []byte) (Trial, error) {
	var t Trial
	err := json.Unmarshal(b, &t)
	return t, err
}

func decodeResult(b []byte) (Result, error) {
	var r Result
	err := json.Unmarshal(b, &r)
	return r, err
}

// Setting is one swept key's value in a trial, as written in the table.
type Setting struct {
	Key   string `json:"key"`
	Value string `json:"value"`
}

// Trial is one training run of the sweep.
type Trial struct {
	ID       string         `json:"id"` // t000, t001, …: its directory under the sweep
	Settings []Setting      `json:"settings"`
	Config   trainer.Config `json:"config"` // the job's mapping of the trial's spec; Out is the trial's directory
}

// Result is a trial's outcome: its dev figures, or the error it failed with.
type Result struct {
	Trial    string             `json:"trial"`
	Settings []Setting          `json:"settings"`
	Dir      string             `json:"dir"`
	Scores   map[string]float64 `json:"scores,omitempty"` // task → primary metric of the best dev evaluation
	Metric   float64            `json:"metric"`           // the ranking figure (Options.Metric over Scores)
	Steps    int                `json:"steps"`
	BestStep int                `json:"best_step"`
	Stopped  string             `json:"stopped,omitempty"`
	Seconds  float64            `json:"train_seconds"`
	Reused   bool               `json:"reused"` // read back from an earlier run, not trained now
	Error    string             `json:"error,omitempty"`
}

// Failed reports whether the trial has no figures to rank.
func (r Result) Failed() bool { return r.Error != "" }

// Ranking says how trials are ranked.
type Ranking struct {
	Metric    string            // mean | min | a task (metrics.Aggregate)
	Primary   map[string]string // task → its primary metric's name
	Auxiliary []string          // tasks trained but left out of the ranking
	Split     string            // the dev split the figures come from, for the table
}

// Options configure one sweep.
type Options struct {
	Dir      string // the sweep's directory: <output>/sweeps/<id>
	Trials   []Trial
	Ranking  Ranking
	Parallel int // trials trained at a time in one worker process
	Log      io.Writer
}

// Build adds the sweep to s.
func Build(s beam.Scope, o Options) {
	s = s.Scope("sweep")
	trials := beam.Reshuffle(s, beam.CreateList(s, o.Trials))
	results := beam.ParDo(s.Scope("train"), &TrialFn{Parallel: o.Parallel, Ranking: o.Ranking}, trials)
	grouped := beam.GroupByKey(s, beam.AddFixedKey(s, results))
	beam.ParDo0(s.Scope("write_results"), &WriteResultsFn{Dir: o.Dir, Ranking: o.Ranking}, grouped)
}

// Run runs the sweep on the runner chosen by Beam's --runner and returns
// its results, best first (failed trials last). Every path must already be
// absolute or gs://, as the launcher's spec mapping makes them.
func Run(ctx context.Context, o Options) ([]Result, error) {
	if len(o.Trials) == 0 {
		return nil, errors.New("sweep: no trials")
	}
	if o.Parallel < 1 {
		return nil, fmt.Errorf("sweep: parallel %d; use at least 1 (sweep.parallel)", o.Parallel)
	}
	runner := launch.Runner()
	paths := []launch.Path{{Setting: "output (the sweep's directory)", Value: o.Dir}}
	for _, t := range o.Trials {
		paths = append(paths, launch.Path{Setting: "trial " + t.ID + " data", Value: t.Config.Data},
			launch.Path{Setting: "tokenizer.vocab", Value: t.Config.Vocab}, launch.Path{Setting: "model.init", Value: t.Config.Init})
	}
	if err := launch.Check(runner, paths); err != nil {
		return nil, err
	}
	logw := o.Log
	if logw == nil {
		logw = io.Discard
	}
	p, s := beam.NewPipelineWithRoot()
	Build(s, o)
	plan := fmt.Sprintf("the sweep pipeline: %d trials, %d at a time per worker process → %s", len(o.Trials), o.Parallel, o.Dir)
	if launch.DryRun() {
		_, err := launch.Execute(ctx, runner, p, true, plan, logw)
		return nil, err
	}
	fmt.Fprintf(logw, "sweep: %d trials on %s, %d at a time per worker process, in %s\n", len(o.Trials), runner, o.Parallel, o.Dir)
	if _, err := launch.Execute(ctx, runner, p, false, plan, logw); err != nil {
		return nil, beamerr.Clean("sweep", err)
	}
	return ReadResults(ctx, o.Dir)
}

// ReadResults reads the results a sweep wrote, best first.
func ReadResults(ctx context.Context, dir string) ([]Result, error) {
	p := storage.Join(dir, resultsJSON)
	b, err := storage.ReadFile(ctx, p)
	if err != nil {
		return nil, fmt.Errorf("sweep: the pipeline finished but its results are not at %s, where its workers write them (on a cluster, use an output both reach, e.g. gs://): %w", p, err)
	}
	var rs []Result
	if err := json.Unmarshal(b, &rs); err != nil {
		return nil, fmt.Errorf("sweep: %s: %w", p, err)
	}
	return rs, nil
}

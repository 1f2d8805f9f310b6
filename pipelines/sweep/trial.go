package sweep

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"math"
	"slices"
	"sort"
	"sync"
	"time"

	"github.com/apache/beam/sdks/v2/go/pkg/beam"
	"github.com/apache/beam/sdks/v2/go/pkg/beam/log"
	"github.com/apache/beam/sdks/v2/go/pkg/beam/register"

	"github.com/taskweave/taskweave/io/storage"
	"github.com/taskweave/taskweave/model/metrics"
	"github.com/taskweave/taskweave/trainer"
)

func init() {
	register.DoFn3x1[context.Context, Trial, func(Result), error](&TrialFn{})
	register.Emitter1[Result]()
}

var (
	trialsTrained = beam.NewCounter("taskweave.sweep", "trials_trained")
	trialsReused  = beam.NewCounter("taskweave.sweep", "trials_reused")
	trialsFailed  = beam.NewCounter("taskweave.sweep", "trials_failed")
)

// trialFile records what a trial's directory was trained with, so a re-run
// reuses a finished trial only when it would train exactly the same.
const trialFile = "trial.json"

type trialRecord struct {
	ID       string         `json:"id"`
	Settings []Setting      `json:"settings"`
	Config   string         `json:"config_sha256"`
	Started  time.Time      `json:"started"`
	Train    trainer.Config `json:"train"`
}

// configHash fingerprints everything the trainer is told.
func configHash(c trainer.Config) string {
	c.Progress, c.Log, c.Resume = nil, nil, false
	b, _ := json.Marshal(c)
	sum := sha256.Sum256(b)
	return hex.EncodeToString(sum[:])
}

// slots caps the trials training at once in this process: prism runs the
// bundles of one stage side by side in one process, and two trials per
// core only make each slower.
var slots = struct {
	sync.Mutex
	byCap map[int]chan struct{}
}{byCap: map[int]chan struct{}{}}

func slotsOf(n int) chan struct{} {
	slots.Lock()
	defer slots.Unlock()
	c, ok := slots.byCap[n]
	if !ok {
		c = make(chan struct{}, n)
		slots.byCap[n] = c
	}
	return c
}

// TrialFn trains one trial into its directory and emits its Result. A trial
// that already finished there (summary.json, same configuration) is read
// back instead; a trial that fails is emitted with its error, so one bad
// setting does not fail the sweep. Only a cancelled context fails the
// bundle (the runner retries it, and the retry resumes from last/).
type TrialFn struct {
	Parallel int // trials training at once in one process
	Ranking  Ranking
}

// ProcessElement runs one trial.
func (f *TrialFn) ProcessElement(ctx context.Context, t Trial, emit func(Result)) error {
	res := Result{Trial: t.ID, Settings: t.Settings, Dir: t.Config.Out}
	sum, reused, err := f.train(ctx, t)
	if ctx.Err() != nil {
		return fmt.Errorf("trial %s: %w", t.ID, context.Cause(ctx))
	}
	if err == nil {
		res.Steps, res.BestStep, res.Stopped, res.Seconds, res.Reused = sum.Steps, sum.BestStep, sum.Stopped, sum.TrainSeconds, reused
		res.Scores, res.Metric, err = f.Ranking.rank(sum)
	}
	if err != nil {
		res.Error = err.Error()
		trialsFailed.Inc(ctx, 1)
		log.Warnf(ctx, "sweep: trial %s (%s) failed: %v", t.ID, formatSettings(t.Settings), err)
	} else {
		log.Infof(ctx, "sweep: trial %s (%s): %s %.4f after %d steps%s", t.ID, formatSettings(t.Settings), f.Ranking.Metric, res.Metric, res.Steps,
			map[bool]string{true: " (finished earlier, not retrained)", false: ""}[reused])
	}
	emit(res)
	return nil
}

// train returns the trial's summary, training it unless it finished before.
func (f *TrialFn) train(ctx context.Context, t Trial) (sum *trainer.Summary, reused bool, err error) {
	if f.Parallel < 1 {
		return nil, false, fmt.Errorf("sweep: parallel %d; it must be at least 1", f.Parallel)
	}
	dir := t.Config.Out
	hash := configHash(t.Config)
	if sum, ok, err := finished(ctx, dir, hash); err != nil || ok {
		if ok {
			trialsReused.Inc(ctx, 1)
		}
		return sum, ok, err
	}
	slot := slotsOf(f.Parallel)
	select {
	case slot <- struct{}{}:
	case <-ctx.Done():
		return nil, false, ctx.Err()
	}
	defer func() { <-slot }()
	// A panic in one trial is that trial's failure, not the worker's.
	defer func() {
		if p := recover(); p != nil {
			err = fmt.Errorf("the trainer panicked: %v", p)
		}
	}()
	rec, _ := json.MarshalIndent(trialRecord{ID: t.ID, Settings: t.Settings, Config: hash, Started: time.Now().UTC(), Train: t.Config}, "", "  ")
	if err := storage.WriteFile(ctx, storage.Join(dir, trialFile), append(rec, '\n')); err != nil {
		return nil, false, err
	}
	cfg := t.Config
	// A bundle retried after a crash finds the trial's last save: go on from there.
	if cfg.Resume, err = storage.Exists(ctx, storage.Join(dir, "last", "config.json")); err != nil {
		return nil, false, err
	}
	cfg.Log = &logWriter{ctx: ctx, prefix: "sweep: trial " + t.ID + ": "}
	trialsTrained.Inc(ctx, 1)
	sum, err = trainer.Train(ctx, cfg)
	return sum, false, err
}

// finished reads the summary of a trial that ran to its end in dir with the
// configuration hash; ok is false when it has to be (re)trained.
func finished(ctx context.Context, dir, hash string) (*trainer.Summary, bool, error) {
	sum, err := trainer.ReadSummary(ctx, dir)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, false, nil
	}
	if err != nil {
		return nil, false, err
	}
	if sum.Stopped == "interrupted" || sum.Stopped == "stop_at" {
		return nil, false, nil // stopped early on purpose or by a signal: resume it
	}
	b, err := storage.ReadFile(ctx, storage.Join(dir, trialFile))
	if err != nil {
		return nil, false, fmt.Errorf("%s has a summary but no readable %s: %w; remove the directory to retrain the trial", dir, trialFile, err)
	}
	var rec trialRecord
	if err := json.Unmarshal(b, &rec); err != nil {
		return nil, false, fmt.Errorf("%s: %w", storage.Join(dir, trialFile), err)
	}
	if rec.Config != hash {
		return nil, false, fmt.Errorf("%s finished with another training configuration than this sweep gives the trial (the job spec changed outside its sweep block); "+
			"change sweep.seed for a new sweep, or remove the directory to retrain", dir)
	}
	return sum, true, nil
}

// rank takes the primary metric of each task from the trial's best dev
// evaluation and folds the non-auxiliary ones into the ranking figure.
func (r Ranking) rank(sum *trainer.Summary) (map[string]float64, float64, error) {
	scores := map[string]float64{}
	var ranked []string
	for task, name := range r.Primary {
		v, ok := sum.Best[task][name]
		if !ok {
			continue
		}
		scores[task] = v
		if !slices.Contains(r.Auxiliary, task) {
			ranked = append(ranked, task)
		}
	}
	sort.Strings(ranked)
	if len(ranked) == 0 {
		return scores, 0, fmt.Errorf("no %s evaluation to rank on after %d steps (does the data have a %s split?)", r.Split, sum.Steps, r.Split)
	}
	m, err := metrics.Aggregate(r.Metric, scores, ranked)
	if err != nil {
		return scores, 0, fmt.Errorf("sweep.metric: %w", err)
	}
	if math.IsNaN(m) || math.IsInf(m, 0) {
		return nil, 0, fmt.Errorf("%s is %v: the scores are not finite (%v)", r.Metric, m, scores)
	}
	return scores, m, nil
}

// logWriter sends the trainer's log lines to the worker's log.
type logWriter struct {
	ctx    context.Context
	prefix string
	buf    bytes.Buffer
}

func (w *logWriter) Write(p []byte) (int, error) {
	w.buf.Write(p)
	for {
		line, err := w.buf.ReadString('\n')
		if err != nil {
			w.buf.WriteString(line) // an unfinished line waits for its end
			return len(p), nil
		}
		log.Info(w.ctx, w.prefix+line[:len(line)-1])
	}
}

func formatSettings(s []Setting) string {
	var b bytes.Buffer
	for i, st := range s {
		if i > 0 {
			b.WriteByte(' ')
		}
		b.WriteString(st.Key + "=" + st.Value)
	}
	return b.String()
}

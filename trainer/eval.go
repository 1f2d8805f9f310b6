package trainer

import (
	"context"
	"fmt"
	"io"
	"sort"

	"github.com/taskweave/taskweave/io/shards"
	"github.com/taskweave/taskweave/io/storage"
	"github.com/taskweave/taskweave/model"
	"github.com/taskweave/taskweave/model/checkpoint"
	"github.com/taskweave/taskweave/model/metrics"
	"github.com/taskweave/taskweave/model/scoring"
)

// Dev evaluation goes through model/scoring, the same path as `taskweave
// evaluate` (transforms/score) and predict: the same batching, argmax,
// window stitching and metric per task, so best/ is chosen on the figure the
// promotion gate later reads. evalBatch examples go into one forward pass;
// evalPool rows are sorted by length together (a larger pool pads less).
const (
	evalBatch = 64
	evalPool  = 1024
)

// scoringTask describes t to model/scoring.
func scoringTask(t *taskData) scoring.Task {
	return scoring.Task{Name: t.name, Kind: t.kind, Labels: t.labels, TagScheme: t.scheme}
}

// evalTask scores one task on its evaluation shards.
func (tr *Trainer) evalTask(ctx context.Context, t *taskData) (scoring.Result, error) {
	task := scoringTask(t)
	sc, err := scoring.NewScorer(task)
	if err != nil {
		return scoring.Result{}, err
	}
	var pool []scoring.Example
	flush := func() error {
		if err := ctx.Err(); err != nil {
			return err
		}
		err := scoring.Score(tr.m, task, pool, scoring.Options{BatchSize: evalBatch}, func(_ int, p scoring.Prediction) error {
			return sc.Add(p)
		})
		pool = pool[:0]
		if err != nil {
			return fmt.Errorf("evaluating %s: %w", t.name, err)
		}
		return nil
	}
	for _, p := range t.eval {
		if err := tr.readEvalShard(ctx, t, p, func(r *shards.Row) error {
			pool = append(pool, scoring.Example(*r))
			if len(pool) < evalPool {
				return nil
			}
			return flush()
		}); err != nil {
			return scoring.Result{}, err
		}
	}
	if err := flush(); err != nil {
		return scoring.Result{}, err
	}
	return sc.Result()
}

// readEvalShard calls fn with every row of one evaluation shard, after the
// checks training applies to a row (task, length, vocabulary, label range).
// Rows stay valid after fn returns (shards.Reader does not reuse them).
func (tr *Trainer) readEvalShard(ctx context.Context, t *taskData, p string, fn func(*shards.Row) error) error {
	rd, err := openShard(ctx, p)
	if err != nil {
		return err
	}
	defer rd.close()
	for {
		r, err := rd.next()
		if err == io.EOF {
			return nil
		}
		if err != nil {
			return err
		}
		if err := tr.checkEvalRow(t, rd, r); err != nil {
			return err
		}
		if err := fn(r); err != nil {
			return err
		}
	}
}

// checkEvalRow applies training's checks to an evaluation row, and for a
// token task checks the word ids scoring reads words by.
func (tr *Trainer) checkEvalRow(t *taskData, rd *shardReader, r *shards.Row) error {
	if _, err := toExample(r, t, rd.path, rd.row-1, tr.bcfg.maxLen, tr.bcfg.vocab); err != nil {
		return err
	}
	if t.kind == model.TokenClassification && len(r.WordIDs) != len(r.InputIDs) {
		return fmt.Errorf("shard %s row %d (example %s): %d word_ids for %d tokens; scoring reads each word at its first subword (re-run preprocessing)",
			rd.path, rd.row-1, r.ExampleID, len(r.WordIDs), len(r.InputIDs))
	}
	return nil
}

// metricMap is a result's figures by their scoring names, as metrics.jsonl
// and summary.json record them.
func metricMap(r scoring.Result) map[string]float64 {
	out := map[string]float64{}
	for _, m := range r.Metrics() {
		out[m.Name] = m.Value
	}
	return out
}

// evaluate scores every task with an evaluation split, logs, and saves
// best/ when the selection score improved.
func (tr *Trainer) evaluate(ctx context.Context) (bool, error) {
	tr.opt.Flush() // the word-embedding rows a lazy optimizer left behind
	tr.m.SetTraining(false)
	defer tr.m.SetTraining(true)
	tr.m.ResetGateStats() // the summary's gate distributions are the last evaluation's
	res := map[string]map[string]float64{}
	scores := map[string]float64{}
	base := map[string]scoring.Baseline{} // each primary figure's trivial baseline, for the log
	var names, selected []string
	grouped, err := tr.evalGroups(ctx) // a group's tasks from one pass per batch (evalgroup.go)
	if err != nil {
		return false, err
	}
	for _, t := range tr.tasks {
		if len(t.eval) == 0 {
			continue
		}
		var score float64
		if t.kind == model.MaskedLM && tr.el != nil {
			res[t.name], score, err = tr.evalElectraLM(ctx, t)
		} else {
			r, ok := grouped[t.name] // a masked LM is in no group (groups.go)
			switch {
			case t.kind == model.MaskedLM:
				r, err = tr.evalMaskedLM(ctx, t)
			case !ok:
				r, err = tr.evalTask(ctx, t)
			}
			res[t.name], score = metricMap(r), r.Score
			if b, ok := r.Baseline(r.Primary); ok {
				base[t.name] = b
			}
		}
		if err != nil {
			return false, err
		}
		names = append(names, t.name)
		if !t.auxiliary {
			scores[t.name] = score
			selected = append(selected, t.name)
		}
	}
	if len(res) == 0 {
		return false, nil
	}
	score, err := tr.aggregate(scores, selected)
	if err != nil {
		return false, err
	}
	tr.lastEval = res
	improved := score > tr.best
	if improved {
		tr.best, tr.bestStep, tr.bestEval = score, tr.step, res
		if err := checkpoint.Save(storage.Dir(ctx, storage.Join(tr.cfg.Out, "best")), tr.m, tr.meta); err != nil {
			return false, err
		}
	}
	if err := tr.writeJSON(map[string]any{"event": "eval", "step": tr.step, "split": tr.cfg.EvalSplit, "metrics": res,
		"score": score, "best_score": tr.best, "best_step": tr.bestStep}); err != nil {
		return false, err
	}
	sort.Strings(names)
	line := fmt.Sprintf("step %d eval:", tr.step)
	for _, n := range names {
		if tr.task(n).kind == model.MaskedLM {
			line += fmt.Sprintf(" %s %s=%.4f %s=%.1f", n, scoring.MaskedAccuracy, res[n][scoring.MaskedAccuracy], scoring.Perplexity, res[n][scoring.Perplexity])
			if v, ok := res[n][electraRTDAccuracy]; ok { // ELECTRA: the figures above are the generator's
				line += fmt.Sprintf(" %s=%.4f %s=%.4f", electraRTDAccuracy, v, electraRTDReplaced, res[n][electraRTDReplaced])
			}
			continue
		}
		pm := scoringTask(tr.task(n)).PrimaryMetric()
		line += fmt.Sprintf(" %s %s=%.4f", n, pm, res[n][pm])
		if b, ok := base[n]; ok {
			line += fmt.Sprintf(" (%s %.4f)", b.Name, b.Value)
		}
	}
	tr.logf("%s  %s=%.4f (best %.4f at %d)", line, tr.cfg.SelectMetric, score, tr.best, tr.bestStep)
	return improved, nil
}

func (tr *Trainer) task(name string) *taskData {
	for _, t := range tr.tasks {
		if t.name == name {
			return t
		}
	}
	return nil
}

// aggregate folds the primary scores of the non-auxiliary tasks into the
// selection score, by the same rule as the registry gate (metrics.Aggregate).
func (tr *Trainer) aggregate(scores map[string]float64, selected []string) (float64, error) {
	v, err := metrics.Aggregate(tr.cfg.SelectMetric, scores, selected)
	if err != nil {
		return 0, fmt.Errorf("select_metric: %w", err)
	}
	return v, nil
}

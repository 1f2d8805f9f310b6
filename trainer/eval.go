package trainer

import (
	"context"
	"fmt"
	"math"
	"sort"

	"github.com/taskweave/taskweave/io/storage"
	"github.com/taskweave/taskweave/model"
	"github.com/taskweave/taskweave/model/checkpoint"
	"github.com/taskweave/taskweave/model/metrics"
)

// primary is the metric each task type contributes to model selection:
// accuracy for sentence classification, conlleval entity F1 for IOB token
// tasks, token accuracy for other tagging (POS, chunk), Pearson for
// regression.
func primary(t *taskData) string {
	switch {
	case t.kind == model.SequenceClassification:
		return "accuracy"
	case t.kind == model.SequenceRegression:
		return "pearson"
	case t.scheme == "iob1" || t.scheme == "iob2":
		return "entity_f1"
	}
	return "token_accuracy"
}

// evalTask scores one task on its evaluation shards.
func (tr *Trainer) evalTask(ctx context.Context, t *taskData) (map[string]float64, error) {
	var conf *metrics.Confusion
	var ents *metrics.Entities
	var tacc metrics.TokenAccuracy
	var reg metrics.Regression
	switch t.kind {
	case model.SequenceClassification:
		conf = metrics.NewConfusion(t.numLabels)
	case model.TokenClassification:
		if t.scheme == "iob1" || t.scheme == "iob2" {
			sc, err := metrics.ParseScheme(t.scheme)
			if err != nil {
				return nil, err
			}
			ents = metrics.NewEntities(sc)
		}
	}
	err := evalExamples(ctx, t, tr.bcfg, func(b *model.Batch, ex []example) error {
		if err := ctx.Err(); err != nil {
			return err
		}
		logits, err := tr.m.Predict(b)
		if err != nil {
			return fmt.Errorf("evaluating %s: %w", t.name, err)
		}
		n := t.numLabels
		switch t.kind {
		case model.SequenceClassification:
			for i := range ex {
				conf.Add(int(ex[i].label), argmax(logits[i*n:(i+1)*n]))
			}
		case model.SequenceRegression:
			for i := range ex {
				reg.Add(float64(ex[i].target), float64(logits[i]))
			}
		case model.TokenClassification:
			for i, e := range ex {
				var gold, pred []string
				for j, l := range e.tokLabels {
					if l == model.IgnoreIndex {
						continue
					}
					o := (i*b.T + j) * n
					gold = append(gold, t.labels[l])
					pred = append(pred, t.labels[argmax(logits[o:o+n])])
				}
				if ents != nil {
					if err := ents.Add(gold, pred); err != nil {
						return err
					}
				} else if err := tacc.Add(gold, pred); err != nil {
					return err
				}
			}
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	out := map[string]float64{}
	switch {
	case conf != nil:
		r := conf.Result()
		out["accuracy"], out["macro_f1"], out["examples"] = r.Accuracy, r.MacroF1, float64(r.Total)
	case ents != nil:
		r := ents.Result()
		out["entity_f1"], out["precision"], out["recall"], out["token_accuracy"], out["sentences"] = r.Micro.F1, r.Micro.Precision, r.Micro.Recall, r.TokenAccuracy, float64(r.Sentences)
	case t.kind == model.SequenceRegression:
		r := reg.Result()
		out["pearson"], out["spearman"], out["mse"] = r.Pearson, r.Spearman, r.MSE
	default:
		out["token_accuracy"] = tacc.Result()
	}
	return out, nil
}

func argmax(v []float32) int {
	best := 0
	for i, x := range v {
		if x > v[best] {
			best = i
		}
	}
	return best
}

// evaluate scores every task with an evaluation split, logs, and saves
// best/ when the selection score improved.
func (tr *Trainer) evaluate(ctx context.Context) (bool, error) {
	tr.m.SetTraining(false)
	defer tr.m.SetTraining(true)
	res := map[string]map[string]float64{}
	var scores []float64
	var names []string
	for _, t := range tr.tasks {
		if len(t.eval) == 0 {
			continue
		}
		r, err := tr.evalTask(ctx, t)
		if err != nil {
			return false, err
		}
		res[t.name] = r
		names = append(names, t.name)
		if !t.auxiliary {
			scores = append(scores, r[primary(t)])
		}
	}
	if len(res) == 0 {
		return false, nil
	}
	score, err := tr.aggregate(res, scores)
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
		t := tr.task(n)
		line += fmt.Sprintf(" %s %s=%.4f", n, primary(t), res[n][primary(t)])
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

// aggregate folds the primary metrics of the non-auxiliary tasks into the
// selection score: mean, min, or one task's primary metric.
func (tr *Trainer) aggregate(res map[string]map[string]float64, scores []float64) (float64, error) {
	switch tr.cfg.SelectMetric {
	case "mean", "min":
		if len(scores) == 0 {
			return 0, fmt.Errorf("select_metric %s: every evaluated task is auxiliary", tr.cfg.SelectMetric)
		}
		s, m := 0.0, math.Inf(1)
		for _, v := range scores {
			s += v
			m = math.Min(m, v)
		}
		if tr.cfg.SelectMetric == "min" {
			return m, nil
		}
		return s / float64(len(scores)), nil
	}
	t := tr.task(tr.cfg.SelectMetric)
	if t == nil || res[t.name] == nil {
		return 0, fmt.Errorf("select_metric %q: use mean, min, or the name of a task with an evaluation split", tr.cfg.SelectMetric)
	}
	return res[t.name][primary(t)], nil
}

package scoring

import (
	"fmt"
	"slices"

	"github.com/taskweave/taskweave/model"
)

// A group's tasks (input_from: CoNLL-2003's NER, POS and chunk columns)
// label the same rows. ScoreGroup scores all of them from one encoder pass
// per batch: the batches are the ones Score forms for the first task's
// rows, and every task's head reads the same hidden states
// (model.PredictGroup), so each task's predictions are the ones Score
// gives it alone, for one pass instead of one per task.

// GroupPredictor is the part of *model.Model ScoreGroup uses.
type GroupPredictor interface {
	PredictGroup(bs []*model.Batch) ([][]float32, error)
}

// ScoreGroup predicts the rows of a group's tasks: pools[i] are task ts[i]'s
// rows, the same examples in the same order for every task (the same ids
// and word pieces, each with its task's labels). emit gets the task's
// index in ts, the example's index in its pool and the prediction.
func ScoreGroup(m GroupPredictor, ts []Task, pools [][]Example, o Options, emit func(task, i int, p Prediction) error) error {
	if err := checkGroup(ts, pools, o); err != nil {
		return err
	}
	order := batchOrder(pools[0])
	bs := make([]*model.Batch, len(ts))
	exs := make([][]Example, len(ts))
	for start := 0; start < len(order); start += o.BatchSize {
		idx := order[start:min(start+o.BatchSize, len(order))]
		for i, t := range ts {
			exs[i] = exs[i][:0]
			for _, k := range idx {
				exs[i] = append(exs[i], pools[i][k])
			}
			var err error
			if bs[i], err = NewBatch(t.Name, exs[i]); err != nil {
				return err
			}
		}
		logits, err := m.PredictGroup(bs)
		if err != nil {
			return fmt.Errorf("scoring: group of task %s: %w", ts[0].Name, err)
		}
		for i, t := range ts {
			preds, err := decodeBatch(t, exs[i], bs[i], logits[i], o.Logits)
			if err != nil {
				return err
			}
			for j, p := range preds {
				if err := emit(i, idx[j], p); err != nil {
					return err
				}
			}
		}
	}
	return nil
}

// checkGroup refuses pools that are not the same rows.
func checkGroup(ts []Task, pools [][]Example, o Options) error {
	if o.BatchSize <= 0 {
		return fmt.Errorf("scoring: batch size %d; it must be positive", o.BatchSize)
	}
	if len(ts) == 0 || len(pools) != len(ts) {
		return fmt.Errorf("scoring: %d pools of rows for a group of %d tasks", len(pools), len(ts))
	}
	for i, t := range ts {
		if t.Kind == model.MaskedLM {
			return fmt.Errorf("scoring: task %s is a masked LM; score it with ScoreMasked", t.Name)
		}
		if len(pools[i]) != len(pools[0]) {
			return fmt.Errorf("scoring: task %s has %d rows where task %s, whose rows it labels, has %d", t.Name, len(pools[i]), ts[0].Name, len(pools[0]))
		}
		for k := range pools[i] {
			a, b := &pools[i][k], &pools[0][k]
			if a.ExampleID != b.ExampleID || !slices.Equal(a.InputIDs, b.InputIDs) {
				return fmt.Errorf("scoring: row %d of task %s is example %s, of task %s %s (or other word pieces); a group's tasks are scored on the same rows: preprocess the job again",
					k, t.Name, a.ExampleID, ts[0].Name, b.ExampleID)
			}
		}
	}
	return nil
}

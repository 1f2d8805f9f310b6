package trainer

import (
	"context"
	"errors"
	"fmt"

	"github.com/taskweave/taskweave/io/shards"
	"github.com/taskweave/taskweave/model/scoring"
)

// evalMLMExamples bounds the examples a masked LM is evaluated on: its
// decoder scores every masked piece against the whole vocabulary (29k
// pieces for BERT's), which on the full dev text of SST-2 and CoNLL costs
// more than the rest of an evaluation. The first evalMLMExamples/shards
// rows of each evaluation shard are a fixed sample, the same every time.
const evalMLMExamples = 1024

// evalMaskedLM scores a masked LM on a fixed sample of its evaluation
// shards through scoring.ScoreMasked, the path `taskweave evaluate` scores
// every row of the split by: the same mask per row (masking.ExampleRNG of
// its task and id), batching and per-row cross-entropy, evalBatch examples
// per forward pass.
func (tr *Trainer) evalMaskedLM(ctx context.Context, t *taskData) (scoring.Result, error) {
	task := scoringTask(t)
	sample, err := tr.maskedLMSample(ctx, t)
	if err != nil {
		return scoring.Result{}, err
	}
	sc, err := scoring.NewScorer(task)
	if err != nil {
		return scoring.Result{}, err
	}
	if err := ctx.Err(); err != nil {
		return scoring.Result{}, err
	}
	if err := scoring.ScoreMasked(tr.m, t.masker, task, sample, scoring.Options{BatchSize: evalBatch}, func(_ int, p scoring.Prediction) error {
		return sc.Add(p)
	}); err != nil {
		return scoring.Result{}, fmt.Errorf("evaluating %s: %w", t.name, err)
	}
	return sc.Result()
}

// maskedLMSample reads the first evalMLMExamples/shards rows of each of t's
// evaluation shards.
func (tr *Trainer) maskedLMSample(ctx context.Context, t *taskData) ([]scoring.Example, error) {
	var sample []scoring.Example
	perShard := (evalMLMExamples + len(t.eval) - 1) / max(len(t.eval), 1)
	for _, p := range t.eval {
		taken := 0
		if err := tr.readEvalShard(ctx, t, p, func(r *shards.Row) error {
			if taken++; taken > perShard {
				return errSampleFull
			}
			sample = append(sample, scoring.Example(*r))
			return nil
		}); err != nil && !errors.Is(err, errSampleFull) {
			return nil, err
		}
	}
	return sample, nil
}

// errSampleFull ends reading a shard once its share of the sample is in.
var errSampleFull = errors.New("masked-LM evaluation sample complete")

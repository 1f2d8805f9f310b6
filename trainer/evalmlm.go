package trainer

import (
	"context"
	"errors"
	"fmt"

	"github.com/taskweave/taskweave/io/shards"
	"github.com/taskweave/taskweave/model"
	"github.com/taskweave/taskweave/model/masking"
	"github.com/taskweave/taskweave/model/metrics"
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

// mlmResult is ELECTRA's figures on the evaluation split: the generator's
// masked-LM accuracy and perplexity (counted as model/metrics counts them)
// and the discriminator's.
type mlmResult struct {
	metrics.MaskedLM
	rtd *electraEval
}

// metrics names the figures as scoring and evaluate's report.json do.
func (r mlmResult) metrics() map[string]float64 {
	v := r.Result()
	out := map[string]float64{scoring.MaskedAccuracy: v.Accuracy, scoring.Perplexity: v.Perplexity, scoring.MaskedTokens: float64(v.Tokens)}
	if r.rtd != nil {
		r.rtd.metrics(out)
	}
	return out
}

// evalElectraLM scores ELECTRA on the masked-LM evaluation sample, masked
// as evalMaskedLM masks it; its selection score is the discriminator's
// accuracy (the discriminator is the encoder that is kept).
func (tr *Trainer) evalElectraLM(ctx context.Context, t *taskData) (map[string]float64, float64, error) {
	sample, err := tr.maskedLMSample(ctx, t)
	if err != nil {
		return nil, 0, err
	}
	var res mlmResult
	for lo, n := 0, 1; lo < len(sample); lo, n = lo+evalBatch, n+1 {
		if err := ctx.Err(); err != nil {
			return nil, 0, err
		}
		rows := sample[lo:min(lo+evalBatch, len(sample))]
		pool := make([]example, len(rows))
		for i, r := range rows {
			pool[i] = example{ids: append([]int32(nil), r.InputIDs...), types: append([]int32(nil), r.TokenTypeIDs...)}
		}
		b := pad(t, pool, batchConfig{})
		b.TokenLabels = make([]int32, b.B*b.T)
		for i := range b.TokenLabels {
			b.TokenLabels[i] = model.IgnoreIndex
		}
		for i, r := range rows {
			k := len(r.InputIDs)
			t.masker.Row(b.InputIDs[i*b.T:i*b.T+k], b.TokenLabels[i*b.T:i*b.T+k], masking.ExampleRNG(r.Task, r.ExampleID))
		}
		if err := tr.evalElectra(b, n, &res); err != nil {
			return nil, 0, fmt.Errorf("evaluating %s: %w", t.name, err)
		}
	}
	return res.metrics(), discAccuracy(res), nil
}

// discAccuracy is the discriminator's accuracy over an evaluation, 0 when
// it saw nothing.
func discAccuracy(res mlmResult) float64 {
	if res.rtd == nil {
		return 0
	}
	return electraFigures(res.rtd.stats, 1)[electraRTDAccuracy]
}

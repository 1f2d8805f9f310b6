package trainer

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"

	"github.com/taskweave/taskweave/io/shards"
	"github.com/taskweave/taskweave/model"
	"github.com/taskweave/taskweave/model/masking"
	"github.com/taskweave/taskweave/model/metrics"
	"github.com/taskweave/taskweave/model/scoring"
)

// mlmResult is a masked LM's figures on the evaluation split: the share of
// masked pieces predicted exactly and the perplexity exp(mean cross-entropy)
// over them, counted as evaluate counts them (model/metrics).
type mlmResult struct {
	metrics.MaskedLM
	rtd *electraEval // ELECTRA: the discriminator's figures (the MLM ones are the generator's)
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

// accuracy is the selection score: the masked-LM accuracy, or with ELECTRA
// the discriminator's (the encoder that is kept).
func (r mlmResult) accuracy() float64 {
	if r.rtd != nil {
		return electraFigures(r.rtd.stats, 1)[electraRTDAccuracy]
	}
	return r.Result().Accuracy
}

// evalMLMExamples bounds the examples a masked LM is evaluated on: its
// decoder scores every masked piece against the whole vocabulary (29k
// pieces for BERT's), which on the full dev text of SST-2 and CoNLL costs
// more than the rest of an evaluation. The first evalMLMExamples/shards
// rows of each evaluation shard are a fixed sample, the same every time.
const evalMLMExamples = 1024

// evalMaskedLM scores a masked LM on a fixed sample of its evaluation
// shards, evalBatch examples per forward pass. Each row is masked with
// masking.ExampleRNG, as `taskweave evaluate` masks it (scoring.ScoreMasked)
// when it scores every row of the split.
func (tr *Trainer) evalMaskedLM(ctx context.Context, t *taskData) (mlmResult, error) {
	var res mlmResult
	var pool []example
	var rngs []*rand.Rand
	batches := 0
	flush := func() error {
		if len(pool) == 0 {
			return nil
		}
		if err := ctx.Err(); err != nil {
			return err
		}
		b := pad(t, pool, batchConfig{})
		b.TokenLabels = make([]int32, b.B*b.T)
		for i := range b.TokenLabels {
			b.TokenLabels[i] = model.IgnoreIndex
		}
		for r, e := range pool {
			n := len(e.ids)
			t.masker.Row(b.InputIDs[r*b.T:r*b.T+n], b.TokenLabels[r*b.T:r*b.T+n], rngs[r])
		}
		pool, rngs = pool[:0], rngs[:0]
		if batches++; tr.el != nil {
			return tr.evalElectra(b, batches, &res)
		}
		out, err := tr.m.Forward(b)
		if err != nil {
			return fmt.Errorf("evaluating %s: %w", t.name, err)
		}
		if out.Scored == 0 {
			return nil
		}
		var correct int64
		row := 0
		for _, y := range b.TokenLabels {
			if y == model.IgnoreIndex {
				continue
			}
			if scoring.Argmax(out.Logits[row*out.NumLabels:(row+1)*out.NumLabels]) == int(y) {
				correct++
			}
			row++
		}
		res.Add(int64(out.Scored), correct, float64(out.Loss)*float64(out.Scored))
		return nil
	}
	perShard := (evalMLMExamples + len(t.eval) - 1) / max(len(t.eval), 1)
	for _, p := range t.eval {
		taken := 0
		if err := tr.readEvalShard(ctx, t, p, func(r *shards.Row) error {
			if taken++; taken > perShard {
				return errSampleFull
			}
			pool = append(pool, example{ids: append([]int32(nil), r.InputIDs...), types: append([]int32(nil), r.TokenTypeIDs...)})
			rngs = append(rngs, masking.ExampleRNG(r.Task, r.ExampleID))
			if len(pool) < evalBatch {
				return nil
			}
			return flush()
		}); err != nil && !errors.Is(err, errSampleFull) {
			return res, err
		}
	}
	return res, flush()
}

// errSampleFull ends reading a shard once its share of the sample is in.
var errSampleFull = errors.New("masked-LM evaluation sample complete")

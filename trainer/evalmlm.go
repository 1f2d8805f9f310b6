package trainer

import (
	"context"
	"errors"
	"fmt"
	"hash/fnv"
	"math"
	"math/rand/v2"

	"github.com/taskweave/taskweave/io/shards"
	"github.com/taskweave/taskweave/model"
	"github.com/taskweave/taskweave/model/scoring"
)

// evalMaskSeed seeds the evaluation masks: each example's mask is drawn
// from (evalMaskSeed, its task and id), so every evaluation of a run, and
// every run, scores the same masked pieces whatever the batching.
const evalMaskSeed = 0x65766d61736b

// mlmResult is a masked LM's figures on the evaluation split: the share of
// masked pieces predicted exactly and the perplexity exp(mean cross-entropy)
// over them.
type mlmResult struct {
	tokens, correct int64
	nll             float64
}

func (r mlmResult) metrics() map[string]float64 {
	return map[string]float64{"masked_accuracy": r.accuracy(), "perplexity": r.perplexity(), "masked_tokens": float64(r.tokens)}
}

func (r mlmResult) accuracy() float64 { return float64(r.correct) / float64(max(r.tokens, 1)) }

func (r mlmResult) perplexity() float64 { return math.Exp(r.nll / float64(max(r.tokens, 1))) }

// exampleMaskRNG is the generator of one evaluation example's mask.
func exampleMaskRNG(task, id string) *rand.Rand {
	h := fnv.New64a()
	h.Write([]byte(task))
	h.Write([]byte{0})
	h.Write([]byte(id))
	return rand.New(rand.NewPCG(evalMaskSeed, h.Sum64()))
}

// evalMLMExamples bounds the examples a masked LM is evaluated on: its
// decoder scores every masked piece against the whole vocabulary (29k
// pieces for BERT's), which on the full dev text of SST-2 and CoNLL costs
// more than the rest of an evaluation. The first evalMLMExamples/shards
// rows of each evaluation shard are a fixed sample, the same every time.
const evalMLMExamples = 1024

// evalMaskedLM scores a masked LM on a fixed sample of its evaluation
// shards, evalBatch examples per forward pass.
func (tr *Trainer) evalMaskedLM(ctx context.Context, t *taskData) (mlmResult, error) {
	var res mlmResult
	var pool []example
	var rngs []*rand.Rand
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
		out, err := tr.m.Forward(b)
		if err != nil {
			return fmt.Errorf("evaluating %s: %w", t.name, err)
		}
		if out.Scored == 0 {
			return nil
		}
		res.nll += float64(out.Loss) * float64(out.Scored)
		res.tokens += int64(out.Scored)
		row := 0
		for _, y := range b.TokenLabels {
			if y == model.IgnoreIndex {
				continue
			}
			if scoring.Argmax(out.Logits[row*out.NumLabels:(row+1)*out.NumLabels]) == int(y) {
				res.correct++
			}
			row++
		}
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
			rngs = append(rngs, exampleMaskRNG(r.Task, r.ExampleID))
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

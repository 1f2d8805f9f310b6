package score

import (
	"sync"

	"github.com/taskweave/taskweave/model"
	"github.com/taskweave/taskweave/model/masking"
	"github.com/taskweave/taskweave/model/scoring"
)

// predictMu serialises forward passes within a worker process. A runner
// may run several bundles at once, each with its own ScoreFn instance and
// model, but one forward pass already uses every core (parallel GEMM, or
// OpenBLAS threads); concurrent passes only oversubscribe the cores and
// thrash the caches (measured on prism with the mini size and four shards:
// 27% of the single-model forward speed without this lock).
var predictMu sync.Mutex

// serialPredictor runs one forward pass at a time per process.
type serialPredictor struct{ m scoring.Predictor }

func (s serialPredictor) Predict(b *model.Batch) ([]float32, error) {
	predictMu.Lock()
	defer predictMu.Unlock()
	return s.m.Predict(b)
}

// pending holds the rows of one task waiting to be scored, with the shard
// each came from.
type pending struct {
	parts []string
	exs   []scoring.Example
}

// scoreRows scores the buffered rows with scoring.Score (length-sorted
// batches of batchSize) and emits one Prediction per row.
func scoreRows(m scoring.Predictor, t scoring.Task, modelName string, rows *pending, batchSize int, emit func(Prediction)) error {
	return scoring.Score(serialPredictor{m}, t, rows.exs, scoring.Options{BatchSize: batchSize}, func(i int, p scoring.Prediction) error {
		emit(Prediction{Model: modelName, Part: rows.parts[i], Prediction: p})
		return nil
	})
}

// scoreMasked scores the buffered rows of a masked LM (scoring.ScoreMasked:
// each row masked as the trainer's dev evaluation masks it) and emits one
// Prediction per row with its masked, correct and summed NLL. The lock
// covers each forward pass and the reading of its logits, which alias the
// process's shared model.
func scoreMasked(m scoring.Forwarder, mk *masking.Masker, t scoring.Task, modelName string, rows *pending, batchSize int, emit func(Prediction)) error {
	return scoring.ScoreMasked(m, mk, t, rows.exs, scoring.Options{BatchSize: batchSize, Serial: &predictMu}, func(i int, p scoring.Prediction) error {
		emit(Prediction{Model: modelName, Part: rows.parts[i], Prediction: p})
		return nil
	})
}

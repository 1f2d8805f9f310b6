package score

import (
	"sync"
	"sync/atomic"

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
	defer countPasses(s.m, 1)()
	return s.m.Predict(b)
}

// passes counts, in this process, the batches scored (one Predict or
// PredictGroup call), the heads they served and the encoder passes they
// ran: what shows that a group's batch costs one pass for all of its tasks.
var passes struct{ batches, heads, encoder atomic.Int64 }

// PassCount is what Passes reports.
type PassCount struct {
	Batches int64 // Predict and PredictGroup calls
	Heads   int64 // heads scored by them (a group's batch: one per task)
	Encoder int64 // encoder passes they ran
}

// Passes returns the counts so far in this process (on prism, the workers
// run in it).
func Passes() PassCount {
	return PassCount{passes.batches.Load(), passes.heads.Load(), passes.encoder.Load()}
}

// countPasses counts one batch for heads heads and, when it returns, the
// encoder passes m ran meanwhile (called under predictMu).
func countPasses(m any, heads int) func() {
	c, ok := m.(interface{ EncoderPasses() uint64 })
	if !ok {
		return func() {}
	}
	before := c.EncoderPasses()
	return func() {
		passes.batches.Add(1)
		passes.heads.Add(int64(heads))
		passes.encoder.Add(int64(c.EncoderPasses() - before))
	}
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

// serialGroup runs one group's forward pass at a time per process, under
// the lock every forward pass of the process takes.
type serialGroup struct{ m scoring.GroupPredictor }

func (s serialGroup) PredictGroup(bs []*model.Batch) ([][]float32, error) {
	predictMu.Lock()
	defer predictMu.Unlock()
	defer countPasses(s.m, len(bs))()
	return s.m.PredictGroup(bs)
}

// pendingGroup holds the rows of a group's tasks waiting to be scored:
// exs[i] are tasks[i]'s, the same examples in the same order.
type pendingGroup struct {
	tasks []scoring.Task
	parts []string
	exs   [][]scoring.Example
}

// scoreGroupRows scores a group's buffered rows with scoring.ScoreGroup
// (one encoder pass per batch for all of its tasks) and emits one
// Prediction per row and task.
func scoreGroupRows(m scoring.GroupPredictor, modelName string, rows *pendingGroup, batchSize int, emit func(Prediction)) error {
	return scoring.ScoreGroup(serialGroup{m}, rows.tasks, rows.exs, scoring.Options{BatchSize: batchSize}, func(_, i int, p scoring.Prediction) error {
		emit(Prediction{Model: modelName, Part: rows.parts[i], Prediction: p})
		return nil
	})
}

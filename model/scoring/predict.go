package scoring

import (
	"fmt"
	"slices"
	"sort"
	"sync"

	"github.com/taskweave/taskweave/model"
	"github.com/taskweave/taskweave/model/kernels"
	"github.com/taskweave/taskweave/model/masking"
)

// Example is one preprocessed row. It has exactly io/shards.Row's fields
// (without the Parquet tags), so a shard row converts with
// scoring.Example(row) and the compiler keeps the two in step, while model/
// stays free of Parquet and storage.
type Example struct {
	Task         string
	Split        string
	ExampleID    string
	InputIDs     []int32
	TokenTypeIDs []int32
	Label        int32 // class id; -1 = unlabeled
	Target       float32
	TokenLabels  []int32 // per input id; model.IgnoreIndex where nothing is scored
	WordIDs      []int32 // per input id: the word (index into Words) it belongs to, -1 for specials
	Words        []string
	Text         string
}

// Prediction is one scored example. Which fields are set depends on Kind.
type Prediction struct {
	Task      string
	Kind      model.HeadKind
	ExampleID string
	Text      string
	Tokens    int64 // WordPiece tokens fed to the model (for throughput)
	Rows      int64 // rows behind this prediction: >1 when windows were stitched back

	// sequence classification: label ids (Gold -1 = unlabeled) and the
	// softmax over the classes.
	Gold, Pred int32
	Scores     []float32

	// regression (GoldValue NaN = unlabeled)
	GoldValue, PredValue float32

	// token classification, per scored word (first subword): the word, the
	// gold and predicted tags and the probability of the predicted tag.
	// GoldTags nil = unlabeled.
	Words      []string
	GoldTags   []string
	PredTags   []string
	WordScores []float32

	// Logits are the raw outputs, kept only when Options.Logits asks:
	// Outputs() values for a sentence, Outputs() per word for a token task.
	Logits []float32

	// masked LM (ScoreMasked): the pieces masked in this row, how many of
	// them the argmax restored, and their summed cross-entropy in nats.
	Masked, Correct int64
	NLL             float64
}

// Predictor is the part of *model.Model scoring uses.
type Predictor interface {
	Predict(b *model.Batch) ([]float32, error)
}

// Forwarder is the part of *model.Model masked-LM scoring uses: Forward
// with TokenLabels set computes the logits of the labelled positions only
// ([Scored, vocab]), where Predict would return all B×T×vocab of them.
type Forwarder interface {
	Forward(b *model.Batch) (*model.Output, error)
}

// Options tune Score and ScoreMasked.
type Options struct {
	BatchSize int  // examples per forward pass; must be positive
	Logits    bool // keep each prediction's raw logits (predict prints them)
	// Serial, when set, is held around each of ScoreMasked's forward passes
	// and the reading of its outputs, which alias the model's buffers:
	// evaluate's workers share one model per process.
	Serial sync.Locker
}

// Score predicts exs with m in batches: it orders them by length (so a batch
// pads little), then by example id (so batches do not depend on arrival
// order), and calls emit with each example's index in exs and its
// prediction, in that order.
func Score(m Predictor, t Task, exs []Example, o Options, emit func(i int, p Prediction) error) error {
	if o.BatchSize <= 0 {
		return fmt.Errorf("scoring: batch size %d; it must be positive", o.BatchSize)
	}
	if t.Kind == model.MaskedLM {
		return fmt.Errorf("scoring: task %s is a masked LM; score it with ScoreMasked", t.Name)
	}
	return inBatches(exs, o.BatchSize, func(batch []Example) ([]Prediction, error) {
		return PredictBatch(m, t, batch, o.Logits)
	}, emit)
}

// inBatches predicts exs in batches of at most size examples, ordered by
// length and then example id (so a batch pads little and does not depend on
// arrival order), and emits each prediction with its example's index in exs.
func inBatches(exs []Example, size int, predict func(batch []Example) ([]Prediction, error), emit func(i int, p Prediction) error) error {
	order := batchOrder(exs)
	batch := make([]Example, 0, size)
	for start := 0; start < len(order); start += size {
		idx := order[start:min(start+size, len(order))]
		batch = batch[:0]
		for _, i := range idx {
			batch = append(batch, exs[i])
		}
		preds, err := predict(batch)
		if err != nil {
			return err
		}
		for k, p := range preds {
			if err := emit(idx[k], p); err != nil {
				return err
			}
		}
	}
	return nil
}

// batchOrder is the order Score predicts exs in: by length, then by example id.
func batchOrder(exs []Example) []int {
	order := make([]int, len(exs))
	for i := range order {
		order[i] = i
	}
	sort.SliceStable(order, func(i, j int) bool {
		a, b := &exs[order[i]], &exs[order[j]]
		if len(a.InputIDs) != len(b.InputIDs) {
			return len(a.InputIDs) < len(b.InputIDs)
		}
		return a.ExampleID < b.ExampleID
	})
	return order
}

// ScoreMasked scores a masked LM on exs, in batches as Score forms them:
// each row is masked by mk with masking.ExampleRNG(row's task, example id),
// as the trainer's dev evaluation masks it, so a row's figures do not depend
// on the batch it lands in; one forward pass per batch scores the masked
// pieces. emit gets each example's index in exs and its Masked, Correct and
// NLL (a row with nothing masked has zeros and costs no forward pass).
func ScoreMasked(f Forwarder, mk *masking.Masker, t Task, exs []Example, o Options, emit func(i int, p Prediction) error) error {
	if o.BatchSize <= 0 {
		return fmt.Errorf("scoring: batch size %d; it must be positive", o.BatchSize)
	}
	if t.Kind != model.MaskedLM {
		return fmt.Errorf("scoring: task %s is %s, not a masked LM", t.Name, t.Kind)
	}
	return inBatches(exs, o.BatchSize, func(batch []Example) ([]Prediction, error) {
		return maskedBatch(f, mk, t, batch, o.Serial)
	}, emit)
}

func maskedBatch(f Forwarder, mk *masking.Masker, t Task, exs []Example, serial sync.Locker) ([]Prediction, error) {
	b, err := NewBatch(t.Name, exs)
	if err != nil {
		return nil, err
	}
	b.TokenLabels = make([]int32, b.B*b.T)
	for i := range b.TokenLabels {
		b.TokenLabels[i] = model.IgnoreIndex
	}
	out := make([]Prediction, len(exs))
	masked := 0
	for r := range exs {
		e := &exs[r]
		n := len(e.InputIDs)
		k := mk.Row(b.InputIDs[r*b.T:r*b.T+n], b.TokenLabels[r*b.T:r*b.T+n], masking.ExampleRNG(e.Task, e.ExampleID))
		out[r] = Prediction{Task: t.Name, Kind: t.Kind, ExampleID: e.ExampleID, Text: e.Text, Tokens: int64(n), Rows: 1, Masked: int64(k)}
		masked += k
	}
	if masked == 0 {
		return out, nil
	}
	if serial != nil {
		serial.Lock()
		defer serial.Unlock()
	}
	res, err := f.Forward(b)
	if err != nil {
		return nil, fmt.Errorf("scoring: task %s: %w", t.Name, err)
	}
	V := res.NumLabels
	if res.Scored != masked || V <= 0 || len(res.Logits) < masked*V {
		return nil, fmt.Errorf("scoring: task %s: the model scored %d pieces (%d logits of %d outputs) for %d masked; is its head a masked LM?",
			t.Name, res.Scored, len(res.Logits), V, masked)
	}
	// Logits hold the masked positions in batch order, row by row.
	s := 0
	for r := range exs {
		for _, y := range b.TokenLabels[r*b.T : (r+1)*b.T] {
			if y == model.IgnoreIndex {
				continue
			}
			row := res.Logits[s*V : (s+1)*V]
			if Argmax(row) == int(y) {
				out[r].Correct++
			}
			out[r].NLL += crossEntropy(row, int(y))
			s++
		}
	}
	return out, nil
}

// crossEntropy is −log softmax(x)[y].
func crossEntropy(x []float32, y int) float64 { return kernels.LogSumExp(x) - float64(x[y]) }

// NewBatch pads examples into one model batch: right-padded with id 0 and
// mask 0, no labels (scoring reads gold labels from the examples).
func NewBatch(task string, exs []Example) (*model.Batch, error) {
	B, T := len(exs), 0
	for _, e := range exs {
		if len(e.InputIDs) == 0 {
			return nil, fmt.Errorf("scoring: task %s example %s has no input_ids", task, e.ExampleID)
		}
		T = max(T, len(e.InputIDs))
	}
	b := &model.Batch{Task: task, B: B, T: T,
		InputIDs: make([]int32, B*T), TokenTypeIDs: make([]int32, B*T), Mask: make([]int32, B*T)}
	for i, e := range exs {
		copy(b.InputIDs[i*T:], e.InputIDs)
		if len(e.TokenTypeIDs) == len(e.InputIDs) {
			copy(b.TokenTypeIDs[i*T:], e.TokenTypeIDs)
		}
		for j := range e.InputIDs {
			b.Mask[i*T+j] = 1
		}
	}
	return b, nil
}

// PredictBatch runs one forward pass over exs and decodes every example.
func PredictBatch(m Predictor, t Task, exs []Example, keepLogits bool) ([]Prediction, error) {
	if len(exs) == 0 {
		return nil, nil
	}
	if t.Kind == model.MaskedLM {
		return nil, fmt.Errorf("scoring: task %s is a masked LM; score it with ScoreMasked", t.Name)
	}
	b, err := NewBatch(t.Name, exs)
	if err != nil {
		return nil, err
	}
	logits, err := m.Predict(b)
	if err != nil {
		return nil, fmt.Errorf("scoring: task %s: %w", t.Name, err)
	}
	return decodeBatch(t, exs, b, logits, keepLogits)
}

// decodeBatch decodes the logits of batch b, made of exs.
func decodeBatch(t Task, exs []Example, b *model.Batch, logits []float32, keepLogits bool) ([]Prediction, error) {
	var err error
	L := t.Outputs()
	per := L
	if t.Kind == model.TokenClassification {
		per = b.T * L
	}
	if len(logits) != b.B*per {
		return nil, fmt.Errorf("scoring: task %s: the model's head returned %d logits for a %d×%d batch; %d outputs need %d",
			t.Name, len(logits), b.B, b.T, L, b.B*per)
	}
	out := make([]Prediction, len(exs))
	for i := range exs {
		if out[i], err = Decode(t, &exs[i], logits[i*per:(i+1)*per], keepLogits); err != nil {
			return nil, err
		}
	}
	return out, nil
}

// Decode turns one example's logits into its prediction: Outputs() values
// for a sentence, len(InputIDs) or more rows of Outputs() for a token task
// (a padded batch row).
//
// A token task is scored at word level: each word is read at its first
// subword (the first position whose word_ids entry names it), and only where
// that subword carries a label (not -100), so the context-only subwords of a
// window are not counted twice. A row without any token label (an unlabeled
// test file) gets a prediction for every word and nil GoldTags.
func Decode(t Task, e *Example, logits []float32, keepLogits bool) (Prediction, error) {
	L := t.Outputs()
	p := Prediction{Task: t.Name, Kind: t.Kind, ExampleID: e.ExampleID, Text: e.Text,
		Tokens: int64(len(e.InputIDs)), Rows: 1}
	switch t.Kind {
	case model.SequenceClassification:
		if e.Label >= int32(L) {
			return p, fmt.Errorf("scoring: task %s example %s has label id %d but the task has %d labels", t.Name, e.ExampleID, e.Label, L)
		}
		p.Gold = max(e.Label, -1)
		p.Pred = int32(Argmax(logits[:L]))
		p.Scores = Softmax(logits[:L])
		if keepLogits {
			p.Logits = logits[:L:L]
		}
	case model.SequenceRegression:
		p.GoldValue, p.PredValue = e.Target, logits[0]
		if keepLogits {
			p.Logits = logits[:1:1]
		}
	case model.TokenClassification:
		if err := decodeWords(&p, t, e, logits, keepLogits); err != nil {
			return p, err
		}
	default:
		return p, fmt.Errorf("scoring: task %s: kind %q cannot be scored", t.Name, t.Kind)
	}
	return p, nil
}

func decodeWords(p *Prediction, t Task, e *Example, logits []float32, keepLogits bool) error {
	L := t.Outputs()
	n := len(e.InputIDs)
	if len(e.WordIDs) != n || len(e.TokenLabels) != n {
		return fmt.Errorf("scoring: task %s example %s: word_ids (%d) and token_labels (%d) must have one entry per input id (%d)",
			t.Name, e.ExampleID, len(e.WordIDs), len(e.TokenLabels), n)
	}
	if len(logits) < n*L {
		return fmt.Errorf("scoring: task %s example %s: %d logits for %d tokens of %d labels", t.Name, e.ExampleID, len(logits), n, L)
	}
	labeled := false
	for _, l := range e.TokenLabels {
		if l != model.IgnoreIndex {
			labeled = true
			break
		}
	}
	if !labeled && continuationOnly(e) {
		// A window holding nothing but the rest of a word too long for one
		// window: the word was scored in the window where it starts.
		return nil
	}
	seen := make(map[int32]bool, n)
	for i, w := range e.WordIDs {
		if w < 0 || seen[w] {
			continue
		}
		seen[w] = true
		gold := e.TokenLabels[i]
		if labeled && gold == model.IgnoreIndex {
			continue // the continuation of a word spread over windows
		}
		if labeled && (gold < 0 || int(gold) >= L) {
			return fmt.Errorf("scoring: task %s example %s: token label id %d at position %d outside the task's %d labels",
				t.Name, e.ExampleID, gold, i, L)
		}
		row := logits[i*L : (i+1)*L]
		k := Argmax(row)
		word := ""
		if int(w) < len(e.Words) {
			word = e.Words[w]
		}
		p.Words = append(p.Words, word)
		if labeled {
			p.GoldTags = append(p.GoldTags, t.Labels[gold])
		}
		p.PredTags = append(p.PredTags, t.Labels[k])
		p.WordScores = append(p.WordScores, Softmax(row)[k])
		if keepLogits {
			p.Logits = append(p.Logits, row...)
		}
	}
	return nil
}

// continuationOnly reports whether e is a later window ("#w<k>", k > 0)
// whose only word is word 0, i.e. the tail of a word spread over windows.
func continuationOnly(e *Example) bool {
	if _, k, ok := ParseWindowID(e.ExampleID); !ok || k == 0 {
		return false
	}
	for _, w := range e.WordIDs {
		if w > 0 {
			return false
		}
	}
	return true
}

// Argmax returns the first index of the largest value: ties go to the lower
// label id, deterministically. It is the only argmax in taskweave.
func Argmax(x []float32) int {
	k := 0
	for i, v := range x {
		if v > x[k] {
			k = i
		}
	}
	return k
}

// Softmax returns the probabilities of logits x (kernels.Softmax on a copy).
func Softmax(x []float32) []float32 {
	out := slices.Clone(x)
	kernels.Softmax(out, len(out), len(out), 1)
	return out
}

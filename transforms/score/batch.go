package score

import (
	"fmt"
	"math"
	"sort"
	"sync"

	"github.com/taskweave/taskweave/io/shards"
	"github.com/taskweave/taskweave/model"
)

// Predictor is the part of *model.Model the scorer uses.
type Predictor interface {
	Predict(b *model.Batch) ([]float32, error)
}

// predictMu serialises forward passes within a worker process. A runner
// may run several bundles at once, each with its own ScoreFn instance and
// model, but one forward pass already uses every core (parallel GEMM, or
// OpenBLAS threads); concurrent passes only oversubscribe the cores and
// thrash the caches (measured on prism with the mini size and four shards:
// 27% of the single-model forward speed without this lock).
var predictMu sync.Mutex

// pending is a row waiting in a batch buffer, with the shard it came from.
type pending struct {
	part string
	row  shards.Row
}

// batcher pads rows into model batches; its buffers are reused across
// batches because a DoFn instance scores many of them.
type batcher struct {
	ids, types, mask []int32
}

// scoreRows sorts rows by length (so each batch pads little), scores them in
// batches of batchSize and emits one Prediction per row. The sort is stable
// on example id for equal lengths, so batches do not depend on arrival order.
func (bt *batcher) scoreRows(m Predictor, spec TaskSpec, modelName string, rows []pending, batchSize int, emit func(Prediction)) error {
	sort.SliceStable(rows, func(i, j int) bool {
		a, b := rows[i].row, rows[j].row
		if len(a.InputIDs) != len(b.InputIDs) {
			return len(a.InputIDs) < len(b.InputIDs)
		}
		return a.ExampleID < b.ExampleID
	})
	for start := 0; start < len(rows); start += batchSize {
		end := min(start+batchSize, len(rows))
		if err := bt.scoreBatch(m, spec, modelName, rows[start:end], emit); err != nil {
			return err
		}
	}
	return nil
}

func (bt *batcher) scoreBatch(m Predictor, spec TaskSpec, modelName string, rows []pending, emit func(Prediction)) error {
	B, T := len(rows), 0
	for _, r := range rows {
		T = max(T, len(r.row.InputIDs))
	}
	if T == 0 {
		return fmt.Errorf("score: task %s example %s has no input_ids", spec.Name, rows[0].row.ExampleID)
	}
	n := B * T
	if cap(bt.ids) < n {
		bt.ids, bt.types, bt.mask = make([]int32, n), make([]int32, n), make([]int32, n)
	}
	ids, types, mask := bt.ids[:n], bt.types[:n], bt.mask[:n]
	clear(ids)
	clear(types)
	clear(mask)
	for b, r := range rows {
		copy(ids[b*T:], r.row.InputIDs)
		if len(r.row.TokenTypeIDs) == len(r.row.InputIDs) {
			copy(types[b*T:], r.row.TokenTypeIDs)
		}
		for t := range r.row.InputIDs {
			mask[b*T+t] = 1
		}
	}
	predictMu.Lock()
	logits, err := m.Predict(&model.Batch{Task: spec.Name, B: B, T: T, InputIDs: ids, TokenTypeIDs: types, Mask: mask})
	predictMu.Unlock()
	if err != nil {
		return fmt.Errorf("score: task %s: %w", spec.Name, err)
	}
	L := len(spec.Labels)
	if spec.Kind == KindRegression {
		L = 1
	}
	want := B * L
	if spec.Kind == KindToken {
		want = B * T * L
	}
	if len(logits) != want {
		return fmt.Errorf("score: task %s: the model's head returned %d logits for a %d×%d batch; %d labels need %d",
			spec.Name, len(logits), B, T, L, want)
	}
	for b, r := range rows {
		p := Prediction{Model: modelName, Task: spec.Name, Kind: spec.Kind, Part: r.part,
			ExampleID: r.row.ExampleID, Text: r.row.Text, Tokens: int64(len(r.row.InputIDs))}
		switch spec.Kind {
		case KindClassification:
			p.Scores = softmax(logits[b*L : (b+1)*L])
			p.Pred = int32(argmax(p.Scores))
			p.Gold = r.row.Label
			if p.Gold >= int32(L) {
				return fmt.Errorf("score: task %s example %s has label id %d but the task has %d labels", spec.Name, p.ExampleID, p.Gold, L)
			}
			if p.Gold < 0 {
				p.Gold = -1
			}
		case KindRegression:
			p.PredValue = logits[b]
			p.GoldValue = r.row.Target
		case KindToken:
			if err := decodeTokens(&p, spec, r.row, logits[b*T*L:(b+1)*T*L], L); err != nil {
				return err
			}
		}
		emit(p)
	}
	return nil
}

// decodeTokens scores a token-task row at word level: each word is read at
// its first subword (the first position whose word_ids entry names it), and
// only where that subword carries a label (not -100), so context-only
// subwords of a window are not counted twice. A row without any token label
// (an unlabeled test file) gets predictions for every word and nil GoldTags,
// and is counted as unlabeled.
func decodeTokens(p *Prediction, spec TaskSpec, r shards.Row, logits []float32, L int) error {
	if len(r.WordIDs) != len(r.InputIDs) || len(r.TokenLabels) != len(r.InputIDs) {
		return fmt.Errorf("score: task %s example %s: word_ids (%d) and token_labels (%d) must have one entry per input id (%d)",
			spec.Name, r.ExampleID, len(r.WordIDs), len(r.TokenLabels), len(r.InputIDs))
	}
	labeled := false
	for _, l := range r.TokenLabels {
		if l != model.IgnoreIndex {
			labeled = true
			break
		}
	}
	if !labeled && continuationOnly(r) {
		// A window holding nothing but the rest of a word too long for one
		// window: the word was scored in the window where it starts.
		return nil
	}
	seen := make(map[int32]bool, len(r.InputIDs))
	for i, w := range r.WordIDs {
		if w < 0 || seen[w] {
			continue
		}
		seen[w] = true
		gold := r.TokenLabels[i]
		if labeled && gold == model.IgnoreIndex {
			continue // the continuation of a word spread over windows
		}
		if labeled && (gold < 0 || int(gold) >= L) {
			return fmt.Errorf("score: task %s example %s: token label id %d at position %d outside the task's %d labels",
				spec.Name, r.ExampleID, gold, i, L)
		}
		probs := softmax(logits[i*L : (i+1)*L])
		k := argmax(probs)
		word := ""
		if int(w) < len(r.Words) {
			word = r.Words[w]
		}
		p.Words = append(p.Words, word)
		if labeled {
			p.GoldTags = append(p.GoldTags, spec.Labels[gold])
		}
		p.PredTags = append(p.PredTags, spec.Labels[k])
		p.WordScores = append(p.WordScores, probs[k])
	}
	return nil
}

// continuationOnly reports whether r is a later window ("#w<k>", k > 0)
// whose only word is word 0, i.e. the tail of a word spread over windows.
func continuationOnly(r shards.Row) bool {
	m := windowID.FindStringSubmatch(r.ExampleID)
	if m == nil || m[2] == "0" {
		return false
	}
	for _, w := range r.WordIDs {
		if w > 0 {
			return false
		}
	}
	return true
}

func softmax(x []float32) []float32 {
	out := make([]float32, len(x))
	mx := math.Inf(-1)
	for _, v := range x {
		mx = math.Max(mx, float64(v))
	}
	var sum float64
	for i, v := range x {
		e := math.Exp(float64(v) - mx)
		out[i] = float32(e)
		sum += e
	}
	for i := range out {
		out[i] = float32(float64(out[i]) / sum)
	}
	return out
}

// argmax returns the first index of the largest value (ties go to the lower
// label id, deterministically).
func argmax(x []float32) int {
	k := 0
	for i, v := range x {
		if v > x[k] {
			k = i
		}
	}
	return k
}

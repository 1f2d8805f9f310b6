package metrics

import "math"

// MaskedLM counts a masked language model's predictions of its masked
// pieces: how many were scored, how many the argmax got right, and their
// summed cross-entropy in nats. Counts merge exactly; NLL is a float sum,
// so partial sums merged in another order agree to rounding.
type MaskedLM struct {
	Tokens  int64
	Correct int64
	NLL     float64
}

// Add counts one example's masked pieces.
func (a *MaskedLM) Add(tokens, correct int64, nll float64) {
	a.Tokens += tokens
	a.Correct += correct
	a.NLL += nll
}

// Merge adds o's counts into a.
func (a *MaskedLM) Merge(o *MaskedLM) {
	if o != nil {
		a.Add(o.Tokens, o.Correct, o.NLL)
	}
}

// MaskedLMResult is a masked LM's figures: the share of masked pieces
// predicted exactly and the perplexity exp(mean cross-entropy) over them.
type MaskedLMResult struct {
	Accuracy   float64 `json:"masked_accuracy"`
	Perplexity float64 `json:"perplexity"`
	Tokens     int64   `json:"masked_tokens"`
	Correct    int64   `json:"correct"`
	NLL        float64 `json:"nll"` // summed over the masked pieces, nats
}

// Result computes the figures. With nothing masked the accuracy is 0 and
// the perplexity 1 (exp of an empty mean), as the trainer has always logged.
func (a *MaskedLM) Result() MaskedLMResult {
	n := float64(max(a.Tokens, 1))
	return MaskedLMResult{Accuracy: float64(a.Correct) / n, Perplexity: math.Exp(a.NLL / n), Tokens: a.Tokens, Correct: a.Correct, NLL: a.NLL}
}

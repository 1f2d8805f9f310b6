package metrics

import (
	"fmt"
	"math"
)

// Confusion accumulates a confusion matrix over N classes. M[gold*N+pred]
// counts examples of gold class gold predicted as pred.
type Confusion struct {
	N int
	M []int64
}

// NewConfusion returns an empty confusion matrix over n classes.
func NewConfusion(n int) *Confusion {
	return &Confusion{N: n, M: make([]int64, n*n)}
}

// Add counts one example. Class ids outside [0, N) are an error rather than
// being dropped, so a label-list mismatch cannot skew the figures silently.
func (c *Confusion) Add(gold, pred int) error {
	if gold < 0 || gold >= c.N || pred < 0 || pred >= c.N {
		return fmt.Errorf("metrics: class id out of range (gold %d, predicted %d, %d classes)", gold, pred, c.N)
	}
	c.M[gold*c.N+pred]++
	return nil
}

// Merge adds o's counts into c. Both must have the same number of classes.
func (c *Confusion) Merge(o *Confusion) error {
	if o == nil {
		return nil
	}
	if o.N != c.N {
		return fmt.Errorf("metrics: merging confusion matrices of %d and %d classes", c.N, o.N)
	}
	for i, v := range o.M {
		c.M[i] += v
	}
	return nil
}

// PRF is precision, recall and F1 of one class or entity type, with the
// counts they come from. Support is the number of gold items.
type PRF struct {
	Precision float64 `json:"precision"`
	Recall    float64 `json:"recall"`
	F1        float64 `json:"f1"`
	Support   int64   `json:"support"`
	Predicted int64   `json:"predicted"`
	Correct   int64   `json:"correct"`
}

// prf computes precision, recall and F1 from counts; an empty denominator
// gives 0 (the convention of conlleval and of scikit-learn's zero_division=0).
func prf(correct, predicted, gold int64) PRF {
	r := PRF{Support: gold, Predicted: predicted, Correct: correct}
	if predicted > 0 {
		r.Precision = float64(correct) / float64(predicted)
	}
	if gold > 0 {
		r.Recall = float64(correct) / float64(gold)
	}
	if r.Precision+r.Recall > 0 {
		r.F1 = 2 * r.Precision * r.Recall / (r.Precision + r.Recall)
	}
	return r
}

// ClassificationResult holds the sentence-classification metrics.
type ClassificationResult struct {
	Total    int64   `json:"total"`
	Accuracy float64 `json:"accuracy"`
	// MacroF1 is the unweighted mean F1 over the classes that occur in the
	// gold labels or the predictions (scikit-learn's default label set).
	MacroF1 float64 `json:"macro_f1"`
	// MCC is the multi-class Matthews correlation (Gorodkin's R_K); 0 when
	// either marginal is constant.
	MCC       float64   `json:"mcc"`
	PerClass  []PRF     `json:"per_class"`
	Confusion [][]int64 `json:"confusion"`
}

// Result computes the metrics from the counts.
func (c *Confusion) Result() ClassificationResult {
	n := c.N
	res := ClassificationResult{PerClass: make([]PRF, n), Confusion: make([][]int64, n)}
	gold := make([]int64, n)
	pred := make([]int64, n)
	var diag, total int64
	for g := 0; g < n; g++ {
		res.Confusion[g] = append([]int64(nil), c.M[g*n:(g+1)*n]...)
		for p := 0; p < n; p++ {
			v := c.M[g*n+p]
			gold[g] += v
			pred[p] += v
			total += v
		}
		diag += c.M[g*n+g]
	}
	res.Total = total
	if total > 0 {
		res.Accuracy = float64(diag) / float64(total)
	}
	var f1sum float64
	var present int
	for k := 0; k < n; k++ {
		res.PerClass[k] = prf(c.M[k*n+k], pred[k], gold[k])
		if gold[k] > 0 || pred[k] > 0 {
			f1sum += res.PerClass[k].F1
			present++
		}
	}
	if present > 0 {
		res.MacroF1 = f1sum / float64(present)
	}
	// R_K = (c*s - Σ p_k t_k) / sqrt((s² - Σ p_k²)(s² - Σ t_k²)), in float64
	// because the squared totals overflow int64 long before the counts do.
	s, cc := float64(total), float64(diag)
	var pt, pp, tt float64
	for k := 0; k < n; k++ {
		pt += float64(pred[k]) * float64(gold[k])
		pp += float64(pred[k]) * float64(pred[k])
		tt += float64(gold[k]) * float64(gold[k])
	}
	if den := (s*s - pp) * (s*s - tt); den > 0 {
		res.MCC = (cc*s - pt) / math.Sqrt(den)
	}
	return res
}

// TokenAccuracy counts correctly tagged tokens (POS and chunk tagging).
type TokenAccuracy struct {
	Correct int64
	Total   int64
}

// Add counts one sentence's tags; gold and pred must have equal length.
func (a *TokenAccuracy) Add(gold, pred []string) error {
	if len(gold) != len(pred) {
		return fmt.Errorf("metrics: %d gold tags but %d predicted", len(gold), len(pred))
	}
	for i := range gold {
		if gold[i] == pred[i] {
			a.Correct++
		}
	}
	a.Total += int64(len(gold))
	return nil
}

// Merge adds o's counts into a.
func (a *TokenAccuracy) Merge(o *TokenAccuracy) {
	if o != nil {
		a.Correct += o.Correct
		a.Total += o.Total
	}
}

// Result is the share of correct tokens (0 when nothing was counted).
func (a *TokenAccuracy) Result() float64 {
	if a.Total == 0 {
		return 0
	}
	return float64(a.Correct) / float64(a.Total)
}

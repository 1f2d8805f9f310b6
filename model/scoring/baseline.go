package scoring

import (
	"fmt"
	"maps"
	"slices"
)

// Baseline is what a model with nothing learnt scores on one metric of a
// split: a figure only means something beside it (issue 26: the demo's
// "sst2 accuracy 0.615" against a majority class of 0.51, "entity_f1 0.07"
// against 0). The baselines are computed from the split's own gold labels,
// so a skewed dev set shows as a high baseline rather than as skill.
type Baseline struct {
	Metric string  `json:"metric"`
	Value  float64 `json:"value"`
	Name   string  `json:"name"` // the trivial predictor, short: "majority class"
	Rule   string  `json:"rule"` // what it predicts, for the report
}

// Names of the trivial predictors.
const (
	MajorityClass = "majority class"
	MajorityTag   = "majority tag"
	NoEntity      = "no entity"
	ConstantPred  = "constant"
	MeanPred      = "mean"
)

// baselines lists the trivial predictors' figures for the headline
// metrics of a's kind (none for a masked LM, whose baseline is not one
// prediction).
func (a Acc) baselines() []Baseline {
	switch {
	case a.Class != nil:
		return a.classBaselines()
	case a.Reg != nil:
		return regressionBaselines(a.Reg.Gold)
	case a.Ent != nil:
		none := "predicts no entity (every word O)"
		out := []Baseline{{EntityPrecision, 0, NoEntity, none}, {EntityRecall, 0, NoEntity, none}, {EntityF1, 0, NoEntity, none}}
		if tag, share, ok := majority(a.GoldTags); ok {
			out = append(out, Baseline{TokenAccuracy, share, MajorityTag, fmt.Sprintf("tags every word %s, the split's most frequent gold tag", tag)})
		}
		return out
	case a.Tok != nil:
		if tag, share, ok := majority(a.GoldTags); ok {
			return []Baseline{{TokenAccuracy, share, MajorityTag, fmt.Sprintf("tags every word %s, the split's most frequent gold tag", tag)}}
		}
	}
	return nil
}

// classBaselines: always predicting the most frequent gold class gives
// its share as accuracy, its own F1 (2p/(1+p)) over the gold classes for
// macro F1 (every other class scores 0), and MCC 0.
func (a Acc) classBaselines() []Baseline {
	counts := map[string]int64{}
	n := a.Class.N
	var classes int
	for g := 0; g < n; g++ {
		var support int64
		for p := 0; p < n; p++ {
			support += a.Class.M[g*n+p]
		}
		if support > 0 {
			counts[labelAt(a.Labels, g)] = support
			classes++
		}
	}
	label, p, ok := majority(counts)
	if !ok {
		return nil
	}
	rule := fmt.Sprintf("always predicts %s, the split's most frequent gold class", label)
	return []Baseline{{Accuracy, p, MajorityClass, rule}, {MacroF1, 2 * p / (1 + p) / float64(classes), MajorityClass, rule},
		{MCC, 0, ConstantPred, "any constant prediction scores 0"}}
}

// regressionBaselines: predicting the gold mean gives the gold variance as
// MSE; a constant has no correlation (0, as Result reports an undefined one).
func regressionBaselines(gold []float64) []Baseline {
	if len(gold) == 0 {
		return nil
	}
	var mean, v float64
	for _, g := range gold {
		mean += g
	}
	mean /= float64(len(gold))
	for _, g := range gold {
		v += (g - mean) * (g - mean)
	}
	c := "any constant prediction scores 0"
	return []Baseline{{Pearson, 0, ConstantPred, c}, {Spearman, 0, ConstantPred, c},
		{MSE, v / float64(len(gold)), MeanPred, fmt.Sprintf("always predicts %.4g, the split's gold mean", mean)}}
}

// majority returns the most frequent key (ties to the first in sorted
// order, so the rule reads the same on every run) and its share.
func majority(counts map[string]int64) (string, float64, bool) {
	var top string
	var best, total int64
	for _, k := range slices.Sorted(maps.Keys(counts)) {
		total += counts[k]
		if counts[k] > best {
			top, best = k, counts[k]
		}
	}
	if total == 0 {
		return "", 0, false
	}
	return top, float64(best) / float64(total), true
}

// Baseline returns the baseline of the named metric, if the result has one.
func (r Result) Baseline(metric string) (Baseline, bool) {
	for _, b := range r.Baselines {
		if b.Metric == metric {
			return b, true
		}
	}
	return Baseline{}, false
}

package scoring

import (
	"fmt"
	"math"

	"github.com/taskweave/taskweave/model"
	"github.com/taskweave/taskweave/model/metrics"
)

// Acc accumulates one task's predictions: model/metrics' mergeable counts
// for the task's kind plus example and token counts. Its fields are exported
// so it survives JSON (a Beam combiner's accumulator crosses workers that
// way); Merge of partial Accs in any order equals adding every prediction to
// one (a masked LM's summed cross-entropy to float rounding: addition order).
type Acc struct {
	Task      string
	Kind      model.HeadKind
	Scheme    string
	Labels    []string
	Examples  int64 // rows scored
	Sentences int64 // predictions after stitching a long sentence's windows back together
	Unlabeled int64 // examples without a gold label (counted, not scored)
	Tokens    int64
	Words     int64
	// GoldTags counts a token task's gold tags, for the majority-tag
	// baseline (Baseline).
	GoldTags map[string]int64 `json:",omitempty"`

	Class *metrics.Confusion     `json:",omitempty"`
	Reg   *metrics.Regression    `json:",omitempty"`
	Ent   *metrics.Entities      `json:",omitempty"`
	Tok   *metrics.TokenAccuracy `json:",omitempty"`
	MLM   *metrics.MaskedLM      `json:",omitempty"`
}

// NewAcc returns an empty accumulator for t.
func NewAcc(t Task) (Acc, error) {
	if err := t.Validate(); err != nil {
		return Acc{}, err
	}
	a := Acc{Task: t.Name, Kind: t.Kind, Scheme: t.TagScheme, Labels: t.Labels}
	switch {
	case t.Kind == model.MaskedLM:
		a.MLM = &metrics.MaskedLM{}
	case t.Kind == model.SequenceClassification:
		a.Class = metrics.NewConfusion(len(t.Labels))
	case t.Kind == model.SequenceRegression:
		a.Reg = &metrics.Regression{}
	case t.entities():
		s, err := t.scheme()
		if err != nil {
			return a, err
		}
		a.Ent = metrics.NewEntities(s)
	default:
		a.Tok = &metrics.TokenAccuracy{}
	}
	return a, nil
}

// Add counts one prediction; a window of a longer sentence must be stitched
// first (Stitch), or its entities would be cut at the window boundary.
func (a *Acc) Add(p Prediction) error {
	if p.Task != a.Task {
		return fmt.Errorf("scoring: a prediction of task %q added to the metrics of task %q", p.Task, a.Task)
	}
	if Windowed(&p) {
		return fmt.Errorf("scoring: task %s: window %s counted on its own; stitch the sentence's windows first", a.Task, p.ExampleID)
	}
	a.Examples += max(p.Rows, 1)
	a.Sentences++
	a.Tokens += p.Tokens
	switch {
	case a.Class != nil:
		if p.Gold < 0 {
			a.Unlabeled++
			return nil
		}
		return a.Class.Add(int(p.Gold), int(p.Pred))
	case a.Reg != nil:
		if math.IsNaN(float64(p.GoldValue)) {
			a.Unlabeled++ // preprocess stores NaN for a missing target
			return nil
		}
		a.Reg.Add(float64(p.GoldValue), float64(p.PredValue))
	case a.Ent != nil:
		a.Words += int64(len(p.Words))
		if p.GoldTags == nil {
			a.Unlabeled++
			return nil
		}
		a.countTags(p.GoldTags)
		return a.Ent.Add(p.GoldTags, p.PredTags)
	case a.Tok != nil:
		a.Words += int64(len(p.Words))
		if p.GoldTags == nil {
			a.Unlabeled++
			return nil
		}
		a.countTags(p.GoldTags)
		return a.Tok.Add(p.GoldTags, p.PredTags)
	case a.MLM != nil:
		a.MLM.Add(p.Masked, p.Correct, p.NLL)
	}
	return nil
}

// Merge adds o's counts into a. The zero Acc is the identity on either side
// (a Beam combiner starts from one before it has seen its task).
func (a *Acc) Merge(o Acc) error {
	if o.Kind == "" {
		return nil
	}
	if a.Kind == "" {
		*a = o
		return nil
	}
	if a.Task != o.Task {
		return fmt.Errorf("scoring: merging metrics of tasks %s and %s", a.Task, o.Task)
	}
	a.Examples += o.Examples
	a.Sentences += o.Sentences
	a.Unlabeled += o.Unlabeled
	a.Tokens += o.Tokens
	a.Words += o.Words
	for tag, n := range o.GoldTags {
		a.countTag(tag, n)
	}
	switch {
	case a.Class != nil:
		return a.Class.Merge(o.Class)
	case a.Reg != nil:
		a.Reg.Merge(o.Reg)
	case a.Ent != nil:
		return a.Ent.Merge(o.Ent)
	case a.Tok != nil:
		a.Tok.Merge(o.Tok)
	case a.MLM != nil:
		a.MLM.Merge(o.MLM)
	}
	return nil
}

func (a *Acc) countTags(tags []string) {
	for _, t := range tags {
		a.countTag(t, 1)
	}
}

func (a *Acc) countTag(tag string, n int64) {
	if a.GoldTags == nil {
		a.GoldTags = map[string]int64{}
	}
	a.GoldTags[tag] += n
}

// Result is one task's finished figures, as report.json records them.
type Result struct {
	Task          string                        `json:"task"`
	Kind          model.HeadKind                `json:"kind"`
	TagScheme     string                        `json:"tag_scheme,omitempty"`
	Labels        []string                      `json:"labels,omitempty"`
	Examples      int64                         `json:"examples"`  // rows
	Sentences     int64                         `json:"sentences"` // predictions (windows stitched)
	Unlabeled     int64                         `json:"unlabeled"`
	Tokens        int64                         `json:"tokens"`
	Words         int64                         `json:"words,omitempty"`
	Primary       string                        `json:"primary_metric"`
	Score         float64                       `json:"score"` // the primary metric's value
	Class         *metrics.ClassificationResult `json:"classification,omitempty"`
	Regression    *metrics.RegressionResult     `json:"regression,omitempty"`
	Entities      *metrics.EntityResult         `json:"entities,omitempty"`
	TokenAccuracy *float64                      `json:"token_accuracy,omitempty"`
	MaskedLM      *metrics.MaskedLMResult       `json:"masked_lm,omitempty"`
	Baselines     []Baseline                    `json:"baselines,omitempty"` // trivial predictors' figures on this split
}

// Result turns the counts into figures.
func (a Acc) Result() Result {
	t := Task{Name: a.Task, Kind: a.Kind, Labels: a.Labels, TagScheme: a.Scheme}
	r := Result{Task: a.Task, Kind: a.Kind, TagScheme: a.Scheme, Labels: a.Labels, Examples: a.Examples,
		Sentences: a.Sentences, Unlabeled: a.Unlabeled, Tokens: a.Tokens, Words: a.Words, Primary: t.PrimaryMetric()}
	switch {
	case a.Class != nil:
		c := a.Class.Result()
		r.Class = &c
	case a.Reg != nil:
		g := a.Reg.Result()
		r.Regression = &g
	case a.Ent != nil:
		e := a.Ent.Result()
		r.Entities = &e
	case a.Tok != nil:
		v := a.Tok.Result()
		r.TokenAccuracy = &v
	case a.MLM != nil:
		v := a.MLM.Result()
		r.MaskedLM = &v
	}
	r.Score, _ = r.Metric(r.Primary)
	r.Baselines = a.baselines()
	return r
}

// Metric is one named figure.
type Metric struct {
	Name  string
	Value float64
}

// Metrics lists the result's figures under their reported names, headline
// figures first, then per class or per entity type.
func (r Result) Metrics() []Metric {
	var out []Metric
	switch {
	case r.Class != nil:
		out = append(out, Metric{Accuracy, r.Class.Accuracy}, Metric{MacroF1, r.Class.MacroF1}, Metric{MCC, r.Class.MCC})
		for i, c := range r.Class.PerClass {
			out = append(out, Metric{PerLabel(perClassF1, labelAt(r.Labels, i)), c.F1})
		}
	case r.Regression != nil:
		out = append(out, Metric{Pearson, r.Regression.Pearson}, Metric{Spearman, r.Regression.Spearman}, Metric{MSE, r.Regression.MSE})
	case r.Entities != nil:
		e := r.Entities
		out = append(out, Metric{EntityPrecision, e.Micro.Precision}, Metric{EntityRecall, e.Micro.Recall},
			Metric{EntityF1, e.Micro.F1}, Metric{TokenAccuracy, e.TokenAccuracy})
		for _, t := range e.Types {
			out = append(out, Metric{PerLabel(EntityF1, t), e.PerType[t].F1})
		}
	case r.TokenAccuracy != nil:
		out = append(out, Metric{TokenAccuracy, *r.TokenAccuracy})
	case r.MaskedLM != nil:
		m := r.MaskedLM
		out = append(out, Metric{MaskedAccuracy, m.Accuracy}, Metric{Perplexity, m.Perplexity}, Metric{MaskedTokens, float64(m.Tokens)})
	}
	return out
}

// Metric returns the named figure; ok is false when the result has none by
// that name.
func (r Result) Metric(name string) (v float64, ok bool) {
	for _, m := range r.Metrics() {
		if m.Name == name {
			return m.Value, true
		}
	}
	return 0, false
}

func labelAt(labels []string, i int) string {
	if i < len(labels) {
		return labels[i]
	}
	return fmt.Sprint(i)
}

// Scorer scores one task in memory, for callers without a runner (the
// trainer's dev evaluation): it counts whole sentences at once and holds
// windows back until Result stitches them.
type Scorer struct {
	acc     Acc
	windows []Prediction
}

// NewScorer returns a Scorer for t.
func NewScorer(t Task) (*Scorer, error) {
	a, err := NewAcc(t)
	if err != nil {
		return nil, err
	}
	return &Scorer{acc: a}, nil
}

// Add counts a prediction, or keeps it if it is a window.
func (s *Scorer) Add(p Prediction) error {
	if Windowed(&p) {
		s.windows = append(s.windows, p)
		return nil
	}
	return s.acc.Add(p)
}

// Result stitches the windows seen and returns the task's figures.
func (s *Scorer) Result() (Result, error) {
	whole, err := StitchAll(s.windows)
	if err != nil {
		return Result{}, err
	}
	for _, p := range whole {
		if err := s.acc.Add(p); err != nil {
			return Result{}, err
		}
	}
	s.windows = nil
	return s.acc.Result(), nil
}

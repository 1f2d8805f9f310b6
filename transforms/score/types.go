package score

import (
	"fmt"
	"math"

	"github.com/taskweave/taskweave/model/metrics"
)

// Task kinds, as in the manifest and the model's head kinds.
const (
	KindClassification = "sequence_classification"
	KindRegression     = "sequence_regression"
	KindToken          = "token_classification"
)

// TaskSpec is what the DoFns need to know about one task: its kind, label
// list (from the manifest, verified equal to the checkpoint's) and tag scheme
// ("iob1", "iob2", "strict_iob2" or "none").
type TaskSpec struct {
	Name      string   `json:"name"`
	Kind      string   `json:"kind"`
	Labels    []string `json:"labels"`
	TagScheme string   `json:"tag_scheme"`
}

// ShardRef names one shard file of one task; Part is the file's base name,
// reused for the predictions file written from it.
type ShardRef struct {
	Task string
	Path string
	Part string
}

// Prediction is one scored example. Which fields are set depends on Kind.
type Prediction struct {
	Model     string // "model", or "compare" for the --compare checkpoint
	Task      string
	Kind      string
	Part      string // shard file the example came from
	ExampleID string
	Text      string
	Tokens    int64 // WordPiece tokens fed to the model (for throughput)
	Rows      int64 // shard rows behind this prediction: >1 when windows were stitched back

	// sequence classification: label ids (Gold -1 = unlabeled) and the
	// softmax over the classes.
	Gold, Pred int32
	Scores     []float32

	// regression
	GoldValue, PredValue float32

	// token classification, per scored word (first subword): the word, the
	// gold and predicted tags and the probability of the predicted tag.
	Words      []string
	GoldTags   []string
	PredTags   []string
	WordScores []float32
}

// Key is the grouping key for metrics and prediction files.
func (p Prediction) Key() string { return p.Model + "/" + p.Task }

// Acc is the metrics accumulator of one (model, task): model/metrics' counts
// for the task's kind plus example and token counts.
type Acc struct {
	Task      string
	Kind      string
	Scheme    string
	Labels    []string
	Examples  int64 // shard rows scored
	Sentences int64 // predictions after stitching a long sentence's windows back together
	Unlabeled int64 // examples without a gold label (counted, not scored)
	Tokens    int64
	Words     int64

	Class *metrics.Confusion     `json:",omitempty"`
	Reg   *metrics.Regression    `json:",omitempty"`
	Ent   *metrics.Entities      `json:",omitempty"`
	Tok   *metrics.TokenAccuracy `json:",omitempty"`
}

func newAcc(t TaskSpec) (Acc, error) {
	a := Acc{Task: t.Name, Kind: t.Kind, Scheme: t.TagScheme, Labels: t.Labels}
	switch t.Kind {
	case KindClassification:
		a.Class = metrics.NewConfusion(len(t.Labels))
	case KindRegression:
		a.Reg = &metrics.Regression{}
	case KindToken:
		if t.TagScheme == "" || t.TagScheme == "none" {
			a.Tok = &metrics.TokenAccuracy{}
			break
		}
		s, err := metrics.ParseScheme(t.TagScheme)
		if err != nil {
			return a, fmt.Errorf("task %s: %w", t.Name, err)
		}
		a.Ent = metrics.NewEntities(s)
	default:
		return a, fmt.Errorf("task %s: unknown kind %q", t.Name, t.Kind)
	}
	return a, nil
}

func (a *Acc) add(p Prediction) error {
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
		return a.Ent.Add(p.GoldTags, p.PredTags)
	case a.Tok != nil:
		a.Words += int64(len(p.Words))
		if p.GoldTags == nil {
			a.Unlabeled++
			return nil
		}
		return a.Tok.Add(p.GoldTags, p.PredTags)
	}
	return nil
}

func (a *Acc) merge(o Acc) error {
	if o.Kind == "" {
		return nil
	}
	if a.Kind == "" {
		*a = o
		return nil
	}
	if a.Task != o.Task {
		return fmt.Errorf("score: merging metrics of tasks %s and %s", a.Task, o.Task)
	}
	a.Examples += o.Examples
	a.Sentences += o.Sentences
	a.Unlabeled += o.Unlabeled
	a.Tokens += o.Tokens
	a.Words += o.Words
	switch {
	case a.Class != nil:
		return a.Class.Merge(o.Class)
	case a.Reg != nil:
		a.Reg.Merge(o.Reg)
	case a.Ent != nil:
		return a.Ent.Merge(o.Ent)
	case a.Tok != nil:
		a.Tok.Merge(o.Tok)
	}
	return nil
}

// TaskMetrics is the finished metrics of one (model, task), as written to
// report.json.
type TaskMetrics struct {
	Model         string                        `json:"model"`
	Task          string                        `json:"task"`
	Kind          string                        `json:"kind"`
	TagScheme     string                        `json:"tag_scheme,omitempty"`
	Labels        []string                      `json:"labels,omitempty"`
	Examples      int64                         `json:"examples"`  // shard rows
	Sentences     int64                         `json:"sentences"` // prediction rows (windows stitched)
	Unlabeled     int64                         `json:"unlabeled"`
	Tokens        int64                         `json:"tokens"`
	Words         int64                         `json:"words,omitempty"`
	Primary       string                        `json:"primary_metric"`
	Score         float64                       `json:"score"`
	Class         *metrics.ClassificationResult `json:"classification,omitempty"`
	Regression    *metrics.RegressionResult     `json:"regression,omitempty"`
	Entities      *metrics.EntityResult         `json:"entities,omitempty"`
	TokenAccuracy *float64                      `json:"token_accuracy,omitempty"`
	Extra         map[string]float64            `json:"extra,omitempty"`
}

// Result turns the counts into figures; model names the checkpoint side.
func (a Acc) Result(model string) TaskMetrics {
	m := TaskMetrics{Model: model, Task: a.Task, Kind: a.Kind, TagScheme: a.Scheme, Labels: a.Labels,
		Examples: a.Examples, Sentences: a.Sentences, Unlabeled: a.Unlabeled, Tokens: a.Tokens, Words: a.Words}
	switch {
	case a.Class != nil:
		r := a.Class.Result()
		m.Class, m.Primary, m.Score = &r, "accuracy", r.Accuracy
	case a.Reg != nil:
		r := a.Reg.Result()
		m.Regression, m.Primary, m.Score = &r, "pearson", r.Pearson
	case a.Ent != nil:
		r := a.Ent.Result()
		m.Entities, m.Primary, m.Score = &r, "entity_micro_f1", r.Micro.F1
	case a.Tok != nil:
		v := a.Tok.Result()
		m.TokenAccuracy, m.Primary, m.Score = &v, "token_accuracy", v
	}
	return m
}

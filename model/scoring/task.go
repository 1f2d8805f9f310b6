package scoring

import (
	"fmt"

	"github.com/taskweave/taskweave/model"
	"github.com/taskweave/taskweave/model/metrics"
)

// Task is what scoring needs to know about one task: its head kind, label
// list (label id i is Labels[i]; empty for regression) and, for token tasks,
// the tag scheme: "iob1", "iob2" or "strict_iob2" for entity tasks (chunk
// F1), "none" or "" for tagging scored by token accuracy. A masked LM has no
// labels; it scores the rows of its Source tasks (empty: its own rows),
// masked by masking.ExampleRNG, whole words when WholeWord.
type Task struct {
	Name      string         `json:"name"`
	Kind      model.HeadKind `json:"kind"`
	Labels    []string       `json:"labels"`
	TagScheme string         `json:"tag_scheme"`
	Source    []string       `json:"source,omitempty"`
	WholeWord bool           `json:"whole_word,omitempty"`
}

// Validate reports a task that cannot be scored.
func (t Task) Validate() error {
	switch t.Kind {
	case model.SequenceClassification:
	case model.SequenceRegression, model.MaskedLM:
		return nil
	case model.TokenClassification:
		if _, err := t.scheme(); err != nil {
			return fmt.Errorf("scoring: task %s: %w", t.Name, err)
		}
	default:
		return fmt.Errorf("scoring: task %s: kind %q cannot be scored; use %s, %s, %s or %s",
			t.Name, t.Kind, model.SequenceClassification, model.SequenceRegression, model.TokenClassification, model.MaskedLM)
	}
	if len(t.Labels) == 0 {
		return fmt.Errorf("scoring: task %s has no labels", t.Name)
	}
	return nil
}

// Outputs is the number of logits the task's head gives per example (per
// token for token tasks). A masked LM's, the vocabulary size, is the
// model's to know; ScoreMasked reads it from the forward pass.
func (t Task) Outputs() int {
	if t.Kind == model.SequenceRegression {
		return 1
	}
	return len(t.Labels)
}

// entities reports whether the task is scored by entity chunks.
func (t Task) entities() bool {
	return t.Kind == model.TokenClassification && t.TagScheme != "" && t.TagScheme != "none"
}

func (t Task) scheme() (metrics.Scheme, error) {
	if !t.entities() {
		return "", nil
	}
	return metrics.ParseScheme(t.TagScheme)
}

// PrimaryMetric is the figure a task contributes to model selection (the
// trainer's best/), to the promotion gate and to evaluate's chart:
// accuracy for sentence classification, Pearson for regression, conlleval
// entity F1 (micro over chunks) for IOB token tasks, token accuracy for other
// tagging (POS, chunk), masked-piece accuracy for a masked LM (which is
// usually auxiliary: then it is reported but left out of selection and the
// gate, by the callers that know the job's auxiliary tasks).
func (t Task) PrimaryMetric() string {
	switch {
	case t.Kind == model.MaskedLM:
		return MaskedAccuracy
	case t.Kind == model.SequenceClassification:
		return Accuracy
	case t.Kind == model.SequenceRegression:
		return Pearson
	case t.entities():
		return EntityF1
	}
	return TokenAccuracy
}

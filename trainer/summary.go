package trainer

import (
	"encoding/json"
	"fmt"
	"math"
)

// Summary is the outcome of a run.
type Summary struct {
	Steps        int                           `json:"steps"`
	Stopped      string                        `json:"stopped"` // finished | early_stopping | interrupted | stop_at | time_limit
	BestStep     int                           `json:"best_step"`
	BestScore    float64                       `json:"best_score"` // NaN (null in JSON) when the run never evaluated
	Best         map[string]map[string]float64 `json:"best_eval"`
	Last         map[string]map[string]float64 `json:"last_eval"`
	Tokens       int64                         `json:"tokens"`        // real (unpadded) tokens trained on
	PaddedTokens int64                         `json:"padded_tokens"` // batch B×T summed
	TrainSeconds float64                       `json:"train_seconds"` // wall time in training steps, evaluation excluded
	WallSeconds  float64                       `json:"wall_seconds"`
	TokensPerSec float64                       `json:"tokens_per_sec"`
	PaddedPerSec float64                       `json:"padded_tokens_per_sec"`
	Rates        map[string]float64            `json:"mixture_rates"`
	Strategy     string                        `json:"strategy"`
	StepMode     string                        `json:"step_mode"`
	// Soft sharing (sharing.go): the modes, the weights that train, each
	// task's learned layer weights and mean gates, and the charts drawn.
	Sharing      string                          `json:"sharing"`
	Parameters   ParamCounts                     `json:"parameters"`
	LayerWeights map[string]LayerWeights         `json:"layer_weights,omitempty"`
	Gates        map[string]map[string][]float64 `json:"gates,omitempty"`
	Charts       []string                        `json:"charts,omitempty"`
	// Electra holds ELECTRA pre-training's figures over the steps of the
	// last log (generator and RTD losses, accuracies).
	Electra map[string]float64 `json:"electra,omitempty"`
}

// summaryJSON is Summary with a best score JSON can hold.
type summaryJSON struct {
	summaryAlias
	BestScore *float64 `json:"best_score"`
}

type summaryAlias Summary

// MarshalJSON writes a NaN best score (never evaluated) as null.
func (s Summary) MarshalJSON() ([]byte, error) {
	j := summaryJSON{summaryAlias: summaryAlias(s)}
	if !math.IsNaN(s.BestScore) {
		j.BestScore = &s.BestScore
	}
	return json.Marshal(j)
}

// UnmarshalJSON reads a null best score back as NaN.
func (s *Summary) UnmarshalJSON(b []byte) error {
	var j summaryJSON
	if err := json.Unmarshal(b, &j); err != nil {
		return err
	}
	*s = Summary(j.summaryAlias)
	s.BestScore = math.NaN()
	if j.BestScore != nil {
		s.BestScore = *j.BestScore
	}
	return nil
}

// BestText is the best selection score in words: "best mean 0.8123 at
// step 400", or, for a run stopped before its first evaluation, what
// best/ holds instead (it printed "best mean -Inf at step -1").
func (s *Summary) BestText(metric string) string {
	if s.BestStep < 0 || math.IsNaN(s.BestScore) || math.IsInf(s.BestScore, 0) {
		return fmt.Sprintf("no evaluation finished, so best/ holds the model of step %d", s.Steps)
	}
	return fmt.Sprintf("best %s %.4f at step %d", metric, s.BestScore, s.BestStep)
}

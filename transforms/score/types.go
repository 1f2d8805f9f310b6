package score

import (
	"github.com/taskweave/taskweave/model/scoring"
)

// ShardRef names one shard file of one task; Part is the file's base name,
// reused for the predictions file written from it.
type ShardRef struct {
	Task       string
	Path       string
	Part       string
	Start, End int64 // the rows [Start, End) to read
}

// Prediction is one scored example as it crosses the runner: model/scoring's
// prediction plus where it goes.
type Prediction struct {
	Model string // "model", or "compare" for the --compare checkpoint
	Part  string // shard file the example came from
	scoring.Prediction
}

// Key is the grouping key for metrics and prediction files.
func (p Prediction) Key() string { return p.Model + "/" + p.Task }

// TaskMetrics is the finished metrics of one (model, task), as written to
// report.json: model/scoring's Result and the checkpoint it belongs to.
type TaskMetrics struct {
	Model string `json:"model"`
	scoring.Result
}

package score

import (
	"github.com/taskweave/taskweave/io/shards"
	"github.com/taskweave/taskweave/model/scoring"
)

// ShardRef names one shard file of one task; Part is the file's base name,
// reused for the predictions file written from it.
type ShardRef struct {
	Task       string
	Path       string
	Part       string
	Start, End int64 // the rows [Start, End) to read
	// Members are the same part's shards of the tasks that label this
	// task's rows (a group, input_from), read in step with it: each
	// RowGroup carries a row and the rows beside it, so that one encoder
	// pass scores every task of the group.
	Members []Member
}

// Member is the shard of one other task of a group.
type Member struct{ Task, Path string }

// RowGroup is one shard row and, for a group, the rows of its other tasks
// that stand beside it (the same example and word pieces, their own
// labels), in ShardRef.Members order.
type RowGroup struct{ Rows []shards.Row }

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

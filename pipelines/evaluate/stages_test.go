package evaluate_test

import (
	"github.com/taskweave/taskweave/jobs/stages"
	"github.com/taskweave/taskweave/pipelines/evaluate"
)

func init() {
	evaluate.PreprocessConfig = stages.PreprocessConfig
	evaluate.TrainConfig = stages.TrainConfig
}

package main

import (
	"testing"

	"github.com/taskweave/taskweave/jobs/runs"
)

// TestRunSummaryNamesTheModel: the run summary says where the model is
// (issue 26: neither it nor the README did): the registry version when one
// was registered, the train stage's best/ otherwise, nothing before
// training finished.
func TestRunSummaryNamesTheModel(t *testing.T) {
	train := runs.Stage{Name: "train", Location: "out/train/r1/best"}
	reg := runs.Stage{Name: "register", Location: "out/registry/versions/r1/model"}
	for _, c := range []struct {
		name   string
		stages []runs.Stage
		want   string
	}{
		{"registered", []runs.Stage{train, {Name: "evaluate"}, reg}, "out/registry/versions/r1/model"},
		{"evaluate failed", []runs.Stage{train, {Name: "evaluate", Error: "boom"}}, "out/train/r1/best"},
		{"train failed", []runs.Stage{{Name: "train", Location: "x", Error: "boom"}}, ""},
	} {
		if got := modelOf(&runs.Record{Stages: c.stages}); got != c.want {
			t.Errorf("%s: model %q, want %q", c.name, got, c.want)
		}
	}
}

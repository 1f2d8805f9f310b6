package main

import (
	"testing"

	"github.com/taskweave/taskweave/jobs/runrecord"
)

// TestRunSummaryNamesTheModel: the run summary says where the model is
// (issue 26: neither it nor the README did): the registry version when one
// was registered, the train stage's best/ otherwise, nothing before
// training finished.
func TestRunSummaryNamesTheModel(t *testing.T) {
	train := runrecord.Stage{Name: "train", Location: "out/train/r1/best"}
	reg := runrecord.Stage{Name: "register", Location: "out/registry/versions/r1/model"}
	for _, c := range []struct {
		name   string
		stages []runrecord.Stage
		want   string
	}{
		{"registered", []runrecord.Stage{train, {Name: "evaluate"}, reg}, "out/registry/versions/r1/model"},
		{"evaluate failed", []runrecord.Stage{train, {Name: "evaluate", Error: "boom"}}, "out/train/r1/best"},
		{"train failed", []runrecord.Stage{{Name: "train", Location: "x", Error: "boom"}}, ""},
	} {
		if got := modelOf(&runrecord.Record{Stages: c.stages}); got != c.want {
			t.Errorf("%s: model %q, want %q", c.name, got, c.want)
		}
	}
}

package spec

import "testing"

// The pretrain block: sources are tasks of the job with corpora of their
// own, the objective is known, and a job pre-trains or starts from
// model.init, not both; every error names the line.
func TestPretrainKeyRules(t *testing.T) {
	cases := []struct {
		name, yaml string
		want       []string
	}{
		{"unknown source", minimal + "pretrain: {sources: [sst2, nope]}\n",
			[]string{"pretrain.sources[1]", `"nope" is not a task of this job`, "use one of sst2"}},
		{"source named twice", minimal + "pretrain: {sources: [sst2, sst2]}\n",
			[]string{"pretrain.sources[1]", "named twice"}},
		{"source reading other tasks' shards", mlmTask + "pretrain: {sources: [mlm]}\n",
			[]string{"pretrain.sources[0]", "reads other tasks' shards", "name those tasks instead"}},
		{"unknown objective", minimal + "pretrain:\n  sources: [sst2]\n  objective: gpt\n",
			[]string{"line 14", "pretrain.objective", `"gpt" is not allowed`, "mlm"}},
		{"with model.init", minimal + "model: {init: some/bert}\npretrain: {sources: [sst2]}\n",
			[]string{"model.init", "pre-trains its own encoder"}},
		{"steps out of range", minimal + "pretrain:\n  sources: [sst2]\n  steps: 0\n",
			[]string{"line 14", "pretrain.steps", "steps >= 1"}},
		{"holdout out of range", minimal + "pretrain:\n  sources: [sst2]\n  holdout: 0.7\n",
			[]string{"line 14", "pretrain.holdout", "0 <= holdout <= 0.5"}},
		{"generator_size out of range", minimal + "pretrain:\n  sources: [sst2]\n  objective: electra\n  generator_size: 1.5\n",
			[]string{"line 15", "pretrain.generator_size", "generator_size <= 1"}},
		{"rtd_weight out of range", minimal + "pretrain:\n  sources: [sst2]\n  objective: electra\n  rtd_weight: 0\n",
			[]string{"line 15", "pretrain.rtd_weight", "rtd_weight"}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) { wantErrors(t, c.yaml, c.want) })
	}
}

// Without sources a job does not pre-train, whatever the defaults say; with
// them the block's defaults come from the one table.
func TestPretrainDefaults(t *testing.T) {
	s, err := Parse([]byte(minimal), ".")
	if err != nil {
		t.Fatal(err)
	}
	if s.Pretrains() {
		t.Fatal("a job without pretrain.sources pre-trains")
	}
	s, err = Parse([]byte(minimal+"pretrain: {sources: [sst2]}\n"), "/jobs")
	if err != nil {
		t.Fatal(err)
	}
	p := s.Pretrain
	if !s.Pretrains() || p.Objective != "mlm" || p.Steps != 100000 || p.Output != s.Output+"/pretrain" || p.Holdout != 0.01 ||
		p.GeneratorSize != 0.25 || p.RTDWeight != 50 {
		t.Fatalf("pretrain block after defaults: %+v", p)
	}
}

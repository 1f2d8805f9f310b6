package spec

import "testing"

// mlmTask appends a masked_lm task over sst2's text to minimal (lines 12-14).
const mlmTask = minimal + `  - name: mlm
    type: masked_lm
    source: [sst2]
`

// Issue 12: validate rejects a masked_lm task without text, an unknown
// source or primary task and phases that do not add up, naming the line.
func TestAuxiliaryKeyRules(t *testing.T) {
	cases := []struct {
		name, yaml string
		want       []string
	}{
		{"masked_lm without a source", minimal + "  - name: mlm\n    type: masked_lm\n",
			[]string{"line 13", "tasks[1].type", "has no text", "source: [task, …]", "format: text"}},
		{"unknown source", minimal + "  - name: mlm\n    type: masked_lm\n    source: [sst2, nope]\n",
			[]string{"line 14", "tasks[1].source[1]", `"nope" is not a task of this job`, "use one of sst2"}},
		{"source and paths", mlmTask + "    paths: {train: [t.txt]}\n",
			[]string{"line 14", "tasks[1].source", "both source and paths"}},
		{"own corpus not text", minimal + "  - name: mlm\n    type: masked_lm\n    format: tsv\n    paths: {train: [t.tsv]}\n",
			[]string{"line 14", "tasks[1].format", "(format: text)"}},
		{"source on a labelled task", minimal + "    source: [sst2]\n",
			[]string{"line 12", "tasks[0].source", "only a masked_lm task"}},
		{"text on a labelled task", minimal + "  - name: b\n    type: sequence_classification\n    format: text\n    paths: {train: [b.txt]}\n",
			[]string{"line 14", "tasks[1].format", "format text is for masked_lm"}},
		{"phases' steps do not add up", mlmTask + "train:\n  steps: 100\n  phases:\n    - {tasks: [mlm], steps: 30}\n    - {steps: 60}\n",
			[]string{"line 17", "train.phases", "add up to 90 but train.steps is 100"}},
		{"phases' shares do not add up", mlmTask + "train:\n  phases:\n    - {tasks: [mlm], share: 0.3}\n    - {share: 0.6}\n",
			[]string{"line 16", "train.phases", "shares add up to 0.9"}},
		{"phase with an unknown task", mlmTask + "train:\n  phases:\n    - tasks: [mlm, nope]\n      share: 0.5\n    - {share: 0.5}\n",
			[]string{"line 17", "train.phases[0].tasks[1]", `"nope" is not a task`}},
		{"phases mixing steps and share", mlmTask + "train:\n  steps: 100\n  phases:\n    - {tasks: [mlm], steps: 50}\n    - {share: 0.5}\n",
			[]string{"line 19", "train.phases[1]", "mixes steps and shares"}},
		{"phase without a length", mlmTask + "train:\n  phases:\n    - {tasks: [mlm]}\n",
			[]string{"line 17", "train.phases[0]", "has no length"}},
		{"unknown primary task", mlmTask + "train:\n  step_mode: all\n  strategy: {name: auto_lambda, primary: [sst2, ner]}\n",
			[]string{"train.strategy.primary[1]", `"ner" is not a task of this run`}},
		{"auto_lambda without primary", mlmTask + "train:\n  step_mode: all\n  strategy: {name: auto_lambda}\n",
			[]string{"line 17", "train.strategy.name", "auto_lambda needs primary"}},
		{"primary on another strategy", mlmTask + "train:\n  strategy: {name: equal, primary: [sst2]}\n",
			[]string{"train.strategy.primary", "only auto_lambda"}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) { wantErrors(t, c.yaml, c.want) })
	}
}

// A masked_lm task is auxiliary unless the job says otherwise; phases that
// add up are accepted.
func TestMaskedLMDefaultsAndPhases(t *testing.T) {
	s, err := Parse([]byte(mlmTask+"train:\n  steps: 100\n  phases:\n    - {name: pretrain, tasks: [mlm], steps: 40}\n    - {steps: 60}\n"), ".")
	if err != nil {
		t.Fatal(err)
	}
	if !s.Tasks[1].Auxiliary || s.Tasks[0].Auxiliary {
		t.Fatalf("auxiliary: sst2 %v, mlm %v; want false, true", s.Tasks[0].Auxiliary, s.Tasks[1].Auxiliary)
	}
	s, err = Parse([]byte(mlmTask+"    auxiliary: false\n"), ".")
	if err != nil {
		t.Fatal(err)
	}
	if s.Tasks[1].Auxiliary {
		t.Fatal("auxiliary: false written on a masked_lm task became true")
	}
}

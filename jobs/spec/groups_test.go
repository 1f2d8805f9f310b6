package spec

import (
	"fmt"
	"testing"
)

// conllGroup is a job with NER and, reading the same file, POS and chunk
// (lines 5-19).
const conllGroup = `name: g
tokenizer: {vocab: vocab.txt}
model: {size: mini}
tasks:
  - name: ner
    type: token_classification
    format: conll
    columns: {tag: 3}
    tag_scheme: iob2
    paths: {train: [train.txt], validation: [valid.txt]}
  - name: pos
    type: token_classification
    input_from: ner
    columns: {tag: 1}
    layer: 1
  - name: chunk
    type: token_classification
    input_from: ner
    columns: {tag: 2}
`

// A task with input_from takes its input task's format, paths and word
// column; Groups lists the group with its input task first.
func TestGroupDefaults(t *testing.T) {
	s, err := Parse([]byte(conllGroup), "/jobs")
	if err != nil {
		t.Fatal(err)
	}
	for _, name := range []string{"pos", "chunk"} {
		m, _ := s.Task(name)
		if m.Format != "conll" || fmt.Sprint(m.Paths) != "map[train:[train.txt] validation:[valid.txt]]" || m.Columns.Word != 0 || m.TagScheme != "none" {
			t.Errorf("%s: format %q paths %v word %d scheme %q", name, m.Format, m.Paths, m.Columns.Word, m.TagScheme)
		}
	}
	ner, _ := s.Task("ner")
	pos, _ := s.Task("pos")
	pos.Paths["train"][0] = "changed"
	if ner.Paths["train"][0] != "train.txt" {
		t.Errorf("a member's paths alias its input task's")
	}
	if got := fmt.Sprint(s.Groups()); got != "[[ner pos chunk]]" {
		t.Errorf("groups = %s", got)
	}
}

// Mistakes in a group are reported at their line with the fix.
func TestGroupRules(t *testing.T) {
	cases := []struct {
		name, yaml string
		want       []string
	}{
		{"unknown input task", conllGroup + "  - name: x\n    type: token_classification\n    input_from: nope\n",
			[]string{"line 22", "tasks[3].input_from", `"nope" is not a task of this job`, "use one of ner"}},
		{"own input", conllGroup + "  - name: x\n    type: token_classification\n    input_from: x\n",
			[]string{"line 22", "cannot read its own input"}},
		{"chain", conllGroup + "  - name: x\n    type: token_classification\n    input_from: pos\n    columns: {tag: 0}\n",
			[]string{"line 22", `"pos" reads its input from "ner" itself; name "ner"`}},
		{"member writes paths", conllGroup + "    paths: {train: [other.txt]}\n",
			[]string{"line 20", "tasks[2].paths", `reads the corpus of "ner"`, "remove paths here"}},
		{"member writes format", conllGroup + "    format: conll\n",
			[]string{"line 20", "tasks[2].format", "remove format here"}},
		{"same column twice", conllGroup + "  - name: pos2\n    type: token_classification\n    input_from: ner\n    columns: {tag: 1}\n",
			[]string{"tasks[3].columns", `reads the same label column (tag 1) as "pos"`}},
		{"sentence task on a token corpus", conllGroup + "  - name: s\n    type: sequence_classification\n    input_from: ner\n",
			[]string{"line 21", "tasks[3].type", "label the same units"}},
		{"member with a rate", conllGroup + "    rate: 2\n",
			[]string{"line 20", "tasks[2].rate", `set the rate on "ner"`}},
		{"member with its own factors", conllGroup + "    sharing: {rank: 4}\n",
			[]string{"tasks[2].input_from", "encoder parameters of its own"}},
		{"phase with part of a group", conllGroup + "train:\n  phases:\n    - {tasks: [ner, pos], share: 0.5}\n    - {share: 0.5}\n",
			[]string{"line 22", "train.phases[0].tasks", "part of the group [ner, pos, chunk]"}},
		{"brown input", `name: g
tokenizer: {vocab: vocab.txt}
tasks:
  - name: brown
    type: token_classification
    format: brown
    paths: {train: [ca01]}
  - name: x
    type: token_classification
    input_from: brown
`, []string{"line 10", "tasks[1].input_from", "read as brown, which has one label column"}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) { wantErrors(t, c.yaml, c.want) })
	}
}

// format brown is a token task or a masked LM's text, never a sentence task.
func TestBrownFormat(t *testing.T) {
	base := "name: b\ntokenizer: {vocab: vocab.txt}\ntasks:\n  - name: b\n    format: brown\n    paths: {train: [ca01]}\n"
	for _, typ := range []string{"token_classification", "masked_lm"} {
		if _, err := Parse([]byte(base+"    type: "+typ+"\n    auxiliary: false\n"), "."); err != nil {
			t.Errorf("%s: %v", typ, err)
		}
	}
	wantErrors(t, base+"    type: sequence_classification\n", []string{"line 5", "tasks[0].format", "brown holds tagged words"})
}

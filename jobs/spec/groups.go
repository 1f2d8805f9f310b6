package spec

import (
	"fmt"
	"slices"
	"strings"

	"github.com/taskweave/taskweave/model"
)

// A task group is a task and the tasks that name it in input_from: other
// label columns of the same sentences (CoNLL-2003's POS and chunk columns
// beside its NER column). Its tasks are preprocessed from the same files
// into shards of the same rows, and trained from one encoder pass per
// batch, each head at its own layer.

// inputKeys are what says where and how a group's corpus is read: its
// input task's alone, never written by a task with input_from (they are
// derived from the input task in the defaults table).
var inputKeys = []string{"format", "paths", "columns.word", "columns.text", "columns.text_b", "columns.id", "columns.tokens"}

// groupFormats are the formats whose files hold more than one label
// column (brown and text hold one tag or none).
var groupFormats = []string{"conll", "conllu", "tsv", "jsonl"}

// inputTask is the task t reads its input from, or nil: t has no
// input_from, or it names no task with a corpus of its own.
func (s *Spec) inputTask(t *Task) *Task {
	if t.InputFrom == "" || t.InputFrom == t.Name {
		return nil
	}
	in, ok := s.Task(t.InputFrom)
	if !ok || in.InputFrom != "" {
		return nil
	}
	return in
}

// Groups lists the job's task groups of more than one task, each its
// input task first, then the tasks that read it in the job's order.
func (s *Spec) Groups() [][]string {
	var out [][]string
	for _, t := range s.Tasks {
		if t.InputFrom != "" {
			continue
		}
		g := []string{t.Name}
		for _, m := range s.Tasks {
			if m.InputFrom == t.Name && m.Name != t.Name {
				g = append(g, m.Name)
			}
		}
		if len(g) > 1 {
			out = append(out, g)
		}
	}
	return out
}

// checkGroups checks every input_from.
func (s *Spec) checkGroups(bad func(key, format string, a ...any)) {
	for i := range s.Tasks {
		t := &s.Tasks[i]
		if t.InputFrom == "" {
			continue
		}
		k := fmt.Sprintf("tasks[%d]", i)
		in, ok := s.Task(t.InputFrom)
		switch {
		case t.InputFrom == t.Name:
			bad(k+".input_from", "a task cannot read its own input; name another task or remove input_from")
			continue
		case !ok:
			bad(k+".input_from", "%q is not a task of this job; use one of %s", t.InputFrom, strings.Join(s.taskNames(func(o Task) bool { return o.InputFrom == "" && o.Name != t.Name }), ", "))
			continue
		case in.InputFrom != "":
			bad(k+".input_from", "%q reads its input from %q itself; name %q, the task with the corpus", t.InputFrom, in.InputFrom, in.InputFrom)
			continue
		}
		for _, key := range inputKeys {
			if s.writtenUnder(k + "." + key) {
				bad(k+"."+key, "task %q reads the corpus of %q (input_from), which says how; remove %s here", t.Name, in.Name, key)
			}
		}
		s.checkMember(k, t, in, bad)
	}
	s.checkGroupColumns(bad)
	s.checkGroupPhases(bad)
}

// writtenUnder reports whether the file writes key or a key inside it
// (paths is written as paths.train, paths.validation, …).
func (s *Spec) writtenUnder(key string) bool {
	for k := range s.written {
		if k == key || strings.HasPrefix(k, key+".") {
			return true
		}
	}
	return false
}

// checkMember checks what a group's task and its input task must agree
// on: the kind of label (per word or per sentence), a corpus with more
// than one label column, and one encoder path for the whole group.
func (s *Spec) checkMember(k string, t, in *Task, bad func(key, format string, a ...any)) {
	token := func(x *Task) bool { return x.Type == string(model.TokenClassification) }
	switch {
	case t.Type == string(model.MaskedLM) || in.Type == string(model.MaskedLM):
		bad(k+".input_from", "a masked_lm task reads text, not a label column; use source: [%s] to read its text", in.Name)
	case token(t) != token(in):
		bad(k+".type", "%s, but %q is %s: a group's tasks label the same units (words, or sentences)", t.Type, in.Name, in.Type)
	case !slices.Contains(groupFormats, in.Format):
		bad(k+".input_from", "%q is read as %s, which has one label column; a group needs a corpus with several (%s)", in.Name, in.Format, strings.Join(groupFormats, ", "))
	}
	if s.Written(k + ".rate") {
		bad(k+".rate", "a group is drawn as one; set the rate on %q", in.Name)
	}
	for _, x := range []*Task{t, in} {
		if x.Sharing.Rank > 0 || x.Sharing.Adapter > 0 || s.Model.Sharing.Experts > 0 {
			bad(k+".input_from", "task %q has encoder parameters of its own (sharing rank, adapter or experts), but a group runs one encoder pass for all its tasks; only layer_attention may differ", x.Name)
			return
		}
	}
}

// checkGroupColumns refuses two tasks of a group reading the same label
// column: they would be one task twice.
func (s *Spec) checkGroupColumns(bad func(key, format string, a ...any)) {
	for _, g := range s.Groups() {
		seen := map[string]string{}
		for _, name := range g {
			t, _ := s.Task(name)
			col := labelColumn(t)
			if other, dup := seen[col]; dup {
				bad(fmt.Sprintf("tasks[%d].columns", slices.IndexFunc(s.Tasks, func(x Task) bool { return x.Name == name })),
					"task %q reads the same label column (%s) as %q; give it another column", name, col, other)
			}
			seen[col] = name
		}
	}
}

// labelColumn says which column holds t's labels, for comparing tasks.
func labelColumn(t *Task) string {
	switch {
	case t.Format == "conll":
		return fmt.Sprintf("tag %d", t.Columns.Tag)
	case t.Format == "conllu":
		return "field " + t.Columns.Field
	case t.Type == string(model.TokenClassification):
		return "tags " + t.Columns.Tags
	}
	return "label " + t.Columns.Label
}

// checkGroupPhases refuses a phase that trains part of a group: its
// batches are the group's.
func (s *Spec) checkGroupPhases(bad func(key, format string, a ...any)) {
	for i, p := range s.Train.Phases {
		if len(p.Tasks) == 0 {
			continue
		}
		for _, g := range s.Groups() {
			in := 0
			for _, name := range g {
				if slices.Contains(p.Tasks, name) {
					in++
				}
			}
			if in > 0 && in < len(g) {
				bad(fmt.Sprintf("train.phases[%d].tasks", i), "names part of the group [%s] (tasks reading one corpus train from one batch); list all of them or none", strings.Join(g, ", "))
			}
		}
	}
}

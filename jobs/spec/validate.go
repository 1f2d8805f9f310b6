package spec

import (
	"errors"
	"fmt"
	"slices"
	"strings"

	"github.com/taskweave/taskweave/jobs/schedule"
	"github.com/taskweave/taskweave/model"
)

// Validate checks values against their allowed sets and ranges and the
// rules between keys. Commands that override keys from flags call it again.
func (s *Spec) Validate() error {
	var errs []error
	bad := s.reporter(&errs)
	oneOf := func(key, v string, allowed []string) {
		if !slices.Contains(allowed, v) {
			bad(key, "%q is not allowed; use one of %s", v, strings.Join(allowed, ", "))
		}
	}
	s.checkRanges(bad)
	checkJobName(s.Name, bad)
	checkVocabTruncation(s, bad)
	if s.Output == "" {
		bad("output", "empty; give the directory (local or gs://) for data/, train/, eval/ and registry/")
	}
	if s.Tokenizer.Vocab == "" {
		bad("tokenizer.vocab", "missing; give the path of a BERT vocab.txt")
	}
	if len(s.Tasks) == 0 {
		bad("tasks", "no tasks; a job needs at least one")
	}
	layers := 0
	if s.Model.Init == "" {
		oneOf("model.size", s.Model.Size, Sizes)
		if c, err := model.SizeConfig(s.Model.Size, 1); err == nil {
			layers = c.NumHiddenLayers
		}
	}
	seen := map[string]bool{}
	for i, t := range s.Tasks {
		s.checkTask(i, t, layers, seen, bad)
	}
	s.checkSharing(layers, bad)
	s.checkPretrain(bad)
	s.checkGroups(bad)
	tr := &s.Train
	s.checkPhases(bad)
	s.checkPrimary(bad)
	oneOf("train.step_mode", tr.StepMode, StepModes)
	s.checkOwners(bad)
	oneOf("train.precision", tr.Precision, precisionNames())
	s.checkMetric("train.select_metric", s.Train.SelectMetric, s.Train.EvalSplit, "train.eval_split", bad)
	s.checkMetric("registry.metric", s.Registry.Metric, s.Evaluate.Split, "evaluate.split", bad)
	oneOf("evaluate.split", s.Evaluate.Split, Splits)
	oneOf("train.eval_split", tr.EvalSplit, Splits)
	oneOf("runner.name", s.Runner.Name, Runners)
	if s.Schedule != "" {
		if _, err := schedule.Parse(s.Schedule); err != nil {
			bad("schedule", "%v", err)
		}
	}
	// A trial is the base spec plus its settings: with the base already
	// wrong, every trial would repeat its errors.
	s.checkSweep(bad, len(errs) == 0)
	return errors.Join(errs...)
}

// checkTask checks tasks[i] (t): its name, type, format, columns, paths
// and layer; seen holds the names of the tasks before it, layers the
// encoder's depth (0 = unknown before model.init is read).
func (s *Spec) checkTask(i int, t Task, layers int, seen map[string]bool, bad func(key, format string, a ...any)) {
	oneOf := func(key, v string, allowed []string) {
		if !slices.Contains(allowed, v) {
			bad(key, "%q is not allowed; use one of %s", v, strings.Join(allowed, ", "))
		}
	}
	k := fmt.Sprintf("tasks[%d]", i)
	if why := nameProblem(t.Name, false); why != "" {
		bad(k+".name", "%q is not a valid task name: it %s", t.Name, why)
	}
	if seen[t.Name] {
		bad(k+".name", "task %q is defined twice", t.Name)
	}
	seen[t.Name] = true
	oneOf(k+".type", t.Type, TaskTypes)
	mlm := t.Type == string(model.MaskedLM)
	if mlm {
		s.checkMaskedLM(k, t, bad)
	} else {
		if len(t.Source) > 0 {
			bad(k+".source", "only a masked_lm task reads other tasks' text; remove source or set type: masked_lm")
		}
		if t.WholeWord {
			bad(k+".whole_word", "only a masked_lm task masks words; remove whole_word")
		}
		if t.Format == "text" {
			bad(k+".format", "text files hold no labels; format text is for masked_lm tasks")
		}
	}
	if len(t.Source) == 0 {
		oneOf(k+".format", t.Format, Formats)
	}
	if t.Format == "brown" && t.Type != string(model.TokenClassification) && !mlm {
		bad(k+".format", "brown holds tagged words; read it as a token_classification (part-of-speech) or masked_lm (its text) task")
	}
	if t.Type == string(model.TokenClassification) {
		oneOf(k+".tag_scheme", t.TagScheme, TagSchemes)
		if t.Format == "tsv" {
			bad(k+".format", "tsv holds sentences; a token task needs conll, conllu, jsonl or brown")
		}
	} else if t.TagScheme != "" {
		bad(k+".tag_scheme", "only token_classification tasks have a tag scheme")
	}
	if t.Format == "conllu" {
		oneOf(k+".columns.field", t.Columns.Field, ConlluFields)
	}
	s.checkColumns(k, t, bad)
	switch {
	case len(t.Source) > 0:
	case len(t.Paths) == 0 && !mlm:
		bad(k+".paths", "no input files; give paths per split, e.g. train: [file.tsv]")
	case len(t.Paths) > 0 && len(t.Paths["train"]) == 0:
		bad(k+".paths.train", "missing; every task needs training data")
	}
	for split := range t.Paths {
		oneOf(k+".paths."+split, split, Splits)
	}
	if layers > 0 && t.Layer > layers {
		bad(k+".layer", "%d is deeper than model size %s (%d layers); use 0 for the top layer or 1..%d", t.Layer, s.Model.Size, layers, layers)
	}
}

// checkColumns reports an empty name among the columns the task's format
// reads (the corpus reader would refuse it later, without the line).
func (s *Spec) checkColumns(k string, t Task, bad func(key, format string, a ...any)) {
	need := func(key string, names ...string) {
		if len(names) == 0 || slices.ContainsFunc(names, func(n string) bool { return strings.TrimSpace(n) == "" }) {
			bad(k+".columns."+key, "empty; name the column (for text, a list of names may be given: the first the file has is read)")
		}
	}
	switch {
	case t.Format == "jsonl" && t.Type == string(model.TokenClassification):
		need("tokens", t.Columns.Tokens)
		need("tags", t.Columns.Tags)
	case t.Format == "tsv" || t.Format == "jsonl":
		need("text", t.Columns.Text...)
		need("label", t.Columns.Label)
	}
}

// checkMetric checks a key naming the figure a model is judged by
// (train.select_metric for best/, registry.metric for promotion): an
// aggregate over the tasks or one task's primary metric, scored on split
// (named by splitKey). An auxiliary task is trained but never judges.
func (s *Spec) checkMetric(key, m, split, splitKey string, bad func(key, format string, a ...any)) {
	if slices.Contains(Aggregates, m) {
		if len(s.Tasks) > 0 && !slices.ContainsFunc(s.Tasks, func(t Task) bool { return !t.Auxiliary }) {
			bad(key, "%s over no task: every task is auxiliary; make one task non-auxiliary", m)
		}
		return
	}
	var names []string
	for _, t := range s.Tasks {
		if t.Auxiliary {
			if t.Name == m {
				bad(key, "task %q is auxiliary (trained, left out of model selection); use %s or another task",
					m, strings.Join(Aggregates, ", "))
				return
			}
			continue
		}
		if t.Name == m {
			if len(t.Paths[split]) == 0 {
				bad(key, "task %q has no %s files (%s) to judge on; give tasks[].paths.%s or use mean",
					m, split, splitKey, split)
			}
			return
		}
		names = append(names, t.Name)
	}
	bad(key, "%q is not allowed; use one of %s", m, strings.Join(append(slices.Clone(Aggregates), names...), ", "))
}

// precisionNames are model.Precisions as strings.
func precisionNames() []string {
	var names []string
	for _, p := range model.Precisions {
		names = append(names, string(p))
	}
	return names
}

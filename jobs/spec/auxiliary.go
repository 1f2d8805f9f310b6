package spec

import (
	"fmt"
	"math"
	"slices"
	"strings"

	"github.com/taskweave/taskweave/model"
	"github.com/taskweave/taskweave/model/multitask"
)

// checkMaskedLM checks a masked_lm task (at key k): its text comes either
// from other tasks' train shards (source) or from its own corpus (paths,
// format text), never from both and never from nowhere.
func (s *Spec) checkMaskedLM(k string, t Task, bad func(key, format string, a ...any)) {
	switch {
	case len(t.Source) == 0 && len(t.Paths) == 0:
		bad(k+".type", "masked_lm task %q has no text; give source: [task, …] (other tasks' train text) or paths with format: text", t.Name)
	case len(t.Source) > 0 && len(t.Paths) > 0:
		bad(k+".source", "masked_lm task %q has both source and paths; give one of them", t.Name)
	case len(t.Source) > 0 && t.Format != "":
		bad(k+".format", "masked_lm task %q reads its source tasks' shards; remove format", t.Name)
	case len(t.Paths) > 0 && t.Format != "text" && t.Format != "brown":
		bad(k+".format", "%q: a masked_lm task's own corpus is plain text, one sentence or paragraph per line (format: text), or the Brown Corpus read without its tags (format: brown)", t.Format)
	}
	if t.TagScheme != "" {
		bad(k+".tag_scheme", "only token_classification tasks have a tag scheme")
	}
	seen := map[string]bool{}
	for j, name := range t.Source {
		key := fmt.Sprintf("%s.source[%d]", k, j)
		src, ok := s.Task(name)
		switch {
		case seen[name]:
			bad(key, "task %q is named twice", name)
		case !ok:
			bad(key, "%q is not a task of this job; use one of %s", name, strings.Join(s.taskNames(func(t Task) bool { return t.Type != string(model.MaskedLM) }), ", "))
		case src.Type == string(model.MaskedLM):
			bad(key, "%q is a masked_lm task; a source is a task with a corpus of labelled text", name)
		}
		seen[name] = true
	}
}

// taskNames lists the names of the tasks keep accepts.
func (s *Spec) taskNames(keep func(Task) bool) []string {
	var out []string
	for _, t := range s.Tasks {
		if keep(t) {
			out = append(out, t.Name)
		}
	}
	return out
}

// checkPhases checks train.phases: tasks of this job, and lengths that add
// up (steps to train.steps, or shares to 1).
func (s *Spec) checkPhases(bad func(key, format string, a ...any)) {
	ph := s.Train.Phases
	if len(ph) == 0 {
		return
	}
	all := s.taskNames(func(Task) bool { return true })
	steps, share, ok := 0, 0.0, true
	bySteps := ph[0].Steps > 0
	for i, p := range ph {
		k := fmt.Sprintf("train.phases[%d]", i)
		for j, name := range p.Tasks {
			if !slices.Contains(all, name) {
				bad(fmt.Sprintf("%s.tasks[%d]", k, j), "%q is not a task of this job; use one of %s", name, strings.Join(all, ", "))
			}
		}
		fail := func(key, format string, a ...any) { ok = false; bad(key, format, a...) }
		switch {
		case p.Steps < 0:
			fail(k+".steps", "%d is out of range; use steps >= 1", p.Steps)
		case math.IsNaN(p.Share) || p.Share < 0 || p.Share > 1:
			fail(k+".share", "%g is out of range; use 0 < share <= 1", p.Share)
		case p.Steps > 0 && p.Share > 0:
			fail(k, "gives both steps and share; give one")
		case p.Steps == 0 && p.Share == 0:
			fail(k, "has no length; give steps (phases' steps add up to train.steps) or share (phases' shares add up to 1)")
		case (p.Steps > 0) != bySteps:
			fail(k, "mixes steps and shares with phase 0; give every phase steps or every phase a share")
		}
		steps += p.Steps
		share += p.Share
	}
	if !ok {
		return // the sums of malformed phases say nothing more
	}
	if bySteps && steps != s.Train.Steps {
		bad("train.phases", "the phases' steps add up to %d but train.steps is %d; make them equal (or give each phase a share)", steps, s.Train.Steps)
	}
	if !bySteps && math.Abs(share-1) > 1e-9 {
		bad("train.phases", "the phases' shares add up to %.6g; make them add up to 1", share)
	}
}

// checkPrimary checks train.strategy.primary: auto_lambda needs at least
// one primary task, each a task of the job that is not a masked LM reading
// other tasks' text (its held-out text would be theirs).
func (s *Spec) checkPrimary(bad func(key, format string, a ...any)) {
	st := &s.Train.Strategy
	if multitask.Name(st.Name) != multitask.NameAutoLambda {
		if len(st.Primary) > 0 {
			bad("train.strategy.primary", "only auto_lambda has primary tasks; remove primary or set name: auto_lambda")
		}
		return
	}
	// model/multitask refuses no primary task and a name that is no task;
	// a task without a corpus of its own is the spec's rule.
	ok := s.taskNames(func(t Task) bool { return len(t.Source) == 0 })
	for j, name := range st.Primary {
		if _, isTask := s.Task(name); isTask && !slices.Contains(ok, name) {
			bad(fmt.Sprintf("train.strategy.primary[%d]", j), "%q is not a task of this job with its own corpus; use one of %s", name, strings.Join(ok, ", "))
		}
	}
}

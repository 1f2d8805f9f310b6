package spec

import (
	"fmt"
	"os"
)

// Warnings lists what is legal in a spec but almost certainly not meant,
// each with its line: `validate` accepted a job whose validation and test
// were the same file, and whose eval_every exceeded steps, without a word
// (issue 26).
func (s *Spec) Warnings() []string {
	var found []error
	warn := s.reporter(&found) // the same "line N: key: …" as errors
	for i, t := range s.Tasks {
		s.sharedSplitFiles(fmt.Sprintf("tasks[%d].paths", i), t, warn)
	}
	if tr := s.Train; tr.EvalEvery > tr.Steps {
		warn("train.eval_every", "%d is more than train.steps (%d): no evaluation runs during training, so model selection and early stopping see only the final evaluation; lower it (e.g. %d)",
			tr.EvalEvery, tr.Steps, max(1, tr.Steps/10))
	}
	out := make([]string, len(found))
	for i, w := range found {
		out[i] = w.Error()
	}
	return out
}

// sharedSplitFiles warns when two splits of a task read the same file: a
// model scored on its own training data, or a test set that is the dev set.
func (s *Spec) sharedSplitFiles(key string, t Task, warn func(key, format string, a ...any)) {
	seen := map[string]string{} // resolved file → the split that has it
	for _, split := range Splits {
		for _, p := range t.Paths[split] {
			f := s.Path(p)
			for other, osplit := range seen {
				if osplit != split && sameFile(f, other) {
					warn(key+"."+split, "reads %s, which the %s split reads too: its figures would not measure what %s should; give each split its own file", p, osplit, split)
				}
			}
			seen[f] = split
		}
	}
}

// sameFile compares two resolved paths: equal strings, or (locally) one
// file under two names.
func sameFile(a, b string) bool {
	if a == b {
		return true
	}
	fa, errA := os.Stat(a)
	fb, errB := os.Stat(b)
	return errA == nil && errB == nil && os.SameFile(fa, fb)
}

package preprocess

import (
	"errors"
	"fmt"
	"slices"
	"sort"
	"strings"

	"github.com/taskweave/taskweave/io/corpus"
	"github.com/taskweave/taskweave/io/manifest"
	"github.com/taskweave/taskweave/model"
)

// Config is everything a preprocessing run depends on, every value explicit
// (jobs/stages fills it from a job spec or from the CLI's quick-run flags;
// defaults live in the job spec alone).
type Config struct {
	Out                 string // output directory, local or gs://
	Shards              int    // shards per task and split
	MaxRejectedFraction float64
	Vocab               string // vocab.txt, local or gs://
	Lowercase           bool
	MaxSeqLen           int
	Tasks               []Task
}

// Task is one task's corpus and head type.
type Task struct {
	Name      string
	Type      string              // sequence_classification | token_classification | sequence_regression | masked_lm
	TagScheme string              // token tasks: none | iob1 | iob2
	Labels    []string            // explicit label list; empty = collect from train
	Paths     map[string][]string // split → files
	Read      corpus.Options      // format and columns
	Key       string              // where the job spec defines it, e.g. "tasks[1]"; "" for a quick run
	// InputFrom names the task whose records this task labels too (a
	// group: the same files, another label column); its files are read
	// with that task's, once for the group. Empty for a task alone (and
	// then left out of the fingerprint, which stays what it was).
	InputFrom string `json:",omitempty"`
}

// quickFlags name the CLI flag behind a setting of a quick run.
var quickFlags = map[string]string{"labels": "--label-list", "paths.train": "--train",
	"paths.validation": "--validation", "paths.test": "--test"}

// Setting names where a task setting (e.g. "labels", "paths.train") is
// given, for error messages: the spec key, or the quick-run flag.
func (t Task) Setting(field string) string {
	if field == "max_rejected_fraction" {
		if t.Key != "" {
			return "preprocess.max_rejected_fraction in the job spec"
		}
		return "--max-rejected"
	}
	if t.Key != "" {
		return t.Key + "." + field + " in the job spec"
	}
	if f, ok := quickFlags[field]; ok {
		return f
	}
	return "--" + field
}

func (t Task) where() string {
	if t.Key != "" {
		return t.Key + " in the job spec"
	}
	return "the quick-run flags"
}

// Validate checks the settings a run cannot start without.
func (c Config) Validate() error {
	var errs []error
	if c.Out == "" {
		errs = append(errs, errors.New("no output directory; set preprocess.output (or --out)"))
	}
	if c.Vocab == "" {
		errs = append(errs, errors.New("no vocabulary; set tokenizer.vocab (or --vocab) to a BERT vocab.txt"))
	}
	if c.Shards < 1 || c.Shards > 99999 {
		errs = append(errs, fmt.Errorf("%d shards; use 1..99999 (preprocess.shards or --shards)", c.Shards))
	}
	if c.MaxSeqLen < 8 {
		errs = append(errs, fmt.Errorf("max_seq_len %d is too small; use at least 8", c.MaxSeqLen))
	}
	if c.MaxRejectedFraction < 0 || c.MaxRejectedFraction > 1 {
		errs = append(errs, fmt.Errorf("max_rejected_fraction %g is out of range; use 0..1", c.MaxRejectedFraction))
	}
	if len(c.Tasks) == 0 {
		errs = append(errs, errors.New("no tasks; define at least one"))
	}
	seen := map[string]bool{}
	for _, t := range c.Tasks {
		if t.Name == "" || strings.ContainsAny(t.Name, "/\\ .") {
			errs = append(errs, fmt.Errorf("%s: %q is not a valid task name; use letters, digits, - and _", t.where(), t.Name))
		}
		if seen[t.Name] {
			errs = append(errs, fmt.Errorf("%s: task %q is defined twice", t.where(), t.Name))
		}
		seen[t.Name] = true
		if !slices.Contains(model.TaskKindNames(), t.Type) {
			errs = append(errs, fmt.Errorf("%s: type %q; use one of %s", t.where(), t.Type, strings.Join(model.TaskKindNames(), ", ")))
		}
		if len(t.Paths["train"]) == 0 {
			errs = append(errs, fmt.Errorf("task %s: no train files; every task needs training data (%s)", t.Name, t.Setting("paths.train")))
		}
		for split := range t.Paths {
			if !slices.Contains(manifest.Splits, split) {
				errs = append(errs, fmt.Errorf("%s: split %q; use one of %s", t.where(), split, strings.Join(manifest.Splits, ", ")))
			}
		}
		if mlm, text := t.Type == string(model.MaskedLM), t.Read.Format == corpus.Text || t.Read.BrownText; mlm != text {
			errs = append(errs, fmt.Errorf("%s: a %s task read as %s; plain text (format text) holds no labels and is for masked_lm tasks, which read nothing else", t.where(), t.Type, t.Read.Format))
		}
		if err := t.Read.Validate(); err != nil {
			errs = append(errs, fmt.Errorf("%s: %w", t.where(), err))
		}
	}
	errs = append(errs, c.checkGroups()...)
	return errors.Join(errs...)
}

// checkGroups checks every input_from: it names a task of the run that
// reads its own corpus, from the same files in the same format.
func (c Config) checkGroups() []error {
	var errs []error
	for _, t := range c.Tasks {
		if t.InputFrom == "" {
			continue
		}
		in, ok := c.task(t.InputFrom)
		switch {
		case !ok || in.InputFrom != "" || in.Name == t.Name:
			errs = append(errs, fmt.Errorf("%s: input_from %q names no task of this run with a corpus of its own; name the task whose files this task labels", t.where(), t.InputFrom))
		case t.Read.Format != in.Read.Format || !samePaths(t.Paths, in.Paths):
			errs = append(errs, fmt.Errorf("%s: task %s labels the records of task %s (input_from) but reads other files or another format; leave its format and paths to %s", t.where(), t.Name, in.Name, in.Name))
		case (t.Type == manifest.TokenClassification) != (in.Type == manifest.TokenClassification):
			errs = append(errs, fmt.Errorf("%s: task %s (%s) cannot label the records of task %s (%s): a group's tasks label the same words or the same sentences", t.where(), t.Name, t.Type, in.Name, in.Type))
		}
	}
	return errs
}

func samePaths(a, b map[string][]string) bool {
	if len(a) != len(b) {
		return false
	}
	for k, v := range a {
		if !slices.Equal(v, b[k]) {
			return false
		}
	}
	return true
}

// members lists, for each task with a corpus of its own, the tasks that
// label its records (input_from), in the config's order.
func (c Config) members() map[string][]string {
	out := map[string][]string{}
	for _, t := range c.Tasks {
		if t.InputFrom != "" {
			out[t.InputFrom] = append(out[t.InputFrom], t.Name)
		}
	}
	return out
}

func (c Config) task(name string) (Task, bool) {
	for _, t := range c.Tasks {
		if t.Name == name {
			return t, true
		}
	}
	return Task{}, false
}

// splits returns a task's splits in a fixed order (train, validation, test).
func (t Task) splits() []string {
	var out []string
	for _, s := range manifest.Splits {
		if len(t.Paths[s]) > 0 {
			out = append(out, s)
		}
	}
	var extra []string
	for s := range t.Paths {
		if !slices.Contains(manifest.Splits, s) {
			extra = append(extra, s)
		}
	}
	sort.Strings(extra)
	return append(out, extra...)
}

package preprocess

import (
	"fmt"
	"strings"

	"github.com/taskweave/taskweave/jobs/spec"
)

// Quick describes a one-task run without a job spec (the CLI's flags).
type Quick struct {
	Out, Vocab                    string
	Lowercase                     bool
	MaxSeqLen, Shards             int
	MaxRejectedFraction           float64
	Task, Type, Format, TagScheme string
	Train, Validation, Test       string // comma-separated files
	Labels                        string // comma-separated; empty = collect from train
	Text, TextB, Label, ID        string // tsv/jsonl columns
	Tokens, Tags                  string // jsonl token-task keys
	WordColumn, TagColumn         int    // conll
	Field                         string // conllu: upos | xpos
}

// Config turns the flags into a run config, through the same mapping and
// checks as a job spec.
func (q Quick) Config() (Config, error) {
	t := spec.Task{Name: q.Task, Type: q.Type, Format: q.Format, TagScheme: q.TagScheme,
		Columns: spec.Columns{Text: q.Text, TextB: q.TextB, Label: q.Label, ID: q.ID, Tokens: q.Tokens, Tags: q.Tags,
			Word: q.WordColumn, Tag: q.TagColumn, Field: q.Field},
		Paths: map[string][]string{}}
	if t.Type == "token_classification" && t.TagScheme == "" {
		t.TagScheme = "none"
	}
	if t.Format == "conllu" && t.Columns.Field == "" {
		t.Columns.Field = "upos"
	}
	for split, files := range map[string]string{"train": q.Train, "validation": q.Validation, "test": q.Test} {
		for _, f := range strings.Split(files, ",") {
			if f = strings.TrimSpace(f); f != "" {
				t.Paths[split] = append(t.Paths[split], f)
			}
		}
	}
	if q.Labels != "" {
		t.Labels = strings.Split(q.Labels, ",")
	}
	opt, err := ReadOptions(t)
	if err != nil {
		return Config{}, fmt.Errorf("--task %s: %w", q.Task, err)
	}
	c := Config{Out: q.Out, Shards: q.Shards, MaxRejectedFraction: q.MaxRejectedFraction,
		Vocab: q.Vocab, Lowercase: q.Lowercase, MaxSeqLen: q.MaxSeqLen,
		Tasks: []Task{{Name: t.Name, Type: t.Type, TagScheme: t.TagScheme, Labels: t.Labels, Paths: t.Paths, Read: opt}}}
	return c, c.Validate()
}

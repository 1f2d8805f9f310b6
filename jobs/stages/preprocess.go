package stages

import (
	"errors"
	"fmt"
	"strings"

	"github.com/taskweave/taskweave/io/corpus"
	"github.com/taskweave/taskweave/jobs/spec"
	"github.com/taskweave/taskweave/model"
	"github.com/taskweave/taskweave/pipelines/preprocess"
)

// PreprocessConfig maps a job spec onto the preprocess pipeline's
// configuration. Relative paths resolve against the spec file's directory.
func PreprocessConfig(s *spec.Spec) (preprocess.Config, error) {
	c := preprocess.Config{
		Out:                 s.Path(s.Preprocess.Output),
		Shards:              s.Preprocess.Shards,
		MaxRejectedFraction: s.Preprocess.MaxRejectedFraction,
		Vocab:               s.Path(s.Tokenizer.Vocab),
		Lowercase:           s.Tokenizer.Lowercase,
		MaxSeqLen:           s.Tokenizer.MaxSeqLen,
	}
	for i, st := range s.Tasks {
		if len(st.Source) > 0 {
			continue // a masked LM over other tasks' shards: nothing of its own to prepare
		}
		key := fmt.Sprintf("tasks[%d]", i)
		t, err := preprocessTask(st, s.Preprocess.MaxRecordBytes, s.Path)
		if err != nil {
			return c, fmt.Errorf("%s (%s): %w", key, st.Name, err)
		}
		t.Key = key
		c.Tasks = append(c.Tasks, t)
	}
	return c, c.Validate()
}

func preprocessTask(st spec.Task, maxRecordBytes int, path func(string) string) (preprocess.Task, error) {
	opt, err := ReadOptions(st, maxRecordBytes)
	if err != nil {
		return preprocess.Task{}, err
	}
	t := preprocess.Task{Name: st.Name, Type: st.Type, TagScheme: st.TagScheme, Labels: st.Labels, Read: opt,
		Paths: map[string][]string{}, InputFrom: st.InputFrom}
	for split, files := range st.Paths {
		for _, f := range files {
			t.Paths[split] = append(t.Paths[split], path(f))
		}
	}
	return t, nil
}

// ReadOptions maps a spec task's format and columns, and the spec's
// preprocess.max_record_bytes, onto the corpus reader's options.
func ReadOptions(t spec.Task, maxRecordBytes int) (corpus.Options, error) {
	o := corpus.Options{Format: corpus.Format(t.Format), MaxRecordBytes: maxRecordBytes}
	col := t.Columns
	switch o.Format {
	case corpus.TSV, corpus.JSONL:
		o.TextColumns, o.TextBColumn, o.LabelColumn, o.IDColumn = col.Text, col.TextB, col.Label, col.ID
		if o.Format == corpus.JSONL && t.Type == string(model.TokenClassification) {
			o.TokenLevel, o.WordsKey, o.TagsKey = true, col.Tokens, col.Tags
		}
	case corpus.CoNLL:
		o.WordColumn = col.Word
		if col.Tag == 0 {
			return o, errors.New("columns.tag 0 would make the first column the tag; CoNLL files put the word first, use 1.. or -1 for the last column")
		}
		o.TagColumn = col.Tag // negative counts from the end in both
	case corpus.CoNLLU:
		o.TagField = col.Field
	case corpus.Brown:
		o.BrownText = t.Type == string(model.MaskedLM) // its text, the tags stripped
	}
	if t.Type == string(model.TokenClassification) && t.TagScheme != "none" {
		o.TagScheme = t.TagScheme
	}
	return o, o.Validate()
}

// Quick is a one-task preprocessing run without a job spec (the CLI's
// quick-run flags). It goes through the same task defaults, mapping and
// checks as a job spec.
type Quick struct {
	Out, Vocab                    string
	Lowercase                     bool
	MaxSeqLen, Shards             int
	MaxRejectedFraction           float64
	MaxRecordBytes                int
	Task, Type, Format, TagScheme string
	Train, Validation, Test       string // comma-separated files
	Labels                        string // comma-separated; empty = collect from train
	Text                          string // tsv/jsonl text column(s), comma-separated; "" = the spec's default
	TextB, ID                     string // tsv/jsonl columns, read when set
	Label                         string // tsv/jsonl label column; "" = the spec's default
	Tokens, Tags                  string // jsonl token-task keys; "" = the spec's defaults
	WordColumn                    int    // conll
	TagColumn                     *int   // conll; nil = the spec's default (the last column)
	Field                         string // conllu: upos | xpos; "" = the spec's default
}

// Config turns the flags into a run config.
func (q Quick) Config() (preprocess.Config, error) {
	st := spec.Task{Name: q.Task, Type: q.Type, Format: q.Format, TagScheme: q.TagScheme,
		Columns: spec.Columns{Text: split(q.Text), TextB: q.TextB, Label: q.Label, ID: q.ID, Tokens: q.Tokens, Tags: q.Tags,
			Word: q.WordColumn, Field: q.Field},
		Paths: map[string][]string{}}
	if q.TagColumn != nil {
		st.Columns.Tag = *q.TagColumn
	}
	spec.FillTask(&st, func(key string) bool {
		switch key {
		case "tag_scheme":
			return q.TagScheme != ""
		case "columns.field":
			return q.Field != ""
		case "columns.tag":
			return q.TagColumn != nil
		case "columns.text":
			return q.Text != ""
		case "columns.label":
			return q.Label != ""
		case "columns.tokens":
			return q.Tokens != ""
		case "columns.tags":
			return q.Tags != ""
		}
		return true // every other task key is exactly what the flags say
	})
	for sp, files := range map[string]string{"train": q.Train, "validation": q.Validation, "test": q.Test} {
		if fs := split(files); len(fs) > 0 {
			st.Paths[sp] = fs
		}
	}
	if q.Labels != "" {
		st.Labels = strings.Split(q.Labels, ",")
	}
	t, err := preprocessTask(st, q.MaxRecordBytes, func(p string) string { return p })
	if err != nil {
		return preprocess.Config{}, fmt.Errorf("--task %s: %w", q.Task, err)
	}
	c := preprocess.Config{Out: q.Out, Shards: q.Shards, MaxRejectedFraction: q.MaxRejectedFraction,
		Vocab: q.Vocab, Lowercase: q.Lowercase, MaxSeqLen: q.MaxSeqLen, Tasks: []preprocess.Task{t}}
	return c, c.Validate()
}

// split reads a comma-separated flag; empty items are dropped.
func split(list string) []string {
	var out []string
	for _, f := range strings.Split(list, ",") {
		if f = strings.TrimSpace(f); f != "" {
			out = append(out, f)
		}
	}
	return out
}

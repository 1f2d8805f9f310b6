package stages_test

import (
	"strings"
	"testing"

	"github.com/taskweave/taskweave/jobs/stages"
)

func intp(v int) *int { return &v }

// The quick-run flags take the spec's task defaults for what they do not
// give, and keep what they give.
func TestQuickTaskDefaults(t *testing.T) {
	base := stages.Quick{Out: "out", Vocab: "vocab.txt", MaxSeqLen: 32, Shards: 1, MaxRecordBytes: 1 << 20, Task: "x", Train: "a, b"}
	cases := []struct {
		name   string
		q      func(q *stages.Quick)
		check  func(t *testing.T, q stages.Quick)
		errors string
	}{
		{"conll tag column defaults to the last", func(q *stages.Quick) { q.Type, q.Format = "token_classification", "conll" }, func(t *testing.T, q stages.Quick) {
			c, err := q.Config()
			if err != nil {
				t.Fatal(err)
			}
			if r := c.Tasks[0].Read; r.TagColumn != -1 || r.TagScheme != "" || c.Tasks[0].TagScheme != "none" {
				t.Errorf("read options %+v, tag scheme %q", r, c.Tasks[0].TagScheme)
			}
			if got := c.Tasks[0].Paths["train"]; len(got) != 2 || got[1] != "b" {
				t.Errorf("train files %q", got)
			}
		}, ""},
		{"conll tag column given", func(q *stages.Quick) {
			q.Type, q.Format, q.TagScheme, q.TagColumn = "token_classification", "conll", "iob2", intp(3)
		}, func(t *testing.T, q stages.Quick) {
			c, err := q.Config()
			if err != nil {
				t.Fatal(err)
			}
			if r := c.Tasks[0].Read; r.TagColumn != 3 || r.TagScheme != "iob2" {
				t.Errorf("read options %+v", r)
			}
		}, ""},
		{"conll tag column 0 is kept, and refused", func(q *stages.Quick) {
			q.Type, q.Format, q.TagColumn = "token_classification", "conll", intp(0)
		}, nil, "columns.tag 0"},
		{"conllu field defaults to upos", func(q *stages.Quick) { q.Type, q.Format = "token_classification", "conllu" }, func(t *testing.T, q stages.Quick) {
			c, err := q.Config()
			if err != nil {
				t.Fatal(err)
			}
			if r := c.Tasks[0].Read; r.TagField != "upos" {
				t.Errorf("read options %+v", r)
			}
		}, ""},
		{"tsv columns default to the spec's", func(q *stages.Quick) { q.Type, q.Format = "sequence_classification", "tsv" }, func(t *testing.T, q stages.Quick) {
			c, err := q.Config()
			if err != nil {
				t.Fatal(err)
			}
			if r := c.Tasks[0].Read; strings.Join(r.TextColumns, ",") != "sentence,text" || r.LabelColumn != "label" || r.MaxRecordBytes != 1<<20 {
				t.Errorf("read options %+v", r)
			}
		}, ""},
		{"text columns given", func(q *stages.Quick) {
			q.Type, q.Format, q.Text, q.Label = "sequence_classification", "jsonl", "title, body", "y"
		}, func(t *testing.T, q stages.Quick) {
			c, err := q.Config()
			if err != nil {
				t.Fatal(err)
			}
			if r := c.Tasks[0].Read; strings.Join(r.TextColumns, ",") != "title,body" || r.LabelColumn != "y" {
				t.Errorf("read options %+v", r)
			}
		}, ""},
		{"jsonl token keys default to the spec's", func(q *stages.Quick) { q.Type, q.Format = "token_classification", "jsonl" }, func(t *testing.T, q stages.Quick) {
			c, err := q.Config()
			if err != nil {
				t.Fatal(err)
			}
			if r := c.Tasks[0].Read; r.WordsKey != "tokens" || r.TagsKey != "tags" {
				t.Errorf("read options %+v", r)
			}
		}, ""},
		{"no max record bytes", func(q *stages.Quick) { q.Type, q.Format, q.MaxRecordBytes = "sequence_classification", "tsv", 0 }, nil, "preprocess.max_record_bytes"},
		{"no type", func(q *stages.Quick) { q.Format = "tsv" }, nil, `type ""`},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			q := base
			c.q(&q)
			if c.errors != "" {
				if _, err := q.Config(); err == nil || !strings.Contains(err.Error(), c.errors) {
					t.Fatalf("error %v; want %q", err, c.errors)
				}
				return
			}
			c.check(t, q)
		})
	}
}

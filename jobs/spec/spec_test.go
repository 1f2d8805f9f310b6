package spec

import (
	"strings"
	"testing"
)

const minimal = `
name: t
tokenizer:
  vocab: vocab.txt
tasks:
  - name: sst2
    type: sequence_classification
    format: tsv
    paths:
      train: [train.tsv]
      validation: [dev.tsv]
`

func TestParseDefaults(t *testing.T) {
	s, err := Parse([]byte(minimal), "/jobs")
	if err != nil {
		t.Fatal(err)
	}
	if s.Tokenizer.MaxSeqLen != 128 || s.Train.Strategy.Name != "equal" || s.Runner.Name != "prism" {
		t.Fatalf("defaults not applied: %+v", s)
	}
	if got := s.Path(s.Tasks[0].Paths["train"][0]); got != "/jobs/train.tsv" {
		t.Fatalf("relative path resolved to %q", got)
	}
	if got := s.Path("gs://b/x.tsv"); got != "gs://b/x.tsv" {
		t.Fatalf("gs:// path changed to %q", got)
	}
}

func TestParseErrors(t *testing.T) {
	cases := []struct {
		name, yaml string
		want       []string
	}{
		{"unknown key", minimal + "trian:\n  steps: 3\n", []string{"trian", "unknown"}},
		{"bad strategy", minimal + "train:\n  strategy:\n    name: magic\n", []string{"line 14", "train.strategy.name", `"magic" is not allowed`, "pcgrad"}},
		{"pcgrad needs all", minimal + "train:\n  strategy:\n    name: pcgrad\n", []string{"step_mode", "set step_mode: all"}},
		{"bad task type", strings.Replace(minimal, "sequence_classification", "seq", 1), []string{"line 7", "tasks[0].type", "token_classification"}},
		{"no train split", strings.Replace(minimal, "train: [train.tsv]", "test: [t.tsv]", 1), []string{"tasks[0].paths.train", "missing"}},
		{"bad split", strings.Replace(minimal, "validation: [dev.tsv]", "dev: [dev.tsv]", 1), []string{"tasks[0].paths.dev", "validation"}},
		{"bad cron", minimal + "schedule: \"0 3 * *\"\n", []string{"line 12", "schedule", "five fields"}},
		{"wrong type", minimal + "train:\n  steps: many\n", []string{"steps"}},
		{"token dropout out of range", minimal + "model:\n  token_dropout: 1.5\n", []string{"model.token_dropout", "0 <= token_dropout < 1"}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			_, err := Parse([]byte(c.yaml), ".")
			if err == nil {
				t.Fatal("accepted a bad spec")
			}
			for _, w := range c.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q does not mention %q", err, w)
				}
			}
		})
	}
}

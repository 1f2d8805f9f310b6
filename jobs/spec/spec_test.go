package spec

import (
	"strings"
	"testing"
	"time"
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
		{"pcgrad needs all", minimal + "train:\n  strategy:\n    name: pcgrad\n", []string{"step_mode", "set train.step_mode: all"}},
		{"bad task type", strings.Replace(minimal, "sequence_classification", "seq", 1), []string{"line 7", "tasks[0].type", "token_classification"}},
		{"no train split", strings.Replace(minimal, "train: [train.tsv]", "test: [t.tsv]", 1), []string{"tasks[0].paths.train", "missing"}},
		{"bad split", strings.Replace(minimal, "validation: [dev.tsv]", "dev: [dev.tsv]", 1), []string{"tasks[0].paths.dev", "validation"}},
		{"bad cron", minimal + "schedule: \"0 3 * *\"\n", []string{"line 12", "schedule", "five fields"}},
		{"wrong type", minimal + "train:\n  steps: many\n", []string{"steps"}},
		{"direct runner", minimal + "runner:\n  name: direct\n", []string{"runner.name", `"direct" is not allowed`, "prism, dataflow"}},
		{"token dropout out of range", minimal + "model:\n  token_dropout: 1.5\n", []string{"model.token_dropout", "0 <= token_dropout < 1"}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) { wantErrors(t, c.yaml, c.want) })
	}
}

// wantErrors parses a spec that must be refused with every one of want in
// the error.
func wantErrors(t *testing.T, yaml string, want []string) {
	t.Helper()
	_, err := Parse([]byte(yaml), ".")
	if err == nil {
		t.Fatal("accepted a bad spec")
	}
	for _, w := range want {
		if !strings.Contains(err.Error(), w) {
			t.Errorf("error %q does not mention %q", err, w)
		}
	}
}

// Issue 14 item 1: every numeric key is range-checked with its line and the
// allowed range. Each case is one of the repros (they all passed validate
// and then did something else: trained on 0 tokens, panicked, never
// evaluated, turned clipping off, truncated 20.7 to 20, …).
func TestNumericRanges(t *testing.T) {
	cases := []struct {
		name, yaml string
		want       []string
	}{
		{"accumulate -2", "train:\n  accumulate: -2\n", []string{"line 13", "train.accumulate", "-2 is out of range", "accumulate >= 1"}},
		{"batch_size -4", "train:\n  batch_size: -4\n", []string{"line 13", "train.batch_size", "batch_size >= 1"}},
		{"eval_every -10", "train:\n  eval_every: -10\n", []string{"line 13", "train.eval_every", "eval_every >= 0"}},
		{"clip -1", "train:\n  clip: -1\n", []string{"line 13", "train.clip", "clip >= 0 (0 = no clipping)"}},
		{"batch_tokens -100", "train:\n  batch_tokens: -100\n", []string{"line 13", "train.batch_tokens", "batch_tokens >= 0"}},
		{"batch_tokens below max_seq_len", "train:\n  batch_tokens: 100\n", []string{"line 13", "train.batch_tokens", "smaller than tokenizer.max_seq_len 128"}},
		{"steps 20.7", "train:\n  steps: 20.7\n", []string{"line 13", "train.steps", "20.7 is not a whole number"}},
		{"steps 0", "train:\n  steps: 0\n", []string{"train.steps", "steps >= 1"}},
		{"warmup 1.5", "train:\n  warmup: 1.5\n", []string{"line 13", "train.warmup", "0 <= warmup <= 1 (a fraction of steps)"}},
		{"warmup -0.1", "train:\n  warmup: -0.1\n", []string{"train.warmup", "0 <= warmup <= 1"}},
		{"weight_decay -0.01", "train:\n  weight_decay: -0.01\n", []string{"line 13", "train.weight_decay", "0 <= weight_decay <= 1"}},
		{"weight_decay 3", "train:\n  weight_decay: 3\n", []string{"train.weight_decay", "0 <= weight_decay <= 1"}},
		{"lr 0", "train:\n  lr: 0\n", []string{"train.lr", "0 < lr <= 1"}},
		{"lr nan", "train:\n  lr: .nan\n", []string{"train.lr", "NaN is out of range"}},
		{"patience -1", "train:\n  patience: -1\n", []string{"train.patience", "patience >= 0"}},
		{"save_every -5", "train:\n  save_every: -5\n", []string{"train.save_every", "save_every >= 0"}},
		{"mixture temperature 0", "train:\n  mixture: {temperature: 0}\n", []string{"train.mixture.temperature", "temperature > 0"}},
		{"capped without cap", "train:\n  mixture: {name: capped}\n", []string{"train.mixture.cap", "cap >= 1"}},
		{"explicit without rates", "train:\n  mixture: {name: explicit}\n", []string{"train.mixture.name", "tasks[].rate"}},
		{"strategy lr -1", "train:\n  strategy: {lr: -1}\n", []string{"train.strategy.lr", "0 <= lr <= 1"}},
		{"strategy alpha -1", "train:\n  strategy: {alpha: -1}\n", []string{"train.strategy.alpha", "alpha >= 0"}},
		{"loss_variance window 1", "train:\n  strategy: {name: loss_variance, window: 1}\n", []string{"train.strategy.window", "window >= 2"}},
		{"dropout 1", "model:\n  dropout: 1\n", []string{"line 13", "model.dropout", "0 <= dropout < 1"}},
		{"shards 0", "preprocess:\n  shards: 0\n", []string{"preprocess.shards", "1 <= shards <= 99999"}},
		{"max_rejected_fraction 2", "preprocess:\n  max_rejected_fraction: 2\n", []string{"preprocess.max_rejected_fraction", "0 <= max_rejected_fraction <= 1"}},
		{"max_record_bytes 0", "preprocess:\n  max_record_bytes: 0\n", []string{"line 13", "preprocess.max_record_bytes", "1 <= max_record_bytes <= 1073741824"}},
		{"max_record_bytes 1.5", "preprocess:\n  max_record_bytes: 1.5\n", []string{"preprocess.max_record_bytes", "not a whole number"}},
		{"max_seq_len 4", "tokenizer:\n  vocab: v.txt\n  max_seq_len: 4\n", []string{"tokenizer.max_seq_len", "8 <= max_seq_len <= 4096"}},
		{"evaluate batch 0", "evaluate:\n  batch_size: 0\n", []string{"evaluate.batch_size", "batch_size >= 1"}},
		{"tolerance -0.1", "registry:\n  tolerance: -0.1\n", []string{"registry.tolerance", "0 <= tolerance <= 1"}},
		{"tolerance inf", "registry:\n  tolerance: .inf\n", []string{"registry.tolerance", "+Inf is out of range"}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			y := minimal + c.yaml
			if strings.HasPrefix(c.yaml, "tokenizer:") {
				y = strings.Replace(minimal, "tokenizer:\n  vocab: vocab.txt\n", c.yaml, 1)
			}
			wantErrors(t, y, c.want)
		})
	}
}

func TestTaskKeyRules(t *testing.T) {
	cases := []struct {
		name, yaml string
		want       []string
	}{
		{"layer deeper than the model", "    layer: 5\nmodel: {size: tiny}\n", []string{"tasks[0].layer", "tiny (2 layers)", "1..2"}},
		{"negative layer", "    layer: -1\n", []string{"tasks[0].layer", "layer >= 0"}},
		{"negative weight", "    weight: -1\n", []string{"tasks[0].weight", "weight >= 0"}},
		{"fractional layer", "    layer: 1.5\n", []string{"line 12", "tasks[0].layer", "not a whole number"}},
		{"empty text column", "    columns: {text: \"\"}\n", []string{"line 12", "tasks[0].columns.text", "empty; name the column"}},
		{"empty list of text columns", "    columns: {text: []}\n", []string{"tasks[0].columns.text", "empty"}},
		{"empty label column", "    columns: {label: \"\"}\n", []string{"tasks[0].columns.label", "empty"}},
		{"text column not a name", "    columns: {text: {a: 1}}\n", []string{"line 12", "want a column name or a list of names"}},
		{"text list item not a name", "    columns: {text: [a, [b]]}\n", []string{"line 12", "a column name must be a string"}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) { wantErrors(t, minimal+c.yaml, c.want) })
	}
}

// select_metric and registry.metric are checked by validate, not at the
// first evaluation or the first promotion.
func TestSelectMetric(t *testing.T) {
	two := minimal + `  - name: pos
    type: token_classification
    format: conllu
    auxiliary: true
    paths: {train: [t.conllu], validation: [d.conllu]}
  - name: nodev
    type: sequence_classification
    format: tsv
    paths: {train: [t.tsv]}
`
	for _, key := range []struct{ name, yaml string }{
		{"train.select_metric", "train:\n  select_metric: "},
		{"registry.metric", "evaluate:\n  split: validation\nregistry:\n  metric: "},
	} {
		cases := []struct {
			metric string
			want   []string // nil = accepted
		}{
			{"mean", nil},
			{"min", nil},
			{"sst2", nil},
			{"pos", []string{key.name, `task "pos" is auxiliary`}},
			{"f1", []string{"line", key.name, `"f1" is not allowed`, "mean, min, sst2, nodev"}},
			{"nodev", []string{key.name, "no validation files"}},
		}
		for _, c := range cases {
			t.Run(key.name+"="+c.metric, func(t *testing.T) {
				y := two + key.yaml + c.metric + "\n"
				if c.want != nil {
					wantErrors(t, y, c.want)
				} else if _, err := Parse([]byte(y), "."); err != nil {
					t.Fatal(err)
				}
			})
		}
	}
	allAux := strings.Replace(minimal, "    format: tsv\n", "    format: tsv\n    auxiliary: true\n", 1)
	if _, err := Parse([]byte(allAux), "."); err == nil || !strings.Contains(err.Error(), "every task is auxiliary") {
		t.Fatalf("all tasks auxiliary: %v", err)
	}
}

// The job lock's lease length is a spec key with a range; the runner takes
// it as given.
func TestLeaseTTL(t *testing.T) {
	s, err := Parse([]byte(minimal), ".")
	if err != nil {
		t.Fatal(err)
	}
	if got := s.Run.LeaseTTL(); got != 2*time.Minute {
		t.Errorf("default lease %s, want 2m", got)
	}
	s, err = Parse([]byte(minimal+"run:\n  lease_ttl_seconds: 2.5\n"), ".")
	if err != nil {
		t.Fatal(err)
	}
	if got := s.Run.LeaseTTL(); got != 2500*time.Millisecond {
		t.Errorf("lease_ttl_seconds: 2.5 gave %s", got)
	}
	wantErrors(t, minimal+"run:\n  lease_ttl_seconds: 0\n", []string{"run.lease_ttl_seconds", "out of range"})
}

// checkpoint_every_dir did nothing; it is gone, and the strict decoder says so.
func TestRemovedKeys(t *testing.T) {
	_, err := Parse([]byte(minimal+"train:\n  checkpoint_every_dir: ck\n"), ".")
	if err == nil || !strings.Contains(err.Error(), "checkpoint_every_dir") {
		t.Fatalf("checkpoint_every_dir accepted: %v", err)
	}
}

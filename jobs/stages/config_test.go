package stages_test

import (
	"fmt"
	"reflect"
	"slices"
	"strings"
	"testing"

	"github.com/taskweave/taskweave/io/corpus"
	"github.com/taskweave/taskweave/jobs/spec"
	"github.com/taskweave/taskweave/jobs/stages"
	"github.com/taskweave/taskweave/trainer"
)

const base = `
name: z
tokenizer: {vocab: vocab.txt}
tasks:
  - name: a
    type: sequence_classification
    format: tsv
    paths: {train: [a.tsv], validation: [a-dev.tsv]}
`

// Every key written as 0 reaches its stage's configuration as 0 (issue 10
// item 2, issue 14 item 2): before, dropout 0 trained with 0.1,
// max_rejected_fraction 0 allowed 1%, clip 0 clipped at 1, seed 0 ran seed
// 42, and so on, because each layer replaced 0 by its own default.
func TestWrittenZeroReachesTheStage(t *testing.T) {
	train := func(get func(c trainer.Config) any) func(s *spec.Spec) any {
		return func(s *spec.Spec) any { return get(stages.TrainConfig(s, "data", "out")) }
	}
	cases := []struct {
		yaml string
		get  func(s *spec.Spec) any
	}{
		{"model: {dropout: 0}", train(func(c trainer.Config) any { return c.Dropout })},
		{"model: {token_dropout: 0}", train(func(c trainer.Config) any { return c.TokenDropout })},
		{"model: {seed: 0}", train(func(c trainer.Config) any { return c.ModelSeed })},
		{"train: {warmup: 0}", train(func(c trainer.Config) any { return c.Warmup })},
		{"train: {weight_decay: 0}", train(func(c trainer.Config) any { return c.WeightDecay })},
		{"train: {clip: 0}", train(func(c trainer.Config) any { return c.Clip })},
		{"train: {seed: 0}", train(func(c trainer.Config) any { return c.Seed })},
		{"train: {batch_tokens: 0}", train(func(c trainer.Config) any { return c.BatchTokens })},
		{"train: {patience: 0}", train(func(c trainer.Config) any { return c.Patience })},
		{"train: {save_every: 0}", train(func(c trainer.Config) any { return c.SaveEvery })},
		{"train: {mixture: {cap: 0}}", train(func(c trainer.Config) any { return c.Mixture.Cap })},
		{"train: {strategy: {alpha: 0}}", train(func(c trainer.Config) any { return c.Strategy.Alpha })},
		{"tasks[0].weight: 0", train(func(c trainer.Config) any { return c.Tasks[0].Weight })},
		{"tasks[0].rate: 0", train(func(c trainer.Config) any { return c.Tasks[0].Rate })},
		{"tasks[0].layer: 0", train(func(c trainer.Config) any { return c.Tasks[0].Layer })},
		{"preprocess: {max_rejected_fraction: 0}", func(s *spec.Spec) any {
			c, err := stages.PreprocessConfig(s)
			if err != nil {
				return err
			}
			return c.MaxRejectedFraction
		}},
		{"registry: {tolerance: 0}", func(s *spec.Spec) any { return s.Registry.Tolerance }},
	}
	for _, c := range cases {
		t.Run(c.yaml, func(t *testing.T) {
			y := base + c.yaml + "\n"
			if k, v, ok := strings.Cut(c.yaml, "tasks[0]."); ok && k == "" {
				y = base + "    " + strings.Replace(v, ": ", ": ", 1) + "\n"
			}
			s, err := spec.Parse([]byte(y), "/jobs")
			if err != nil {
				t.Fatal(err)
			}
			if got := c.get(s); !reflect.ValueOf(got).IsZero() {
				t.Fatalf("%s reached the stage as %v", c.yaml, got)
			}
		})
	}
}

// TrainConfig fills every trainer.Config field the spec decides: with every
// key written non-zero, no field is left at its zero value. A field added to
// the trainer without a spec key and a mapping fails here.
func TestTrainConfigFillsEveryField(t *testing.T) {
	y := base + `    layer: 1
    weight: 2
    rate: 0.5
    auxiliary: true
    sharing: {layer_attention: false}
  - name: b
    type: sequence_classification
    format: tsv
    paths: {train: [b.tsv], validation: [b-dev.tsv]}
  - name: m
    type: masked_lm
    source: [a, b]
    whole_word: true
    weight: 0.5
    rate: 0.1
    layer: 1
    sharing: {layer_attention: false}
model:
  size: mini
  init: hf
  allow_vocab_truncation: true
  dropout: 0.2
  token_dropout: 0.1
  seed: 3
  sharing: {rank: 4, matrices: [query], layer_attention: true, adapter: 8, basis: shared, freeze_shared: true, experts: 2, expert_layers: 1}
train:
  steps: 7
  batch_size: 3
  batch_tokens: 256
  lr: 0.01
  warmup: 0.2
  weight_decay: 0.1
  clip: 2
  sparse_embeddings: true
  accumulate: 2
  seed: 5
  step_mode: all
  mixture: {name: capped, cap: 10, temperature: 3}
  strategy: {name: gradnorm, alpha: 1, window: 5, temperature: 3, lr: 0.1}
  eval_every: 3
  eval_split: validation
  select_metric: b
  patience: 2
  save_every: 4
  log_every: 2
  shuffle_buffer: 8
  pool_batches: 4
  phases: [{name: adapt, tasks: [m], share: 0.3}, {share: 0.7}]
`
	s, err := spec.Parse([]byte(y), "/jobs")
	if err != nil {
		t.Fatal(err)
	}
	cfg := stages.TrainConfig(s, "data", "out")
	if got := fmt.Sprint(cfg.Phases); got != "[{adapt [m] 2} {phase2 [] 5}]" {
		t.Errorf("phases %s; want 0.3 and 0.7 of 7 steps as 2 and 5", got)
	}
	perRun := map[string]bool{"PadTo": true, "Resume": true, "StopAt": true, "TimeLimit": true, "Progress": true, "Log": true, "BatchLog": true}
	var unset []string
	var walk func(v reflect.Value, prefix string)
	walk = func(v reflect.Value, prefix string) {
		for i := range v.NumField() {
			f := v.Type().Field(i)
			name := prefix + f.Name
			switch {
			case perRun[name] || !f.IsExported():
			case f.Type.Kind() == reflect.Struct && f.Type.PkgPath() != "time":
				walk(v.Field(i), name+".")
			case f.Type.Kind() == reflect.Slice && f.Type.Elem().Kind() == reflect.Struct:
				for j := range v.Field(i).Len() {
					walk(v.Field(i).Index(j), fmt.Sprintf("%s[%d].", name, j))
				}
			case v.Field(i).IsZero():
				unset = append(unset, name)
			}
		}
	}
	walk(reflect.ValueOf(cfg), "")
	// Filled by the trainer from the tasks it finds, not by the spec.
	allowed := map[string]bool{"Mixture.Rates": true, "Mixture.Seed": true, "Strategy.Tasks": true, "Strategy.Static": true, "Strategy.Regression": true,
		"Strategy.Seed": true, "Tasks[1].Layer": true, "Tasks[1].Auxiliary": true, "Tasks[1].Rate": true,
		"Tasks[0].Sharing.LayerAttention": true, "Tasks[2].Sharing.LayerAttention": true, // tasks 0 and 2 read layer 1
		// Only a masked LM (Tasks[2]) reads other tasks' text.
		"Tasks[0].Source": true, "Tasks[0].WholeWord": true, "Tasks[1].Source": true, "Tasks[1].WholeWord": true,
		// input_from cannot be written with this spec's experts and factors (a
		// group runs one encoder path); TestGroupEndToEnd trains a group.
		"Tasks[0].InputFrom": true, "Tasks[1].InputFrom": true, "Tasks[2].InputFrom": true,
		"Phases[1].Tasks":  true, // every task
		"Strategy.Primary": true, // auto_lambda only
		// The pretrain stage's (stages.PretrainConfig, objective electra), not the train stage's.
		"Electra": true}
	var missing []string
	for _, u := range unset {
		if !allowed[u] {
			missing = append(missing, u)
		}
	}
	if len(missing) > 0 {
		t.Fatalf("TrainConfig leaves %v unset although the spec writes them", missing)
	}
}

// The reader's column names and line limit come from the spec: its defaults
// when the task does not write them (text tries sentence then text for tsv,
// text then sentence for jsonl; label, tokens, tags; 8 MiB), what it writes
// otherwise (one name or a list). io/corpus supplies none of them itself.
func TestReadOptionsFromTheSpec(t *testing.T) {
	const taskTail = "    paths: {train: [a]}\n"
	cases := []struct {
		name, task, extra string
		check             func(t *testing.T, r corpus.Options)
	}{
		{"tsv defaults", "    type: sequence_classification\n    format: tsv\n", "", func(t *testing.T, r corpus.Options) {
			if !slices.Equal(r.TextColumns, []string{"sentence", "text"}) || r.LabelColumn != "label" || r.MaxRecordBytes != 8<<20 {
				t.Errorf("%+v", r)
			}
		}},
		{"jsonl defaults", "    type: sequence_classification\n    format: jsonl\n", "", func(t *testing.T, r corpus.Options) {
			if !slices.Equal(r.TextColumns, []string{"text", "sentence"}) || r.LabelColumn != "label" {
				t.Errorf("%+v", r)
			}
		}},
		{"jsonl token defaults", "    type: token_classification\n    format: jsonl\n", "", func(t *testing.T, r corpus.Options) {
			if !r.TokenLevel || r.WordsKey != "tokens" || r.TagsKey != "tags" {
				t.Errorf("%+v", r)
			}
		}},
		{"written names and limit", "    type: sequence_classification\n    format: jsonl\n    columns: {text: review, label: stars}\n",
			"preprocess: {max_record_bytes: 4096}\n", func(t *testing.T, r corpus.Options) {
				if !slices.Equal(r.TextColumns, []string{"review"}) || r.LabelColumn != "stars" || r.MaxRecordBytes != 4096 {
					t.Errorf("%+v", r)
				}
			}},
		{"a list of text names", "    type: sequence_classification\n    format: tsv\n    columns: {text: [premise, sentence]}\n", "",
			func(t *testing.T, r corpus.Options) {
				if !slices.Equal(r.TextColumns, []string{"premise", "sentence"}) {
					t.Errorf("%+v", r)
				}
			}},
		{"jsonl token keys written", "    type: token_classification\n    format: jsonl\n    columns: {tokens: words, tags: ner}\n", "",
			func(t *testing.T, r corpus.Options) {
				if r.WordsKey != "words" || r.TagsKey != "ner" {
					t.Errorf("%+v", r)
				}
			}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			y := "name: z\ntokenizer: {vocab: v.txt}\ntasks:\n  - name: a\n" + c.task + taskTail + c.extra
			s, err := spec.Parse([]byte(y), "/jobs")
			if err != nil {
				t.Fatal(err)
			}
			pc, err := stages.PreprocessConfig(s)
			if err != nil {
				t.Fatal(err)
			}
			c.check(t, pc.Tasks[0].Read)
		})
	}
	// An empty name written in the spec is refused, naming the key: by
	// validate, and by the reader if a mapping ever let one through.
	if _, err := spec.Parse([]byte(base+"    columns: {label: \"\"}\n"), "/jobs"); err == nil || !strings.Contains(err.Error(), "tasks[0].columns.label: empty") {
		t.Errorf("empty label column: %v", err)
	}
	if _, err := stages.ReadOptions(spec.Task{Format: "tsv", Type: "sequence_classification", Columns: spec.Columns{Text: spec.Names{"s"}}}, 1024); err == nil ||
		!strings.Contains(err.Error(), "tasks[].columns.label") {
		t.Errorf("empty label column: %v", err)
	}
	// max_record_bytes has a range.
	if _, err := spec.Parse([]byte(base+"preprocess: {max_record_bytes: 0}\n"), "/jobs"); err == nil || !strings.Contains(err.Error(), "preprocess.max_record_bytes") {
		t.Errorf("max_record_bytes 0: %v", err)
	}
}

package spec

import (
	"cmp"
	"fmt"
	"io"
	"reflect"
	"slices"
	"strings"

	"github.com/taskweave/taskweave/model"
	"github.com/taskweave/taskweave/model/multitask"
)

// Default is the value a key takes when the job spec does not write it.
// This table is the only place in taskweave that defaults a setting: the
// trainer, the strategies, the mixtures and the pipelines take every value
// explicitly, so a key written as 0 stays 0 all the way down (dropout: 0 is
// no dropout, clip: 0 is no clipping, seed: 0 is seed 0).
type Default struct {
	Key   string // dotted key; "tasks[]." applies to every task
	Value any    // the default, of the field's type; nil when derived
	// Doc describes a derived default (one that depends on other keys), or
	// says what a fixed one means.
	Doc    string
	derive func(s *Spec, t *Task) (any, bool) // false: no default here, the key stays as written
}

// Defaults, in the order they are applied (derived ones read keys above them).
// Every numeric key is listed, those whose default is 0 too, so the table is
// the whole story (a test checks it).
var Defaults = []Default{
	{Key: "output", Doc: "out/<name>", derive: func(s *Spec, _ *Task) (any, bool) { return "out/" + cmp.Or(s.Name, "job"), true }},
	{Key: "tokenizer.max_seq_len", Value: 128},
	{Key: "tasks[].tag_scheme", Doc: "none for token_classification tasks", derive: func(_ *Spec, t *Task) (any, bool) {
		return "none", t.Type == string(model.TokenClassification)
	}},
	{Key: "tasks[].auxiliary", Doc: "true for masked_lm tasks", derive: func(_ *Spec, t *Task) (any, bool) {
		return true, t.Type == string(model.MaskedLM)
	}},
	{Key: "tasks[].format", Doc: "input_from's format", derive: fromInput(func(t *Task) any { return t.Format })},
	{Key: "tasks[].paths", Doc: "input_from's paths", derive: fromInput(func(t *Task) any { return clonePaths(t.Paths) })},
	{Key: "tasks[].layer", Value: 0},
	{Key: "tasks[].weight", Value: 1.0},
	{Key: "tasks[].rate", Value: 0.0},
	{Key: "tasks[].columns.text", Doc: "input_from's, else [sentence, text] for tsv (GLUE's name first), [text, sentence] for jsonl: the first name the file has", derive: func(s *Spec, t *Task) (any, bool) {
		if in := s.inputTask(t); in != nil {
			return slices.Clone(in.Columns.Text), true
		}
		switch t.Format {
		case "tsv":
			return Names{"sentence", "text"}, true
		case "jsonl":
			return Names{"text", "sentence"}, true
		}
		return nil, false
	}},
	{Key: "tasks[].columns.label", Value: "label"},
	{Key: "tasks[].columns.text_b", Doc: "input_from's", derive: fromInput(func(t *Task) any { return t.Columns.TextB })},
	{Key: "tasks[].columns.id", Doc: "input_from's", derive: fromInput(func(t *Task) any { return t.Columns.ID })},
	{Key: "tasks[].columns.tokens", Doc: "input_from's, else tokens", derive: orInput("tokens", func(t *Task) any { return t.Columns.Tokens })},
	{Key: "tasks[].columns.tags", Value: "tags"},
	{Key: "tasks[].columns.word", Doc: "input_from's, else 0", derive: orInput(0, func(t *Task) any { return t.Columns.Word })},
	{Key: "tasks[].columns.tag", Doc: "-1 (the last column) for conll", derive: func(_ *Spec, t *Task) (any, bool) { return -1, t.Format == "conll" }},
	{Key: "tasks[].columns.field", Doc: "upos for conllu", derive: func(_ *Spec, t *Task) (any, bool) { return "upos", t.Format == "conllu" }},
	{Key: "preprocess.output", Doc: "<output>/data", derive: under("data")},
	{Key: "preprocess.shards", Value: 4},
	{Key: "preprocess.max_rejected_fraction", Value: 0.01},
	{Key: "preprocess.max_record_bytes", Value: 8 << 20, Doc: "8 MiB"},
	{Key: "model.size", Doc: "mini unless model.init is set", derive: func(s *Spec, _ *Task) (any, bool) { return "mini", s.Model.Init == "" }},
	{Key: "model.allow_vocab_truncation", Value: false},
	{Key: "model.dropout", Value: 0.1},
	{Key: "model.token_dropout", Value: 0.0},
	{Key: "model.seed", Value: uint64(0)},
	{Key: "model.sharing.rank", Value: 0},
	{Key: "model.sharing.matrices", Value: model.FactorMatrices},
	{Key: "model.sharing.layer_attention", Value: false},
	{Key: "model.sharing.adapter", Value: 0},
	{Key: "model.sharing.basis", Value: "per_task"},
	{Key: "model.sharing.freeze_shared", Value: false},
	{Key: "model.sharing.experts", Value: 0},
	{Key: "model.sharing.expert_layers", Value: 1},
	{Key: "tasks[].sharing.rank", Doc: "model.sharing.rank", derive: func(s *Spec, _ *Task) (any, bool) { return s.Model.Sharing.Rank, true }},
	{Key: "tasks[].sharing.matrices", Doc: "model.sharing.matrices", derive: func(s *Spec, _ *Task) (any, bool) {
		return slices.Clone(s.Model.Sharing.Matrices), true
	}},
	{Key: "tasks[].sharing.layer_attention", Doc: "model.sharing.layer_attention", derive: func(s *Spec, _ *Task) (any, bool) {
		return s.Model.Sharing.LayerAttention, true
	}},
	{Key: "tasks[].sharing.adapter", Doc: "model.sharing.adapter", derive: func(s *Spec, _ *Task) (any, bool) { return s.Model.Sharing.Adapter, true }},
	{Key: "train.output", Doc: "<output>/train", derive: under("train")},
	{Key: "train.steps", Value: 1000},
	{Key: "train.batch_size", Value: 32},
	{Key: "train.batch_tokens", Value: 0},
	{Key: "train.lr", Value: 5e-4},
	{Key: "train.warmup", Value: 0.1},
	{Key: "train.weight_decay", Value: 0.01},
	{Key: "train.clip", Value: 1.0},
	{Key: "train.sparse_embeddings", Value: false},
	{Key: "train.precision", Value: string(model.FP32)},
	{Key: "train.accumulate", Value: 1},
	{Key: "train.seed", Value: uint64(42)},
	{Key: "train.step_mode", Value: "sampled"},
	{Key: "train.mixture.name", Value: "temperature"},
	{Key: "train.mixture.cap", Value: 0},
	{Key: "train.mixture.temperature", Value: 2.0},
	{Key: "train.strategy.name", Value: string(multitask.NameEqual)},
	{Key: "train.strategy.alpha", Value: 1.5},
	{Key: "train.strategy.window", Value: 20},
	{Key: "train.strategy.temperature", Value: 2.0},
	{Key: "train.strategy.lr", Value: 0.025},
	{Key: "train.strategy.gamma", Value: 0.001},
	{Key: "train.strategy.holdout", Value: 0.02},
	{Key: "train.eval_every", Value: 200},
	{Key: "train.eval_split", Value: "validation"},
	{Key: "train.select_metric", Value: "mean"},
	{Key: "train.patience", Value: 0},
	{Key: "train.save_every", Value: 0},
	{Key: "train.log_every", Value: 10},
	{Key: "train.shuffle_buffer", Value: 4096},
	{Key: "train.pool_batches", Value: 50},
	{Key: "evaluate.split", Value: "test"},
	{Key: "evaluate.batch_size", Value: 64},
	{Key: "evaluate.output", Doc: "<output>/eval", derive: under("eval")},
	{Key: "registry.path", Doc: "<output>/registry", derive: under("registry")},
	{Key: "registry.metric", Value: "mean"},
	{Key: "registry.tolerance", Value: 0.01},
	{Key: "run.lease_ttl_seconds", Value: 120.0},
	{Key: "runner.name", Value: "prism"},
	{Key: "pretrain.objective", Value: "mlm"},
	{Key: "pretrain.generator_size", Value: 0.25},
	{Key: "pretrain.rtd_weight", Value: 50.0},
	{Key: "pretrain.output", Doc: "<output>/pretrain", derive: under("pretrain")},
	{Key: "pretrain.steps", Value: 100000},
	{Key: "pretrain.batch_size", Value: 64},
	{Key: "pretrain.lr", Value: 5e-4},
	{Key: "pretrain.warmup", Value: 0.01},
	{Key: "pretrain.weight_decay", Value: 0.01},
	{Key: "pretrain.clip", Value: 1.0},
	{Key: "pretrain.seed", Value: uint64(42)},
	{Key: "pretrain.holdout", Value: 0.01},
	{Key: "pretrain.shards", Value: 8},
	{Key: "pretrain.eval_every", Value: 1000},
	{Key: "pretrain.save_every", Value: 500},
	{Key: "pretrain.log_every", Value: 10},
	{Key: "pretrain.time_limit_seconds", Value: 0.0},
	{Key: "sweep.trials", Value: 1},
	{Key: "sweep.seed", Value: uint64(0)},
	{Key: "sweep.parallel", Value: 1},
	{Key: "sweep.trial_seconds", Value: 0.0},
	{Key: "sweep.metric", Value: "mean"},
}

// fromInput derives a key of a task with input_from from its input task:
// the group reads one corpus, so what says where and how to read it is
// the input task's (validate refuses a member that writes it).
func fromInput(get func(*Task) any) func(*Spec, *Task) (any, bool) {
	return func(s *Spec, t *Task) (any, bool) {
		if in := s.inputTask(t); in != nil {
			return get(in), true
		}
		return nil, false
	}
}

// clonePaths copies a paths map and its lists: each task owns its own.
func clonePaths(p map[string][]string) map[string][]string {
	out := make(map[string][]string, len(p))
	for split, files := range p {
		out[split] = slices.Clone(files)
	}
	return out
}

// orInput is fromInput with a fixed default for a task without input_from.
func orInput(def any, get func(*Task) any) func(*Spec, *Task) (any, bool) {
	return func(s *Spec, t *Task) (any, bool) {
		if in := s.inputTask(t); in != nil {
			return get(in), true
		}
		return def, true
	}
}

func under(dir string) func(*Spec, *Task) (any, bool) {
	return func(s *Spec, _ *Task) (any, bool) { return s.Output + "/" + dir, true }
}

// DefaultValue is the default of a key with a fixed default, for the
// command-line flags that stand in for spec keys (preprocess's quick run,
// evaluate without a job). It panics on a key without one: that is a
// programming error the command's tests catch.
func DefaultValue[T any](key string) T {
	for _, d := range Defaults {
		if d.Key == key {
			if v, ok := d.Value.(T); ok {
				return v
			}
		}
	}
	panic(fmt.Sprintf("spec: no %T default for %s", *new(T), key))
}

// applyDefaults fills every key the document did not write.
func (s *Spec) applyDefaults(written map[string]any) {
	all := leaves(s)
	for _, d := range Defaults {
		for _, l := range all {
			if l.pattern != d.Key {
				continue
			}
			if _, ok := written[l.key]; ok {
				continue
			}
			v, ok := d.Value, true
			if d.derive != nil {
				v, ok = d.derive(s, l.task)
			}
			if ok {
				rv := reflect.ValueOf(v)
				if rv.Kind() == reflect.Slice { // a spec owns its lists: never the table's
					rv = reflect.AppendSlice(reflect.MakeSlice(rv.Type(), 0, rv.Len()), rv)
				}
				l.v.Set(rv)
			}
		}
	}
}

// WriteDefaults prints the defaults table as Markdown (README, `taskweave
// validate --defaults`).
func WriteDefaults(w io.Writer) error {
	if _, err := fmt.Fprintln(w, "| key | default |\n|---|---|"); err != nil {
		return err
	}
	for _, d := range Defaults {
		v := d.Doc
		if d.derive == nil {
			v = fmt.Sprint(d.Value)
			if d.Doc != "" {
				v += " (" + d.Doc + ")"
			}
		}
		if _, err := fmt.Fprintf(w, "| `%s` | %s |\n", d.Key, v); err != nil {
			return err
		}
	}
	return nil
}

// FillTask applies the tasks[] defaults to a task made outside a spec file
// (preprocess's quick-run flags); written says which task keys
// ("tag_scheme", "columns.tag", …) were given.
func FillTask(t *Task, written func(key string) bool) {
	s := Spec{Tasks: []Task{*t}}
	w := map[string]any{}
	for _, l := range leaves(&s) {
		if k, ok := strings.CutPrefix(l.key, "tasks[0]."); ok && written(k) {
			w[l.key] = true
		}
	}
	s.applyDefaults(w)
	*t = s.Tasks[0]
}

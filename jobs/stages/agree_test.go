package stages_test

import (
	"fmt"
	"math"
	"slices"
	"strings"
	"testing"

	"github.com/taskweave/taskweave/jobs/spec"
	"github.com/taskweave/taskweave/jobs/stages"
	"github.com/taskweave/taskweave/trainer"
)

// setting is how one numeric key of the defaults table reaches the trainer:
// the YAML that makes the key matter (%v is the value) and the trainer
// field it lands in.
type setting struct {
	yaml string
	set  func(c *trainer.Config, v float64)
}

// trainerKeys are the defaults table's numeric keys that the trainer (and
// through it model/multitask and trainer/mixture) validates again.
var trainerKeys = map[string]setting{
	"tasks[].layer":              {"tasks[0].layer: %v", func(c *trainer.Config, v float64) { c.Tasks[0].Layer = int(v) }},
	"tasks[].weight":             {"tasks[0].weight: %v\ntrain: {strategy: {name: static}}", func(c *trainer.Config, v float64) { c.Tasks[0].Weight = v }},
	"tasks[].rate":               {"tasks[0].rate: %v\ntrain: {mixture: {name: explicit}}", func(c *trainer.Config, v float64) { c.Tasks[0].Rate = v }},
	"model.dropout":              {"model: {dropout: %v}", func(c *trainer.Config, v float64) { c.Dropout = v }},
	"model.token_dropout":        {"model: {token_dropout: %v}", func(c *trainer.Config, v float64) { c.TokenDropout = v }},
	"model.seed":                 {"model: {seed: %v}", func(c *trainer.Config, v float64) { c.ModelSeed = uint64(v) }},
	"train.steps":                {"train: {steps: %v}", func(c *trainer.Config, v float64) { c.Steps = int(v) }},
	"train.batch_size":           {"train: {batch_size: %v}", func(c *trainer.Config, v float64) { c.BatchSize = int(v) }},
	"train.batch_tokens":         {"train: {batch_tokens: %v}", func(c *trainer.Config, v float64) { c.BatchTokens = int(v) }},
	"train.lr":                   {"train: {lr: %v}", func(c *trainer.Config, v float64) { c.LR = v }},
	"train.warmup":               {"train: {warmup: %v}", func(c *trainer.Config, v float64) { c.Warmup = v }},
	"train.weight_decay":         {"train: {weight_decay: %v}", func(c *trainer.Config, v float64) { c.WeightDecay = v }},
	"train.clip":                 {"train: {clip: %v}", func(c *trainer.Config, v float64) { c.Clip = v }},
	"train.accumulate":           {"train: {accumulate: %v}", func(c *trainer.Config, v float64) { c.Accumulate = int(v) }},
	"train.seed":                 {"train: {seed: %v}", func(c *trainer.Config, v float64) { c.Seed = uint64(v) }},
	"train.mixture.cap":          {"train: {mixture: {name: capped, cap: %v}}", func(c *trainer.Config, v float64) { c.Mixture.Cap = int(v) }},
	"train.mixture.temperature":  {"train: {mixture: {name: temperature, temperature: %v}}", func(c *trainer.Config, v float64) { c.Mixture.Temperature = v }},
	"train.strategy.alpha":       {"train: {step_mode: all, strategy: {name: gradnorm, alpha: %v}}", func(c *trainer.Config, v float64) { c.Strategy.Alpha = v }},
	"train.strategy.window":      {"train: {strategy: {name: loss_variance, window: %v}}", func(c *trainer.Config, v float64) { c.Strategy.Window = int(v) }},
	"train.strategy.temperature": {"train: {strategy: {name: dwa, temperature: %v}}", func(c *trainer.Config, v float64) { c.Strategy.Temperature = v }},
	"train.strategy.lr":          {"train: {strategy: {name: uncertainty, lr: %v}}", func(c *trainer.Config, v float64) { c.Strategy.LR = v }},
	"train.strategy.gamma":       {"train: {strategy: {name: famo, gamma: %v}}", func(c *trainer.Config, v float64) { c.Strategy.Gamma = v }},
	"train.strategy.holdout":     {"train: {step_mode: all, strategy: {name: auto_lambda, primary: [a], holdout: %v}}", func(c *trainer.Config, v float64) { c.Holdout = v }},
	"train.eval_every":           {"train: {eval_every: %v}", func(c *trainer.Config, v float64) { c.EvalEvery = int(v) }},
	"train.patience":             {"train: {patience: %v}", func(c *trainer.Config, v float64) { c.Patience = int(v) }},
	"train.save_every":           {"train: {save_every: %v}", func(c *trainer.Config, v float64) { c.SaveEvery = int(v) }},
	"train.log_every":            {"train: {log_every: %v}", func(c *trainer.Config, v float64) { c.LogEvery = int(v) }},
	"train.shuffle_buffer":       {"train: {shuffle_buffer: %v}", func(c *trainer.Config, v float64) { c.ShuffleBuffer = int(v) }},
	"train.pool_batches":         {"train: {pool_batches: %v}", func(c *trainer.Config, v float64) { c.PoolBatches = int(v) }},
	// The pretrain block's optimisation keys reach the same trainer fields
	// (stages.PretrainConfig).
	"pretrain.steps":        {"pretrain: {sources: [a], steps: %v}", func(c *trainer.Config, v float64) { c.Steps = int(v) }},
	"pretrain.batch_size":   {"pretrain: {sources: [a], batch_size: %v}", func(c *trainer.Config, v float64) { c.BatchSize = int(v) }},
	"pretrain.lr":           {"pretrain: {sources: [a], lr: %v}", func(c *trainer.Config, v float64) { c.LR = v }},
	"pretrain.warmup":       {"pretrain: {sources: [a], warmup: %v}", func(c *trainer.Config, v float64) { c.Warmup = v }},
	"pretrain.weight_decay": {"pretrain: {sources: [a], weight_decay: %v}", func(c *trainer.Config, v float64) { c.WeightDecay = v }},
	"pretrain.clip":         {"pretrain: {sources: [a], clip: %v}", func(c *trainer.Config, v float64) { c.Clip = v }},
	"pretrain.seed":         {"pretrain: {sources: [a], seed: %v}", func(c *trainer.Config, v float64) { c.Seed = uint64(v) }},
	"pretrain.eval_every":   {"pretrain: {sources: [a], eval_every: %v}", func(c *trainer.Config, v float64) { c.EvalEvery = int(v) }},
	"pretrain.save_every":   {"pretrain: {sources: [a], save_every: %v}", func(c *trainer.Config, v float64) { c.SaveEvery = int(v) }},
	"pretrain.log_every":    {"pretrain: {sources: [a], log_every: %v}", func(c *trainer.Config, v float64) { c.LogEvery = int(v) }},
	// ELECTRA's keys reach the trainer's ELECTRA options (model.ElectraRanges
	// owns their ranges); as in stages.PretrainConfig the run starts from
	// scratch.
	"pretrain.generator_size": {"pretrain: {sources: [a], objective: electra, generator_size: %v}", func(c *trainer.Config, v float64) {
		c.Init, c.Electra = "", &trainer.ElectraOptions{GeneratorSize: v, RTDWeight: 50}
	}},
	"pretrain.rtd_weight": {"pretrain: {sources: [a], objective: electra, rtd_weight: %v}", func(c *trainer.Config, v float64) {
		c.Init, c.Electra = "", &trainer.ElectraOptions{GeneratorSize: 0.25, RTDWeight: v}
	}},
}

// specOnly are the numeric keys no stage config checks again: the stage
// takes them as the spec checked them (or they are the spec's own).
var specOnly = []string{"tokenizer.max_seq_len", "tasks[].columns.word", "tasks[].columns.tag",
	"preprocess.shards", "preprocess.max_rejected_fraction", "preprocess.max_record_bytes",
	"model.sharing.rank", "model.sharing.adapter", "model.sharing.experts", "model.sharing.expert_layers",
	"tasks[].sharing.rank", "tasks[].sharing.adapter",
	"evaluate.batch_size", "registry.tolerance", "run.lease_ttl_seconds",
	"sweep.trials", "sweep.seed", "sweep.parallel", "sweep.trial_seconds",
	"pretrain.holdout", "pretrain.shards", "pretrain.time_limit_seconds"}

// probes are values at and around the edges of r: each bound, one step
// outside it, and one inside; whole numbers for an integer key.
func probes(r spec.Range, integer bool) []float64 {
	step := 0.25
	if integer {
		step = 1
	}
	out := []float64{r.Lo - step, r.Lo, r.Lo + step}
	if !math.IsInf(r.Hi, 1) {
		out = append(out, r.Hi-step, r.Hi, r.Hi+step)
	}
	return out
}

// withValue writes the setting's YAML into the base job at v: tasks[0]
// keys into the task, the rest as top-level blocks.
func withValue(s setting, v float64) string {
	doc := base
	for _, line := range strings.Split(fmt.Sprintf(s.yaml, v), "\n") {
		if k, ok := strings.CutPrefix(line, "tasks[0]."); ok {
			doc += "    " + k + "\n"
			continue
		}
		doc = strings.Replace(doc, "\ntasks:", "\n"+line+"\ntasks:", 1)
	}
	return doc
}

// Issue 23 item 1: for every numeric key of the defaults table, the spec
// (`taskweave validate`) and the trainer (with model/multitask and
// trainer/mixture) accept exactly the values of the key's one range.
func TestSpecAndTrainerAgreeOnEveryKey(t *testing.T) {
	integer, unsigned := map[string]bool{}, map[string]bool{}
	for _, d := range spec.Defaults {
		switch d.Value.(type) {
		case int:
			integer[d.Key] = true
		case uint64: // a seed: -1 is no value of the field at all
			integer[d.Key], unsigned[d.Key] = true, true
		}
	}
	for _, d := range spec.Defaults {
		var r *spec.Range
		for i := range spec.Ranges {
			if spec.Ranges[i].Key == d.Key {
				r = &spec.Ranges[i]
			}
		}
		if r == nil {
			continue // not numeric: its allowed values are lists, checked by spec_test
		}
		s, ok := trainerKeys[d.Key]
		if !ok {
			if !slices.Contains(specOnly, d.Key) {
				t.Errorf("%s: numeric key with neither a trainer setting here nor a place in specOnly", d.Key)
			}
			continue
		}
		vs := probes(*r, integer[d.Key])
		if unsigned[d.Key] {
			vs = slices.DeleteFunc(vs, func(v float64) bool { return v < 0 })
		}
		t.Run(d.Key, func(t *testing.T) { agree(t, d.Key, *r, s, vs) })
	}
}

// agree checks that the spec and the trainer accept the same probes of
// key, and that a value outside the key's range is refused (so neither
// can pass by accepting everything).
func agree(t *testing.T, key string, r spec.Range, s setting, vs []float64) {
	inside := slices.IndexFunc(vs, func(v float64) bool {
		_, err := spec.Parse([]byte(withValue(s, v)), ".")
		return err == nil
	})
	if inside < 0 {
		t.Fatalf("the spec refuses every probe %v of %s", vs, r)
	}
	valid, err := spec.Parse([]byte(withValue(s, vs[inside])), ".")
	if err != nil {
		t.Fatal(err)
	}
	for _, v := range vs {
		_, specErr := spec.Parse([]byte(withValue(s, v)), ".")
		cfg := stages.TrainConfig(valid, "data", "out")
		s.set(&cfg, v)
		trainErr := cfg.Validate()
		if trainErr == nil && key == "train.batch_tokens" { // checked in setup, against the manifest's max_seq_len
			trainErr = trainer.CheckBatchTokens(cfg.BatchTokens, valid.Tokenizer.MaxSeqLen)
		}
		if (specErr == nil) != (trainErr == nil) {
			t.Errorf("%s = %v: the spec says %v, the trainer %v", key, v, specErr, trainErr)
		}
		if specErr == nil && !r.Contains(v) {
			t.Errorf("%s = %v is outside %s but accepted", key, v, r)
		}
	}
}

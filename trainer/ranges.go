package trainer

import (
	"errors"
	"fmt"

	"github.com/taskweave/taskweave/internal/rules"
	"github.com/taskweave/taskweave/model/multitask"
	"github.com/taskweave/taskweave/trainer/mixture"
)

// Ranges are the allowed values of the keys the trainer owns. The
// strategy's keys (and tasks[].weight) are multitask.Ranges, the mixture's
// (and tasks[].rate) mixture.Ranges; jobs/spec checks a job against all of
// them, so a value the spec accepts is one the trainer runs.
var Ranges = []rules.Range{
	{Key: "tasks[].layer", Lo: 0, Hi: rules.Inf, Note: "0 = the top layer, else 1..number of layers"},
	{Key: "model.dropout", Lo: 0, Hi: 1, HiOpen: true},
	{Key: "model.token_dropout", Lo: 0, Hi: 1, HiOpen: true, Note: "0 = off; 0.1 is a common choice"},
	{Key: "model.seed", Lo: 0, Hi: rules.Inf},
	{Key: "train.steps", Lo: 1, Hi: rules.Inf},
	{Key: "train.batch_size", Lo: 1, Hi: rules.Inf},
	{Key: "train.batch_tokens", Lo: 0, Hi: rules.Inf, Note: "0 = batches of batch_size examples"},
	{Key: "train.lr", Lo: 0, Hi: 1, LoOpen: true},
	{Key: "train.warmup", Lo: 0, Hi: 1, Note: "a fraction of steps"},
	{Key: "train.weight_decay", Lo: 0, Hi: 1},
	{Key: "train.clip", Lo: 0, Hi: rules.Inf, Note: "0 = no clipping"},
	{Key: "train.accumulate", Lo: 1, Hi: rules.Inf},
	{Key: "train.seed", Lo: 0, Hi: rules.Inf},
	{Key: "train.strategy.holdout", Lo: 0, Hi: 0.5, LoOpen: true, Note: "auto_lambda: fraction of each primary task's train split held back"},
	{Key: "train.eval_every", Lo: 0, Hi: rules.Inf, Note: "0 = never; best/ is then the last model"},
	{Key: "train.patience", Lo: 0, Hi: rules.Inf, Note: "0 = never stop early"},
	{Key: "train.save_every", Lo: 0, Hi: rules.Inf, Note: "0 = save last/ only at the end and at interruptions"},
	{Key: "train.log_every", Lo: 1, Hi: rules.Inf},
	{Key: "train.shuffle_buffer", Lo: 1, Hi: rules.Inf, Note: "1 = no shuffling"},
	{Key: "train.pool_batches", Lo: 1, Hi: rules.Inf, Note: "1 = no length bucketing"},
}

// checkRanges checks every numeric field against its range in Ranges (or
// its owner's).
func (c *Config) checkRanges() []error {
	var errs []error
	check := func(table []rules.Range, pattern, key string, v float64) {
		if err := rules.Find(table, pattern).Check(key, v); err != nil {
			errs = append(errs, err)
		}
	}
	for i, t := range c.Tasks {
		k := fmt.Sprintf("tasks[%d].", i)
		check(Ranges, "tasks[].layer", k+"layer", float64(t.Layer))
		check(multitask.Ranges, "tasks[].weight", k+"weight", t.Weight)
		check(mixture.Ranges, "tasks[].rate", k+"rate", t.Rate)
	}
	for _, f := range []struct {
		key string
		v   float64
	}{
		{"model.dropout", c.Dropout}, {"model.token_dropout", c.TokenDropout}, {"model.seed", float64(c.ModelSeed)},
		{"train.steps", float64(c.Steps)}, {"train.batch_size", float64(c.BatchSize)}, {"train.batch_tokens", float64(c.BatchTokens)},
		{"train.lr", c.LR}, {"train.warmup", c.Warmup}, {"train.weight_decay", c.WeightDecay}, {"train.clip", c.Clip},
		{"train.accumulate", float64(c.Accumulate)}, {"train.seed", float64(c.Seed)},
		{"train.eval_every", float64(c.EvalEvery)}, {"train.patience", float64(c.Patience)}, {"train.save_every", float64(c.SaveEvery)},
		{"train.log_every", float64(c.LogEvery)}, {"train.shuffle_buffer", float64(c.ShuffleBuffer)}, {"train.pool_batches", float64(c.PoolBatches)},
	} {
		check(Ranges, f.key, f.key, f.v)
	}
	if c.Strategy.Name == multitask.NameAutoLambda {
		check(Ranges, "train.strategy.holdout", "train.strategy.holdout", c.Holdout)
	}
	return errs
}

// strategyConfig is the strategy's config as validation sees it before the
// data is read: the task names and weights filled in.
func (c *Config) strategyConfig() multitask.Config {
	sc := c.Strategy
	sc.Tasks, sc.Static = nil, nil
	for _, t := range c.Tasks {
		sc.Tasks, sc.Static = append(sc.Tasks, t.Name), append(sc.Static, t.Weight)
	}
	return sc
}

// checkOwners asks the strategy and the mixture to validate their own
// configs.
func (c *Config) checkOwners() []error {
	var errs []error
	if len(c.Tasks) > 0 {
		errs = append(errs, c.strategyConfig().Validate())
	}
	mc := c.Mixture
	if mc.Name == "explicit" {
		mc.Rates = nil
		for _, t := range c.Tasks {
			mc.Rates = append(mc.Rates, t.Rate)
		}
	}
	return append(errs, mc.Validate())
}

// joinKeyed joins errs, each *rules.Error once: a range checked by the
// trainer and again by the owner of a key reports once.
func joinKeyed(errs []error) error {
	seen := map[string]bool{}
	var out []error
	for _, err := range errs {
		keyed, other := rules.Split(err)
		for _, e := range keyed {
			if !seen[e.Error()] {
				seen[e.Error()] = true
				out = append(out, fmt.Errorf("trainer: %w", e))
			}
		}
		for _, o := range other {
			out = append(out, fmt.Errorf("trainer: %w", o))
		}
	}
	return errors.Join(out...)
}

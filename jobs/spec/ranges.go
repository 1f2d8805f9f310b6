package spec

import (
	"fmt"
	"math"
	"strconv"
	"strings"
)

// Range is the allowed interval of a numeric key. Every numeric key of a
// spec has one (a test walks the struct to make sure), so a negative batch
// size or an out-of-range warmup fails validation with the line and the
// range instead of doing something else at step 1.
type Range struct {
	Key            string
	Lo, Hi         float64 // ±Inf for no bound
	LoOpen, HiOpen bool    // the bound itself is excluded
	Note           string  // what special values mean, e.g. "0 = off"
}

var inf = math.Inf(1)

// Ranges of every numeric key. Rules that depend on other keys (a layer
// within the model's depth, batch_tokens at least max_seq_len, …) are in
// Validate.
var Ranges = []Range{
	{Key: "tokenizer.max_seq_len", Lo: 8, Hi: 4096},
	{Key: "tasks[].layer", Lo: 0, Hi: inf, Note: "0 = the top layer, else 1..number of layers"},
	{Key: "tasks[].weight", Lo: 0, Hi: inf},
	{Key: "tasks[].rate", Lo: 0, Hi: inf},
	{Key: "tasks[].columns.word", Lo: 0, Hi: 1023, Note: "0-based"},
	{Key: "tasks[].columns.tag", Lo: -1024, Hi: 1023, Note: "0-based; negative counts from the last column"},
	{Key: "preprocess.shards", Lo: 1, Hi: 99999},
	{Key: "preprocess.max_rejected_fraction", Lo: 0, Hi: 1, Note: "0 = no rejected record allowed"},
	{Key: "preprocess.max_record_bytes", Lo: 1, Hi: 1 << 30, Note: "bytes of one line or CoNLL sentence; longer ones are rejected"},
	{Key: "model.dropout", Lo: 0, Hi: 1, HiOpen: true},
	{Key: "model.token_dropout", Lo: 0, Hi: 1, HiOpen: true, Note: "0 = off; 0.1 is a common choice"},
	{Key: "model.seed", Lo: 0, Hi: inf},
	{Key: "model.sharing.rank", Lo: 0, Hi: 1024, Note: "0 = no factorization; at most hidden_size"},
	{Key: "model.sharing.adapter", Lo: 0, Hi: 1024, Note: "0 = no adapters; at most hidden_size"},
	{Key: "model.sharing.experts", Lo: 0, Hi: 64, Note: "0 = no mixture of experts"},
	{Key: "model.sharing.expert_layers", Lo: 1, Hi: 48, Note: "at most the number of layers"},
	{Key: "tasks[].sharing.rank", Lo: 0, Hi: 1024, Note: "0 = no factorization; at most hidden_size"},
	{Key: "tasks[].sharing.adapter", Lo: 0, Hi: 1024, Note: "0 = no adapters; at most hidden_size"},
	{Key: "train.steps", Lo: 1, Hi: inf},
	{Key: "train.batch_size", Lo: 1, Hi: inf},
	{Key: "train.batch_tokens", Lo: 0, Hi: inf, Note: "0 = batches of batch_size examples"},
	{Key: "train.lr", Lo: 0, Hi: 1, LoOpen: true},
	{Key: "train.warmup", Lo: 0, Hi: 1, Note: "a fraction of steps"},
	{Key: "train.weight_decay", Lo: 0, Hi: 1},
	{Key: "train.clip", Lo: 0, Hi: inf, Note: "0 = no clipping"},
	{Key: "train.accumulate", Lo: 1, Hi: inf},
	{Key: "train.seed", Lo: 0, Hi: inf},
	{Key: "train.mixture.cap", Lo: 0, Hi: inf},
	{Key: "train.mixture.temperature", Lo: 0, Hi: inf, LoOpen: true},
	{Key: "train.strategy.alpha", Lo: 0, Hi: inf},
	{Key: "train.strategy.window", Lo: 1, Hi: inf},
	{Key: "train.strategy.temperature", Lo: 0, Hi: inf, LoOpen: true},
	{Key: "train.strategy.lr", Lo: 0, Hi: 1, LoOpen: true},
	{Key: "train.strategy.gamma", Lo: 0, Hi: inf, Note: "famo; 0 = no decay of the task logits"},
	{Key: "train.strategy.holdout", Lo: 0, Hi: 0.5, LoOpen: true, Note: "auto_lambda: fraction of each primary task's train split held back"},
	{Key: "train.eval_every", Lo: 1, Hi: inf},
	{Key: "train.patience", Lo: 0, Hi: inf, Note: "0 = never stop early"},
	{Key: "train.save_every", Lo: 0, Hi: inf, Note: "0 = save last/ only at the end and at interruptions"},
	{Key: "train.log_every", Lo: 1, Hi: inf},
	{Key: "train.shuffle_buffer", Lo: 1, Hi: inf, Note: "1 = no shuffling"},
	{Key: "train.pool_batches", Lo: 1, Hi: inf, Note: "1 = no length bucketing"},
	{Key: "evaluate.batch_size", Lo: 1, Hi: inf},
	{Key: "registry.tolerance", Lo: 0, Hi: 1, Note: "0 = no task may drop at all"},
	{Key: "run.lease_ttl_seconds", Lo: 1, Hi: 86400},
	{Key: "pretrain.steps", Lo: 1, Hi: inf},
	{Key: "pretrain.batch_size", Lo: 1, Hi: inf},
	{Key: "pretrain.lr", Lo: 0, Hi: 1, LoOpen: true},
	{Key: "pretrain.warmup", Lo: 0, Hi: 1, Note: "a fraction of steps"},
	{Key: "pretrain.weight_decay", Lo: 0, Hi: 1},
	{Key: "pretrain.clip", Lo: 0, Hi: inf, Note: "0 = no clipping"},
	{Key: "pretrain.seed", Lo: 0, Hi: inf},
	{Key: "pretrain.holdout", Lo: 0, Hi: 0.5, Note: "0 = no masked-LM evaluation"},
	{Key: "pretrain.shards", Lo: 1, Hi: 99999},
	{Key: "pretrain.eval_every", Lo: 1, Hi: inf},
	{Key: "pretrain.save_every", Lo: 0, Hi: inf, Note: "0 = save last/ only at the end and at interruptions"},
	{Key: "pretrain.log_every", Lo: 1, Hi: inf},
	{Key: "pretrain.time_limit_seconds", Lo: 0, Hi: inf, Note: "0 = none"},
	{Key: "sweep.trials", Lo: 1, Hi: maxTrials, Note: "random draws per grid point"},
	{Key: "sweep.seed", Lo: 0, Hi: inf},
	{Key: "sweep.parallel", Lo: 1, Hi: 256, Note: "trials at a time on one machine"},
	{Key: "sweep.trial_seconds", Lo: 0, Hi: inf, Note: "0 = no budget"},
}

func (r Range) contains(x float64) bool {
	if math.IsNaN(x) || math.IsInf(x, 0) {
		return false
	}
	lo := x > r.Lo || (!r.LoOpen && x == r.Lo)
	hi := x < r.Hi || (!r.HiOpen && x == r.Hi)
	return lo && hi
}

// String writes the range as the fix an error message suggests, e.g.
// "0 <= dropout < 1" or "clip >= 0 (0 = no clipping)".
func (r Range) String() string {
	name := r.Key[strings.LastIndex(r.Key, ".")+1:]
	op := func(open bool) string {
		if open {
			return " < "
		}
		return " <= "
	}
	var s string
	switch {
	case math.IsInf(r.Hi, 1):
		s = name + strings.Replace(op(r.LoOpen), "<", ">", 1) + num(r.Lo)
	default:
		s = num(r.Lo) + op(r.LoOpen) + name + op(r.HiOpen) + num(r.Hi)
	}
	if r.Note != "" {
		s += " (" + r.Note + ")"
	}
	return s
}

// num writes a bound or a value: whole numbers in full (1073741824, not
// 1.073741824e+09), others in their shortest form.
func num(x float64) string {
	if x == math.Trunc(x) && math.Abs(x) < 1e15 {
		return strconv.FormatFloat(x, 'f', -1, 64)
	}
	return strconv.FormatFloat(x, 'g', -1, 64)
}

// checkRanges reports every numeric key outside its range.
func (s *Spec) checkRanges(bad func(key, format string, a ...any)) {
	for _, l := range leaves(s) {
		x, ok := number(l.v)
		if !ok {
			continue
		}
		for _, r := range Ranges {
			if r.Key == l.pattern && !r.contains(x) {
				bad(l.key, "%s is out of range; use %s", num(x), r)
			}
		}
	}
}

// checkWhole reports integer keys written with a fraction, which the YAML
// decoder would silently truncate (steps: 20.7 becoming 20).
func (s *Spec) checkWhole(written map[string]any, bad func(key, format string, a ...any)) {
	for _, l := range leaves(s) {
		if !isInteger(l.v) {
			continue
		}
		if f, ok := fractional(written[l.key]); ok {
			bad(l.key, "%s is not a whole number; use an integer", fmt.Sprint(f))
		}
	}
}

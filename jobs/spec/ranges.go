package spec

import (
	"fmt"
	"slices"
	"strings"

	"github.com/taskweave/taskweave/internal/rules"
	"github.com/taskweave/taskweave/model"
	"github.com/taskweave/taskweave/model/multitask"
	"github.com/taskweave/taskweave/trainer"
	"github.com/taskweave/taskweave/trainer/mixture"
)

// Range is the allowed interval of a numeric key. Every numeric key of a
// spec has one (a test walks the struct to make sure), so a negative batch
// size or an out-of-range warmup fails validation with the line and the
// range instead of doing something else at step 1.
type Range = rules.Range

var inf = rules.Inf

// ownRanges are the ranges of the keys of the stages this package
// configures without a config of their own to check them (tokenizer,
// preprocess's, evaluate's and the job's keys).
var ownRanges = []Range{
	{Key: "tokenizer.max_seq_len", Lo: 8, Hi: 4096},
	{Key: "tasks[].columns.word", Lo: 0, Hi: 1023, Note: "0-based"},
	{Key: "tasks[].columns.tag", Lo: -1024, Hi: 1023, Note: "0-based; negative counts from the last column"},
	{Key: "preprocess.shards", Lo: 1, Hi: 99999},
	{Key: "preprocess.max_rejected_fraction", Lo: 0, Hi: 1, Note: "0 = no rejected record allowed"},
	{Key: "preprocess.max_record_bytes", Lo: 1, Hi: 1 << 30, Note: "bytes of one line or CoNLL sentence; longer ones are rejected"},
	{Key: "evaluate.batch_size", Lo: 1, Hi: inf},
	{Key: "registry.tolerance", Lo: 0, Hi: 1, Note: "0 = no task may drop at all"},
	{Key: "run.lease_ttl_seconds", Lo: 1, Hi: 86400},
	{Key: "pretrain.holdout", Lo: 0, Hi: 0.5, Note: "0 = no masked-LM evaluation"},
	{Key: "pretrain.shards", Lo: 1, Hi: 99999},
	{Key: "pretrain.time_limit_seconds", Lo: 0, Hi: inf, Note: "0 = none"},
	{Key: "sweep.trials", Lo: 1, Hi: maxTrials, Note: "random draws per grid point"},
	{Key: "sweep.seed", Lo: 0, Hi: inf},
	{Key: "sweep.parallel", Lo: 1, Hi: 256, Note: "trials at a time on one machine"},
	{Key: "sweep.trial_seconds", Lo: 0, Hi: inf, Note: "0 = no budget"},
}

// Ranges of every numeric key: this package's own and those of the
// packages that own the behaviour (the trainer, the strategies, the
// mixtures, the model's soft sharing), which check their configs against
// the same entries. Rules that depend on other keys (a layer within the
// model's depth, batch_tokens at least max_seq_len, …) are in Validate,
// which calls the owners' rule functions.
var Ranges = slices.Concat(ownRanges, pretrainRanges(), trainer.Ranges, multitask.Ranges, mixture.Ranges, model.SharingRanges, model.ElectraRanges)

// pretrainTrainerKeys are the pretrain block's keys that stages.PretrainConfig
// hands to the trainer as the train block's keys of the same name.
var pretrainTrainerKeys = []string{"steps", "batch_size", "lr", "warmup", "weight_decay", "clip", "seed",
	"eval_every", "save_every", "log_every"}

// pretrainRanges are the trainer's ranges of pretrainTrainerKeys under the
// pretrain block's names: the trainer owns them, so they are not restated.
func pretrainRanges() []Range {
	var out []Range
	for _, r := range trainer.Ranges {
		if k, ok := strings.CutPrefix(r.Key, "train."); ok && slices.Contains(pretrainTrainerKeys, k) {
			r.Key = "pretrain." + k
			out = append(out, r)
		}
	}
	return out
}

func num(x float64) string { return rules.Num(x) }

// checkRanges reports every numeric key outside its range.
func (s *Spec) checkRanges(bad func(key, format string, a ...any)) {
	for _, l := range leaves(s) {
		x, ok := number(l.v)
		if !ok {
			continue
		}
		for _, r := range Ranges {
			if r.Key == l.pattern && !r.Contains(x) {
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

package spec

import (
	"fmt"
	"strings"
)

// Pretrain is the pretrain block: `taskweave pretrain` (and the pretrain
// stage of `taskweave run`) packs the train text of the source tasks into
// max_seq_len sequences and trains the encoder on it from scratch, then
// writes it in the Hugging Face BERT layout under <output>/encoder, where
// the train stage starts from it. A job without sources does not pre-train.
type Pretrain struct {
	Sources   []string `yaml:"sources"`   // tasks whose train text is pre-trained on (their train split only)
	Objective string   `yaml:"objective"` // mlm: BERT's masked LM, 15% of the pieces, 80/10/10; electra: replaced-token detection
	// GeneratorSize and RTDWeight are ELECTRA's (objective electra): the
	// generator's width as a fraction of the encoder's, and λ, the weight
	// of the replaced-token-detection loss. Ranges: model.ElectraRanges.
	GeneratorSize float64 `yaml:"generator_size"`
	RTDWeight     float64 `yaml:"rtd_weight"`
	Output        string  `yaml:"output"` // default <output>/pretrain
	Steps         int     `yaml:"steps"`
	BatchSize     int     `yaml:"batch_size"` // packed sequences per step
	LR            float64 `yaml:"lr"`
	Warmup        float64 `yaml:"warmup"` // fraction of steps
	// WeightDecay and Clip are AdamW's and the gradient clipping's, as in train.
	WeightDecay float64 `yaml:"weight_decay"`
	Clip        float64 `yaml:"clip"`
	Seed        uint64  `yaml:"seed"`
	// Holdout is the share of documents kept out of training for the
	// masked-LM figures (validation); Shards the packed shards per split.
	Holdout   float64 `yaml:"holdout"`
	Shards    int     `yaml:"shards"`
	EvalEvery int     `yaml:"eval_every"`
	SaveEvery int     `yaml:"save_every"` // last/ every N steps, so a killed run loses at most N
	LogEvery  int     `yaml:"log_every"`
	// TimeLimitSeconds stops a session of the run in time (0 = none); the
	// run continues with --resume (`taskweave run` resumes by itself).
	TimeLimitSeconds float64 `yaml:"time_limit_seconds"`
}

// Objectives are the values of pretrain.objective.
var Objectives = []string{"mlm", "electra"}

// Pretrains reports whether the job pre-trains its own encoder.
func (s *Spec) Pretrains() bool { return len(s.Pretrain.Sources) > 0 }

// checkPretrain checks the pretrain block: its sources are tasks of the job
// with corpora of their own, and a job pre-trains or starts from
// model.init, not both.
func (s *Spec) checkPretrain(bad func(key, format string, a ...any)) {
	p := &s.Pretrain
	if !s.Pretrains() {
		return
	}
	found := false
	for _, o := range Objectives {
		found = found || o == p.Objective
	}
	if !found {
		bad("pretrain.objective", "%q is not allowed; use one of %s", p.Objective, strings.Join(Objectives, ", "))
	}
	if s.Model.Init != "" {
		bad("model.init", "is set, and the job pre-trains its own encoder (pretrain.sources); the train stage starts from one or the other: remove model.init or the pretrain block")
	}
	seen := map[string]bool{}
	for j, name := range p.Sources {
		key := fmt.Sprintf("pretrain.sources[%d]", j)
		t, ok := s.Task(name)
		switch {
		case seen[name]:
			bad(key, "task %q is named twice", name)
		case !ok:
			bad(key, "%q is not a task of this job; use one of %s", name, strings.Join(s.taskNames(func(t Task) bool { return len(t.Source) == 0 }), ", "))
		case len(t.Source) > 0:
			bad(key, "task %q reads other tasks' shards (source); name those tasks instead", name)
		}
		seen[name] = true
	}
}

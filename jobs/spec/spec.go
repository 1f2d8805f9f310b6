// Package spec is the job specification: the one YAML file that says which
// corpora to prepare, how to tokenize them, which model to train with which
// multi-task methods, how to evaluate it, where outputs live (local or gs://),
// how models are promoted and when the job reruns.
//
// Decoding is strict: an unknown key or a value outside its allowed set is an
// error naming the line and the allowed values, because a typo in a job spec
// should fail in seconds, not after an hour of training with a default.
package spec

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/goccy/go-yaml"
	"github.com/goccy/go-yaml/ast"

	"github.com/taskweave/taskweave/io/manifest"
	"github.com/taskweave/taskweave/model"
	"github.com/taskweave/taskweave/model/metrics"
	"github.com/taskweave/taskweave/trainer"
)

// Spec is a whole job.
type Spec struct {
	Name       string            `yaml:"name"`
	Output     string            `yaml:"output"` // base for data/, models/, runs/ unless set below
	Tokenizer  Tokenizer         `yaml:"tokenizer"`
	Tasks      []Task            `yaml:"tasks"`
	Preprocess Preprocess        `yaml:"preprocess"`
	Model      Model             `yaml:"model"`
	Train      Train             `yaml:"train"`
	Evaluate   Evaluate          `yaml:"evaluate"`
	Registry   Registry          `yaml:"registry"`
	Run        Run               `yaml:"run"`
	Schedule   string            `yaml:"schedule"` // cron expression, for `taskweave schedule`
	Runner     Runner            `yaml:"runner"`
	Sweep      Sweep             `yaml:"sweep"`    // for `taskweave sweep`
	Pretrain   Pretrain          `yaml:"pretrain"` // for `taskweave pretrain` and the pretrain stage of run
	dir        string            // directory of the spec file: relative paths resolve against it
	lines      map[string]int    // dotted key path → line, for validation messages
	written    map[string]any    // dotted key path → value, for the keys the file writes
	raw        []byte            // the YAML it was parsed from, for With
	flags      map[string]string // dotted key path → the command-line flag that set it (SetByFlag)
}

// Tokenizer configures WordPiece.
type Tokenizer struct {
	Vocab     string `yaml:"vocab"`
	Lowercase bool   `yaml:"lowercase"`
	MaxSeqLen int    `yaml:"max_seq_len"`
}

// Task is one corpus and its head.
type Task struct {
	Name      string              `yaml:"name"`
	Type      string              `yaml:"type"`   // sequence_classification | token_classification | sequence_regression | masked_lm
	Format    string              `yaml:"format"` // tsv | conll | conllu | jsonl | text (masked_lm) | brown
	Paths     map[string][]string `yaml:"paths"`  // split → files (train, validation, test)
	Columns   Columns             `yaml:"columns"`
	TagScheme string              `yaml:"tag_scheme"` // none | iob1 | iob2 (token tasks)
	Labels    []string            `yaml:"labels"`     // optional: else collected from train
	Auxiliary bool                `yaml:"auxiliary"`  // trained, left out of model selection
	Layer     int                 `yaml:"layer"`      // encoder layer the head reads (1..L), 0 = top
	Weight    float64             `yaml:"weight"`     // static loss weight (strategy: static); 0 = the task is not trained on
	Rate      float64             `yaml:"rate"`       // explicit mixture rate (mixture: explicit)
	Sharing   TaskSharing         `yaml:"sharing"`    // overrides model.sharing's per-task keys for this task
	// Source (masked_lm only) names the tasks whose train text the masked
	// LM reads from their shards, instead of a corpus of its own.
	Source []string `yaml:"source"`
	// InputFrom names the task whose corpus this one reads another label
	// column of (CoNLL-2003's POS or chunk column beside NER): the two are
	// one group, preprocessed into shards of the same rows and trained from
	// one encoder pass per batch (groups.go).
	InputFrom string `yaml:"input_from"`
	// WholeWord (masked_lm only) masks every word piece of a chosen word
	// together instead of word pieces one by one.
	WholeWord bool `yaml:"whole_word"`
}

// TaskSharing is the part of the soft-sharing setup a task may set for
// itself; keys it does not write take model.sharing's value.
type TaskSharing struct {
	Rank           int      `yaml:"rank"`            // low-rank factor W + A·B; 0 = the shared matrices
	Matrices       []string `yaml:"matrices"`        // which matrices get a factor (model.FactorMatrices)
	LayerAttention bool     `yaml:"layer_attention"` // the head reads a learned mix of all layers
	Adapter        int      `yaml:"adapter"`         // adapter bottleneck width; 0 = no adapters
}

// Sharing is model.sharing: the soft parameter sharing of the encoder. The
// per-task keys are every task's default; basis, freeze_shared, experts and
// expert_layers are the model's alone.
type Sharing struct {
	TaskSharing  `yaml:",inline"`
	Basis        string `yaml:"basis"`         // shared | per_task: is the factors' A common to all tasks
	FreezeShared bool   `yaml:"freeze_shared"` // train only task parameters, heads and LayerNorms (needs model.init)
	Experts      int    `yaml:"experts"`       // mixture-of-experts FFN with this many experts; 0 = off
	ExpertLayers int    `yaml:"expert_layers"` // top layers whose FFN is a mixture of experts
}

// Columns names where a record's fields are in the source.
type Columns struct {
	Text   Names  `yaml:"text"`   // tsv/jsonl: one name, or a list tried in order (the first the file has)
	TextB  string `yaml:"text_b"` // tsv/jsonl, sentence pairs
	Label  string `yaml:"label"`  // tsv/jsonl
	ID     string `yaml:"id"`     // tsv/jsonl, optional
	Tokens string `yaml:"tokens"` // jsonl token tasks
	Tags   string `yaml:"tags"`   // jsonl token tasks
	Word   int    `yaml:"word"`   // conll: 0-based word column
	Tag    int    `yaml:"tag"`    // conll: 0-based tag column; -1 = last
	Field  string `yaml:"field"`  // conllu: upos | xpos
}

// Names is a column name, or several tried in order. YAML gives one name
// as a string (text: review) or several as a list (text: [sentence, text]).
type Names []string

// UnmarshalYAML reads a string or a list of strings.
func (n *Names) UnmarshalYAML(node ast.Node) error {
	switch v := node.(type) {
	case *ast.StringNode, *ast.IntegerNode, *ast.FloatNode, *ast.LiteralNode:
		*n = Names{strings.TrimSpace(node.String())}
		if s, ok := v.(*ast.StringNode); ok {
			*n = Names{s.Value}
		}
		return nil
	case *ast.SequenceNode:
		var out Names
		for _, e := range v.Values {
			s, ok := e.(*ast.StringNode)
			if !ok {
				return fmt.Errorf("line %d: a column name must be a string, found %s", e.GetToken().Position.Line, e)
			}
			out = append(out, s.Value)
		}
		*n = out
		return nil
	}
	return fmt.Errorf("line %d: want a column name or a list of names, found %s", node.GetToken().Position.Line, node)
}

// Preprocess configures the preprocessing pipeline.
type Preprocess struct {
	Output              string  `yaml:"output"` // default <output>/data
	Shards              int     `yaml:"shards"` // per task and split
	MaxRejectedFraction float64 `yaml:"max_rejected_fraction"`
	// MaxRecordBytes bounds one line of a corpus file (and one CoNLL
	// sentence): longer ones are rejected instead of held in memory.
	MaxRecordBytes int `yaml:"max_record_bytes"`
}

// Model chooses the encoder.
type Model struct {
	Size string `yaml:"size"` // tiny | mini | small | medium | base
	Init string `yaml:"init"` // Hugging Face BERT checkpoint directory for initial weights
	// AllowVocabTruncation (with init) accepts an init checkpoint whose
	// vocab.txt has more lines than its config.json vocab_size, keeping the
	// first vocab_size (the tokens past them have no embedding row).
	AllowVocabTruncation bool    `yaml:"allow_vocab_truncation"`
	Dropout              float64 `yaml:"dropout"`
	// TokenDropout replaces input word pieces by [UNK] with this
	// probability while training (0 = off); a regulariser for models
	// trained from scratch.
	TokenDropout float64 `yaml:"token_dropout"`
	Seed         uint64  `yaml:"seed"`
	Sharing      Sharing `yaml:"sharing"`
}

// Train configures the trainer.
type Train struct {
	Output      string  `yaml:"output"` // default <output>/train
	Steps       int     `yaml:"steps"`
	BatchSize   int     `yaml:"batch_size"`   // examples per batch
	BatchTokens int     `yaml:"batch_tokens"` // or tokens per batch (padded), if > 0
	LR          float64 `yaml:"lr"`
	Warmup      float64 `yaml:"warmup"` // fraction of steps
	WeightDecay float64 `yaml:"weight_decay"`
	Clip        float64 `yaml:"clip"`
	// SparseEmbeddings updates only the word-embedding rows a step's batches
	// used and catches the others up lazily (model.AdamWConfig.LazyRows).
	SparseEmbeddings bool     `yaml:"sparse_embeddings"`
	Accumulate       int      `yaml:"accumulate"`
	Seed             uint64   `yaml:"seed"`
	StepMode         string   `yaml:"step_mode"` // sampled | all
	Mixture          Mixture  `yaml:"mixture"`
	Strategy         Strategy `yaml:"strategy"`
	EvalEvery        int      `yaml:"eval_every"`
	EvalSplit        string   `yaml:"eval_split"`
	SelectMetric     string   `yaml:"select_metric"` // model selection: mean | min | a task that is not auxiliary
	Patience         int      `yaml:"patience"`      // evaluations without improvement before stopping; 0 = never
	SaveEvery        int      `yaml:"save_every"`    // save last/ every N steps; 0 = at the end and on interruption only
	LogEvery         int      `yaml:"log_every"`     // a metrics.jsonl line every N steps
	// ShuffleBuffer is the examples per task held in the shuffle buffer, and
	// PoolBatches the batches per length-bucketing pool (batches are formed
	// from a pool of similar lengths to cut padding).
	ShuffleBuffer int `yaml:"shuffle_buffer"`
	PoolBatches   int `yaml:"pool_batches"`
	// Phases split the run's steps into stages trained on subsets of the
	// tasks (task-adaptive masked-LM pre-training, then multi-task). Empty:
	// one phase with every task.
	Phases []Phase `yaml:"phases"`

	// Precision is the number format of the matrix products: fp32, or bf16
	// mixed precision (model.Precision; needs the oneDNN build and a CPU with
	// avx512_bf16). Evaluation and prediction take it as a flag.
	Precision string `yaml:"precision"`
}

// Phase is one stage of a run: its tasks and its length, given either as
// steps (every phase; they add up to train.steps) or as share (every
// phase; the shares add up to 1).
type Phase struct {
	Name  string   `yaml:"name"`
	Tasks []string `yaml:"tasks"` // empty = every task of the job
	Steps int      `yaml:"steps"`
	Share float64  `yaml:"share"`
}

// Mixture is the task sampling strategy.
type Mixture struct {
	Name        string  `yaml:"name"` // proportional | capped | temperature | equal | explicit
	Cap         int     `yaml:"cap"`
	Temperature float64 `yaml:"temperature"`
}

// Strategy is the multi-task loss weighting or gradient method.
type Strategy struct {
	Name        string  `yaml:"name"` // multitask.Names
	Alpha       float64 `yaml:"alpha"`
	Window      int     `yaml:"window"`
	Temperature float64 `yaml:"temperature"`
	LR          float64 `yaml:"lr"`
	Gamma       float64 `yaml:"gamma"` // famo: decay of the task logits
	// Primary (auto_lambda) names the tasks whose held-out loss the task
	// weights are meta-learned for; Holdout is the fraction of each primary
	// task's train split held back for it (never the dev split).
	Primary []string `yaml:"primary"`
	Holdout float64  `yaml:"holdout"`
}

// Evaluate configures the evaluation pipeline.
type Evaluate struct {
	Split     string `yaml:"split"`
	BatchSize int    `yaml:"batch_size"`
	Output    string `yaml:"output"` // default <output>/eval
}

// Registry holds versions and the production pointer.
type Registry struct {
	Path      string  `yaml:"path"`      // default <output>/registry
	Metric    string  `yaml:"metric"`    // aggregate that must improve: mean
	Tolerance float64 `yaml:"tolerance"` // largest allowed drop of any single task
}

// Run configures how `taskweave run` and `taskweave schedule` hold the
// job's lock.
type Run struct {
	// LeaseTTLSeconds is the lock's lease length. A run renews its lease
	// every third of it (retrying storage errors until it would expire); a
	// run that crashed frees the job this long after its last renewal, and
	// shows as crashed in `taskweave runs` from then on.
	LeaseTTLSeconds float64 `yaml:"lease_ttl_seconds"`
}

// LeaseTTL is the lease length as a duration.
func (r Run) LeaseTTL() time.Duration { return time.Duration(r.LeaseTTLSeconds * float64(time.Second)) }

// Runner selects the Beam runner for the pipeline stages.
type Runner struct {
	Name  string            `yaml:"name"`  // prism | direct | dataflow | flink | universal
	Flags map[string]string `yaml:"flags"` // passed as --key=value to Beam
}

// Allowed values, also used in error messages. Strategy and mixture names
// belong to the packages that implement them.
var (
	TaskTypes    = model.TaskKindNames()
	Formats      = []string{"tsv", "conll", "conllu", "jsonl", "text", "brown"}
	TagSchemes   = []string{manifest.TagNone, manifest.TagIOB1, manifest.TagIOB2}
	Splits       = manifest.Splits
	Sizes        = []string{"tiny", "mini", "small", "medium", "base"}
	StepModes    = trainer.StepModes
	Runners      = []string{"prism", "dataflow", "flink", "universal"} // not direct: launch refuses it (deprecated by Beam)
	ConlluFields = []string{"upos", "xpos"}
	Aggregates   = metrics.Aggregates // select_metric and registry.metric (or a task name)
	Matrices     = model.FactorMatrices
	Bases        = model.FactorBases
)

// Load reads, decodes strictly, fills defaults and validates a spec file.
func Load(path string) (*Spec, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("job spec: %w", err)
	}
	// Absolute, so paths resolved against it mean the same file in a Beam
	// worker's working directory and hash the same however path was spelled.
	dir, err := filepath.Abs(filepath.Dir(path))
	if err != nil {
		return nil, fmt.Errorf("job spec: %w", err)
	}
	s, err := Parse(data, dir)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return s, nil
}

// Parse decodes a spec from YAML; dir is where relative paths resolve.
// Keys the document does not write take their value from Defaults; keys it
// writes keep their value, 0 included.
func Parse(data []byte, dir string) (*Spec, error) { return parse(data, dir, nil) }

// parse is Parse with the key lines validation reports given (With reports
// a trial's keys at the lines of the sweep block that set them); nil means
// the lines of data.
func parse(data []byte, dir string, lines map[string]int) (*Spec, error) {
	if err := checkSize(data); err != nil {
		return nil, err
	}
	if err := checkAliases(data); err != nil {
		return nil, err
	}
	var s Spec
	dec := yaml.NewDecoder(bytes.NewReader(data), yaml.DisallowUnknownField())
	if err := dec.Decode(&s); err != nil {
		return nil, fmt.Errorf("%s", plainTabError(plainTypeError(strings.TrimSpace(yaml.FormatError(err, false, true)), data), data))
	}
	var tree any
	if err := yaml.Unmarshal(data, &tree); err != nil {
		return nil, fmt.Errorf("%s", strings.TrimSpace(yaml.FormatError(err, false, true)))
	}
	s.dir, s.raw = dir, data
	s.lines = lines
	if lines == nil {
		s.lines = keyLines(data)
	}
	s.written = written(tree)
	s.applyDefaults(s.written)
	var errs []error
	s.checkWhole(s.written, s.reporter(&errs))
	if err := s.Validate(); err != nil {
		errs = append(errs, err)
	}
	if err := errors.Join(errs...); err != nil {
		return nil, err
	}
	return &s, nil
}

// Written reports whether the spec file gave key (e.g. "train.clip") a
// value, as opposed to it taking its default.
func (s *Spec) Written(key string) bool {
	_, ok := s.written[key]
	return ok
}

// reporter returns the function validation reports a bad key with: the
// key's line when the file has it, the key, and what to do.
func (s *Spec) reporter(errs *[]error) func(key, format string, a ...any) {
	return func(key, format string, a ...any) {
		msg := fmt.Sprintf(format, a...)
		if flag, ok := s.flags[key]; ok {
			msg = fmt.Sprintf("%s sets %s: %s", flag, key, msg)
		} else if line, ok := s.lines[key]; ok {
			msg = fmt.Sprintf("line %d: %s: %s", line, key, msg)
		} else {
			msg = key + ": " + msg
		}
		// A range is checked here and again by the package that owns the
		// key: one message is enough.
		if !slices.ContainsFunc(*errs, func(e error) bool { return e.Error() == msg }) {
			*errs = append(*errs, errors.New(msg))
		}
	}
}

// Path resolves a path from the spec: gs:// and absolute paths are kept,
// relative ones are taken relative to the spec file's directory.
func (s *Spec) Path(p string) string {
	if p == "" || strings.Contains(p, "://") || filepath.IsAbs(p) {
		return p
	}
	return filepath.Join(s.dir, p)
}

// Dir is the directory relative paths resolve against.
func (s *Spec) Dir() string { return s.dir }

// Task returns the named task.
func (s *Spec) Task(name string) (*Task, bool) {
	for i := range s.Tasks {
		if s.Tasks[i].Name == name {
			return &s.Tasks[i], true
		}
	}
	return nil, false
}

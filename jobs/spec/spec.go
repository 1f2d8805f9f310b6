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
	"strings"

	"github.com/goccy/go-yaml"

	"github.com/taskweave/taskweave/jobs/schedule"
)

// Spec is a whole job.
type Spec struct {
	Name       string         `yaml:"name"`
	Output     string         `yaml:"output"` // base for data/, models/, runs/ unless set below
	Tokenizer  Tokenizer      `yaml:"tokenizer"`
	Tasks      []Task         `yaml:"tasks"`
	Preprocess Preprocess     `yaml:"preprocess"`
	Model      Model          `yaml:"model"`
	Train      Train          `yaml:"train"`
	Evaluate   Evaluate       `yaml:"evaluate"`
	Registry   Registry       `yaml:"registry"`
	Schedule   string         `yaml:"schedule"` // cron expression, for `taskweave schedule`
	Runner     Runner         `yaml:"runner"`
	dir        string         // directory of the spec file: relative paths resolve against it
	lines      map[string]int // dotted key path → line, for validation messages
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
	Type      string              `yaml:"type"`   // sequence_classification | token_classification | sequence_regression
	Format    string              `yaml:"format"` // tsv | conll | conllu | jsonl
	Paths     map[string][]string `yaml:"paths"`  // split → files (train, validation, test)
	Columns   Columns             `yaml:"columns"`
	TagScheme string              `yaml:"tag_scheme"` // none | iob1 | iob2 (token tasks)
	Labels    []string            `yaml:"labels"`     // optional: else collected from train
	Auxiliary bool                `yaml:"auxiliary"`  // trained, left out of model selection
	Layer     int                 `yaml:"layer"`      // encoder layer the head reads (1..L), 0 = top
	Weight    float64             `yaml:"weight"`     // static loss weight (strategy: static)
	Rate      float64             `yaml:"rate"`       // explicit mixture rate (mixture: explicit)
}

// Columns names where a record's fields are in the source.
type Columns struct {
	Text   string `yaml:"text"`   // tsv/jsonl
	TextB  string `yaml:"text_b"` // tsv/jsonl, sentence pairs
	Label  string `yaml:"label"`  // tsv/jsonl
	ID     string `yaml:"id"`     // tsv/jsonl, optional
	Tokens string `yaml:"tokens"` // jsonl token tasks
	Tags   string `yaml:"tags"`   // jsonl token tasks
	Word   int    `yaml:"word"`   // conll: 0-based word column
	Tag    int    `yaml:"tag"`    // conll: 0-based tag column; -1 = last
	Field  string `yaml:"field"`  // conllu: upos | xpos
}

// Preprocess configures the preprocessing pipeline.
type Preprocess struct {
	Output              string  `yaml:"output"` // default <output>/data
	Shards              int     `yaml:"shards"` // per task and split
	MaxRejectedFraction float64 `yaml:"max_rejected_fraction"`
}

// Model chooses the encoder.
type Model struct {
	Size    string  `yaml:"size"` // tiny | mini | small | medium | base
	Init    string  `yaml:"init"` // Hugging Face BERT checkpoint directory for initial weights
	Dropout float64 `yaml:"dropout"`
	// TokenDropout replaces input word pieces by [UNK] with this
	// probability while training (0 = off); a regulariser for models
	// trained from scratch.
	TokenDropout float64 `yaml:"token_dropout"`
	Seed         uint64  `yaml:"seed"`
}

// Train configures the trainer.
type Train struct {
	Output        string   `yaml:"output"` // default <output>/train
	Steps         int      `yaml:"steps"`
	BatchSize     int      `yaml:"batch_size"`   // examples per batch
	BatchTokens   int      `yaml:"batch_tokens"` // or tokens per batch (padded), if > 0
	LR            float64  `yaml:"lr"`
	Warmup        float64  `yaml:"warmup"` // fraction of steps
	WeightDecay   float64  `yaml:"weight_decay"`
	Clip          float64  `yaml:"clip"`
	Accumulate    int      `yaml:"accumulate"`
	Seed          uint64   `yaml:"seed"`
	StepMode      string   `yaml:"step_mode"` // sampled | all
	Mixture       Mixture  `yaml:"mixture"`
	Strategy      Strategy `yaml:"strategy"`
	EvalEvery     int      `yaml:"eval_every"`
	EvalSplit     string   `yaml:"eval_split"`
	SelectMetric  string   `yaml:"select_metric"` // aggregate for model selection: mean
	Patience      int      `yaml:"patience"`      // evaluations without improvement before stopping; 0 = never
	CheckpointDir string   `yaml:"checkpoint_every_dir"`
	SaveEvery     int      `yaml:"save_every"`
}

// Mixture is the task sampling strategy.
type Mixture struct {
	Name        string  `yaml:"name"` // proportional | capped | temperature | equal | explicit
	Cap         int     `yaml:"cap"`
	Temperature float64 `yaml:"temperature"`
}

// Strategy is the multi-task loss weighting or gradient method.
type Strategy struct {
	Name        string  `yaml:"name"` // equal | static | loss_variance | uncertainty | gradnorm | gradient_normalization | dwa | pcgrad
	Alpha       float64 `yaml:"alpha"`
	Window      int     `yaml:"window"`
	Temperature float64 `yaml:"temperature"`
	LR          float64 `yaml:"lr"`
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

// Runner selects the Beam runner for the pipeline stages.
type Runner struct {
	Name  string            `yaml:"name"`  // prism | direct | dataflow | flink | universal
	Flags map[string]string `yaml:"flags"` // passed as --key=value to Beam
}

// Allowed values, also used in error messages.
var (
	TaskTypes    = []string{"sequence_classification", "token_classification", "sequence_regression"}
	Formats      = []string{"tsv", "conll", "conllu", "jsonl"}
	TagSchemes   = []string{"none", "iob1", "iob2"}
	Splits       = []string{"train", "validation", "test"}
	Sizes        = []string{"tiny", "mini", "small", "medium", "base"}
	StepModes    = []string{"sampled", "all"}
	Mixtures     = []string{"proportional", "capped", "temperature", "equal", "explicit"}
	Strategies   = []string{"equal", "static", "loss_variance", "uncertainty", "gradnorm", "gradient_normalization", "dwa", "pcgrad"}
	Runners      = []string{"prism", "direct", "dataflow", "flink", "universal"}
	ConlluFields = []string{"upos", "xpos"}
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
func Parse(data []byte, dir string) (*Spec, error) {
	var s Spec
	dec := yaml.NewDecoder(bytes.NewReader(data), yaml.DisallowUnknownField())
	if err := dec.Decode(&s); err != nil {
		return nil, fmt.Errorf("%s", strings.TrimSpace(yaml.FormatError(err, false, true)))
	}
	s.dir = dir
	s.lines = keyLines(data)
	s.defaults()
	if err := s.Validate(); err != nil {
		return nil, err
	}
	return &s, nil
}

func (s *Spec) defaults() {
	if s.Output == "" {
		s.Output = "out/" + nonEmpty(s.Name, "job")
	}
	if s.Tokenizer.MaxSeqLen == 0 {
		s.Tokenizer.MaxSeqLen = 128
	}
	for i := range s.Tasks {
		t := &s.Tasks[i]
		if t.TagScheme == "" {
			if t.Type == "token_classification" {
				t.TagScheme = "none"
			}
		}
		if t.Weight == 0 {
			t.Weight = 1
		}
		if t.Format == "conll" && t.Columns.Tag == 0 && t.Columns.Word == 0 {
			t.Columns.Tag = -1
		}
		if t.Format == "conllu" && t.Columns.Field == "" {
			t.Columns.Field = "upos"
		}
	}
	p := &s.Preprocess
	if p.Output == "" {
		p.Output = s.Output + "/data"
	}
	if p.Shards == 0 {
		p.Shards = 4
	}
	if p.MaxRejectedFraction == 0 {
		p.MaxRejectedFraction = 0.01
	}
	if s.Model.Size == "" && s.Model.Init == "" {
		s.Model.Size = "mini"
	}
	if s.Model.Dropout == 0 {
		s.Model.Dropout = 0.1
	}
	t := &s.Train
	if t.Output == "" {
		t.Output = s.Output + "/train"
	}
	setInt(&t.Steps, 1000)
	setInt(&t.BatchSize, 32)
	setFloat(&t.LR, 5e-4)
	setFloat(&t.Warmup, 0.1)
	setFloat(&t.WeightDecay, 0.01)
	setFloat(&t.Clip, 1.0)
	setInt(&t.Accumulate, 1)
	if t.Seed == 0 {
		t.Seed = 42
	}
	t.StepMode = nonEmpty(t.StepMode, "sampled")
	t.Mixture.Name = nonEmpty(t.Mixture.Name, "temperature")
	setFloat(&t.Mixture.Temperature, 2)
	t.Strategy.Name = nonEmpty(t.Strategy.Name, "equal")
	setFloat(&t.Strategy.Alpha, 1.5)
	setInt(&t.Strategy.Window, 20)
	setFloat(&t.Strategy.Temperature, 2)
	setFloat(&t.Strategy.LR, 0.025)
	setInt(&t.EvalEvery, 200)
	t.EvalSplit = nonEmpty(t.EvalSplit, "validation")
	t.SelectMetric = nonEmpty(t.SelectMetric, "mean")
	e := &s.Evaluate
	e.Split = nonEmpty(e.Split, "test")
	setInt(&e.BatchSize, 64)
	if e.Output == "" {
		e.Output = s.Output + "/eval"
	}
	r := &s.Registry
	if r.Path == "" {
		r.Path = s.Output + "/registry"
	}
	r.Metric = nonEmpty(r.Metric, "mean")
	setFloat(&r.Tolerance, 0.01)
	s.Runner.Name = nonEmpty(s.Runner.Name, "prism")
}

// Validate checks values against their allowed sets and cross-field rules.
func (s *Spec) Validate() error {
	var errs []error
	bad := func(key, format string, a ...any) {
		msg := fmt.Sprintf(format, a...)
		if line, ok := s.lines[key]; ok {
			msg = fmt.Sprintf("line %d: %s: %s", line, key, msg)
		} else {
			msg = key + ": " + msg
		}
		errs = append(errs, errors.New(msg))
	}
	oneOf := func(key, v string, allowed []string) {
		for _, a := range allowed {
			if v == a {
				return
			}
		}
		bad(key, "%q is not allowed; use one of %s", v, strings.Join(allowed, ", "))
	}
	if s.Tokenizer.Vocab == "" {
		bad("tokenizer.vocab", "missing; give the path of a BERT vocab.txt")
	}
	if s.Tokenizer.MaxSeqLen < 8 || s.Tokenizer.MaxSeqLen > 4096 {
		bad("tokenizer.max_seq_len", "%d is out of range; use 8..4096", s.Tokenizer.MaxSeqLen)
	}
	if len(s.Tasks) == 0 {
		bad("tasks", "no tasks; a job needs at least one")
	}
	seen := map[string]bool{}
	for i, t := range s.Tasks {
		k := fmt.Sprintf("tasks[%d]", i)
		if t.Name == "" || strings.ContainsAny(t.Name, "/\\ .") {
			bad(k+".name", "%q is not a valid task name; use letters, digits, - and _", t.Name)
		}
		if seen[t.Name] {
			bad(k+".name", "task %q is defined twice", t.Name)
		}
		seen[t.Name] = true
		oneOf(k+".type", t.Type, TaskTypes)
		oneOf(k+".format", t.Format, Formats)
		if t.Type == "token_classification" {
			oneOf(k+".tag_scheme", t.TagScheme, TagSchemes)
			if t.Format == "tsv" {
				bad(k+".format", "tsv holds sentences; a token task needs conll, conllu or jsonl")
			}
		} else if t.TagScheme != "" {
			bad(k+".tag_scheme", "only token_classification tasks have a tag scheme")
		}
		if t.Format == "conllu" {
			oneOf(k+".columns.field", t.Columns.Field, ConlluFields)
		}
		if len(t.Paths) == 0 {
			bad(k+".paths", "no input files; give paths per split, e.g. train: [file.tsv]")
		}
		if len(t.Paths["train"]) == 0 {
			bad(k+".paths.train", "missing; every task needs training data")
		}
		for split := range t.Paths {
			oneOf(k+".paths."+split, split, Splits)
		}
		if t.Layer < 0 {
			bad(k+".layer", "%d is negative; use 0 for the top layer or 1..L", t.Layer)
		}
	}
	if s.Model.Init == "" {
		oneOf("model.size", s.Model.Size, Sizes)
	}
	if s.Preprocess.MaxRejectedFraction < 0 || s.Preprocess.MaxRejectedFraction > 1 {
		bad("preprocess.max_rejected_fraction", "%g is out of range; use 0..1", s.Preprocess.MaxRejectedFraction)
	}
	oneOf("train.step_mode", s.Train.StepMode, StepModes)
	oneOf("train.mixture.name", s.Train.Mixture.Name, Mixtures)
	oneOf("train.strategy.name", s.Train.Strategy.Name, Strategies)
	switch s.Train.Strategy.Name {
	case "gradnorm", "gradient_normalization", "pcgrad":
		if s.Train.StepMode != "all" {
			bad("train.step_mode", "strategy %s needs every task in every step; set step_mode: all", s.Train.Strategy.Name)
		}
	}
	if s.Train.Steps <= 0 {
		bad("train.steps", "%d; use a positive number of optimizer steps", s.Train.Steps)
	}
	if s.Model.Dropout < 0 || s.Model.Dropout >= 1 {
		bad("model.dropout", "%g is out of range; use 0 <= dropout < 1", s.Model.Dropout)
	}
	if s.Model.TokenDropout < 0 || s.Model.TokenDropout >= 1 {
		bad("model.token_dropout", "%g is out of range; use 0 <= token_dropout < 1 (0.1 is a common choice)", s.Model.TokenDropout)
	}
	if s.Train.LR <= 0 || s.Train.LR > 1 {
		bad("train.lr", "%g is out of range; use 0 < lr <= 1", s.Train.LR)
	}
	oneOf("evaluate.split", s.Evaluate.Split, Splits)
	oneOf("train.eval_split", s.Train.EvalSplit, Splits)
	oneOf("runner.name", s.Runner.Name, Runners)
	if s.Schedule != "" {
		if _, err := schedule.Parse(s.Schedule); err != nil {
			bad("schedule", "%v", err)
		}
	}
	return errors.Join(errs...)
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

func nonEmpty(v, def string) string {
	if v == "" {
		return def
	}
	return v
}

func setInt(p *int, def int) {
	if *p == 0 {
		*p = def
	}
}

func setFloat(p *float64, def float64) {
	if *p == 0 {
		*p = def
	}
}

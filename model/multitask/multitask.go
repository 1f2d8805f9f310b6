// Package multitask holds the multi-task strategies: how much each task's
// loss counts (loss weighting: equal, static, loss-variance, uncertainty
// (Kendall et al. 2018), GradNorm (Chen et al. 2018), DWA (Liu et al.
// 2019), FAMO (Liu et al. 2023), meta-learned Auto-λ (Liu et al. 2022))
// and how the tasks' gradients of the shared encoder become one
// (gradient combination: the weighted sum, gradient normalisation, PCGrad
// (Yu et al. 2020)). A Strategy is one of each.
//
// The contract with the trainer, for every strategy:
//
//   - Weights are loss weights and nothing else: task i's loss is multiplied
//     by Weights()[i], in its head's gradient and in what it contributes to
//     the shared gradient. They always sum to the number of tasks (equal
//     weighting is all ones), so train.lr and train.clip mean the same
//     whatever the strategy.
//   - Weights are fixed for one optimizer step. After the step the trainer
//     calls Update once with the step's mean loss of each task (NaN for a
//     task that had no batch in it): windows and periods count optimizer
//     steps, not micro-batches.
//   - In step_mode all the trainer hands Combine every task's gradient of
//     the shared parameters (of its unweighted loss) and uses the result as
//     the shared gradient; in step_mode sampled the shared gradient is the
//     plain weighted sum the backward passes accumulate, so only strategies
//     whose combination is the sum and whose weighting needs no gradients
//     run there (RequiresAllTasks).
//
// Nothing here knows about the model, so each formula is tested on
// hand-computed numbers. State (learned log-variances, loss histories, RNG
// position) is exported as JSON with State and restored with SetState, so a
// resumed run continues exactly; Go's float formatting round-trips float64
// bit for bit.
package multitask

import (
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"slices"
	"strings"

	"github.com/taskweave/taskweave/internal/rules"
)

// Name is a strategy's name as the job spec's train.strategy.name writes it.
type Name string

// The strategies New knows.
const (
	NameEqual                 Name = "equal"
	NameStatic                Name = "static"
	NameLossVariance          Name = "loss_variance"
	NameUncertainty           Name = "uncertainty"
	NameGradNorm              Name = "gradnorm"
	NameGradientNormalization Name = "gradient_normalization"
	NameDWA                   Name = "dwa"
	NamePCGrad                Name = "pcgrad"
	NameFAMO                  Name = "famo"
	NameAutoLambda            Name = "auto_lambda"
)

// Names lists the strategies New knows, in the order help texts give them.
var Names = []Name{NameEqual, NameStatic, NameLossVariance, NameUncertainty, NameGradNorm, NameGradientNormalization, NameDWA, NamePCGrad, NameFAMO, NameAutoLambda}

// NameStrings are Names as strings, for allowed-value lists in messages.
func NameStrings() []string {
	out := make([]string, len(Names))
	for i, n := range Names {
		out[i] = string(n)
	}
	return out
}

// RequiresAllTasks reports whether the named strategy needs every task's
// gradient in every step, so it can only run with the trainer's step_mode
// all: GradNorm's weighting, and the combinations other than the sum.
func RequiresAllTasks(name Name) bool {
	switch name {
	case NameGradNorm, NameGradientNormalization, NamePCGrad, NameAutoLambda:
		return true
	}
	return false
}

// learnsWeights reports whether the named strategy learns its weights with
// Config.LR.
func learnsWeights(name Name) bool {
	switch name {
	case NameUncertainty, NameGradNorm, NameFAMO, NameAutoLambda:
		return true
	}
	return false
}

// Ranges are the allowed values of the train.strategy keys, whatever the
// strategy; Validate adds the rules of the named strategy (loss_variance's
// window of 2 or more).
var Ranges = []rules.Range{
	{Key: "train.strategy.alpha", Lo: 0, Hi: rules.Inf, Note: "gradnorm's asymmetry"},
	{Key: "train.strategy.window", Lo: 1, Hi: rules.Inf, Note: "optimizer steps; loss_variance needs 2 or more"},
	{Key: "train.strategy.temperature", Lo: 0, Hi: rules.Inf, LoOpen: true},
	{Key: "train.strategy.lr", Lo: 0, Hi: 1, Note: "0 keeps learned weights fixed"},
	{Key: "train.strategy.gamma", Lo: 0, Hi: rules.Inf, Note: "famo; 0 = no decay of the task logits"},
	{Key: "tasks[].weight", Lo: 0, Hi: rules.Inf, Note: "static strategy's loss weight"},
}

// Config selects and parameterises a strategy; field meanings follow the job
// spec's train.strategy section. Every field a strategy uses must be set:
// nothing here replaces a zero by a default.
type Config struct {
	Name  Name
	Tasks []string
	// Regression[i] is true when task i is a sequence_regression task
	// (uncertainty's regression form); nil means none is.
	Regression  []bool
	Static      []float64 // static: one weight per task (tasks[].weight), >= 0; normalised to sum to the number of tasks
	Alpha       float64   // gradnorm: asymmetry α
	Window      int       // loss_variance window and dwa period, in optimizer steps
	Temperature float64   // dwa: temperature
	LR          float64   // uncertainty's s, gradnorm's weights, famo's logits, auto_lambda's weights: learning rate (0 = fixed)
	Gamma       float64   // famo: decay of the logits γ
	Primary     []string  // auto_lambda: the tasks whose held-out loss the weights serve
	Seed        uint64    // pcgrad: task order
}

// Validate checks the fields the named strategy uses against Ranges and
// the strategy's own rules. Each broken rule is a *rules.Error keyed by
// the job spec's key, all of them joined.
func (c Config) Validate() error {
	n := len(c.Tasks)
	if n == 0 {
		return fmt.Errorf("multitask: no tasks")
	}
	if !slices.Contains(Names, c.Name) {
		return rules.Errorf("train.strategy.name", "%q is not allowed; use one of %s", c.Name, strings.Join(NameStrings(), ", "))
	}
	if c.Regression != nil && len(c.Regression) != n {
		return fmt.Errorf("multitask: %d regression flags for %d tasks", len(c.Regression), n)
	}
	var errs []error
	check := func(key string, v float64) {
		if err := rules.Find(Ranges, key).Check(key, v); err != nil {
			errs = append(errs, err)
		}
	}
	switch c.Name {
	case NameStatic:
		errs = append(errs, c.validateStatic()...)
	case NameLossVariance:
		check("train.strategy.window", float64(c.Window))
		if c.Window == 1 {
			errs = append(errs, rules.Errorf("train.strategy.window", "1; loss_variance needs window >= 2 (a variance over one loss is 0)"))
		}
	case NameDWA:
		check("train.strategy.window", float64(c.Window))
		check("train.strategy.temperature", c.Temperature)
	case NameGradNorm:
		check("train.strategy.alpha", c.Alpha)
	case NameFAMO:
		check("train.strategy.gamma", c.Gamma)
	case NameAutoLambda:
		errs = append(errs, c.validatePrimary()...)
	}
	if learnsWeights(c.Name) {
		check("train.strategy.lr", c.LR)
	}
	return errors.Join(errs...)
}

// validateStatic checks static's task weights.
func (c Config) validateStatic() []error {
	if len(c.Static) != len(c.Tasks) {
		return []error{fmt.Errorf("multitask: static needs one weight per task: got %d for %d tasks", len(c.Static), len(c.Tasks))}
	}
	sum := 0.0
	weight := rules.Find(Ranges, "tasks[].weight")
	for i, w := range c.Static {
		if err := weight.Check(fmt.Sprintf("tasks[%d].weight", i), w); err != nil {
			return []error{err}
		}
		sum += w
	}
	if sum == 0 {
		return []error{rules.Errorf("tasks[0].weight", "every task weight is 0; give at least one task a positive weight")}
	}
	return nil
}

// validatePrimary checks auto_lambda's primary tasks.
func (c Config) validatePrimary() []error {
	if len(c.Primary) == 0 {
		return []error{rules.Errorf("train.strategy.name", "auto_lambda needs primary: [task, …], the tasks whose held-out loss the weights are learned for")}
	}
	var errs []error
	for j, p := range c.Primary {
		if !slices.Contains(c.Tasks, p) {
			errs = append(errs, rules.Errorf(fmt.Sprintf("train.strategy.primary[%d]", j), "%q is not a task of this run (%s)", p, strings.Join(c.Tasks, ", ")))
		}
	}
	return errs
}

// Step is what one optimizer step observed.
type Step struct {
	// Losses[i] is task i's unweighted loss, averaged over the step's
	// micro-batches of task i; NaN when task i had none.
	Losses []float64
	// Hyper[i] is the hypergradient of the primary tasks' held-out loss
	// with respect to task i's weight (auto_lambda; Strategy.Meta).
	Hyper []float64
	// LastShared[i] is the gradient of Losses[i] with respect to the last
	// layer every task's head reads through (GradNorm's W), flattened; set
	// only for a weighting that NeedsGradients (step_mode all).
	LastShared [][]float32
}

// Weighting decides each task's loss weight.
type Weighting interface {
	// Weights returns every task's loss weight for the next optimizer step,
	// in task order. They sum to the number of tasks.
	Weights() []float64
	// Update advances the weighting after an optimizer step.
	Update(Step) error
	// NeedsGradients reports whether Update needs Step.LastShared.
	NeedsGradients() bool
	State() ([]byte, error)
	SetState([]byte) error
}

// Combiner turns the tasks' gradients of the shared parameters into the
// shared gradient of an all-tasks step.
type Combiner interface {
	// Combine returns the shared gradient from grads[i], the gradient of
	// task i's unweighted loss, and the loss weights w. The result may be
	// the combiner's scratch buffer, valid until its next Combine.
	Combine(grads [][]float32, w []float64) ([]float32, error)
	// Sum reports whether Combine is the weighted sum Σ w_i·g_i, which
	// accumulating backward passes compute without it.
	Sum() bool
	State() ([]byte, error)
	SetState([]byte) error
}

// Strategy is a named pair of loss weighting and gradient combination.
type Strategy struct {
	weighting Weighting
	combiner  Combiner
	name      string
	n         int
}

// New builds the named strategy after validating c.
func New(c Config) (*Strategy, error) {
	if err := c.Validate(); err != nil {
		return nil, err
	}
	n := len(c.Tasks)
	s := &Strategy{name: string(c.Name), n: n, weighting: NewStatic(ones(n)), combiner: WeightedSum{}}
	switch c.Name {
	case NameStatic:
		s.weighting = NewStatic(c.Static)
	case NameLossVariance:
		s.weighting = NewLossVariance(n, c.Window)
	case NameUncertainty:
		s.weighting = NewUncertainty(c.Regression, n, c.LR)
	case NameGradNorm:
		s.weighting = NewGradNorm(n, c.Alpha, c.LR)
	case NameDWA:
		s.weighting = NewDWA(n, c.Window, c.Temperature)
	case NameFAMO:
		s.weighting = NewFAMO(n, c.LR, c.Gamma)
	case NameAutoLambda:
		var primary []int
		for _, p := range c.Primary {
			primary = append(primary, slices.Index(c.Tasks, p))
		}
		s.weighting = NewAutoLambda(n, c.LR, primary)
	case NameGradientNormalization:
		s.combiner = GradNormalize{}
	case NamePCGrad:
		s.combiner = NewPCGrad(c.Seed)
	}
	return s, nil
}

// Weights are every task's loss weight for the next optimizer step; they
// sum to the number of tasks.
func (s *Strategy) Weights() []float64 { return s.weighting.Weights() }

// CombinesBySum reports whether the shared gradient is the weighted sum of
// the tasks' gradients, which the backward passes accumulate without Combine.
func (s *Strategy) CombinesBySum() bool { return s.combiner.Sum() }

// Name is the strategy's name in the job spec.
func (s *Strategy) Name() string { return s.name }

// Meta returns the primary tasks (indexes) when the strategy meta-learns
// its weights (auto_lambda): the trainer must then measure Step.Hyper.
func (s *Strategy) Meta() (primary []int, ok bool) {
	if a, ok := s.weighting.(*AutoLambda); ok {
		return slices.Clone(a.Primary), true
	}
	return nil, false
}

// RequiresAllTasks reports whether the strategy needs step_mode all.
func (s *Strategy) RequiresAllTasks() bool {
	_, meta := s.Meta()
	return s.weighting.NeedsGradients() || !s.combiner.Sum() || meta
}

type strategyState struct {
	Weighting json.RawMessage `json:"weighting"`
	Combiner  json.RawMessage `json:"combiner"`
}

// State exports the weighting's and the combiner's state.
func (s *Strategy) State() ([]byte, error) {
	w, err := s.weighting.State()
	if err != nil {
		return nil, err
	}
	c, err := s.combiner.State()
	if err != nil {
		return nil, err
	}
	return json.Marshal(strategyState{w, c})
}

// SetState restores what State exported.
func (s *Strategy) SetState(b []byte) error {
	var st strategyState
	if err := json.Unmarshal(b, &st); err != nil || st.Weighting == nil || st.Combiner == nil {
		return fmt.Errorf("multitask: %s state %.60q is not {weighting, combiner} (saved by an older taskweave?)", s.name, b)
	}
	if err := s.weighting.SetState(st.Weighting); err != nil {
		return err
	}
	return s.combiner.SetState(st.Combiner)
}

// Update checks the step's observations and advances the weighting.
func (s *Strategy) Update(st Step) error {
	if len(st.Losses) != s.n {
		return fmt.Errorf("multitask: %d losses for %d tasks", len(st.Losses), s.n)
	}
	for i, l := range st.Losses {
		if math.IsInf(l, 0) {
			return fmt.Errorf("multitask: task %d loss is %v", i, l)
		}
	}
	if s.weighting.NeedsGradients() {
		if len(st.LastShared) != s.n {
			return fmt.Errorf("multitask: %s needs the last shared layer's gradient of every task (step_mode all)", s.name)
		}
		for i, l := range st.Losses {
			if math.IsNaN(l) {
				return fmt.Errorf("multitask: %s needs every task's loss in every step; task %d had none", s.name, i)
			}
		}
	}
	return s.weighting.Update(st)
}

// Combine checks the gradients and combines them.
func (s *Strategy) Combine(grads [][]float32, w []float64) ([]float32, error) {
	if len(grads) != s.n || len(w) != s.n {
		return nil, fmt.Errorf("multitask: %d gradients and %d weights for %d tasks; this step needs every task (step_mode all)", len(grads), len(w), s.n)
	}
	for k := 1; k < len(grads); k++ {
		if len(grads[k]) != len(grads[0]) {
			return nil, fmt.Errorf("multitask: gradient %d has %d values, gradient 0 has %d", k, len(grads[k]), len(grads[0]))
		}
	}
	return s.combiner.Combine(grads, w)
}

func ones(n int) []float64 {
	w := make([]float64, n)
	for i := range w {
		w[i] = 1
	}
	return w
}

// normalise scales w in place to sum to len(w) (equal weights if it sums
// to 0) and returns it.
func normalise(w []float64) []float64 {
	sum := 0.0
	for _, v := range w {
		sum += v
	}
	for i := range w {
		if sum > 0 {
			w[i] *= float64(len(w)) / sum
		} else {
			w[i] = 1
		}
	}
	return w
}

func dot(a, b []float32) float64 {
	s := 0.0
	for i := range a {
		s += float64(a[i]) * float64(b[i])
	}
	return s
}

func norm(a []float32) float64 { return math.Sqrt(dot(a, a)) }

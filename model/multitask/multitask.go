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
	"fmt"
	"math"
	"slices"
	"strings"
)

// Names lists the strategies New knows.
var Names = []string{"equal", "static", "loss_variance", "uncertainty", "gradnorm", "gradient_normalization", "dwa", "pcgrad", "famo", "auto_lambda"}

// RequiresAllTasks reports whether the named strategy needs every task's
// gradient in every step, so it can only run with the trainer's step_mode
// all: GradNorm's weighting, and the combinations other than the sum.
func RequiresAllTasks(name string) bool {
	switch name {
	case "gradnorm", "gradient_normalization", "pcgrad", "auto_lambda":
		return true
	}
	return false
}

// Config selects and parameterises a strategy; field meanings follow the job
// spec's train.strategy section. Every field a strategy uses must be set:
// nothing here replaces a zero by a default.
type Config struct {
	Name  string
	Tasks []string
	// Regression[i] is true when task i is a sequence_regression task
	// (uncertainty's regression form); nil means none is.
	Regression  []bool
	Static      []float64 // static: one weight per task, >= 0; normalised to sum to the number of tasks
	Alpha       float64   // gradnorm: asymmetry α >= 0
	Window      int       // loss_variance window (>= 2) and dwa period (>= 1), in optimizer steps
	Temperature float64   // dwa: temperature > 0
	LR          float64   // uncertainty's s, gradnorm's weights, famo's logits: learning rate >= 0 (0 = fixed)
	Gamma       float64   // famo: decay of the logits γ >= 0
	Primary     []string  // auto_lambda: the tasks whose held-out loss the weights serve
	Seed        uint64    // pcgrad: task order
}

// Validate checks the fields the named strategy uses.
func (c Config) Validate() error {
	n := len(c.Tasks)
	if n == 0 {
		return fmt.Errorf("multitask: no tasks")
	}
	if !slices.Contains(Names, c.Name) {
		return fmt.Errorf("multitask: strategy.name %q is unknown; use one of %s", c.Name, strings.Join(Names, ", "))
	}
	if c.Regression != nil && len(c.Regression) != n {
		return fmt.Errorf("multitask: %d regression flags for %d tasks", len(c.Regression), n)
	}
	finite := func(v float64) bool { return !math.IsNaN(v) && !math.IsInf(v, 0) }
	switch c.Name {
	case "static":
		if len(c.Static) != n {
			return fmt.Errorf("multitask: static needs one weight per task: got %d for %d tasks", len(c.Static), n)
		}
		sum := 0.0
		for i, w := range c.Static {
			if !finite(w) || w < 0 {
				return fmt.Errorf("multitask: task %s weight %g is out of range; use a finite weight >= 0", c.Tasks[i], w)
			}
			sum += w
		}
		if sum == 0 {
			return fmt.Errorf("multitask: every task weight is 0; give at least one task a positive weight")
		}
	case "loss_variance":
		if c.Window < 2 {
			return fmt.Errorf("multitask: strategy.window %d is out of range for loss_variance; use 2 or more optimizer steps", c.Window)
		}
	case "dwa":
		if c.Window < 1 {
			return fmt.Errorf("multitask: strategy.window %d is out of range for dwa; use 1 or more optimizer steps", c.Window)
		}
		if !finite(c.Temperature) || c.Temperature <= 0 {
			return fmt.Errorf("multitask: strategy.temperature %g is out of range for dwa; use a temperature > 0", c.Temperature)
		}
	case "gradnorm":
		if !finite(c.Alpha) || c.Alpha < 0 {
			return fmt.Errorf("multitask: strategy.alpha %g is out of range for gradnorm; use alpha >= 0", c.Alpha)
		}
	}
	if c.Name == "famo" && (!finite(c.Gamma) || c.Gamma < 0) {
		return fmt.Errorf("multitask: strategy.gamma %g is out of range for famo; use gamma >= 0", c.Gamma)
	}
	if c.Name == "auto_lambda" {
		if len(c.Primary) == 0 {
			return fmt.Errorf("multitask: auto_lambda needs primary tasks (strategy.primary)")
		}
		for _, p := range c.Primary {
			if !slices.Contains(c.Tasks, p) {
				return fmt.Errorf("multitask: strategy.primary names %q, which is not a task of this run (%s)", p, strings.Join(c.Tasks, ", "))
			}
		}
	}
	if c.Name == "uncertainty" || c.Name == "gradnorm" || c.Name == "famo" || c.Name == "auto_lambda" {
		if !finite(c.LR) || c.LR < 0 {
			return fmt.Errorf("multitask: strategy.lr %g is out of range for %s; use lr >= 0 (0 keeps the weights fixed)", c.LR, c.Name)
		}
	}
	return nil
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
	s := &Strategy{name: c.Name, n: n, weighting: NewStatic(ones(n)), combiner: WeightedSum{}}
	switch c.Name {
	case "static":
		s.weighting = NewStatic(c.Static)
	case "loss_variance":
		s.weighting = NewLossVariance(n, c.Window)
	case "uncertainty":
		s.weighting = NewUncertainty(c.Regression, n, c.LR)
	case "gradnorm":
		s.weighting = NewGradNorm(n, c.Alpha, c.LR)
	case "dwa":
		s.weighting = NewDWA(n, c.Window, c.Temperature)
	case "famo":
		s.weighting = NewFAMO(n, c.LR, c.Gamma)
	case "auto_lambda":
		var primary []int
		for _, p := range c.Primary {
			primary = append(primary, slices.Index(c.Tasks, p))
		}
		s.weighting = NewAutoLambda(n, c.LR, primary)
	case "gradient_normalization":
		s.combiner = GradNormalize{}
	case "pcgrad":
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

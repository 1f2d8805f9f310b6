// Package multitask holds the multi-task loss-weighting and gradient
// strategies: equal, static, loss-variance, uncertainty (Kendall et al. 2018),
// GradNorm (Chen et al. 2018), gradient normalisation, DWA (Liu et al. 2019)
// and PCGrad (Yu et al. 2020).
//
// Every strategy is pure math behind one interface: the trainer hands it the
// step's per-task losses and, for the gradient methods, each task's gradient
// of the shared (encoder) parameters as one flat vector; the strategy answers
// with per-task loss weights and, when it rewrites gradients, the combined
// shared gradient. Nothing here knows about the model, so each formula is
// tested on hand-computed numbers.
//
// Head parameters belong to one task each, so the trainer scales a task's
// head gradient by that task's weight (Result.HeadWeights); for the
// gradient-surgery methods (gradient normalisation, PCGrad) head gradients
// are left unscaled (weight 1), because those methods are defined on the
// shared gradient only.
//
// State (learned log-variances, loss histories, RNG position) is exported as
// JSON with State and restored with SetState, so a resumed run continues
// exactly; Go's float formatting round-trips float64 bit for bit.
package multitask

import (
	"encoding/json"
	"fmt"
	"math"
	"strings"
)

// Input is one optimizer step's view of the tasks.
type Input struct {
	// Tasks are the indices (into the strategy's task list) of the tasks
	// present this step: one in sampled mode, all of them in "all" mode.
	Tasks []int
	// Losses[k] is the unweighted loss of Tasks[k].
	Losses []float64
	// Grads[k] is the gradient of Losses[k] with respect to the shared
	// parameters, flattened; nil unless NeedsGradients.
	Grads [][]float32
	// LastShared[k] is the part of Grads[k] that belongs to the last shared
	// layer (GradNorm's W); nil unless NeedsGradients.
	LastShared [][]float32
}

// Result is what the trainer applies.
type Result struct {
	// Weights[k] multiplies Losses[k] (and Grads[k] when Shared is nil).
	Weights []float64
	// HeadWeights[k] multiplies the head gradient of Tasks[k].
	HeadWeights []float64
	// Shared, when not nil, is the combined shared gradient to use instead of
	// Σ_k Weights[k]·Grads[k]. It may be the strategy's scratch buffer,
	// valid until its next Combine.
	Shared []float32
	// Loss is the objective the strategy optimises, for logging.
	Loss float64
}

// Strategy is one multi-task method.
type Strategy interface {
	Name() string
	// NeedsGradients reports whether Combine needs Input.Grads, i.e. every
	// task's backward pass in every step.
	NeedsGradients() bool
	// Combine returns the weights (and combined gradient) for this step and
	// advances the strategy's own state (histories, learned parameters).
	Combine(in Input) (Result, error)
	// State and SetState export and restore everything Combine depends on.
	State() ([]byte, error)
	SetState([]byte) error
	// Weights are the current per-task weights, for logging.
	Weights() []float64
}

// Config selects and parameterises a strategy; field meanings follow the job
// spec's train.strategy section.
type Config struct {
	Name        string
	Tasks       []string
	Static      []float64 // static: one weight per task
	Alpha       float64   // GradNorm asymmetry (default 1.5)
	Window      int       // loss-variance window; DWA averaging period (default 20)
	Temperature float64   // DWA temperature (default 2)
	LR          float64   // learning rate of uncertainty's s and GradNorm's weights (default 0.025)
	Seed        uint64    // PCGrad task order
}

// Names lists the strategies New knows.
var Names = []string{"equal", "static", "loss_variance", "uncertainty", "gradnorm", "gradient_normalization", "dwa", "pcgrad"}

// RequiresAllTasks reports whether the named strategy combines every task's
// gradient in every step, so it can only run with the trainer's step_mode all.
func RequiresAllTasks(name string) bool {
	switch name {
	case "gradnorm", "gradient_normalization", "pcgrad":
		return true
	}
	return false
}

// New builds the named strategy.
func New(c Config) (Strategy, error) {
	n := len(c.Tasks)
	if n == 0 {
		return nil, fmt.Errorf("multitask: no tasks")
	}
	if c.Alpha == 0 {
		c.Alpha = 1.5
	}
	if c.Window == 0 {
		c.Window = 20
	}
	if c.Temperature == 0 {
		c.Temperature = 2
	}
	if c.LR == 0 {
		c.LR = 0.025
	}
	switch c.Name {
	case "equal", "":
		return &Static{name: "equal", W: ones(n)}, nil
	case "static":
		if len(c.Static) != n {
			return nil, fmt.Errorf("multitask: static weights: got %d weights for %d tasks", len(c.Static), n)
		}
		return &Static{name: "static", W: append([]float64(nil), c.Static...)}, nil
	case "loss_variance":
		if c.Window < 2 {
			return nil, fmt.Errorf("multitask: loss_variance window %d: use at least 2", c.Window)
		}
		return NewLossVariance(n, c.Window), nil
	case "uncertainty":
		return NewUncertainty(n, c.LR), nil
	case "gradnorm":
		return NewGradNorm(n, c.Alpha, c.LR), nil
	case "gradient_normalization":
		return GradNormalize{}, nil
	case "dwa":
		return NewDWA(n, c.Window, c.Temperature), nil
	case "pcgrad":
		return NewPCGrad(c.Seed), nil
	}
	return nil, fmt.Errorf("multitask: unknown strategy %q; use one of %s", c.Name, strings.Join(Names, ", "))
}

func ones(n int) []float64 {
	w := make([]float64, n)
	for i := range w {
		w[i] = 1
	}
	return w
}

func checkInput(in Input, grads bool) error {
	if len(in.Tasks) != len(in.Losses) {
		return fmt.Errorf("multitask: %d tasks but %d losses", len(in.Tasks), len(in.Losses))
	}
	if grads {
		if len(in.Grads) != len(in.Tasks) {
			return fmt.Errorf("multitask: %d tasks but %d gradients; this strategy needs step_mode: all", len(in.Tasks), len(in.Grads))
		}
		for k := 1; k < len(in.Grads); k++ {
			if len(in.Grads[k]) != len(in.Grads[0]) {
				return fmt.Errorf("multitask: gradient %d has %d values, gradient 0 has %d", k, len(in.Grads[k]), len(in.Grads[0]))
			}
		}
	}
	for k, l := range in.Losses {
		if math.IsNaN(l) || math.IsInf(l, 0) {
			return fmt.Errorf("multitask: task %d loss is %v", in.Tasks[k], l)
		}
	}
	return nil
}

func pick(w []float64, tasks []int) []float64 {
	out := make([]float64, len(tasks))
	for k, t := range tasks {
		out[k] = w[t]
	}
	return out
}

func weightedLoss(w, l []float64) float64 {
	s := 0.0
	for k := range l {
		s += w[k] * l[k]
	}
	return s
}

func dot(a, b []float32) float64 {
	s := 0.0
	for i := range a {
		s += float64(a[i]) * float64(b[i])
	}
	return s
}

func norm(a []float32) float64 { return math.Sqrt(dot(a, a)) }

// Static applies fixed weights; "equal" is Static with all weights 1.
type Static struct {
	name string
	W    []float64
}

func (s *Static) Name() string         { return s.name }
func (s *Static) NeedsGradients() bool { return false }
func (s *Static) Weights() []float64   { return append([]float64(nil), s.W...) }
func (s *Static) State() ([]byte, error) {
	return []byte("{}"), nil
}
func (s *Static) SetState([]byte) error { return nil }
func (s *Static) Combine(in Input) (Result, error) {
	if err := checkInput(in, false); err != nil {
		return Result{}, err
	}
	w := pick(s.W, in.Tasks)
	return Result{Weights: w, HeadWeights: w, Loss: weightedLoss(w, in.Losses)}, nil
}

// LossVariance weights task i by λ_i = sqrt(Var[L_i]) / Σ_j sqrt(Var[L_j]),
// the variance taken over the last Window losses of each task (population
// variance). Until every task has two losses in its window, or when all
// variances are zero, the weights are equal (1/n), which is what the formula
// gives for equal variances.
type LossVariance struct {
	Window int
	Hist   [][]float64 // per task, oldest first, at most Window long
}

// NewLossVariance starts with empty histories.
func NewLossVariance(n, window int) *LossVariance {
	return &LossVariance{Window: window, Hist: make([][]float64, n)}
}

func (s *LossVariance) Name() string         { return "loss_variance" }
func (s *LossVariance) NeedsGradients() bool { return false }
func (s *LossVariance) State() ([]byte, error) {
	return json.Marshal(s.Hist)
}
func (s *LossVariance) SetState(b []byte) error {
	var h [][]float64
	if err := json.Unmarshal(b, &h); err != nil {
		return fmt.Errorf("multitask: loss_variance state: %w", err)
	}
	if len(h) != len(s.Hist) {
		return fmt.Errorf("multitask: loss_variance state has %d tasks, want %d", len(h), len(s.Hist))
	}
	s.Hist = h
	return nil
}

// Weights computes λ from the current windows.
func (s *LossVariance) Weights() []float64 {
	n := len(s.Hist)
	sd := make([]float64, n)
	sum := 0.0
	for i, h := range s.Hist {
		if len(h) < 2 {
			return equalFrac(n)
		}
		mean := 0.0
		for _, v := range h {
			mean += v
		}
		mean /= float64(len(h))
		v := 0.0
		for _, x := range h {
			v += (x - mean) * (x - mean)
		}
		sd[i] = math.Sqrt(v / float64(len(h)))
		sum += sd[i]
	}
	if sum == 0 {
		return equalFrac(n)
	}
	for i := range sd {
		sd[i] /= sum
	}
	return sd
}

func equalFrac(n int) []float64 {
	w := make([]float64, n)
	for i := range w {
		w[i] = 1 / float64(n)
	}
	return w
}

// Combine records this step's losses, then weights them with the updated
// windows, so the current loss counts towards its own weight.
func (s *LossVariance) Combine(in Input) (Result, error) {
	if err := checkInput(in, false); err != nil {
		return Result{}, err
	}
	for k, t := range in.Tasks {
		h := append(s.Hist[t], in.Losses[k])
		if len(h) > s.Window {
			h = h[len(h)-s.Window:]
		}
		s.Hist[t] = h
	}
	w := pick(s.Weights(), in.Tasks)
	return Result{Weights: w, HeadWeights: w, Loss: weightedLoss(w, in.Losses)}, nil
}

// Uncertainty is Kendall et al.'s homoscedastic uncertainty weighting: each
// task has a learned s_i = log σ_i², the objective is
// Σ_i ½·exp(−s_i)·L_i + ½·s_i, so the network's weight on L_i is
// ½·exp(−s_i), and s_i takes a plain gradient step of its own,
// ∂/∂s_i = −½·exp(−s_i)·L_i + ½, with learning rate LR after the weights of
// this step are read.
type Uncertainty struct {
	LR float64
	S  []float64
}

// NewUncertainty starts at s_i = 0 (σ_i = 1).
func NewUncertainty(n int, lr float64) *Uncertainty {
	return &Uncertainty{LR: lr, S: make([]float64, n)}
}

func (s *Uncertainty) Name() string         { return "uncertainty" }
func (s *Uncertainty) NeedsGradients() bool { return false }
func (s *Uncertainty) State() ([]byte, error) {
	return json.Marshal(s.S)
}
func (s *Uncertainty) SetState(b []byte) error {
	var v []float64
	if err := json.Unmarshal(b, &v); err != nil {
		return fmt.Errorf("multitask: uncertainty state: %w", err)
	}
	if len(v) != len(s.S) {
		return fmt.Errorf("multitask: uncertainty state has %d tasks, want %d", len(v), len(s.S))
	}
	s.S = v
	return nil
}
func (s *Uncertainty) Weights() []float64 {
	w := make([]float64, len(s.S))
	for i, v := range s.S {
		w[i] = 0.5 * math.Exp(-v)
	}
	return w
}
func (s *Uncertainty) Combine(in Input) (Result, error) {
	if err := checkInput(in, false); err != nil {
		return Result{}, err
	}
	w := make([]float64, len(in.Tasks))
	loss := 0.0
	for k, t := range in.Tasks {
		e := math.Exp(-s.S[t])
		w[k] = 0.5 * e
		loss += 0.5*e*in.Losses[k] + 0.5*s.S[t]
	}
	for k, t := range in.Tasks {
		g := -0.5*math.Exp(-s.S[t])*in.Losses[k] + 0.5
		s.S[t] -= s.LR * g
	}
	return Result{Weights: w, HeadWeights: w, Loss: loss}, nil
}

// GradNorm (Chen et al. 2018) learns loss weights w_i so that the gradient
// norms G_i = ‖∇_W w_i·L_i‖ on the last shared layer W move towards
// Ḡ·r_i^α, where r_i = L̃_i / mean_j L̃_j and L̃_i = L_i(t)/L_i(0) is the
// inverse training rate. Each step uses the current weights for the network
// update, then takes one gradient step of
// L_grad = Σ_i |G_i − Ḡ·r_i^α| on w (the target treated as a constant, as in
// the paper), ∂L_grad/∂w_i = sign(G_i − target_i)·‖∇_W L_i‖, and
// renormalises w to sum to the number of tasks. Weights are kept above a
// small floor so that a task cannot be switched off for good.
type GradNorm struct {
	Alpha, LR float64
	W         []float64
	L0        []float64 // first loss of each task; 0 = not seen yet
}

// NewGradNorm starts with all weights 1.
func NewGradNorm(n int, alpha, lr float64) *GradNorm {
	return &GradNorm{Alpha: alpha, LR: lr, W: ones(n), L0: make([]float64, n)}
}

type gradNormState struct {
	W, L0 []float64
}

func (s *GradNorm) Name() string         { return "gradnorm" }
func (s *GradNorm) NeedsGradients() bool { return true }
func (s *GradNorm) Weights() []float64   { return append([]float64(nil), s.W...) }
func (s *GradNorm) State() ([]byte, error) {
	return json.Marshal(gradNormState{s.W, s.L0})
}
func (s *GradNorm) SetState(b []byte) error {
	var st gradNormState
	if err := json.Unmarshal(b, &st); err != nil {
		return fmt.Errorf("multitask: gradnorm state: %w", err)
	}
	if len(st.W) != len(s.W) || len(st.L0) != len(s.W) {
		return fmt.Errorf("multitask: gradnorm state has %d/%d tasks, want %d", len(st.W), len(st.L0), len(s.W))
	}
	s.W, s.L0 = st.W, st.L0
	return nil
}

const gradNormFloor = 1e-3

func (s *GradNorm) Combine(in Input) (Result, error) {
	if err := checkInput(in, true); err != nil {
		return Result{}, err
	}
	last := in.LastShared
	if last == nil {
		last = in.Grads
	}
	if len(last) != len(in.Tasks) {
		return Result{}, fmt.Errorf("multitask: gradnorm needs the last shared layer's gradient of every task")
	}
	k := len(in.Tasks)
	w := pick(s.W, in.Tasks)
	res := Result{Weights: w, HeadWeights: w, Loss: weightedLoss(w, in.Losses)}
	for j, t := range in.Tasks {
		if s.L0[t] == 0 {
			s.L0[t] = in.Losses[j]
		}
	}
	if k < 2 {
		return res, nil
	}
	raw := make([]float64, k) // ‖∇_W L_i‖
	G := make([]float64, k)
	ratio := make([]float64, k)
	meanG, meanR := 0.0, 0.0
	for j, t := range in.Tasks {
		raw[j] = norm(last[j])
		G[j] = w[j] * raw[j]
		meanG += G[j]
		if s.L0[t] > 0 {
			ratio[j] = in.Losses[j] / s.L0[t]
		} else {
			ratio[j] = 1
		}
		meanR += ratio[j]
	}
	meanG /= float64(k)
	meanR /= float64(k)
	sum := 0.0
	for j, t := range in.Tasks {
		target := meanG * math.Pow(ratio[j]/meanR, s.Alpha)
		d := G[j] - target
		g := 0.0
		if d > 0 {
			g = raw[j]
		} else if d < 0 {
			g = -raw[j]
		}
		s.W[t] = math.Max(s.W[t]-s.LR*g, gradNormFloor)
		sum += s.W[t]
	}
	for _, t := range in.Tasks {
		s.W[t] *= float64(k) / sum
	}
	return res, nil
}

// GradNormalize rescales each task's shared gradient to
// ĝ_i = g_i/‖g_i‖ · ‖G‖/Σ_j‖g_j‖ with G = Σ_i g_i and returns Σ_i ĝ_i: every
// task contributes a direction of the same length, and the total keeps the
// scale of the plain sum. Stateless.
type GradNormalize struct{}

func (GradNormalize) Name() string           { return "gradient_normalization" }
func (GradNormalize) NeedsGradients() bool   { return true }
func (GradNormalize) State() ([]byte, error) { return []byte("{}"), nil }
func (GradNormalize) SetState([]byte) error  { return nil }
func (GradNormalize) Weights() []float64     { return nil }
func (GradNormalize) Combine(in Input) (Result, error) {
	if err := checkInput(in, true); err != nil {
		return Result{}, err
	}
	k := len(in.Tasks)
	if k == 0 {
		return Result{}, nil
	}
	total := make([]float64, len(in.Grads[0]))
	norms := make([]float64, k)
	sumN := 0.0
	for j, g := range in.Grads {
		for i, v := range g {
			total[i] += float64(v)
		}
		norms[j] = norm(g)
		sumN += norms[j]
	}
	tn := 0.0
	for _, v := range total {
		tn += v * v
	}
	tn = math.Sqrt(tn)
	w := make([]float64, k)
	out := make([]float32, len(total))
	acc := make([]float64, len(total))
	for j, g := range in.Grads {
		if norms[j] == 0 || sumN == 0 {
			continue
		}
		w[j] = tn / (norms[j] * sumN)
		for i, v := range g {
			acc[i] += w[j] * float64(v)
		}
	}
	for i, v := range acc {
		out[i] = float32(v)
	}
	return Result{Weights: w, HeadWeights: ones(k), Shared: out, Loss: weightedLoss(ones(k), in.Losses)}, nil
}

// DWA is Liu et al.'s dynamic weight averaging:
// w_i = n·exp(r_i/T) / Σ_j exp(r_j/T) with r_i = L̄_i(t−1)/L̄_i(t−2), where
// L̄ is a task's mean loss over one period. The paper's period is an epoch;
// here it is Window optimizer steps, because mixed-task streaming has no
// common epoch. Weights are 1 until two periods are complete.
type DWA struct {
	Window int
	Temp   float64
	Sum    []float64 // current period's loss sums per task
	Count  []int
	Steps  int         // steps in the current period
	Prev   [][]float64 // completed period means, at most the last two: Prev[0] older
}

// NewDWA starts with no history.
func NewDWA(n, window int, temp float64) *DWA {
	return &DWA{Window: window, Temp: temp, Sum: make([]float64, n), Count: make([]int, n)}
}

type dwaState struct {
	Sum   []float64
	Count []int
	Steps int
	Prev  [][]float64
}

func (s *DWA) Name() string         { return "dwa" }
func (s *DWA) NeedsGradients() bool { return false }
func (s *DWA) State() ([]byte, error) {
	return json.Marshal(dwaState{s.Sum, s.Count, s.Steps, s.Prev})
}
func (s *DWA) SetState(b []byte) error {
	var st dwaState
	if err := json.Unmarshal(b, &st); err != nil {
		return fmt.Errorf("multitask: dwa state: %w", err)
	}
	if len(st.Sum) != len(s.Sum) || len(st.Count) != len(s.Sum) {
		return fmt.Errorf("multitask: dwa state has %d tasks, want %d", len(st.Sum), len(s.Sum))
	}
	s.Sum, s.Count, s.Steps, s.Prev = st.Sum, st.Count, st.Steps, st.Prev
	return nil
}

// Weights are computed from the last two completed periods.
func (s *DWA) Weights() []float64 {
	n := len(s.Sum)
	if len(s.Prev) < 2 {
		return ones(n)
	}
	e := make([]float64, n)
	z := 0.0
	for i := range e {
		r := 1.0
		if s.Prev[0][i] > 0 {
			r = s.Prev[1][i] / s.Prev[0][i]
		}
		e[i] = math.Exp(r / s.Temp)
		z += e[i]
	}
	for i := range e {
		e[i] *= float64(n) / z
	}
	return e
}

func (s *DWA) Combine(in Input) (Result, error) {
	if err := checkInput(in, false); err != nil {
		return Result{}, err
	}
	w := pick(s.Weights(), in.Tasks)
	for k, t := range in.Tasks {
		s.Sum[t] += in.Losses[k]
		s.Count[t]++
	}
	s.Steps++
	if s.Steps >= s.Window {
		mean := make([]float64, len(s.Sum))
		for i := range mean {
			if s.Count[i] > 0 {
				mean[i] = s.Sum[i] / float64(s.Count[i])
			} else if len(s.Prev) > 0 {
				mean[i] = s.Prev[len(s.Prev)-1][i] // task unseen this period: carry its last mean
			}
			s.Sum[i], s.Count[i] = 0, 0
		}
		s.Prev = append(s.Prev, mean)
		if len(s.Prev) > 2 {
			s.Prev = s.Prev[len(s.Prev)-2:]
		}
		s.Steps = 0
	}
	return Result{Weights: w, HeadWeights: w, Loss: weightedLoss(w, in.Losses)}, nil
}

package multitask

import (
	"encoding/json"
	"fmt"
	"math"
	"slices"
)

// Static applies fixed weights, normalised to sum to the number of tasks;
// "equal" is Static with all weights 1.
type Static struct{ W []float64 }

// NewStatic normalises w.
func NewStatic(w []float64) *Static { return &Static{W: normalise(slices.Clone(w))} }

func (s *Static) Weights() []float64     { return slices.Clone(s.W) }
func (s *Static) Update(Step) error      { return nil }
func (s *Static) NeedsGradients() bool   { return false }
func (s *Static) State() ([]byte, error) { return []byte("{}"), nil }
func (s *Static) SetState([]byte) error  { return nil }

// LossVariance weights task i by n·σ_i / Σ_j σ_j, where σ_i is the standard
// deviation (population) of task i's losses in the last Window optimizer
// steps: one loss per step in which the task had a batch. Until every task
// has two losses in its window, or when every σ is zero, the weights are
// equal, which is what the formula gives for equal deviations.
type LossVariance struct {
	Window int
	Step   int          // optimizer steps seen
	Hist   [][]stepLoss // per task, oldest first, within the window
}

type stepLoss struct {
	Step int     `json:"step"`
	Loss float64 `json:"loss"`
}

// NewLossVariance starts with empty histories.
func NewLossVariance(n, window int) *LossVariance {
	return &LossVariance{Window: window, Hist: make([][]stepLoss, n)}
}

type lossVarianceState struct {
	Step int          `json:"step"`
	Hist [][]stepLoss `json:"hist"`
}

func (s *LossVariance) NeedsGradients() bool { return false }
func (s *LossVariance) State() ([]byte, error) {
	return json.Marshal(lossVarianceState{s.Step, s.Hist})
}
func (s *LossVariance) SetState(b []byte) error {
	var st lossVarianceState
	if err := json.Unmarshal(b, &st); err != nil {
		return fmt.Errorf("multitask: loss_variance state: %w", err)
	}
	if len(st.Hist) != len(s.Hist) {
		return fmt.Errorf("multitask: loss_variance state has %d tasks, want %d", len(st.Hist), len(s.Hist))
	}
	s.Step, s.Hist = st.Step, st.Hist
	return nil
}

// Weights computes the weights from the current windows.
func (s *LossVariance) Weights() []float64 {
	sd := make([]float64, len(s.Hist))
	for i, h := range s.Hist {
		if len(h) < 2 {
			return ones(len(s.Hist))
		}
		mean := 0.0
		for _, e := range h {
			mean += e.Loss
		}
		mean /= float64(len(h))
		v := 0.0
		for _, e := range h {
			v += (e.Loss - mean) * (e.Loss - mean)
		}
		sd[i] = math.Sqrt(v / float64(len(h)))
	}
	return normalise(sd)
}

// Update records the step's losses and drops those older than the window.
func (s *LossVariance) Update(st Step) error {
	s.Step++
	for i, l := range st.Losses {
		h := s.Hist[i]
		if !math.IsNaN(l) {
			h = append(h, stepLoss{s.Step, l})
		}
		for len(h) > 0 && h[0].Step <= s.Step-s.Window {
			h = h[1:]
		}
		s.Hist[i] = h
	}
	return nil
}

// Uncertainty is Kendall et al.'s homoscedastic uncertainty weighting. Each
// task has a learned s_i = log σ_i² and the objective is
//
//	classification:  exp(−s_i)·L_i + s_i/2     (1/σ²·L + log σ)
//	regression:      ½·exp(−s_i)·L_i + s_i/2   (1/(2σ²)·L + log σ)
//
// so the factor on L_i is c_i = exp(−s_i) or ½·exp(−s_i). The network's
// weights are those factors normalised to sum to the number of tasks (the
// common normalisation of this package: the relative weights are the
// method's, the overall scale is train.lr's). After each step every task
// that had a batch takes a plain gradient step on its own s_i,
// ∂/∂s_i = −c_i·L_i + ½, with learning rate LR.
type Uncertainty struct {
	LR         float64
	S          []float64
	Regression []bool
}

// NewUncertainty starts at s_i = 0 (σ_i = 1).
func NewUncertainty(regression []bool, n int, lr float64) *Uncertainty {
	r := make([]bool, n)
	copy(r, regression)
	return &Uncertainty{LR: lr, S: make([]float64, n), Regression: r}
}

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

// factor is c_i, the objective's factor on L_i.
func (s *Uncertainty) factor(i int) float64 {
	if s.Regression[i] {
		return 0.5 * math.Exp(-s.S[i])
	}
	return math.Exp(-s.S[i])
}

func (s *Uncertainty) Weights() []float64 {
	w := make([]float64, len(s.S))
	for i := range w {
		w[i] = s.factor(i)
	}
	return normalise(w)
}

func (s *Uncertainty) Update(st Step) error {
	for i, l := range st.Losses {
		if !math.IsNaN(l) {
			s.S[i] -= s.LR * (-s.factor(i)*l + 0.5)
		}
	}
	return nil
}

// GradNorm (Chen et al. 2018) learns loss weights w_i so that the gradient
// norms G_i = ‖∇_W w_i·L_i‖ on the last shared layer W move towards
// Ḡ·r_i^α, where r_i = L̃_i / mean_j L̃_j and L̃_i = L_i(t)/L_i(0) is the
// inverse training rate. After each step it takes one gradient step of
// L_grad = Σ_i |G_i − Ḡ·r_i^α| on w (the target treated as a constant, as
// in the paper), ∂L_grad/∂w_i = sign(G_i − target_i)·‖∇_W L_i‖, and
// renormalises w to sum to the number of tasks. Weights are kept above a
// small floor so that a task cannot be switched off for good. W must be a
// layer every task's gradient flows through: with heads on lower layers
// (layer: k) that is the lowest layer any head reads, not the top one.
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

func (s *GradNorm) NeedsGradients() bool { return true }
func (s *GradNorm) Weights() []float64   { return slices.Clone(s.W) }
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

func (s *GradNorm) Update(st Step) error {
	k := len(s.W)
	for i, l := range st.Losses {
		if s.L0[i] == 0 {
			s.L0[i] = l
		}
	}
	if k < 2 {
		return nil
	}
	raw := make([]float64, k) // ‖∇_W L_i‖
	G := make([]float64, k)
	ratio := make([]float64, k)
	meanG, meanR := 0.0, 0.0
	for i := range s.W {
		raw[i] = norm(st.LastShared[i])
		G[i] = s.W[i] * raw[i]
		meanG += G[i]
		ratio[i] = 1
		if s.L0[i] > 0 {
			ratio[i] = st.Losses[i] / s.L0[i]
		}
		meanR += ratio[i]
	}
	meanG /= float64(k)
	meanR /= float64(k)
	for i := range s.W {
		target := meanG * math.Pow(ratio[i]/meanR, s.Alpha)
		g := 0.0
		if d := G[i] - target; d > 0 {
			g = raw[i]
		} else if d < 0 {
			g = -raw[i]
		}
		s.W[i] = math.Max(s.W[i]-s.LR*g, gradNormFloor)
	}
	normalise(s.W)
	return nil
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
	for i := range e {
		r := 1.0
		if s.Prev[0][i] > 0 {
			r = s.Prev[1][i] / s.Prev[0][i]
		}
		e[i] = math.Exp(r / s.Temp)
	}
	return normalise(e)
}

func (s *DWA) Update(st Step) error {
	for i, l := range st.Losses {
		if !math.IsNaN(l) {
			s.Sum[i] += l
			s.Count[i]++
		}
	}
	s.Steps++
	if s.Steps < s.Window {
		return nil
	}
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
	return nil
}

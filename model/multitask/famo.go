package multitask

import (
	"encoding/json"
	"fmt"
	"math"
)

// FAMO is Liu et al.'s fast adaptive multitask optimisation (2023). Task
// logits ξ give z = softmax(ξ); the network descends Σ_i z_i·log L_i, so
// task i's loss weight is proportional to z_i / L_i (normalised here to sum
// to the number of tasks). After a step, the log losses' decrease
// δ_i = log L_i(before) − log L_i(after) moves the logits by one gradient
// step ξ ← ξ − β·(J_zᵀ·δ + γ·ξ), J_z = diag(z) − z·zᵀ the softmax's
// Jacobian: a task whose loss fell less than the others gains weight.
//
// The O(1) form: no extra forward pass. L_i(before) is the loss task i had
// the last time it was observed (the previous step in step_mode all, its
// previous batch in step_mode sampled) and L_i(after) is its loss in the
// current step, on a new batch; the weights of a step use the last observed
// losses. Until every task has been observed once the weights are equal.
// Losses are offset by famoEps before the logarithm, as in the authors'
// code, so a zero loss stays finite. The logits take a plain gradient step
// (the paper's algorithm; the authors' code uses Adam), so the sequence can
// be worked by hand.
type FAMO struct {
	LR, Gamma float64
	Xi        []float64 // task logits
	Last      []float64 // last observed loss per task; NaN = not seen yet
}

const famoEps = 1e-8

// NewFAMO starts with ξ = 0 (z uniform) and no losses seen.
func NewFAMO(n int, lr, gamma float64) *FAMO {
	last := make([]float64, n)
	for i := range last {
		last[i] = math.NaN()
	}
	return &FAMO{LR: lr, Gamma: gamma, Xi: make([]float64, n), Last: last}
}

type famoState struct {
	Xi   []float64  `json:"xi"`
	Last []*float64 `json:"last"` // null = not seen (JSON has no NaN)
}

func (s *FAMO) NeedsGradients() bool { return false }

func (s *FAMO) State() ([]byte, error) {
	st := famoState{Xi: s.Xi, Last: make([]*float64, len(s.Last))}
	for i, l := range s.Last {
		if !math.IsNaN(l) {
			st.Last[i] = &l
		}
	}
	return json.Marshal(st)
}

func (s *FAMO) SetState(b []byte) error {
	var st famoState
	if err := json.Unmarshal(b, &st); err != nil {
		return fmt.Errorf("multitask: famo state: %w", err)
	}
	if len(st.Xi) != len(s.Xi) || len(st.Last) != len(s.Xi) {
		return fmt.Errorf("multitask: famo state has %d/%d tasks, want %d", len(st.Xi), len(st.Last), len(s.Xi))
	}
	s.Xi = st.Xi
	for i, l := range st.Last {
		s.Last[i] = math.NaN()
		if l != nil {
			s.Last[i] = *l
		}
	}
	return nil
}

// softmax of the logits.
func (s *FAMO) z() []float64 {
	hi := math.Inf(-1)
	for _, x := range s.Xi {
		hi = math.Max(hi, x)
	}
	z := make([]float64, len(s.Xi))
	sum := 0.0
	for i, x := range s.Xi {
		z[i] = math.Exp(x - hi)
		sum += z[i]
	}
	for i := range z {
		z[i] /= sum
	}
	return z
}

// Weights are n·(z_i/L_i) / Σ_j z_j/L_j with the last observed losses.
func (s *FAMO) Weights() []float64 {
	z := s.z()
	w := make([]float64, len(z))
	for i, l := range s.Last {
		if math.IsNaN(l) {
			return ones(len(z))
		}
		w[i] = z[i] / (l + famoEps)
	}
	return normalise(w)
}

// Update records the step's losses and moves the logits by the decrease
// of each observed task's log loss since its previous observation.
func (s *FAMO) Update(st Step) error {
	n := len(s.Xi)
	delta := make([]float64, n)
	for i, l := range st.Losses {
		if math.IsNaN(l) {
			continue
		}
		if l < 0 {
			return fmt.Errorf("multitask: famo needs losses >= 0; task %d has %g", i, l)
		}
		if !math.IsNaN(s.Last[i]) {
			delta[i] = math.Log(s.Last[i]+famoEps) - math.Log(l+famoEps)
		}
		s.Last[i] = l
	}
	z := s.z()
	zd := 0.0
	for i := range z {
		zd += z[i] * delta[i]
	}
	for i := range s.Xi {
		g := z[i]*(delta[i]-zd) + s.Gamma*s.Xi[i] // (diag(z) − z·zᵀ)·δ + γ·ξ
		s.Xi[i] -= s.LR * g
	}
	return nil
}

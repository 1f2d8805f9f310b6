package multitask

import (
	"encoding/json"
	"fmt"
	"math"
	"slices"
)

// AutoLambda is Liu et al.'s Auto-λ (2022): task weights meta-learned for
// the held-out loss of the primary tasks. After each step the trainer
// measures, for every task i, the hypergradient
//
//	h_i = ∂ L_primary(θ − α·Σ_j λ_j·∇ℓ_j(θ)) / ∂λ_i
//	    ≈ −α·(ℓ_i(θ⁺) − ℓ_i(θ⁻)) / 2ε,   θ± = θ ± ε·∇L_primary(θ′)
//
// (the paper's finite-difference approximation of the second-order term;
// θ′ the one-step virtual update of the shared parameters, L_primary on a
// held-out batch) and hands it to Update in Step.Hyper. The weights λ take
// one Adam step on h (the authors' optimiser for λ; the hypergradient's
// scale follows the learning rate α, Adam's step does not) and are kept
// non-negative. Weights() is λ normalised to sum to the number of tasks.
type AutoLambda struct {
	LR      float64
	Lambda  []float64
	M, V    []float64 // Adam moments
	T       int       // Adam steps taken
	Primary []int     // task indexes of the primary tasks
}

// Adam's constants for λ.
const (
	alBeta1 = 0.9
	alBeta2 = 0.999
	alEps   = 1e-8
)

// NewAutoLambda starts at λ = 1.
func NewAutoLambda(n int, lr float64, primary []int) *AutoLambda {
	return &AutoLambda{LR: lr, Lambda: ones(n), M: make([]float64, n), V: make([]float64, n), Primary: slices.Clone(primary)}
}

type autoLambdaState struct {
	Lambda, M, V []float64
	T            int
}

func (s *AutoLambda) NeedsGradients() bool { return false }
func (s *AutoLambda) Weights() []float64   { return normalise(slices.Clone(s.Lambda)) }
func (s *AutoLambda) State() ([]byte, error) {
	return json.Marshal(autoLambdaState{s.Lambda, s.M, s.V, s.T})
}
func (s *AutoLambda) SetState(b []byte) error {
	var st autoLambdaState
	if err := json.Unmarshal(b, &st); err != nil {
		return fmt.Errorf("multitask: auto_lambda state: %w", err)
	}
	n := len(s.Lambda)
	if len(st.Lambda) != n || len(st.M) != n || len(st.V) != n {
		return fmt.Errorf("multitask: auto_lambda state has %d/%d/%d tasks, want %d", len(st.Lambda), len(st.M), len(st.V), n)
	}
	s.Lambda, s.M, s.V, s.T = st.Lambda, st.M, st.V, st.T
	return nil
}

// Update takes one projected Adam step on λ with the step's hypergradient.
func (s *AutoLambda) Update(st Step) error {
	if len(st.Hyper) != len(s.Lambda) {
		return fmt.Errorf("multitask: auto_lambda needs the hypergradient of every task's weight (got %d for %d tasks)", len(st.Hyper), len(s.Lambda))
	}
	s.T++
	c1 := 1 - math.Pow(alBeta1, float64(s.T))
	c2 := 1 - math.Pow(alBeta2, float64(s.T))
	for i, h := range st.Hyper {
		if math.IsNaN(h) || math.IsInf(h, 0) {
			return fmt.Errorf("multitask: auto_lambda hypergradient of task %d is %v", i, h)
		}
		s.M[i] = alBeta1*s.M[i] + (1-alBeta1)*h
		s.V[i] = alBeta2*s.V[i] + (1-alBeta2)*h*h
		s.Lambda[i] = math.Max(0, s.Lambda[i]-s.LR*(s.M[i]/c1)/(math.Sqrt(s.V[i]/c2)+alEps))
	}
	return nil
}

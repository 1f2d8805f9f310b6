package multitask

import "math"

// WeightedSum is the plain combination Σ_i w_i·g_i, accumulated in float32
// in task order as backward passes would.
type WeightedSum struct{ out []float32 }

func (WeightedSum) Sum() bool              { return true }
func (WeightedSum) State() ([]byte, error) { return []byte("{}"), nil }
func (WeightedSum) SetState([]byte) error  { return nil }
func (s WeightedSum) Combine(grads [][]float32, w []float64) ([]float32, error) {
	if len(grads) == 0 {
		return nil, nil
	}
	out := make([]float32, len(grads[0]))
	for k, g := range grads {
		c := float32(w[k])
		for i, v := range g {
			out[i] += c * v
		}
	}
	return out, nil
}

// GradNormalize rescales each task's weighted shared gradient v_i = w_i·g_i
// to ĝ_i = v_i/‖v_i‖ · ‖V‖/Σ_j‖v_j‖ with V = Σ_i v_i, and returns Σ_i ĝ_i.
// Every task contributes a direction of the same length ‖V‖/Σ_j‖v_j‖, a
// ratio in [0, 1] that does not depend on the losses' scale. The output's
// norm is therefore ‖Σ_i v_i/‖v_i‖‖ · ‖V‖/Σ_j‖v_j‖, at most the number of
// tasks n: n for parallel gradients (the unit direction times n), 1 for n
// orthogonal gradients of equal norm, 0 for two opposite ones. It does not
// keep the plain sum's scale ‖V‖, so train.lr sets the step length nearly
// on its own (and train.clip rarely acts). With the equal weights of
// gradient_normalization, v_i = g_i. Tasks with a zero gradient contribute
// nothing. Stateless.
type GradNormalize struct{}

func (GradNormalize) Sum() bool              { return false }
func (GradNormalize) State() ([]byte, error) { return []byte("{}"), nil }
func (GradNormalize) SetState([]byte) error  { return nil }
func (GradNormalize) Combine(grads [][]float32, w []float64) ([]float32, error) {
	k := len(grads)
	if k == 0 {
		return nil, nil
	}
	total := make([]float64, len(grads[0]))
	norms := make([]float64, k)
	sumN := 0.0
	for j, g := range grads {
		for i, v := range g {
			total[i] += w[j] * float64(v)
		}
		norms[j] = math.Abs(w[j]) * norm(g)
		sumN += norms[j]
	}
	tn := 0.0
	for _, v := range total {
		tn += v * v
	}
	tn = math.Sqrt(tn)
	acc := make([]float64, len(total))
	for j, g := range grads {
		if norms[j] == 0 || sumN == 0 {
			continue
		}
		c := w[j] * tn / (norms[j] * sumN)
		for i, v := range g {
			acc[i] += c * float64(v)
		}
	}
	out := make([]float32, len(total))
	for i, v := range acc {
		out[i] = float32(v)
	}
	return out, nil
}

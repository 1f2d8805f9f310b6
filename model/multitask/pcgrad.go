package multitask

import (
	"encoding/json"
	"fmt"

	"github.com/taskweave/taskweave/internal/rng"
)

// PCGrad (Yu et al. 2020) projects conflicting gradients. With v_i = w_i·g_i
// the weighted gradient of task i (w_i = 1 for the strategy pcgrad), v_i'
// starts as v_i and, for every other task j in a random order (drawn per
// step from a seeded generator), if v_i'·v_j < 0 the component along v_j is
// removed, v_i' −= (v_i'·v_j)/‖v_j‖²·v_j. The combined shared gradient is
// Σ_i v_i'. Projections use the original v_j, as in the paper.
type PCGrad struct {
	RNG      uint64 // splitmix64 state: one word, so resume is exact
	acc, cur []float64
	out      []float32
}

// NewPCGrad seeds the task-order generator.
func NewPCGrad(seed uint64) *PCGrad { return &PCGrad{RNG: seed} }

func (s *PCGrad) Sum() bool { return false }
func (s *PCGrad) State() ([]byte, error) {
	return json.Marshal(s.RNG)
}
func (s *PCGrad) SetState(b []byte) error {
	if err := json.Unmarshal(b, &s.RNG); err != nil {
		return fmt.Errorf("multitask: pcgrad state: %w", err)
	}
	return nil
}

func (s *PCGrad) next() uint64 { return rng.Next(&s.RNG) }

// perm is a Fisher–Yates shuffle of 0..n-1.
func (s *PCGrad) perm(n int) []int {
	p := make([]int, n)
	for i := range p {
		p[i] = i
	}
	for i := n - 1; i > 0; i-- {
		j := int(s.next() % uint64(i+1))
		p[i], p[j] = p[j], p[i]
	}
	return p
}

func (s *PCGrad) Combine(grads [][]float32, w []float64) ([]float32, error) {
	k := len(grads)
	if k == 0 {
		return nil, nil
	}
	d := len(grads[0])
	sq := make([]float64, k)
	for j, g := range grads {
		sq[j] = w[j] * w[j] * dot(g, g)
	}
	// Scratch reused across steps: the shared gradient of a BERT is millions long.
	if len(s.acc) != d {
		s.acc, s.cur, s.out = make([]float64, d), make([]float64, d), make([]float32, d)
	}
	acc, cur := s.acc, s.cur
	clear(acc)
	for i, gi := range grads {
		for x, v := range gi {
			cur[x] = w[i] * float64(v)
		}
		for _, j := range s.perm(k) {
			if j == i || sq[j] == 0 {
				continue
			}
			gj, wj := grads[j], w[j]
			p := 0.0
			for x, v := range gj {
				p += cur[x] * (wj * float64(v))
			}
			if p < 0 {
				c := p / sq[j]
				for x, v := range gj {
					cur[x] -= c * (wj * float64(v))
				}
			}
		}
		for x, v := range cur {
			acc[x] += v
		}
	}
	out := s.out
	for x, v := range acc {
		out[x] = float32(v)
	}
	return out, nil
}

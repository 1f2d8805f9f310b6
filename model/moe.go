package model

import "github.com/taskweave/taskweave/model/kernels"

// Mixture of experts (the Multi-gate Mixture-of-Experts of Ma et al. 2018):
// in the top Sharing.ExpertLayers layers the FFN is E experts, each an
// intermediate + output pair like BERT's FFN, combined per token by the
// batch's task gate: ffn(x) = Σ_e softmax(G_t·x + b_t)_e · expert_e(x).
// Expert 0 is the layer's own FFN under its Hugging Face names (so an
// imported encoder fills it); experts 1… are sharing.encoder.layer.<l>.experts.<e>.…,
// the gates tasks.<task>.encoder.layer.<l>.moe.gate. The gate decides how
// much a task shares with the others: one-hot gates on different experts
// share nothing in that layer, equal gates share everything.

// expert is one FFN beyond the layer's own.
type expert struct {
	inter, out linear
}

// moeAct holds what one MoE layer keeps for its backward pass.
type moeAct struct {
	p    []float32   // [n,E] gate probabilities
	u, g [][]float32 // per extra expert: GELU derivative, GELU output [n,I]
	y    [][]float32 // per expert: output [n,H]
	dp   []float32   // [n,E] scratch
}

// moeForward writes y[n,H] = Σ_e p_e·expert_e(x) with p = softmax(gate(x)).
// Expert 0's intermediate state goes to u0/g0 (the layer's usual buffers).
func (m *Model) moeForward(l *encLayer, gate *linear, x []float32, n int, u0, g0 []float32, a *moeAct, y []float32) {
	H, I := m.cfg.HiddenSize, m.cfg.IntermediateSize
	E := len(l.experts) + 1
	grow(&a.p, n*E)
	grow(&a.dp, n*E)
	for len(a.y) < E {
		a.y = append(a.y, nil)
	}
	for len(a.u) < E-1 {
		a.u, a.g = append(a.u, nil), append(a.g, nil)
	}
	linearForward(*gate, x, n, a.p)
	kernels.Softmax(a.p[:n*E], E, E, 1)
	for e := 0; e < E; e++ {
		grow(&a.y[e], n*H)
		inter, out, u, g := l.inter, l.out, u0, g0
		if e > 0 {
			inter, out = l.experts[e-1].inter, l.experts[e-1].out
			u, g = grow(&a.u[e-1], n*I), grow(&a.g[e-1], n*I)
		}
		linearForward(inter, x, n, u)
		geluForward(u[:n*I], g[:n*I])
		linearForward(out, g, n, a.y[e])
	}
	kernels.ParallelFor(n, rowsPer(H*E), func(lo, hi int) {
		for r := lo; r < hi; r++ {
			yr := y[r*H : (r+1)*H]
			clear(yr)
			for e := 0; e < E; e++ {
				c, ye := a.p[r*E+e], a.y[e][r*H:(r+1)*H]
				for j, v := range ye {
					yr[j] += c * v
				}
			}
		}
	})
}

// moeBackward adds dL/dx into dx (accumulating) from dy = dL/d(MoE output)
// and adds the experts' and the gate's gradients. dye [n,H] and di [n,I]
// are scratch.
func (m *Model) moeBackward(l *encLayer, gate *linear, x, dy []float32, n int, u0, g0 []float32, a *moeAct, dye, di, dx []float32) {
	H := m.cfg.HiddenSize
	E := len(l.experts) + 1
	kernels.ParallelFor(n, rowsPer(H*E), func(lo, hi int) {
		for r := lo; r < hi; r++ {
			dr := dy[r*H : (r+1)*H]
			for e := 0; e < E; e++ {
				var s float32
				for j, v := range a.y[e][r*H : (r+1)*H] {
					s += v * dr[j]
				}
				a.dp[r*E+e] = s
			}
		}
	})
	for e := 0; e < E; e++ {
		inter, out, u, g := l.inter, l.out, u0, g0
		if e > 0 {
			inter, out = l.experts[e-1].inter, l.experts[e-1].out
			u, g = a.u[e-1], a.g[e-1]
		}
		kernels.ParallelFor(n, rowsPer(H), func(lo, hi int) {
			for r := lo; r < hi; r++ {
				c := a.p[r*E+e]
				d, s := dye[r*H:(r+1)*H], dy[r*H:(r+1)*H]
				for j, v := range s {
					d[j] = c * v
				}
			}
		})
		linearBackward(out, g, dye, n, di, false)
		geluBackward(u, di)
		linearBackward(inter, x, di, n, dx, true)
	}
	// Softmax backward: dlogit_e = p_e·(dp_e − Σ_k p_k·dp_k).
	for r := 0; r < n; r++ {
		p, dp := a.p[r*E:(r+1)*E], a.dp[r*E:(r+1)*E]
		var s float32
		for e := range p {
			s += p[e] * dp[e]
		}
		for e := range p {
			dp[e] = p[e] * (dp[e] - s)
		}
	}
	linearBackward(*gate, x, a.dp, n, dx, true)
}

// noteGates adds the batch's gate probabilities over real tokens to the
// task's evaluation statistics.
func (p *taskPath) noteGates(l int, probs []float32, mask []int32, E int) {
	for r, mk := range mask {
		if mk == 0 {
			continue
		}
		for e := 0; e < E; e++ {
			p.gateSum[l][e] += float64(probs[r*E+e])
		}
		p.gateN[l]++
	}
}

// GateDistributions returns, for each mixture-of-experts layer (0-based
// index → distribution over experts), task's mean gate probabilities over
// the real tokens of every evaluation forward (training off) since the last
// ResetGateStats. Nil when the model has no experts or nothing was evaluated.
func (m *Model) GateDistributions(task string) map[int][]float64 {
	h, ok := m.byTask[task]
	if !ok || h.path == nil || h.path.gates == nil {
		return nil
	}
	out := map[int][]float64{}
	for l, g := range h.path.gates {
		if g == nil || h.path.gateN[l] == 0 {
			continue
		}
		d := make([]float64, len(h.path.gateSum[l]))
		for e, s := range h.path.gateSum[l] {
			d[e] = s / h.path.gateN[l]
		}
		out[l] = d
	}
	if len(out) == 0 {
		return nil
	}
	return out
}

// ResetGateStats clears the gate statistics of every task.
func (m *Model) ResetGateStats() {
	for _, h := range m.heads {
		if h.path == nil || h.path.gates == nil {
			continue
		}
		for l := range h.path.gateSum {
			clear(h.path.gateSum[l])
			h.path.gateN[l] = 0
		}
	}
}

package model

import (
	"fmt"
	"math"
	"slices"
	"strings"

	"github.com/taskweave/taskweave/internal/rules"
)

// Soft parameter sharing. With hard sharing every task runs the same encoder;
// the modes here give each task a path of its own through it, selected by
// Batch.Task:
//
//   - factorization: W_t = W + A_t·B_t on chosen matrices (factor.go),
//   - layer attention: the head reads a learned mix of all layers (layermix.go),
//   - adapters: bottlenecks after attention and FFN (adapter.go),
//   - mixture of experts: the FFN of the top layers is E experts mixed by a
//     per-task gate (moe.go).
//
// Shared tensors keep Hugging Face BertModel names; what belongs to one task
// is named tasks.<task>.…, and what soft sharing adds to the shared encoder
// (a shared factor basis, experts beyond the first) sharing.….

// Factor matrix names, in the order of an encoder layer.
const (
	MatQuery           = "query"
	MatKey             = "key"
	MatValue           = "value"
	MatAttentionOutput = "attention_output"
	MatFFNIn           = "ffn_in"
	MatFFNOut          = "ffn_out"
)

// FactorMatrices are the encoder matrices a task may factorize.
var FactorMatrices = []string{MatQuery, MatKey, MatValue, MatAttentionOutput, MatFFNIn, MatFFNOut}

// linearID names one of an encoder layer's six linears, indexing
// FactorMatrices, factorHFNames and every per-layer array of them.
type linearID int

const (
	linQuery linearID = iota
	linKey
	linValue
	linAttentionOutput
	linFFNIn
	linFFNOut
)

// String is the linear's factor matrix name ("query", …, "ffn_out").
func (id linearID) String() string { return FactorMatrices[id] }

// factorHFNames are FactorMatrices' Hugging Face names within a layer.
var factorHFNames = []string{"attention.self.query", "attention.self.key", "attention.self.value", "attention.output.dense", "intermediate.dense", "output.dense"}

// MaxExperts bounds Sharing.Experts (each expert is a whole FFN).
const MaxExperts = 64

// FactorHFNames returns FactorMatrices' Hugging Face names within a layer
// ("attention.self.query", …, "output.dense"), in the same order.
func FactorHFNames() []string { return slices.Clone(factorHFNames) }

// FactorBases are the values of Sharing.Basis: "shared" (one A per matrix for
// all tasks, a B_t per task) or "per_task" (A_t and B_t per task).
var FactorBases = []string{"shared", "per_task"}

// Sharing is what soft sharing adds to the whole model.
type Sharing struct {
	Basis        string `json:"basis,omitempty"`         // factorization basis: shared | per_task; needed when a task factorizes
	Experts      int    `json:"experts,omitempty"`       // experts per MoE layer; 0 = no mixture of experts
	ExpertLayers int    `json:"expert_layers,omitempty"` // MoE replaces the FFN of this many top layers; ignored without experts
	FreezeShared bool   `json:"freeze_shared,omitempty"` // train only task parameters, heads and LayerNorms
}

// TaskSharing is one task's soft-sharing setup.
type TaskSharing struct {
	Rank           int      `json:"rank,omitempty"`            // factor rank; 0 = the shared matrices as they are
	Matrices       []string `json:"matrices,omitempty"`        // factorized matrices (FactorMatrices)
	LayerAttention bool     `json:"layer_attention,omitempty"` // the head reads a learned mix of all layers
	Adapter        int      `json:"adapter,omitempty"`         // adapter bottleneck width; 0 = no adapters
}

// matrixIndex maps a factor matrix name to its linear, -1 if there is none.
func matrixIndex(name string) linearID { return linearID(slices.Index(FactorMatrices, name)) }

// validate refuses a sharing setup the model cannot build. The rules a job
// spec is also checked by are the owners' in sharingrules.go (ranges,
// CheckExperts, CheckLayerAttention), called here, not restated.
func (s Sharing) validate(cfg Config, heads []HeadSpec) error {
	if err := s.checkExperts(cfg.NumHiddenLayers); err != nil {
		return err
	}
	rank, rankTask := 0, ""
	for _, h := range heads {
		t := h.Sharing
		if t.Rank < 0 || t.Rank > cfg.HiddenSize || t.Adapter < 0 || t.Adapter > cfg.HiddenSize {
			return fmt.Errorf("model: task %q: sharing rank %d, adapter %d; both must be in 0..hidden_size %d", h.Task, t.Rank, t.Adapter, cfg.HiddenSize)
		}
		if _, err := CheckFactorMatrices(t.Rank, t.Matrices); err != nil {
			return fmt.Errorf("model: task %q: %w", h.Task, err)
		}
		if t.Rank > 0 {
			if !slices.Contains(FactorBases, s.Basis) {
				return fmt.Errorf("model: task %q factorizes but the sharing basis is %q; use one of %s", h.Task, s.Basis, strings.Join(FactorBases, ", "))
			}
			if err := CheckSharedRank(s.Basis, h.Task, t.Rank, rankTask, rank); err != nil {
				return fmt.Errorf("model: %w", err)
			}
			if rank == 0 {
				rank, rankTask = t.Rank, h.Task
			}
		}
		for _, name := range t.Matrices {
			if t.Rank > 0 && s.Experts > 0 && (name == MatFFNIn || name == MatFFNOut) && s.ExpertLayers == cfg.NumHiddenLayers {
				return fmt.Errorf("model: task %q factorizes %s but every layer's FFN is a mixture of experts; factorize attention matrices only", h.Task, name)
			}
		}
		if err := CheckLayerAttention(h.Task, h.Layer, t.LayerAttention); err != nil {
			return fmt.Errorf("model: %w", err)
		}
	}
	return nil
}

// checkExperts applies the experts' ranges (SharingRanges) and
// CheckExperts against the encoder's depth; expert_layers only matters
// with experts.
func (s Sharing) checkExperts(layers int) error {
	if err := rules.Find(SharingRanges, "model.sharing.experts").Check("sharing.experts", float64(s.Experts)); err != nil {
		return fmt.Errorf("model: %w", err)
	}
	if key, err := CheckExperts(s.Experts, s.ExpertLayers, layers); err != nil {
		return fmt.Errorf("model: sharing.%s: %w", key, err)
	}
	if s.Experts == 0 {
		return nil
	}
	if err := rules.Find(SharingRanges, "model.sharing.expert_layers").Check("sharing.expert_layers", float64(s.ExpertLayers)); err != nil {
		return fmt.Errorf("model: %w", err)
	}
	return nil
}

// factor is one low-rank task factor A·B of a [out,in] matrix: a [out,r]
// (shared by every task with basis: shared), b [r,in].
type factor struct {
	a, b *Param
	r    int
}

// taskPath is one task's own parameters in the encoder; nil entries are
// the shared path.
type taskPath struct {
	factors  [][]*factor   // [layer][matrix]
	mix      *layerMix     // layer attention
	adapters [][2]*adapter // [layer][0 after attention, 1 after FFN]
	gates    []*linear     // [layer]: MoE gate, nil below the expert layers
	gateSum  [][]float64   // [layer][expert]: gate probabilities summed over real tokens in evaluation
	gateN    []float64     // [layer]: tokens summed
}

// buildSharing creates the shared and per-task parameters soft sharing
// adds, after the encoder and the heads, so that a model without sharing
// draws the same initial weights as before. The order of creation below is
// the order of those draws: experts, a shared basis, then task by task.
func (m *Model) buildSharing(sh Sharing) {
	if sh.Experts > 0 {
		m.buildExperts(sh)
	}
	basis := m.buildSharedBasis(sh)
	for _, h := range m.heads {
		h.path = m.buildTaskPath(sh, h.spec, basis)
	}
	if sh.FreezeShared {
		m.freezeShared()
	}
}

// linearShape is the [in, out] of linear mi of an encoder layer.
func (m *Model) linearShape(mi linearID) (in, out int) {
	H, I := m.cfg.HiddenSize, m.cfg.IntermediateSize
	switch mi {
	case linFFNIn:
		return H, I
	case linFFNOut:
		return I, H
	}
	return H, H
}

// buildExperts adds the experts beyond the first (the layer's own FFN) to
// the top sh.ExpertLayers layers.
func (m *Model) buildExperts(sh Sharing) {
	L, H, I := m.cfg.NumHiddenLayers, m.cfg.HiddenSize, m.cfg.IntermediateSize
	for l := L - sh.ExpertLayers; l < L; l++ {
		for e := 1; e < sh.Experts; e++ {
			p := fmt.Sprintf("sharing.encoder.layer.%d.experts.%d.", l, e)
			m.layers[l].experts = append(m.layers[l].experts, expert{
				inter: m.newLinear(p+"intermediate.dense", H, I),
				out:   m.newLinear(p+"output.dense", I, H),
			})
		}
	}
}

// buildSharedBasis returns the shared factor bases A ([layer][matrix]) of
// every matrix some task factorizes, or nil unless the basis is shared.
func (m *Model) buildSharedBasis(sh Sharing) [][]*Param {
	used := make([]bool, len(FactorMatrices))
	rank := 0
	for _, h := range m.heads {
		if h.spec.Sharing.Rank > 0 {
			rank = h.spec.Sharing.Rank
			for _, n := range h.spec.Sharing.Matrices {
				used[matrixIndex(n)] = true
			}
		}
	}
	if sh.Basis != "shared" || rank == 0 {
		return nil
	}
	L := m.cfg.NumHiddenLayers
	basis := make([][]*Param, L)
	for l := 0; l < L; l++ {
		basis[l] = make([]*Param, len(FactorMatrices))
		for i, u := range used {
			if mi := linearID(i); u && m.ffnFactorable(l, mi) {
				_, out := m.linearShape(mi)
				basis[l][mi] = m.newParam(fmt.Sprintf("sharing.encoder.layer.%d.%s.factor_a", l, factorHFNames[mi]), out, rank)
			}
		}
	}
	return basis
}

// buildTaskPath creates one task's own parameters: factors (on basis when
// shared), layer attention, adapters and mixture-of-experts gates.
func (m *Model) buildTaskPath(sh Sharing, spec HeadSpec, basis [][]*Param) *taskPath {
	ts := spec.Sharing
	L, H := m.cfg.NumHiddenLayers, m.cfg.HiddenSize
	tp := "tasks." + spec.Task + "."
	path := &taskPath{}
	if ts.Rank > 0 {
		path.factors = m.buildFactors(ts, tp, basis)
	}
	if ts.LayerAttention {
		path.mix = &layerMix{w: m.newParam(tp+"layer_attention.weights", L+1), scale: m.newParam(tp+"layer_attention.scale", 1)}
		path.mix.w.Decay, path.mix.scale.Decay = false, false
	}
	if ts.Adapter > 0 {
		path.adapters = make([][2]*adapter, L)
		for l := 0; l < L; l++ {
			for k, where := range []string{"attention", "output"} {
				p := fmt.Sprintf("%sencoder.layer.%d.%s.adapter.", tp, l, where)
				path.adapters[l][k] = &adapter{down: m.newLinear(p+"down", H, ts.Adapter), up: m.newLinear(p+"up", ts.Adapter, H)}
			}
		}
	}
	if sh.Experts > 0 {
		path.gates = make([]*linear, L)
		path.gateSum = make([][]float64, L)
		path.gateN = make([]float64, L)
		for l := L - sh.ExpertLayers; l < L; l++ {
			g := m.newLinear(fmt.Sprintf("%sencoder.layer.%d.moe.gate", tp, l), H, sh.Experts)
			path.gates[l] = &g
			path.gateSum[l] = make([]float64, sh.Experts)
		}
	}
	return path
}

// buildFactors creates a task's factors ([layer][matrix]) on the matrices
// it names, under the task's parameter prefix tp.
func (m *Model) buildFactors(ts TaskSharing, tp string, basis [][]*Param) [][]*factor {
	L := m.cfg.NumHiddenLayers
	factors := make([][]*factor, L)
	for l := 0; l < L; l++ {
		factors[l] = make([]*factor, len(FactorMatrices))
		for _, n := range ts.Matrices {
			mi := matrixIndex(n)
			if !m.ffnFactorable(l, mi) {
				continue
			}
			in, out := m.linearShape(mi)
			pre := fmt.Sprintf("%sencoder.layer.%d.%s.", tp, l, factorHFNames[mi])
			f := &factor{r: ts.Rank}
			if basis != nil {
				f.a = basis[l][mi]
			} else {
				f.a = m.newParam(pre+"factor_a", out, ts.Rank)
			}
			f.b = m.newParam(pre+"factor_b", ts.Rank, in)
			factors[l][mi] = f
		}
	}
	return factors
}

// freezeShared freezes every shared encoder parameter but the LayerNorms,
// the experts included: only task parameters, heads and LayerNorms train.
func (m *Model) freezeShared() {
	for _, p := range m.params[:m.nEnc] {
		p.Frozen = !strings.Contains(p.Name, "LayerNorm")
	}
	for _, l := range m.layers {
		for _, e := range l.experts {
			e.inter.w.Frozen, e.inter.b.Frozen, e.out.w.Frozen, e.out.b.Frozen = true, true, true, true
		}
	}
}

// ffnFactorable reports whether matrix mi of layer l can carry a factor:
// the FFN matrices of a mixture-of-experts layer cannot.
func (m *Model) ffnFactorable(l int, mi linearID) bool {
	if mi != linFFNIn && mi != linFFNOut {
		return true
	}
	return len(m.layers[l].experts) == 0
}

// initSharing gives soft-sharing parameters their starting values, which
// make every task's path start as the shared model: B = 0 (so A·B = 0) with
// A ~ N(0, 1/r) (so a step on B moves W_t about as much as a step on W),
// uniform layer weights with scale 1, adapters whose up projection is 0
// (the identity), gates and experts as BERT initialises weights.
func initSharing(p *Param, normal func() float64) bool {
	n := p.Name
	switch {
	case strings.HasSuffix(n, ".factor_b"), strings.HasSuffix(n, "layer_attention.weights"), strings.HasSuffix(n, ".adapter.up.weight"):
		clear(p.W)
	case strings.HasSuffix(n, ".factor_a"):
		s := 1 / math.Sqrt(float64(p.Shape[1]))
		for i := range p.W {
			p.W[i] = float32(normal() * s)
		}
	case strings.HasSuffix(n, "layer_attention.scale"):
		p.W[0] = 1
	default:
		return false
	}
	return true
}

// Sharing returns the model-wide soft-sharing setup.
func (m *Model) Sharing() Sharing { return m.sharing }

// TaskParams returns every parameter only task's batches reach: its head's
// and its tasks.<task>.… parameters.
func (m *Model) TaskParams(task string) []*Param {
	h, ok := m.byTask[task]
	if !ok {
		return nil
	}
	out := m.HeadParams(task)
	p := "tasks." + h.spec.Task + "."
	for _, q := range m.params[m.nEnc:] {
		if strings.HasPrefix(q.Name, p) {
			out = append(out, q)
		}
	}
	return out
}

// SharedParams returns the parameters every task's batches may reach: the
// encoder (EncoderParams) and what soft sharing adds to it (a shared factor
// basis, experts beyond the first).
func (m *Model) SharedParams() []*Param {
	out := slices.Clone(m.EncoderParams())
	for _, q := range m.params[m.nEnc:] {
		if strings.HasPrefix(q.Name, "sharing.") {
			out = append(out, q)
		}
	}
	return out
}

// Trainable returns the parameters that are not frozen (all of them unless
// Sharing.FreezeShared).
func (m *Model) Trainable() []*Param {
	var out []*Param
	for _, p := range m.params {
		if !p.Frozen {
			out = append(out, p)
		}
	}
	return out
}

// CountParams returns the number of weights in params.
func CountParams(params []*Param) int {
	n := 0
	for _, p := range params {
		n += len(p.W)
	}
	return n
}

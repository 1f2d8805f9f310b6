package model

import (
	"math"
	"strings"
	"testing"
)

// groupModel has heads at both layers and of every kind; with attention,
// "ner" reads a learned mix of every layer instead of layer 1.
func groupModel(t *testing.T, attention bool) (*Model, []*Batch) {
	t.Helper()
	heads := []HeadSpec{
		{Task: "cls", Kind: SequenceClassification, NumLabels: 3},
		{Task: "ner", Kind: TokenClassification, NumLabels: 4, Layer: 1},
		{Task: "sts", Kind: SequenceRegression, NumLabels: 1},
		{Task: "mlm", Kind: MaskedLM},
		{Task: "cls1", Kind: SequenceClassification, NumLabels: 2, Layer: 1},
	}
	if attention {
		heads[1].Layer, heads[1].Sharing = 0, TaskSharing{LayerAttention: true}
	}
	m, err := NewWith(fdConfig, heads, Sharing{}, 3)
	if err != nil {
		t.Fatal(err)
	}
	perturb(m)
	var bs []*Batch
	for _, h := range heads {
		bs = append(bs, fdBatch(h.Task))
	}
	return m, bs
}

func grads(m *Model) [][]float32 {
	var out [][]float32
	for _, p := range m.Params() {
		out = append(out, append([]float32(nil), p.G...))
	}
	return out
}

// TestGroupMatchesSeparate: one ForwardGroup and one BackwardGroup give
// each head's loss and the weighted sum of the gradients that a Forward
// and Backward per head give (the single-head path is checked against
// PyTorch and finite differences); BackwardGroup called once per head,
// after the one forward pass, gives the same sum.
func TestGroupMatchesSeparate(t *testing.T) {
	scales := []float32{0.7, 1.3, 0.4, 1, 0.9}
	for _, attention := range []bool{false, true} {
		m, bs := groupModel(t, attention)
		m.ZeroGrad()
		var want []float32
		for i, b := range bs {
			out, err := m.Forward(b)
			if err != nil {
				t.Fatal(err)
			}
			want = append(want, out.Loss)
			if err := m.Backward(scales[i]); err != nil {
				t.Fatal(err)
			}
		}
		ref := grads(m)

		m.ZeroGrad()
		outs, err := m.ForwardGroup(bs)
		if err != nil {
			t.Fatal(err)
		}
		for i, o := range outs {
			if d := math.Abs(float64(o.Loss - want[i])); d > 1e-6 {
				t.Errorf("attention %v: %s loss %g in the group, %g alone", attention, bs[i].Task, o.Loss, want[i])
			}
		}
		if err := m.BackwardGroup(scales); err != nil {
			t.Fatal(err)
		}
		compareGrads(t, m, ref, "one backward")

		m.ZeroGrad()
		for i := range bs { // each head's gradient from the same forward pass
			one := make([]float32, len(bs))
			one[i] = scales[i]
			if err := m.BackwardGroup(one); err != nil {
				t.Fatal(err)
			}
		}
		compareGrads(t, m, ref, "a backward per head")
	}
}

func compareGrads(t *testing.T, m *Model, ref [][]float32, what string) {
	t.Helper()
	for k, p := range m.Params() {
		var num, den float64
		for i, g := range p.G {
			d := float64(g - ref[k][i])
			num += d * d
			den += float64(ref[k][i]) * float64(ref[k][i])
		}
		if math.Sqrt(num) > 1e-5*math.Sqrt(den)+1e-7 {
			t.Errorf("%s: %s differs from the per-head sum by %.3g (norm %.3g)", what, p.Name, math.Sqrt(num), math.Sqrt(den))
		}
	}
}

func TestGroupErrors(t *testing.T) {
	m, bs := groupModel(t, false)
	other := fdBatch("cls1")
	other.InputIDs = append([]int32(nil), other.InputIDs...)
	other.InputIDs[1] = 6
	unlabelled := fdBatch("ner")
	unlabelled.TokenLabels = nil
	for _, c := range []struct {
		bs   []*Batch
		want string
	}{
		{nil, "no batches"},
		{[]*Batch{bs[0], other}, `batch for "cls1" has other input than the one for "cls"`},
		{[]*Batch{bs[1], bs[1]}, `names task "ner" twice`},
		{[]*Batch{bs[0], unlabelled}, `"ner" has no labels`},
	} {
		if _, err := m.ForwardGroup(c.bs); err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("err = %v, want %q", err, c.want)
		}
	}
	if err := m.BackwardGroup([]float32{1}); err == nil || !strings.Contains(err.Error(), "without a preceding ForwardGroup") {
		t.Errorf("backward after a failed forward: %v", err)
	}
	if _, err := m.Forward(bs[0]); err != nil {
		t.Fatal(err)
	}
	if err := m.BackwardGroup([]float32{1}); err == nil {
		t.Errorf("BackwardGroup after a plain Forward was accepted")
	}
	fm, err := NewWith(fdConfig, []HeadSpec{{Task: "a", Kind: TokenClassification, NumLabels: 2, Sharing: TaskSharing{Rank: 2, Matrices: []string{"query"}}},
		{Task: "b", Kind: TokenClassification, NumLabels: 2}}, Sharing{Basis: "per_task"}, 1)
	if err != nil {
		t.Fatal(err)
	}
	a, b := fdBatch("ner"), fdBatch("ner")
	a.Task, b.Task = "a", "b"
	if _, err := fm.ForwardGroup([]*Batch{a, b}); err == nil || !strings.Contains(err.Error(), "encoder parameters of its own") {
		t.Errorf("factors in a group: %v", err)
	}
}

// PredictGroup gives each head's Predict logits from one encoder pass.
func TestPredictGroup(t *testing.T) {
	for _, attention := range []bool{false, true} {
		m, bs := groupModel(t, attention)
		got, err := m.PredictGroup(bs)
		if err != nil {
			t.Fatal(err)
		}
		for i, b := range bs {
			want, err := m.Predict(b)
			if err != nil {
				t.Fatal(err)
			}
			if len(got[i]) != len(want) {
				t.Fatalf("%s: %d logits, Predict gives %d", b.Task, len(got[i]), len(want))
			}
			for j := range want {
				if d := math.Abs(float64(got[i][j] - want[j])); d > 1e-5 {
					t.Fatalf("attention %v: %s logit %d = %g, Predict %g", attention, b.Task, j, got[i][j], want[j])
				}
			}
		}
	}
}

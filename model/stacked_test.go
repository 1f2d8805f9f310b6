package model

import (
	"math"
	"testing"
)

// Q, K and V of a layer are views of one stacked array (newStackedLinears)
// that one product reads. These check that the views and the stack stay one
// array, and that freezing only some of the three gives each the gradient it
// gets when nothing is frozen (the stacked backward then takes its generic
// path).

func TestStackedQKVSeesItsViews(t *testing.T) {
	m := fdModel(t)
	b := fdBatch("cls")
	before, err := m.Forward(b)
	if err != nil {
		t.Fatal(err)
	}
	want := append([]float32(nil), before.Logits...)
	for i, name := range []string{"query", "key", "value"} {
		p := m.byName["encoder.layer.1.attention.self."+name+".weight"]
		saved := append([]float32(nil), p.W...)
		for j := range p.W {
			p.W[j] *= 1.5
		}
		out, err := m.Forward(b)
		if err != nil {
			t.Fatal(err)
		}
		if maxAbsDiff(out.Logits, want) < 1e-4 {
			t.Errorf("scaling %s's weight did not change the logits: the stacked product does not read it", name)
		}
		copy(p.W, saved)
		if got := m.layers[1].qkv.w.W[i*len(p.W)]; got != p.W[0] {
			t.Errorf("stacked weight row of %s = %g, its parameter holds %g", name, got, p.W[0])
		}
	}
	out, err := m.Forward(b)
	if err != nil {
		t.Fatal(err)
	}
	if d := maxAbsDiff(out.Logits, want); d != 0 {
		t.Errorf("logits after restoring the weights differ by %g", d)
	}
}

func TestStackedQKVPartlyFrozen(t *testing.T) {
	grads := func(freeze ...string) map[string][]float32 {
		m := fdModel(t)
		m.SetTraining(false) // no dropout: both runs see the same function
		for _, name := range freeze {
			m.byName[name].Frozen = true
		}
		if _, err := m.Forward(fdBatch("ner")); err != nil {
			t.Fatal(err)
		}
		if err := m.Backward(1); err != nil {
			t.Fatal(err)
		}
		g := map[string][]float32{}
		for _, p := range m.Params() {
			g[p.Name] = append([]float32(nil), p.G...)
		}
		return g
	}
	all := grads()
	frozenW, frozenB := "encoder.layer.0.attention.self.key.weight", "encoder.layer.0.attention.self.value.bias"
	part := grads(frozenW, frozenB)
	for name, g := range part {
		switch {
		case name == frozenW || name == frozenB:
			if maxAbsDiff(g, make([]float32, len(g))) != 0 {
				t.Errorf("%s is frozen but has a gradient", name)
			}
		case maxAbsDiff(g, all[name]) > 1e-6*(1+maxAbs(all[name])):
			t.Errorf("%s: gradient differs by %g from the run with nothing frozen", name, maxAbsDiff(g, all[name]))
		}
	}
	if maxAbs(part["encoder.layer.0.attention.self.query.weight"]) == 0 || maxAbs(part["embeddings.word_embeddings.weight"]) == 0 {
		t.Error("no gradient reached layer 0's query or the embeddings")
	}
}

func maxAbs(a []float32) float64 {
	m := 0.0
	for _, v := range a {
		m = math.Max(m, math.Abs(float64(v)))
	}
	return m
}

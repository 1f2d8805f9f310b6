package model

import (
	"math"
	"math/rand/v2"
	"runtime"
	"testing"
)

// TestParallelMatchesSerial runs a model large enough to take every parallel
// path (row and column splits, attention workers, split GEMMs) on one core
// and on several, and compares loss and gradients. Run it with -race too.
func TestParallelMatchesSerial(t *testing.T) {
	cfg := Config{VocabSize: 300, HiddenSize: 64, NumHiddenLayers: 2, NumAttentionHeads: 4, IntermediateSize: 256,
		MaxPositionEmbeddings: 64, TypeVocabSize: 2, LayerNormEps: 1e-12, HiddenDropoutProb: 0.1, AttentionProbsDropoutProb: 0.1}
	B, T := 8, 64
	r := rand.New(rand.NewPCG(3, 4))
	b := &Batch{Task: "ner", B: B, T: T, InputIDs: make([]int32, B*T), Mask: make([]int32, B*T), TokenLabels: make([]int32, B*T)}
	for i := 0; i < B; i++ {
		n := T - 5*i
		for j := 0; j < T; j++ {
			k := i*T + j
			b.InputIDs[k] = int32(r.IntN(cfg.VocabSize))
			b.TokenLabels[k] = IgnoreIndex
			if j < n {
				b.Mask[k] = 1
				b.TokenLabels[k] = int32(r.IntN(5))
			}
		}
	}
	run := func(procs int) (float32, [][]float32) {
		defer runtime.GOMAXPROCS(runtime.GOMAXPROCS(procs))
		m, err := New(cfg, []HeadSpec{{Task: "ner", Kind: TokenClassification, NumLabels: 5}}, 11)
		if err != nil {
			t.Fatal(err)
		}
		m.SetTraining(true)
		out, err := m.Forward(b)
		if err != nil {
			t.Fatal(err)
		}
		if err := m.Backward(1); err != nil {
			t.Fatal(err)
		}
		var g [][]float32
		for _, p := range m.Params() {
			g = append(g, append([]float32(nil), p.G...))
		}
		return out.Loss, g
	}
	l1, g1 := run(1)
	l4, g4 := run(4)
	if math.Abs(float64(l1-l4)) > 1e-6 {
		t.Fatalf("loss on 1 core %g, on 4 %g", l1, l4)
	}
	for i := range g1 {
		diff := make([]float32, len(g1[i]))
		for j := range diff {
			diff[j] = g1[i][j] - g4[i][j]
		}
		if n := l2(g1[i]); l2(diff) > 1e-5*n+1e-9 {
			t.Errorf("parameter %d: gradients on 1 and 4 cores differ by %g (norm %g)", i, l2(diff), n)
		}
	}
}

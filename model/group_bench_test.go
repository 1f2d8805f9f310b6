package model

import (
	"math/rand/v2"
	"slices"
	"testing"
	"time"
)

// BenchmarkGroupStep: one training step (forward, backward, AdamW with
// clipping, as the trainer runs it) of NER + POS + chunk as one group
// (POS read at layer 1, chunk at layer 2, NER at the top: one encoder
// pass, one backward of the weighted sum) against a step of NER alone,
// MINI, batch 32 × 48 (a CoNLL-2003 batch, dynamic padding, is about 32 ×
// 40-60), CoNLL-2003's label counts (9, 45 and 20 here). The steps are
// interleaved and timed pair by pair, so a load that drifts moves both:
// x-ner is the median ratio of a group step to the NER step next to it.
//
//	go test -run '^$' -bench GroupStep -benchtime 40x -tags openblas ./model/
func BenchmarkGroupStep(b *testing.B) {
	const B, T = 32, 48
	cfg, err := SizeConfig("mini", benchVocab)
	if err != nil {
		b.Fatal(err)
	}
	ner := HeadSpec{Task: "ner", Kind: TokenClassification, NumLabels: 9}
	alone, err := New(cfg, []HeadSpec{ner}, 1)
	if err != nil {
		b.Fatal(err)
	}
	group, err := New(cfg, []HeadSpec{ner, {Task: "pos", Kind: TokenClassification, NumLabels: 45, Layer: 1},
		{Task: "chunk", Kind: TokenClassification, NumLabels: 20, Layer: 2}}, 1)
	if err != nil {
		b.Fatal(err)
	}
	r := rand.New(rand.NewPCG(0, 1))
	ids := make([]int32, B*T)
	for i := range ids {
		ids[i] = int32(r.IntN(benchVocab))
	}
	var bs []*Batch
	for _, h := range []struct {
		task string
		n    int
	}{{"ner", 9}, {"pos", 45}, {"chunk", 20}} {
		tl := make([]int32, B*T)
		for i := range tl {
			tl[i] = int32(r.IntN(h.n))
		}
		bs = append(bs, &Batch{Task: h.task, B: B, T: T, InputIDs: ids, TokenLabels: tl})
	}
	cfgA := AdamWConfig{LR: 1e-4, Beta1: 0.9, Beta2: 0.999, Eps: 1e-8, WeightDecay: 0.01}
	optA, optG := NewAdamW(alone.Params(), cfgA), NewAdamW(group.Params(), cfgA)
	alone.SetTraining(true)
	group.SetTraining(true)
	scales := []float32{1, 1, 1}
	stepAlone := func() {
		alone.ZeroGrad()
		if _, err := alone.Forward(bs[0]); err != nil {
			b.Fatal(err)
		}
		if err := alone.Backward(1); err != nil {
			b.Fatal(err)
		}
		optA.StepClipped(1e-4, 1)
	}
	stepGroup := func() {
		group.ZeroGrad()
		if _, err := group.ForwardGroup(bs); err != nil {
			b.Fatal(err)
		}
		if err := group.BackwardGroup(scales); err != nil {
			b.Fatal(err)
		}
		optG.StepClipped(1e-4, 1)
	}
	stepAlone() // warm-up: buffers reach their size
	stepGroup()
	b.ResetTimer()
	var ratios []float64
	var tA, tG time.Duration
	for i := 0; i < b.N; i++ {
		t0 := time.Now()
		stepAlone()
		t1 := time.Now()
		stepGroup()
		t2 := time.Now()
		tA += t1.Sub(t0)
		tG += t2.Sub(t1)
		ratios = append(ratios, float64(t2.Sub(t1))/float64(t1.Sub(t0)))
	}
	slices.Sort(ratios)
	b.ReportMetric(ratios[len(ratios)/2], "x-ner")
	b.ReportMetric(float64(tA.Microseconds())/float64(b.N)/1e3, "ms-ner")
	b.ReportMetric(float64(tG.Microseconds())/float64(b.N)/1e3, "ms-group")
}

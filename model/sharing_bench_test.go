package model

import (
	"fmt"
	"testing"
	"time"
)

// BenchmarkSharingModes measures a training step of each soft-sharing mode
// against hard sharing in the same run: mini, batch 32 × 128, two tasks (a
// sequence and a token batch per iteration, forward + backward + AdamW, as
// BenchmarkTrainMini). The modes take turns step by step, so a change in the
// machine's load hits them alike; each reports ms per iteration and its
// ratio to hard sharing.
//
//	go test -run '^$' -bench SharingModes -benchtime 5x -tags openblas ./model/
func BenchmarkSharingModes(b *testing.B) {
	_, seq, tok := benchModel(b, "mini")
	cfg, err := SizeConfig("mini", benchVocab)
	if err != nil {
		b.Fatal(err)
	}
	both := func(ts TaskSharing) map[string]TaskSharing { return map[string]TaskSharing{"seq": ts, "tok": ts} }
	modes := []struct {
		name string
		sh   Sharing
		ts   map[string]TaskSharing
	}{
		{"hard", Sharing{}, nil},
		{"factor_r8", Sharing{Basis: "per_task"}, both(TaskSharing{Rank: 8, Matrices: FactorMatrices})},
		{"factor_r8_shared", Sharing{Basis: "shared"}, both(TaskSharing{Rank: 8, Matrices: FactorMatrices})},
		{"layer_attention", Sharing{}, both(TaskSharing{LayerAttention: true})},
		{"adapters_64", Sharing{}, both(TaskSharing{Adapter: 64})},
		{"adapters_64_frozen", Sharing{FreezeShared: true}, both(TaskSharing{Adapter: 64})},
		{"moe_e4_top1", Sharing{Experts: 4, ExpertLayers: 1}, nil},
	}
	type runner struct {
		name string
		step func()
		took time.Duration
	}
	var rs []*runner
	for _, md := range modes {
		m, err := NewWith(cfg, []HeadSpec{
			{Task: "seq", Kind: SequenceClassification, NumLabels: 2, Sharing: md.ts["seq"]},
			{Task: "tok", Kind: TokenClassification, NumLabels: 9, Sharing: md.ts["tok"]},
		}, md.sh, 1)
		if err != nil {
			b.Fatal(err)
		}
		m.SetTraining(true)
		opt := NewAdamW(m.Trainable(), AdamWConfig{LR: 1e-4, Beta1: 0.9, Beta2: 0.999, Eps: 1e-8, WeightDecay: 0.01})
		r := &runner{name: md.name, step: func() {
			for _, bt := range []*Batch{seq, tok} {
				m.ZeroGrad()
				if _, err := m.Forward(bt); err != nil {
					b.Fatal(err)
				}
				if err := m.Backward(1); err != nil {
					b.Fatal(err)
				}
				opt.Step(1e-4)
			}
		}}
		r.step() // warm-up: buffers reach their size
		rs = append(rs, r)
	}
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		for _, r := range rs {
			t0 := time.Now()
			r.step()
			r.took += time.Since(t0)
		}
	}
	hard := rs[0].took.Seconds()
	for _, r := range rs {
		ms := r.took.Seconds() * 1000 / float64(b.N)
		b.ReportMetric(ms, r.name+"_ms/iter")
		b.ReportMetric(r.took.Seconds()/hard, r.name+"_x")
		if testing.Verbose() {
			fmt.Printf("%-20s %8.1f ms/iter  %.3f x hard\n", r.name, ms, r.took.Seconds()/hard)
		}
	}
}

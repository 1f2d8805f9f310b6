package model

import (
	"testing"
)

// BenchmarkOptimizer measures the optimizer's passes over the parameters of
// a mini model (10.8M floats, 7.4M of them word embeddings) in GB/s of
// memory traffic, against the bandwidth of a plain parallel copy measured
// first in the same run (copy reads one float and writes one per element:
// 8 bytes; the norm reads g: 4 bytes; clip + AdamW reads w, g, m, v and
// writes w, m, v: 28 bytes).
//
//	go test -run '^$' -bench Optimizer -tags openblas ./model/
func BenchmarkOptimizer(b *testing.B) {
	cfg, err := SizeConfig("mini", benchVocab)
	if err != nil {
		b.Fatal(err)
	}
	m, err := New(cfg, []HeadSpec{{Task: "tok", Kind: TokenClassification, NumLabels: 9}}, 1)
	if err != nil {
		b.Fatal(err)
	}
	ps := m.Params()
	n := 0
	for _, p := range ps {
		n += len(p.W)
		for i := range p.G {
			p.G[i] = float32(i%13-6) * 1e-3
		}
	}
	opt := NewAdamW(ps, AdamWConfig{Beta1: 0.9, Beta2: 0.999, Eps: 1e-6, WeightDecay: 0.01})
	var copyGBs float64
	report := func(b *testing.B, bytesPerElem int) {
		gbs := float64(bytesPerElem) * float64(n) * float64(b.N) / b.Elapsed().Seconds() / 1e9
		b.ReportMetric(gbs, "GB/s")
		if copyGBs > 0 && bytesPerElem != 8 {
			b.ReportMetric(gbs/copyGBs, "of_copy")
		}
		b.ReportMetric(b.Elapsed().Seconds()/float64(b.N)*1e3, "ms/pass")
	}
	b.Run("copy", func(b *testing.B) {
		for i := 0; i < b.N; i++ {
			opt.spans.run(func(s span) { copy(opt.m[s.p][s.lo:s.hi], ps[s.p].G[s.lo:s.hi]) })
		}
		report(b, 8)
		copyGBs = 8 * float64(n) * float64(b.N) / b.Elapsed().Seconds() / 1e9
	})
	clear(opt.m[0])
	b.Run("gradnorm", func(b *testing.B) {
		for i := 0; i < b.N; i++ {
			sinkF = float32(opt.sumSquares())
		}
		report(b, 4)
	})
	b.Run("clip_adamw_fused", func(b *testing.B) {
		for i := 0; i < b.N; i++ {
			opt.update(1e-4, 0.5)
		}
		report(b, 28)
	})
	// The passes the trainer made before: a single-threaded norm in Go, a
	// scaling pass over G, and the update per parameter.
	b.Run("clip_then_step_unfused", func(b *testing.B) {
		for i := 0; i < b.N; i++ {
			var ss float64
			for _, p := range ps {
				for _, g := range p.G {
					ss += float64(g) * float64(g)
				}
			}
			sinkF = float32(ss)
			for _, p := range ps {
				for j := range p.G {
					p.G[j] *= 1
				}
			}
			opt.Step(1e-4)
		}
		report(b, 4+8+28)
	})
}

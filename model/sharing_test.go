package model

import (
	"math"
	"math/rand/v2"
	"strings"
	"testing"
)

// fdSharedModel is fdModel's encoder with soft sharing on the tasks.
func fdSharedModel(t *testing.T, sh Sharing, ts map[string]TaskSharing) *Model {
	t.Helper()
	heads := []HeadSpec{
		{Task: "cls", Kind: SequenceClassification, NumLabels: 3},
		{Task: "ner", Kind: TokenClassification, NumLabels: 4},
		{Task: "sts", Kind: SequenceRegression, NumLabels: 1},
		{Task: "mlm", Kind: MaskedLM},
	}
	for i := range heads {
		heads[i].Sharing = ts[heads[i].Task]
	}
	m, err := NewWith(fdConfig, heads, sh, 3)
	if err != nil {
		t.Fatal(err)
	}
	perturb(m)
	return m
}

var allMatrices = FactorMatrices

func TestSharingFiniteDifferences(t *testing.T) {
	cases := []struct {
		name string
		sh   Sharing
		ts   map[string]TaskSharing
	}{
		{"factor_per_task", Sharing{Basis: "per_task"}, map[string]TaskSharing{
			"cls": {Rank: 2, Matrices: allMatrices},
			"ner": {Rank: 3, Matrices: []string{MatQuery, MatFFNOut}},
			"mlm": {Rank: 1, Matrices: []string{MatKey, MatFFNIn}},
		}},
		{"factor_shared_basis", Sharing{Basis: "shared"}, map[string]TaskSharing{
			"cls": {Rank: 2, Matrices: []string{MatValue, MatAttentionOutput, MatFFNIn}},
			"ner": {Rank: 2, Matrices: []string{MatQuery, MatValue, MatFFNOut}},
			"sts": {Rank: 2, Matrices: allMatrices},
		}},
		{"layer_attention", Sharing{}, map[string]TaskSharing{
			"cls": {LayerAttention: true}, "ner": {LayerAttention: true}, "sts": {LayerAttention: true}, "mlm": {LayerAttention: true},
		}},
		{"adapters", Sharing{}, map[string]TaskSharing{
			"cls": {Adapter: 3}, "ner": {Adapter: 2, LayerAttention: true}, "mlm": {Adapter: 3},
		}},
		{"adapters_frozen", Sharing{FreezeShared: true, Basis: "shared"}, map[string]TaskSharing{
			"cls": {Adapter: 3}, "ner": {Adapter: 2}, "sts": {Adapter: 2, Rank: 2, Matrices: []string{MatQuery}}, "mlm": {Adapter: 3},
		}},
		{"moe", Sharing{Experts: 3, ExpertLayers: 1, Basis: "per_task"}, map[string]TaskSharing{
			"ner": {Adapter: 2, Rank: 2, Matrices: allMatrices}, "cls": {LayerAttention: true},
		}},
		{"moe_all_layers", Sharing{Experts: 2, ExpertLayers: 2, Basis: "per_task"}, map[string]TaskSharing{
			"sts": {Rank: 2, Matrices: []string{MatQuery}},
		}},
	}
	for _, c := range cases {
		for _, task := range []string{"cls", "ner", "sts", "mlm"} {
			t.Run(c.name+"/"+task, func(t *testing.T) {
				m := fdSharedModel(t, c.sh, c.ts)
				h := m.byTask[task]
				mine := c.ts[task]
				checkFD(t, m, fdBatch(task), func(name string) bool {
					p := m.Param(name)
					switch {
					case p.Frozen:
						return false
					case strings.HasPrefix(name, "heads."), strings.HasPrefix(name, "cls."):
						return strings.HasPrefix(name, headPrefix(h.spec))
					case strings.HasPrefix(name, "tasks."):
						return strings.HasPrefix(name, "tasks."+task+".")
					case strings.HasPrefix(name, "pooler."):
						return h.spec.Kind == SequenceClassification || h.spec.Kind == SequenceRegression
					case strings.HasSuffix(name, ".factor_a"): // a shared basis
						if mine.Rank == 0 {
							return false
						}
						for _, mat := range mine.Matrices {
							if factorOf(name) == mat {
								return true
							}
						}
						return false
					}
					return true
				})
			})
		}
	}
}

// factorOf names the factor matrix of a factor parameter.
func factorOf(name string) string {
	for mi, mat := range FactorMatrices {
		hf := factorHFNames[mi]
		rest, ok := strings.CutSuffix(name, "."+hf+".factor_a")
		if ok && !strings.HasSuffix(rest, ".attention") {
			return mat
		}
	}
	return ""
}

// An untrained sharing model computes exactly what the hard-sharing model
// of the same seed computes: factors, adapters and gates start as no-ops.
func TestSharingStartsAsSharedModel(t *testing.T) {
	cfg := Config{VocabSize: 23, HiddenSize: 8, NumHiddenLayers: 2, NumAttentionHeads: 2, IntermediateSize: 12,
		MaxPositionEmbeddings: 8, TypeVocabSize: 2, LayerNormEps: 1e-12, HiddenAct: "gelu"}
	plain := []HeadSpec{{Task: "cls", Kind: SequenceClassification, NumLabels: 3}, {Task: "ner", Kind: TokenClassification, NumLabels: 4}}
	hard, err := New(cfg, plain, 7)
	if err != nil {
		t.Fatal(err)
	}
	soft := append([]HeadSpec(nil), plain...)
	soft[0].Sharing = TaskSharing{Rank: 4, Matrices: allMatrices, Adapter: 3}
	soft[1].Sharing = TaskSharing{Rank: 4, Matrices: allMatrices}
	for _, basis := range FactorBases {
		m, err := NewWith(cfg, soft, Sharing{Basis: basis}, 7)
		if err != nil {
			t.Fatal(err)
		}
		for _, p := range hard.Params() {
			if d := maxAbsDiff(p.W, m.Param(p.Name).W); d != 0 {
				t.Fatalf("%s: %s differs from the hard-sharing model's by %g", basis, p.Name, d)
			}
		}
		for _, task := range []string{"cls", "ner"} {
			b := fdBatch(task)
			want, err := hard.Predict(b)
			if err != nil {
				t.Fatal(err)
			}
			got, err := m.Predict(b)
			if err != nil {
				t.Fatal(err)
			}
			if d := maxAbsDiff(got, want); d > 1e-6 {
				t.Errorf("%s/%s: logits differ from the hard-sharing model's by %g", basis, task, d)
			}
		}
	}
}

// Each task's path is its own: training one task's factors leaves the
// other task's predictions unchanged.
func TestSharingPathsAreSeparate(t *testing.T) {
	m := fdSharedModel(t, Sharing{Basis: "per_task"}, map[string]TaskSharing{
		"cls": {Rank: 2, Matrices: allMatrices, Adapter: 2}, "ner": {Rank: 2, Matrices: allMatrices, Adapter: 2}})
	before, err := m.Predict(fdBatch("ner"))
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range m.TaskParams("cls") {
		for i := range p.W {
			p.W[i] += 0.5
		}
	}
	after, err := m.Predict(fdBatch("ner"))
	if err != nil {
		t.Fatal(err)
	}
	if d := maxAbsDiff(before, after); d != 0 {
		t.Errorf("changing cls's task parameters moved ner's logits by %g", d)
	}
	cls0, _ := m.Predict(fdBatch("cls"))
	for _, p := range m.TaskParams("cls") {
		if strings.Contains(p.Name, "factor_b") {
			for i := range p.W {
				p.W[i] += 0.5
			}
		}
	}
	cls1, _ := m.Predict(fdBatch("cls"))
	if maxAbsDiff(cls0, cls1) == 0 {
		t.Error("changing cls's factors did not change its logits")
	}
}

func TestSharingValidate(t *testing.T) {
	cfg, _ := SizeConfig("tiny", 30)
	cases := []struct {
		sh   Sharing
		ts   TaskSharing
		want string
	}{
		{Sharing{}, TaskSharing{Rank: 2, Matrices: []string{MatQuery}}, "basis"},
		{Sharing{Basis: "per_task"}, TaskSharing{Rank: 2}, "no matrices are named"},
		{Sharing{Basis: "per_task"}, TaskSharing{Rank: 2, Matrices: []string{"qkv"}}, "is not allowed"},
		{Sharing{Experts: 1, ExpertLayers: 1}, TaskSharing{}, "sharing.experts: 1 expert is the plain FFN"},
		{Sharing{Experts: 2, ExpertLayers: 3}, TaskSharing{}, "sharing.expert_layers: 3 is more than the encoder's 2 layers"},
		{Sharing{Experts: 2, ExpertLayers: 0}, TaskSharing{}, "sharing.expert_layers: 0 is out of range"},
		{Sharing{Experts: -1}, TaskSharing{}, "sharing.experts: -1 is out of range"},
		{Sharing{Experts: 2, ExpertLayers: 2, Basis: "shared"}, TaskSharing{Rank: 2, Matrices: []string{MatFFNIn}}, "mixture of experts"},
		{Sharing{}, TaskSharing{Adapter: -1}, "0..hidden_size"},
		{Sharing{Basis: "shared"}, TaskSharing{Rank: 129, Matrices: []string{MatQuery}}, "0..hidden_size"},
		{Sharing{Experts: 65, ExpertLayers: 1}, TaskSharing{}, "experts <= 64"},
	}
	for _, c := range cases {
		_, err := NewWith(cfg, []HeadSpec{{Task: "a", Kind: SequenceClassification, NumLabels: 2, Sharing: c.ts}}, c.sh, 1)
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%+v %+v: error %v, want one saying %q", c.sh, c.ts, err, c.want)
		}
	}
	_, err := NewWith(cfg, []HeadSpec{
		{Task: "a", Kind: SequenceClassification, NumLabels: 2, Sharing: TaskSharing{Rank: 2, Matrices: []string{MatQuery}}},
		{Task: "b", Kind: SequenceClassification, NumLabels: 2, Sharing: TaskSharing{Rank: 4, Matrices: []string{MatQuery}}},
	}, Sharing{Basis: "shared"}, 1)
	if err == nil || !strings.Contains(err.Error(), "one rank") {
		t.Errorf("two ranks on a shared basis: %v", err)
	}
	_, err = NewWith(cfg, []HeadSpec{{Task: "a", Kind: SequenceClassification, NumLabels: 2, Layer: 1, Sharing: TaskSharing{LayerAttention: true}}}, Sharing{}, 1)
	if err == nil || !strings.Contains(err.Error(), "layer attention and reads layer 1") {
		t.Errorf("layer attention with layer 1: %v", err)
	}
}

// fdInput checks an operation's input gradient by central differences:
// loss = Σ c·f(x) for a fixed random c; back(c) must return dloss/dx.
func fdInput(t *testing.T, name string, x []float32, f func() []float32, back func(dy []float32) []float32) {
	t.Helper()
	r := rand.New(rand.NewPCG(3, 4))
	y := f()
	c := make([]float32, len(y))
	for i := range c {
		c[i] = float32(r.NormFloat64())
	}
	loss := func() float64 {
		var s float64
		for i, v := range f() {
			s += float64(c[i]) * float64(v)
		}
		return s
	}
	f()
	dx := append([]float32(nil), back(c)...)
	worst := 0.0
	for i := range x {
		x0 := x[i]
		const step = 1e-2
		x[i] = x0 + step
		fp := loss()
		x[i] = x0 - step
		fm := loss()
		x[i] = x0
		num := (fp - fm) / (2 * step)
		tol := 2e-3*math.Abs(num) + 2e-7*math.Max(1, math.Abs(fp))/step
		d := math.Abs(num - float64(dx[i]))
		worst = math.Max(worst, d/tol)
		if d > tol {
			t.Errorf("%s: dx[%d] analytic %.6g, numeric %.6g", name, i, dx[i], num)
		}
	}
	t.Logf("%s: %d inputs, worst |diff|/tol %.2f", name, len(x), worst)
}

func randSlice(r *rand.Rand, n int, s float64) []float32 {
	v := make([]float32, n)
	for i := range v {
		v[i] = float32(r.NormFloat64() * s)
	}
	return v
}

func randParam(r *rand.Rand, name string, shape ...int) *Param {
	n := 1
	for _, s := range shape {
		n *= s
	}
	return &Param{Name: name, Shape: shape, W: randSlice(r, n, 0.5), G: make([]float32, n)}
}

// Input gradients of the new operations on their own.
func TestSharingInputGradients(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	const n, in, out, rk = 5, 6, 4, 2
	t.Run("factor", func(t *testing.T) {
		w := &linear{w: randParam(r, "w", out, in), b: randParam(r, "b", out), in: in, out: out}
		f := &factor{a: randParam(r, "a", out, rk), b: randParam(r, "b", rk, in), r: rk}
		x := randSlice(r, n*in, 1)
		y := make([]float32, n*out)
		merged := linear{w: &Param{W: make([]float32, out*in), G: make([]float32, out*in)}, b: w.b, in: in, out: out}
		fwd := func() []float32 {
			mergeInto(merged.w.W, w, f)
			linearForward(merged, x, n, y)
			return y
		}
		// back returns the gradient of x, A or B (which), the others accumulated too.
		back := func(which []float32) func(dy []float32) []float32 {
			return func(dy []float32) []float32 {
				for _, p := range []*Param{w.w, f.a, f.b} {
					clear(p.G)
				}
				clear(merged.w.G)
				dx := make([]float32, n*in)
				linearBackward(merged, x, dy, n, dx, false)
				foldGrad(merged.w.G, w, f)
				switch {
				case &which[0] == &f.a.W[0]:
					return f.a.G
				case &which[0] == &f.b.W[0]:
					return f.b.G
				case &which[0] == &w.w.W[0]:
					return w.w.G
				}
				return dx
			}
		}
		for name, v := range map[string][]float32{"factor x": x, "factor A": f.a.W, "factor B": f.b.W, "factor W": w.w.W} {
			fdInput(t, name, v, fwd, back(v))
		}
	})
	t.Run("adapter", func(t *testing.T) {
		lin := func(i, o int) linear {
			return linear{w: randParam(r, "w", o, i), b: randParam(r, "b", o), in: i, out: o}
		}
		ad := &adapter{down: lin(in, 3), up: lin(3, in)}
		x := randSlice(r, n*in, 1)
		var a adapterAct
		y := make([]float32, n*in)
		fdInput(t, "adapter", x, func() []float32 {
			copy(y, x)
			adapterForward(ad, y, n, &a)
			return y
		}, func(dy []float32) []float32 {
			dx := make([]float32, n*in)
			adapterBackward(ad, dy, n, &a, make([]float32, n*3), dx)
			return dx
		})
	})
	t.Run("layer_mix", func(t *testing.T) {
		mx := &layerMix{w: randParam(r, "w", 3), scale: randParam(r, "s", 1)}
		hs := [][]float32{randSlice(r, n*in, 1), randSlice(r, n*in, 1), randSlice(r, n*in, 1)}
		y := make([]float32, n*in)
		for j := range hs {
			fdInput(t, "layer_mix", hs[j], func() []float32 {
				mixForward(mx, hs, n*in, y)
				return y
			}, func(dy []float32) []float32 {
				coef := mixBackward(mx, hs, n*in, dy)
				dx := make([]float32, n*in)
				axpy(coef[j], dy, dx)
				return dx
			})
		}
	})
	t.Run("moe", func(t *testing.T) {
		m := fdSharedModel(t, Sharing{Experts: 3, ExpertLayers: 1}, nil)
		H, I := m.cfg.HiddenSize, m.cfg.IntermediateSize
		L := m.layers[1]
		gate := m.byTask["cls"].path.gates[1]
		x := randSlice(r, n*H, 1)
		u, g, y := make([]float32, n*I), make([]float32, n*I), make([]float32, n*H)
		var a moeAct
		fdInput(t, "moe", x, func() []float32 {
			m.moeForward(L, gate, x, n, u, g, &a, y)
			return y
		}, func(dy []float32) []float32 {
			dx := make([]float32, n*H)
			m.moeBackward(L, gate, x, dy, n, u, g, &a, make([]float32, n*H), make([]float32, n*I), dx)
			return dx
		})
	})
}

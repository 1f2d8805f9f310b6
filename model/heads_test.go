package model

import (
	"math"
	"testing"
)

// TestMaskedLMForward recomputes the masked-LM head in float64 from the
// encoder output: dense → erf GELU → LayerNorm → tied decoder + bias.
func TestMaskedLMForward(t *testing.T) {
	m := fdModel(t)
	b := fdBatch("mlm")
	got, err := m.Predict(b)
	if err != nil {
		t.Fatal(err)
	}
	H, V, N := m.cfg.HiddenSize, m.cfg.VocabSize, b.B*b.T
	hs := m.st.hs[m.cfg.NumHiddenLayers]
	p := func(name string) []float32 { return m.Param("cls.predictions." + name).W }
	dw, db, lg, lb, bias := p("transform.dense.weight"), p("transform.dense.bias"), p("transform.LayerNorm.weight"), p("transform.LayerNorm.bias"), p("bias")
	word := m.Param("embeddings.word_embeddings.weight").W
	worst := 0.0
	for r := 0; r < N; r++ {
		u := make([]float64, H)
		var mean float64
		for o := 0; o < H; o++ {
			s := float64(db[o])
			for i := 0; i < H; i++ {
				s += float64(dw[o*H+i]) * float64(hs[r*H+i])
			}
			u[o] = 0.5 * s * (1 + math.Erf(s/math.Sqrt2))
			mean += u[o] / float64(H)
		}
		var vr float64
		for _, v := range u {
			vr += (v - mean) * (v - mean) / float64(H)
		}
		for o := range u {
			u[o] = (u[o]-mean)/math.Sqrt(vr+1e-12)*float64(lg[o]) + float64(lb[o])
		}
		for v := 0; v < V; v++ {
			s := float64(bias[v])
			for i := 0; i < H; i++ {
				s += u[i] * float64(word[v*H+i])
			}
			worst = math.Max(worst, math.Abs(s-float64(got[r*V+v])))
		}
	}
	if worst > 1e-4 {
		t.Fatalf("masked-LM logits differ from the float64 recomputation by %.3g", worst)
	}
	t.Logf("max |diff| %.3g", worst)
}

// TestRegressionLoss: the loss is the mean squared error of Predict's values.
func TestRegressionLoss(t *testing.T) {
	m := fdModel(t)
	b := fdBatch("sts")
	pred, err := m.Predict(b)
	if err != nil {
		t.Fatal(err)
	}
	out, err := m.Forward(b)
	if err != nil {
		t.Fatal(err)
	}
	var want float64
	for i, y := range b.Targets {
		d := float64(pred[i]) - float64(y)
		want += d * d / float64(len(b.Targets))
	}
	if math.Abs(float64(out.Loss)-want) > 1e-5*want || out.Scored != 3 || out.NumLabels != 1 {
		t.Fatalf("loss %g scored %d labels %d; want %g, 3, 1", out.Loss, out.Scored, out.NumLabels, want)
	}
}

// TestHeadOnInnerLayer: a head reading layer 1 of a two-layer encoder gives
// what the same head gives on top of a one-layer encoder with equal weights.
func TestHeadOnInnerLayer(t *testing.T) {
	two := fdModel(t)
	cfg := two.Config()
	cfg.NumHiddenLayers = 1
	one, err := New(cfg, []HeadSpec{{Task: "ner", Kind: TokenClassification, NumLabels: 4}, {Task: "cls1", Kind: SequenceClassification, NumLabels: 2}}, 1)
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range one.Params() {
		copy(p.W, two.Param(p.Name).W)
	}
	for _, task := range []string{"ner", "cls1"} {
		a, err := two.Predict(fdBatch(task))
		if err != nil {
			t.Fatal(err)
		}
		b, err := one.Predict(fdBatch(task))
		if err != nil {
			t.Fatal(err)
		}
		if d := maxAbsDiff(a, b); d != 0 {
			t.Errorf("%s: layer-1 head of a 2-layer model differs from a 1-layer model by %g", task, d)
		}
	}
}

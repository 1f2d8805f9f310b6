package model

import (
	"strings"
	"testing"

	"github.com/taskweave/taskweave/internal/rng"

	"github.com/taskweave/taskweave/model/kernels"
)

func TestSizeConfig(t *testing.T) {
	for _, c := range []struct {
		name    string
		l, h, a int
	}{{"tiny", 2, 128, 2}, {"mini", 4, 256, 4}, {"small", 4, 512, 8}, {"medium", 8, 512, 8}, {"base", 12, 768, 12}} {
		cfg, err := SizeConfig(c.name, 28996)
		if err != nil {
			t.Fatal(err)
		}
		if cfg.NumHiddenLayers != c.l || cfg.HiddenSize != c.h || cfg.NumAttentionHeads != c.a || cfg.IntermediateSize != 4*c.h || cfg.VocabSize != 28996 {
			t.Errorf("%s: %+v", c.name, cfg)
		}
	}
	if _, err := SizeConfig("huge", 10); err == nil || !strings.Contains(err.Error(), "tiny") {
		t.Errorf("unknown size: err = %v", err)
	}
}

func TestParamNamesAndGroups(t *testing.T) {
	m := fdModel(t)
	ps := m.Params()
	if ps[0].Name != "embeddings.word_embeddings.weight" || m.Param("encoder.layer.1.attention.self.query.weight") == nil ||
		m.Param("pooler.dense.weight") == nil || m.Param("cls.predictions.bias") == nil {
		t.Fatalf("unexpected names: first %s", ps[0].Name)
	}
	if s := m.Param("encoder.layer.0.intermediate.dense.weight").Shape; s[0] != 12 || s[1] != 8 {
		t.Errorf("intermediate weight shape %v, want torch layout [12 8]", s)
	}
	n := len(m.EncoderParams())
	for _, h := range m.Heads() {
		n += len(m.HeadParams(h.Task))
	}
	if n != len(ps) {
		t.Errorf("encoder + heads = %d parameters, Params has %d", n, len(ps))
	}
	if len(m.LayerParams(0)) != 16 || m.LayerParams(2) != nil {
		t.Errorf("LayerParams(0) has %d, want 16", len(m.LayerParams(0)))
	}
	for _, p := range m.LayerParams(1) {
		if !strings.HasPrefix(p.Name, "encoder.layer.1.") {
			t.Errorf("LayerParams(1) holds %s", p.Name)
		}
	}
}

func TestBadInput(t *testing.T) {
	m := fdModel(t)
	good := fdBatch("cls")
	for _, c := range []struct {
		name string
		edit func(b *Batch)
		want string
	}{
		{"unknown task", func(b *Batch) { b.Task = "pos" }, "no head"},
		{"id out of range", func(b *Batch) { b.InputIDs[4] = 23 }, "outside the vocabulary"},
		{"short mask", func(b *Batch) { b.Mask = b.Mask[:5] }, "Mask has 5"},
		{"too long", func(b *Batch) { b.T = 9; b.B = 2 }, "max_position_embeddings"},
		{"bad label", func(b *Batch) { b.Labels[1] = 3 }, "label 3"},
		{"token type", func(b *Batch) { b.TokenTypeIDs[0] = 2 }, "token type 2"},
	} {
		b := *good
		b.InputIDs = append([]int32(nil), good.InputIDs...)
		b.Labels = append([]int32(nil), good.Labels...)
		b.TokenTypeIDs = append([]int32(nil), good.TokenTypeIDs...)
		c.edit(&b)
		if _, err := m.Forward(&b); err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s: err = %v, want it to mention %q", c.name, err, c.want)
		}
	}
	if _, err := New(Config{VocabSize: 10, HiddenSize: 6, NumHiddenLayers: 1, NumAttentionHeads: 4, IntermediateSize: 8,
		MaxPositionEmbeddings: 8, TypeVocabSize: 2, LayerNormEps: 1e-12}, nil, 1); err == nil || !strings.Contains(err.Error(), "multiple") {
		t.Errorf("hidden 6 with 4 heads: err = %v", err)
	}
	if _, err := New(fdModel(t).Config(), []HeadSpec{{Task: "x", Kind: TokenClassification, NumLabels: 2, Layer: 3}}, 1); err == nil {
		t.Error("a head reading layer 3 of 2 was accepted")
	}
	unl := fdBatch("cls")
	unl.Labels = nil
	if _, err := m.Forward(unl); err != nil {
		t.Fatal(err)
	}
	if err := m.Backward(1); err == nil || !strings.Contains(err.Error(), "no labels") {
		t.Errorf("Backward after an unlabelled batch: err = %v", err)
	}
}

// TestDropoutReproducible: the same seed gives the same training loss, a
// different seed a different one, and SetRNGState replays a step exactly.
func TestDropoutReproducible(t *testing.T) {
	loss := func(seed uint64) float32 {
		m := fdModel(t)
		m.SetTraining(true)
		m.Seed(seed)
		out, err := m.Forward(fdBatch("ner"))
		if err != nil {
			t.Fatal(err)
		}
		return out.Loss
	}
	if a, b := loss(7), loss(7); a != b {
		t.Fatalf("seed 7 twice: %g vs %g", a, b)
	}
	if a, b := loss(7), loss(8); a == b {
		t.Fatalf("seeds 7 and 8 gave the same dropout loss %g", a)
	}
	m := fdModel(t)
	m.SetTraining(true)
	b := fdBatch("ner")
	m.Forward(b)
	st := m.RNGState()
	o1, _ := m.Forward(b)
	l1 := o1.Loss
	o2, _ := m.Forward(b)
	if o2.Loss == l1 {
		t.Fatal("two training steps drew the same dropout masks")
	}
	m.SetRNGState(st)
	o3, _ := m.Forward(b)
	if o3.Loss != l1 {
		t.Fatalf("replayed step: loss %g, want %g", o3.Loss, l1)
	}
	m.SetTraining(false)
	e1, _ := m.Forward(b)
	e1l := e1.Loss
	e2, _ := m.Forward(b)
	if e1l != e2.Loss {
		t.Fatal("evaluation mode is not deterministic")
	}
	// Dropout keeps about 1-p of the units.
	mask := make([]float32, 100000)
	m.dropoutMask(mask, 0.1)
	kept := 0
	for _, v := range mask {
		if v != 0 {
			kept++
		}
	}
	if kept < 89500 || kept > 90500 {
		t.Fatalf("kept %d of 100000 at p=0.1", kept)
	}
}

// TestPredictShapes: Predict returns fresh slices of the documented shapes,
// and a masked_lm head scores every position there.
func TestPredictShapes(t *testing.T) {
	m := fdModel(t)
	for _, c := range []struct {
		task string
		n    int
	}{{"cls", 3 * 3}, {"ner", 3 * 6 * 4}, {"sts", 3}, {"mlm", 3 * 6 * 23}} {
		out, err := m.Predict(fdBatch(c.task))
		if err != nil {
			t.Fatal(err)
		}
		if len(out) != c.n {
			t.Errorf("%s: %d logits, want %d", c.task, len(out), c.n)
		}
	}
	a, _ := m.Predict(fdBatch("cls"))
	m.Predict(fdBatch("ner"))
	b, _ := m.Predict(fdBatch("cls"))
	for i := range a {
		if a[i] != b[i] {
			t.Fatal("Predict results alias a reused buffer or are not deterministic")
		}
	}
	out, err := m.Forward(fdBatch("mlm"))
	if err != nil {
		t.Fatal(err)
	}
	if out.Scored != 4 || len(out.Logits) != 4*23 {
		t.Errorf("masked_lm Forward: scored %d, %d logits; want 4 and 92", out.Scored, len(out.Logits))
	}
}

// TestGradientAccumulation: two Backward calls add up, as the trainer's
// accumulation relies on.
func TestGradientAccumulation(t *testing.T) {
	m := fdModel(t)
	b := fdBatch("ner")
	step := func(scale float32) {
		t.Helper()
		if _, err := m.Forward(b); err != nil {
			t.Fatal(err)
		}
		if err := m.Backward(scale); err != nil {
			t.Fatal(err)
		}
	}
	m.ZeroGrad()
	step(1)
	one := append([]float32(nil), m.Param("encoder.layer.0.attention.self.value.weight").G...)
	nonZero := 0
	for _, g := range one {
		if g != 0 {
			nonZero++
		}
	}
	if nonZero < len(one)/2 {
		t.Fatalf("only %d of %d gradients are non-zero after one backward pass; accumulation would be checked on zeros", nonZero, len(one))
	}
	step(0.5)
	two := m.Param("encoder.layer.0.attention.self.value.weight").G
	for i := range one {
		if d := two[i] - 1.5*one[i]; d > 1e-6 || d < -1e-6 {
			t.Fatalf("G[%d] after 1·g + 0.5·g = %g, want %g", i, two[i], 1.5*one[i])
		}
	}
}

// TestDropoutStreamSameInBothBuilds: the kernel behind dropoutMask (C in the
// openblas build, Go otherwise) draws exactly the stream defined by rng.Mix,
// so a seed means the same masks whichever build trains.
func TestDropoutStreamSameInBothBuilds(t *testing.T) {
	const key, start, p = 0x1234567890abcdef, 1000, 0.25
	threshold := uint64(p * (1 << 32))
	mask := make([]float32, 4099)
	kernels.DropoutMask(mask, start, key, threshold, 1/(1-p))
	for i, v := range mask {
		dropped := rng.Mix(key+(start+uint64(i))*rng.Gamma)>>32 < threshold
		if dropped != (v == 0) || (!dropped && v != float32(1/(1-p))) {
			t.Fatalf("element %d: mask %g, stream says dropped=%v", i, v, dropped)
		}
	}
}

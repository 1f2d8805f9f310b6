package model

// The fixtures under testdata/ref_* come from the independent PyTorch
// reference, made with:
//
//go:generate /usr/bin/python3 /work/shared/reference/bert_reference.py --out testdata/ref_padded --layers 2 --hidden 16 --heads 2 --intermediate 32 --vocab-size 50 --max-pos 16 --seq-labels 3 --tok-labels 5 --seed 7 --batch 3 --seq-len 8
//go:generate /usr/bin/python3 /work/shared/reference/bert_reference.py --out testdata/ref_single --layers 1 --hidden 24 --heads 3 --intermediate 40 --vocab-size 30 --max-pos 12 --seq-labels 2 --tok-labels 4 --seed 11 --batch 1 --seq-len 10

import (
	"encoding/binary"
	"encoding/json"
	"math"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"
)

// readSafetensors is a minimal F32-only reader for the fixtures; the real
// reader lives in model/checkpoint, which imports this package.
func readSafetensors(t *testing.T, path string) map[string][]float32 {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	n := binary.LittleEndian.Uint64(data[:8])
	var hdr map[string]json.RawMessage
	if err := json.Unmarshal(data[8:8+n], &hdr); err != nil {
		t.Fatalf("%s: header: %v", path, err)
	}
	body := data[8+n:]
	out := map[string][]float32{}
	for name, raw := range hdr {
		if name == "__metadata__" {
			continue
		}
		var e struct {
			Dtype   string `json:"dtype"`
			Offsets [2]int `json:"data_offsets"`
		}
		if err := json.Unmarshal(raw, &e); err != nil {
			t.Fatalf("%s: %s: %v", path, name, err)
		}
		if e.Dtype != "F32" {
			t.Fatalf("%s: %s has dtype %s, want F32", path, name, e.Dtype)
		}
		b := body[e.Offsets[0]:e.Offsets[1]]
		v := make([]float32, len(b)/4)
		for i := range v {
			v[i] = math.Float32frombits(binary.LittleEndian.Uint32(b[4*i:]))
		}
		out[name] = v
	}
	return out
}

type golden struct {
	SeqLabels    []int32       `json:"seq_labels"`
	TokLabels    [][]int32     `json:"tok_labels"`
	Loss         float64       `json:"loss"`
	InputIDs     [][]int32     `json:"input_ids"`
	Mask         [][]int32     `json:"attention_mask"`
	TokenTypeIDs [][]int32     `json:"token_type_ids"`
	Hidden       [][][]float32 `json:"last_hidden_state"`
	Pooled       [][]float32   `json:"pooled_output"`
	SeqLogits    [][]float32   `json:"seq_cls_logits"`
	TokLogits    [][][]float32 `json:"tok_cls_logits"`
}

func flat2(x [][]int32) []int32 {
	var o []int32
	for _, r := range x {
		o = append(o, r...)
	}
	return o
}

func flatF(x any) []float32 {
	switch v := x.(type) {
	case [][]float32:
		var o []float32
		for _, r := range v {
			o = append(o, r...)
		}
		return o
	case [][][]float32:
		var o []float32
		for _, r := range v {
			o = append(o, flatF(r)...)
		}
		return o
	}
	panic("flatF")
}

// fixture is a reference model loaded into ours.
type fixture struct {
	dir   string
	m     *Model
	g     golden
	seq   *Batch
	tok   *Batch
	names map[string]string // reference tensor name → our parameter name
}

func loadFixture(t *testing.T, dir string) *fixture {
	t.Helper()
	f := &fixture{dir: dir, names: map[string]string{}}
	raw, err := os.ReadFile(filepath.Join(dir, "config.json"))
	if err != nil {
		t.Fatal(err)
	}
	var cfg Config
	if err := json.Unmarshal(raw, &cfg); err != nil {
		t.Fatal(err)
	}
	raw, err = os.ReadFile(filepath.Join(dir, "golden.json"))
	if err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(raw, &f.g); err != nil {
		t.Fatal(err)
	}
	seqW := readSafetensors(t, filepath.Join(dir, "seq-cls", "model.safetensors"))
	tokW := readSafetensors(t, filepath.Join(dir, "tok-cls", "model.safetensors"))
	nSeq, nTok := len(seqW["classifier.bias"]), len(tokW["classifier.bias"])
	m, err := New(cfg, []HeadSpec{
		{Task: "seq", Kind: SequenceClassification, NumLabels: nSeq},
		{Task: "tok", Kind: TokenClassification, NumLabels: nTok},
	}, 1)
	if err != nil {
		t.Fatal(err)
	}
	f.m = m
	enc := readSafetensors(t, filepath.Join(dir, "model.safetensors"))
	for name := range enc {
		f.names[name] = name
	}
	f.names["seq_head.weight"], f.names["seq_head.bias"] = "heads.seq.classifier.weight", "heads.seq.classifier.bias"
	f.names["tok_head.weight"], f.names["tok_head.bias"] = "heads.tok.classifier.weight", "heads.tok.classifier.bias"
	enc["seq_head.weight"], enc["seq_head.bias"] = seqW["classifier.weight"], seqW["classifier.bias"]
	enc["tok_head.weight"], enc["tok_head.bias"] = tokW["classifier.weight"], tokW["classifier.bias"]
	if len(enc) != len(m.Params()) {
		t.Fatalf("reference has %d tensors, model %d parameters", len(enc), len(m.Params()))
	}
	for ref, ours := range f.names {
		p := m.Param(ours)
		if p == nil {
			t.Fatalf("no parameter %s for reference %s", ours, ref)
		}
		if len(p.W) != len(enc[ref]) {
			t.Fatalf("%s: %d values, reference %d", ours, len(p.W), len(enc[ref]))
		}
		copy(p.W, enc[ref])
	}
	B, T := len(f.g.InputIDs), len(f.g.InputIDs[0])
	f.seq = &Batch{Task: "seq", B: B, T: T, InputIDs: flat2(f.g.InputIDs), TokenTypeIDs: flat2(f.g.TokenTypeIDs),
		Mask: flat2(f.g.Mask), Labels: f.g.SeqLabels}
	tb := *f.seq
	tb.Task, tb.Labels, tb.TokenLabels = "tok", nil, flat2(f.g.TokLabels)
	f.tok = &tb
	return f
}

var fixtures = []string{"testdata/ref_padded", "testdata/ref_single"}

func maxAbsDiff(a, b []float32) float64 {
	if len(a) != len(b) {
		return math.Inf(1)
	}
	var d float64
	for i := range a {
		d = math.Max(d, math.Abs(float64(a[i])-float64(b[i])))
	}
	return d
}

func TestParityForward(t *testing.T) {
	for _, dir := range fixtures {
		t.Run(filepath.Base(dir), func(t *testing.T) {
			f := loadFixture(t, dir)
			m := f.m
			seqLogits, err := m.Predict(f.seq)
			if err != nil {
				t.Fatal(err)
			}
			L := m.cfg.NumHiddenLayers
			checks := []struct {
				name      string
				got, want []float32
			}{
				{"last_hidden_state", m.st.hs[L], flatF(f.g.Hidden)},
				{"pooled_output", m.st.hd.pooled, flatF(f.g.Pooled)},
				{"seq_cls_logits", seqLogits, flatF(f.g.SeqLogits)},
			}
			tokLogits, err := m.Predict(f.tok)
			if err != nil {
				t.Fatal(err)
			}
			checks = append(checks, struct {
				name      string
				got, want []float32
			}{"tok_cls_logits", tokLogits, flatF(f.g.TokLogits)})
			for _, c := range checks {
				if d := maxAbsDiff(c.got, c.want); d > 1e-4 {
					t.Errorf("%s: max |diff| %.3g > 1e-4", c.name, d)
				} else {
					t.Logf("%s: max |diff| %.3g", c.name, d)
				}
			}
		})
	}
}

// refGrads runs the reference's training step (dropout off, loss = CE(seq) + CE(tok)).
func (f *fixture) step(t *testing.T) float64 {
	m := f.m
	m.SetTraining(false)
	m.ZeroGrad()
	var loss float64
	for _, b := range []*Batch{f.seq, f.tok} {
		out, err := m.Forward(b)
		if err != nil {
			t.Fatal(err)
		}
		loss += float64(out.Loss)
		if err := m.Backward(1); err != nil {
			t.Fatal(err)
		}
	}
	return loss
}

func l2(a []float32) float64 {
	var s float64
	for _, v := range a {
		s += float64(v) * float64(v)
	}
	return math.Sqrt(s)
}

func TestParityGradients(t *testing.T) {
	for _, dir := range fixtures {
		t.Run(filepath.Base(dir), func(t *testing.T) {
			f := loadFixture(t, dir)
			loss := f.step(t)
			if math.Abs(loss-f.g.Loss) > 1e-5*math.Max(1, math.Abs(f.g.Loss)) {
				t.Errorf("loss %.7f, reference %.7f", loss, f.g.Loss)
			}
			ref := readSafetensors(t, filepath.Join(dir, "grads.safetensors"))
			names := make([]string, 0, len(ref))
			for n := range ref {
				names = append(names, n)
			}
			sort.Strings(names)
			worst, worstName := 0.0, ""
			for _, n := range names {
				p := f.m.Param(f.names[n])
				diff := make([]float32, len(p.G))
				for i := range diff {
					diff[i] = p.G[i] - ref[n][i]
				}
				norm := l2(ref[n])
				// The key bias adds the same q·b to every score of a row, which
				// softmax ignores: its true gradient is zero and both sides hold
				// only rounding noise (~1e-10), hence the absolute floor.
				if norm < 1e-8 {
					if e := l2(diff); e > 1e-8 {
						t.Errorf("gradient of %s: reference ‖g‖ = %.3g, ours differs by %.3g", n, norm, e)
					}
					continue
				}
				rel := l2(diff) / norm
				if rel > worst {
					worst, worstName = rel, n
				}
				if rel > 1e-4 {
					t.Errorf("gradient of %s: ‖ours−ref‖/‖ref‖ = %.3g > 1e-4 (‖ref‖ = %.3g)", n, rel, norm)
				}
			}
			t.Logf("%d gradients; worst relative error %.3g (%s)", len(names), worst, worstName)
		})
	}
}

func TestParityAdamW(t *testing.T) {
	cfg := AdamWConfig{LR: 1e-3, Beta1: 0.9, Beta2: 0.999, Eps: 1e-6, WeightDecay: 0.01}
	for _, dir := range fixtures {
		for _, source := range []string{"own gradients", "reference gradients"} {
			t.Run(filepath.Base(dir)+"/"+strings.ReplaceAll(source, " ", "_"), func(t *testing.T) {
				f := loadFixture(t, dir)
				f.step(t)
				if source == "reference gradients" {
					ref := readSafetensors(t, filepath.Join(dir, "grads.safetensors"))
					for n, g := range ref {
						copy(f.m.Param(f.names[n]).G, g)
					}
				}
				opt := NewAdamW(f.m.Params(), cfg)
				opt.Step(cfg.LR)
				want := readSafetensors(t, filepath.Join(dir, "after_adamw.safetensors"))
				worst := 0.0
				for n, w := range want {
					p := f.m.Param(f.names[n])
					d := maxAbsDiff(p.W, w)
					worst = math.Max(worst, d)
					if d > 1e-6 {
						t.Errorf("%s after one AdamW step: max |diff| %.3g > 1e-6", n, d)
					}
				}
				t.Logf("worst |diff| after AdamW: %.3g", worst)
			})
		}
	}
}

package model

// The fixtures under testdata/sharing_* come from the independent PyTorch
// reference of factorization and layer attention (float64, stored as
// float32), made with:
//
//go:generate /usr/bin/python3 ../tools/sharingref/sharing_reference.py --out testdata/sharing_per_task --basis per_task
//go:generate /usr/bin/python3 ../tools/sharingref/sharing_reference.py --out testdata/sharing_shared --basis shared --rank 2 --seq-matrices query,key,value,attention_output,ffn_in,ffn_out --tok-matrices query,ffn_out --tok-layer-attention

import (
	"encoding/json"
	"math"
	"os"
	"path/filepath"
	"sort"
	"testing"
)

type sharingGolden struct {
	InputIDs     [][]int32     `json:"input_ids"`
	Mask         [][]int32     `json:"attention_mask"`
	TokenTypeIDs [][]int32     `json:"token_type_ids"`
	SeqLabels    []int32       `json:"seq_labels"`
	TokLabels    [][]int32     `json:"tok_labels"`
	Loss         float64       `json:"loss"`
	SeqLogits    [][]float32   `json:"seq_logits"`
	TokLogits    [][][]float32 `json:"tok_logits"`
}

// loadSharingFixture builds the reference's model, copies its weights in by
// name (every tensor on both sides) and returns the two tasks' batches.
func loadSharingFixture(t *testing.T, dir string) (*Model, sharingGolden, *Batch, *Batch) {
	t.Helper()
	var setup struct {
		Config    Config                 `json:"config"`
		Basis     string                 `json:"basis"`
		SeqLabels int                    `json:"seq_labels"`
		TokLabels int                    `json:"tok_labels"`
		Tasks     map[string]TaskSharing `json:"tasks"`
	}
	var g sharingGolden
	for name, v := range map[string]any{"sharing.json": &setup, "golden.json": &g} {
		raw, err := os.ReadFile(filepath.Join(dir, name))
		if err != nil {
			t.Fatal(err)
		}
		if err := json.Unmarshal(raw, v); err != nil {
			t.Fatalf("%s: %v", name, err)
		}
	}
	m, err := NewWith(setup.Config, []HeadSpec{
		{Task: "seq", Kind: SequenceClassification, NumLabels: setup.SeqLabels, Sharing: setup.Tasks["seq"]},
		{Task: "tok", Kind: TokenClassification, NumLabels: setup.TokLabels, Sharing: setup.Tasks["tok"]},
	}, Sharing{Basis: setup.Basis}, 1)
	if err != nil {
		t.Fatal(err)
	}
	w := readSafetensors(t, filepath.Join(dir, "model.safetensors"))
	if len(w) != len(m.Params()) {
		t.Fatalf("reference has %d tensors, model %d parameters", len(w), len(m.Params()))
	}
	for name, v := range w {
		p := m.Param(name)
		if p == nil || len(p.W) != len(v) {
			t.Fatalf("reference tensor %s (%d values) has no parameter of that size", name, len(v))
		}
		copy(p.W, v)
	}
	B, T := len(g.InputIDs), len(g.InputIDs[0])
	seq := &Batch{Task: "seq", B: B, T: T, InputIDs: flat2(g.InputIDs), TokenTypeIDs: flat2(g.TokenTypeIDs), Mask: flat2(g.Mask), Labels: g.SeqLabels}
	tok := *seq
	tok.Task, tok.Labels, tok.TokenLabels = "tok", nil, flat2(g.TokLabels)
	return m, g, seq, &tok
}

var sharingFixtures = []string{"testdata/sharing_per_task", "testdata/sharing_shared"}

// Outputs within 1e-5 of the reference, gradients within 1e-4 of their norm.
func TestSharingParity(t *testing.T) {
	for _, dir := range sharingFixtures {
		t.Run(filepath.Base(dir), func(t *testing.T) {
			m, g, seq, tok := loadSharingFixture(t, dir)
			m.SetTraining(false)
			for _, c := range []struct {
				b    *Batch
				want []float32
			}{{seq, flatF(g.SeqLogits)}, {tok, flatF(g.TokLogits)}} {
				got, err := m.Predict(c.b)
				if err != nil {
					t.Fatal(err)
				}
				if d := maxAbsDiff(got, c.want); d > 1e-5 {
					t.Errorf("%s logits: max |diff| %.3g > 1e-5", c.b.Task, d)
				} else {
					t.Logf("%s logits: max |diff| %.3g", c.b.Task, d)
				}
			}
			m.ZeroGrad()
			var loss float64
			for _, b := range []*Batch{seq, tok} {
				out, err := m.Forward(b)
				if err != nil {
					t.Fatal(err)
				}
				loss += float64(out.Loss)
				if err := m.Backward(1); err != nil {
					t.Fatal(err)
				}
			}
			if math.Abs(loss-g.Loss) > 1e-5 {
				t.Errorf("loss %.7f, reference %.7f", loss, g.Loss)
			}
			ref := readSafetensors(t, filepath.Join(dir, "grads.safetensors"))
			names := make([]string, 0, len(ref))
			for n := range ref {
				names = append(names, n)
			}
			sort.Strings(names)
			worst, worstName, soft := 0.0, "", 0
			for _, n := range names {
				p := m.Param(n)
				diff := make([]float32, len(p.G))
				for i := range diff {
					diff[i] = p.G[i] - ref[n][i]
				}
				norm := l2(ref[n])
				if norm < 1e-8 { // the key bias: softmax ignores it (see TestParityGradients)
					if e := l2(diff); e > 1e-7 {
						t.Errorf("gradient of %s: reference ‖g‖ = %.3g, ours differs by %.3g", n, norm, e)
					}
					continue
				}
				if p.Name[:6] == "tasks." || p.Name[:8] == "sharing." {
					soft++
				}
				rel := l2(diff) / norm
				if rel > worst {
					worst, worstName = rel, n
				}
				if rel > 1e-4 {
					t.Errorf("gradient of %s: ‖ours−ref‖/‖ref‖ = %.3g > 1e-4 (‖ref‖ = %.3g)", n, rel, norm)
				}
			}
			if soft < 10 {
				t.Errorf("only %d soft-sharing gradients compared", soft)
			}
			t.Logf("%d gradients (%d of soft-sharing tensors); worst relative error %.3g (%s)", len(names), soft, worst, worstName)
		})
	}
}

package trainer

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"math"
	"path/filepath"
	"testing"
)

// TestBatchLog: one JSON line per micro-batch the run trains on, with the
// batch's shape, ids, mask and the labels of its task kind, and the real
// tokens of the lines add up to the run's token count.
func TestBatchLog(t *testing.T) {
	data := synthData(t, 64)
	cfg := baseConfig(data, filepath.Join(t.TempDir(), "out"))
	cfg.Accumulate, cfg.EvalEvery = 2, 0
	var buf bytes.Buffer
	cfg.BatchLog = &buf
	s, err := Train(context.Background(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	var lines int
	var real int64
	sc := bufio.NewScanner(&buf)
	sc.Buffer(nil, 1<<24)
	for sc.Scan() {
		var b struct {
			Task        string
			B, T        int
			InputIDs    []int32 `json:"input_ids"`
			Mask        []int32
			Labels      []int32
			TokenLabels []int32 `json:"token_labels"`
		}
		if err := json.Unmarshal(sc.Bytes(), &b); err != nil {
			t.Fatal(err)
		}
		lines++
		if len(b.InputIDs) != b.B*b.T || len(b.Mask) != b.B*b.T {
			t.Fatalf("line %d: B=%d T=%d with %d ids and %d mask values", lines, b.B, b.T, len(b.InputIDs), len(b.Mask))
		}
		switch b.Task {
		case "sent":
			if len(b.Labels) != b.B {
				t.Fatalf("line %d: a sent batch with %d labels for B=%d", lines, len(b.Labels), b.B)
			}
		case "ner":
			if len(b.TokenLabels) != b.B*b.T {
				t.Fatalf("line %d: a ner batch with %d token labels for B·T=%d", lines, len(b.TokenLabels), b.B*b.T)
			}
		default:
			t.Fatalf("line %d: task %q", lines, b.Task)
		}
		for _, m := range b.Mask {
			real += int64(m)
		}
	}
	if lines != cfg.Steps*cfg.Accumulate {
		t.Fatalf("%d batch lines for %d steps of %d micro-batches", lines, cfg.Steps, cfg.Accumulate)
	}
	if real != s.Tokens {
		t.Fatalf("the lines hold %d real tokens, the run counted %d", real, s.Tokens)
	}
}

// TestSparseEmbeddingsMatchDense: a run with train.sparse_embeddings ends
// with the dense run's weights. The rows a batch reads are brought up to
// date before the forward pass, so both runs compute with the same weights;
// what may differ is float rounding (the clipping norm is summed in another
// grouping) and Adam terms below 1e-10 that the catch-up drops
// (model/lazy.go), which Adam's normalisation can amplify for near-zero
// gradients, hence a tolerance rather than bit equality.
func TestSparseEmbeddingsMatchDense(t *testing.T) {
	data := synthData(t, 96)
	dense := baseConfig(data, filepath.Join(t.TempDir(), "dense"))
	dense.Steps = 30
	sparse := dense
	sparse.Out, sparse.SparseEmbeddings = filepath.Join(t.TempDir(), "sparse"), true
	for _, c := range []Config{dense, sparse} {
		if _, err := Train(context.Background(), c); err != nil {
			t.Fatal(err)
		}
	}
	a, b := loadWeights(t, filepath.Join(dense.Out, "last")), loadWeights(t, filepath.Join(sparse.Out, "last"))
	var worst float64
	for i := range a {
		for j := range a[i].W {
			worst = max(worst, math.Abs(float64(a[i].W[j]-b[i].W[j])))
		}
	}
	t.Logf("largest weight difference sparse vs dense after %d steps: %.3g", dense.Steps, worst)
	if worst > 1e-6 {
		t.Fatalf("sparse and dense embeddings end %g apart", worst)
	}
}

package trainer

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
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

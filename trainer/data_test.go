package trainer

import (
	"context"
	"testing"

	"github.com/taskweave/taskweave/model"
)

func exampleOfLen(n int) example {
	e := example{ids: make([]int32, n), tokLabels: make([]int32, n)}
	for i := range e.ids {
		e.ids[i] = int32(5 + i)
		e.tokLabels[i] = 1
	}
	e.tokLabels[0] = model.IgnoreIndex
	return e
}

func TestMakeBatches(t *testing.T) {
	tok := &taskData{name: "ner", kind: model.TokenClassification, numLabels: 3}
	lens := []int{9, 3, 4, 12, 3, 5}
	cases := []struct {
		name   string
		cfg    batchConfig
		shapes [][2]int // B, T per batch, in sorted order
	}{
		{"examples", batchConfig{examples: 4}, [][2]int{{4, 5}, {2, 12}}},
		// Sorted 3,3,4,5,9,12; budget 12 padded tokens: 3×4 = 12, then 5,9 → 2×9 = 18 > 12, so 1×5, 1×9, 1×12.
		{"tokens", batchConfig{tokens: 12}, [][2]int{{3, 4}, {1, 5}, {1, 9}, {1, 12}}},
		{"fixed length", batchConfig{examples: 3, padTo: 16}, [][2]int{{3, 16}, {3, 16}}},
	}
	for _, c := range cases {
		var pool []example
		for _, n := range lens {
			pool = append(pool, exampleOfLen(n))
		}
		bs := makeBatches(tok, pool, c.cfg)
		if len(bs) != len(c.shapes) {
			t.Fatalf("%s: %d batches, want %d", c.name, len(bs), len(c.shapes))
		}
		total := 0
		for i, b := range bs {
			if b.B != c.shapes[i][0] || b.T != c.shapes[i][1] {
				t.Fatalf("%s: batch %d is %d×%d, want %d×%d", c.name, i, b.B, b.T, c.shapes[i][0], c.shapes[i][1])
			}
			for r := 0; r < b.B; r++ {
				real := 0
				for j := 0; j < b.T; j++ {
					k := r*b.T + j
					if b.Mask[k] == 1 {
						real++
						if b.InputIDs[k] != int32(5+j) {
							t.Fatalf("%s: token %d of row %d is %d", c.name, j, r, b.InputIDs[k])
						}
					} else if b.InputIDs[k] != 0 || b.TokenLabels[k] != model.IgnoreIndex {
						t.Fatalf("%s: padding at row %d col %d is id %d label %d, want 0 and -100", c.name, r, j, b.InputIDs[k], b.TokenLabels[k])
					}
				}
				total += real
			}
		}
		if total != 3+3+4+5+9+12 {
			t.Fatalf("%s: %d real tokens in batches, want 36", c.name, total)
		}
	}
}

// The batch stream is a pure function of the seed, visits every example
// once per epoch, and a different seed gives a different order.
func TestStreamDeterministicEpochs(t *testing.T) {
	data := synthData(t, 50)
	man, manPath, err := readManifest(context.Background(), data)
	if err != nil {
		t.Fatal(err)
	}
	td := &taskData{name: "sent", kind: model.SequenceClassification, numLabels: 2, trainN: 50}
	if td.train, err = man.ShardPaths(manPath, "sent", "train"); err != nil {
		t.Fatal(err)
	}
	bc := batchConfig{examples: 5, pool: 2, shuffle: 8, maxLen: 512, vocab: testVocab}
	seq := func(seed uint64, batches int) (order []string, epochs int) {
		s := newStream(context.Background(), td, bc, seed)
		for i := 0; i < batches; i++ {
			b, err := s.Next()
			if err != nil {
				t.Fatal(err)
			}
			for r := 0; r < b.B; r++ {
				order = append(order, string(rune(b.InputIDs[r*b.T+1]))+string(rune(b.InputIDs[r*b.T+2]))+string(rune(b.T)))
			}
		}
		return order, s.epoch
	}
	a, ea := seq(1, 20)
	b, _ := seq(1, 20)
	c, _ := seq(2, 20)
	// 100 examples of 50 plus the shuffle buffer's read-ahead: into the third epoch.
	if len(a) != 100 || ea != 2 {
		t.Fatalf("drew %d examples ending in epoch index %d; want 100 ending in epoch 2", len(a), ea)
	}
	diff := false
	for i := range a {
		if a[i] != b[i] {
			t.Fatalf("same seed, different example %d", i)
		}
		diff = diff || a[i] != c[i]
	}
	if !diff {
		t.Fatal("seeds 1 and 2 give the same order")
	}
}

package model

import (
	"slices"
	"testing"
)

// Token dropout at p = 1 is exactly the model run on the batch with every
// non-kept real token replaced by [UNK] (same loss, same gradients, which go
// to the [UNK] row), and evaluation forwards are untouched.
func TestTokenDropout(t *testing.T) {
	const unk = 1
	keep := []int32{2, 3} // [CLS] and [SEP] of fdBatch
	b := fdBatch("ner")
	replaced := *b
	replaced.InputIDs = slices.Clone(b.InputIDs)
	for i, id := range replaced.InputIDs {
		if b.Mask[i] == 1 && id != 2 && id != 3 {
			replaced.InputIDs[i] = unk
		}
	}

	dropped := fdModel(t)
	dropped.SetTraining(true)
	dropped.SetTokenDropout(1, unk, keep...)
	want := fdModel(t)
	want.SetTraining(true)
	// The replacement draws one key from the dropout stream; skip it so the
	// hidden-dropout masks match.
	want.SetRNGState(RNGState{Seed: 3, Counter: 1})

	o1, err := dropped.Forward(b)
	if err != nil {
		t.Fatal(err)
	}
	o2, err := want.Forward(&replaced)
	if err != nil {
		t.Fatal(err)
	}
	if o1.Loss != o2.Loss {
		t.Fatalf("loss %g with token dropout p=1, %g on the replaced batch", o1.Loss, o2.Loss)
	}
	if err := dropped.Backward(1); err != nil {
		t.Fatal(err)
	}
	if err := want.Backward(1); err != nil {
		t.Fatal(err)
	}
	g1, g2 := dropped.Param("embeddings.word_embeddings.weight").G, want.Param("embeddings.word_embeddings.weight").G
	H := dropped.Config().HiddenSize
	if !slices.Equal(g1, g2) {
		t.Fatal("word-embedding gradients differ")
	}
	if slices.Equal(g1[unk*H:(unk+1)*H], make([]float32, H)) || !slices.Equal(g1[5*H:6*H], make([]float32, H)) {
		t.Fatal("gradient should reach the [UNK] row and not the replaced token 5")
	}

	// Evaluation ignores token dropout.
	dropped.SetTraining(false)
	want.SetTraining(false)
	e1, _ := dropped.Forward(b)
	l1 := e1.Loss
	e2, _ := want.Forward(b)
	if l1 != e2.Loss {
		t.Fatalf("evaluation loss %g with token dropout set, %g without", l1, e2.Loss)
	}
}

// At p = 0.15 about 15% of the replaceable tokens go, never a kept id or a
// padding position, and the same stream position replaces the same tokens.
func TestTokenDropoutRate(t *testing.T) {
	m := fdModel(t)
	m.SetTokenDropout(0.15, 1, 2, 3)
	ids := make([]int32, 200000)
	mask := make([]int32, len(ids))
	for i := range ids {
		ids[i] = int32(2 + i%20)
		mask[i] = int32(i % 7 % 2) // some padding
	}
	orig := slices.Clone(ids)
	m.SetRNGState(RNGState{Seed: 9})
	m.dropTokens(ids, mask)
	again := slices.Clone(orig)
	m.SetRNGState(RNGState{Seed: 9})
	m.dropTokens(again, mask)
	if !slices.Equal(ids, again) {
		t.Fatal("same stream position, different replacements")
	}
	n, dropped := 0, 0
	for i, id := range orig {
		switch {
		case mask[i] == 0 || id == 2 || id == 3:
			if ids[i] != id {
				t.Fatalf("position %d (id %d, mask %d) was replaced", i, id, mask[i])
			}
		default:
			n++
			if ids[i] == 1 {
				dropped++
			}
		}
	}
	if r := float64(dropped) / float64(n); r < 0.145 || r > 0.155 {
		t.Fatalf("replaced %.4f of the tokens at p=0.15", r)
	}
}

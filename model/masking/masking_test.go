package masking

import (
	"fmt"
	"math"
	"math/rand/v2"
	"slices"
	"testing"

	"github.com/taskweave/taskweave/model"
)

// vocab is a small BERT-like vocabulary: specials, 600 words, 400 "##" pieces.
func vocab() []string {
	v := []string{"[PAD]", "[unused0]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"}
	for i := 0; i < 600; i++ {
		v = append(v, fmt.Sprintf("w%d", i))
	}
	for i := 0; i < 400; i++ {
		v = append(v, fmt.Sprintf("##p%d", i))
	}
	return v
}

// sentence draws [CLS] pieces… [SEP] with about a third continuation pieces.
func sentence(r *rand.Rand, n int) []int32 {
	ids := []int32{3}
	for len(ids) < n-1 {
		if len(ids) > 1 && r.IntN(3) == 0 {
			ids = append(ids, int32(606+r.IntN(400)))
		} else {
			ids = append(ids, int32(6+r.IntN(600)))
		}
	}
	return append(ids, 4)
}

// Over 100k word pieces the shares are within one percentage point of
// 15% chosen and, of the chosen, 80% [MASK], 10% random, 10% unchanged.
func TestMaskingStatistics(t *testing.T) {
	m, err := New(vocab(), false)
	if err != nil {
		t.Fatal(err)
	}
	data := rand.New(rand.NewPCG(1, 2))
	rng := rand.New(rand.NewPCG(3, 4))
	var eligible, chosen, masked, random, kept int
	for eligible < 100_000 {
		ids := sentence(data, 5+data.IntN(60))
		orig := slices.Clone(ids)
		labels := make([]int32, len(ids))
		n := m.Row(ids, labels, rng)
		got := 0
		for i := range ids {
			if i > 0 && i < len(ids)-1 {
				eligible++
			}
			if labels[i] == model.IgnoreIndex {
				if ids[i] != orig[i] {
					t.Fatalf("position %d changed (%d → %d) without a label", i, orig[i], ids[i])
				}
				continue
			}
			got++
			if labels[i] != orig[i] {
				t.Fatalf("label %d at %d, want the original id %d", labels[i], i, orig[i])
			}
			switch {
			case i == 0 || i == len(ids)-1:
				t.Fatalf("[CLS]/[SEP] at %d was chosen", i)
			case ids[i] == 5:
				masked++
			case ids[i] == orig[i]:
				kept++
			default:
				random++
				if ids[i] < 6 {
					t.Fatalf("random replacement by special id %d", ids[i])
				}
			}
		}
		if got != n {
			t.Fatalf("Row returned %d, labelled %d", n, got)
		}
		chosen += got
	}
	share := func(a, b int) float64 { return float64(a) / float64(b) }
	for _, c := range []struct {
		what      string
		got, want float64
	}{
		{"chosen", share(chosen, eligible), 0.15},
		{"[MASK]", share(masked, chosen), 0.8},
		{"random", share(random, chosen), 0.1},
		{"unchanged", share(kept, chosen), 0.1},
	} {
		if math.Abs(c.got-c.want) > 0.01 {
			t.Errorf("%s share %.4f, want %.2f ± 0.01 (%d eligible, %d chosen)", c.what, c.got, c.want, eligible, chosen)
		}
	}
	t.Logf("%d eligible pieces: chosen %.4f; of those [MASK] %.4f, random %.4f, unchanged %.4f",
		eligible, share(chosen, eligible), share(masked, chosen), share(random, chosen), share(kept, chosen))
}

// Whole-word masking labels every piece of a chosen word and none of the
// others, and still chooses about 15% of the words.
func TestWholeWordMasking(t *testing.T) {
	v := vocab()
	m, err := New(v, true)
	if err != nil {
		t.Fatal(err)
	}
	data := rand.New(rand.NewPCG(5, 6))
	rng := rand.New(rand.NewPCG(7, 8))
	words, chosenWords := 0, 0
	for words < 20_000 {
		ids := sentence(data, 40)
		orig := slices.Clone(ids)
		labels := make([]int32, len(ids))
		m.Row(ids, labels, rng)
		for i := 1; i < len(ids)-1; {
			j := i + 1
			for j < len(ids)-1 && orig[j] >= 606 {
				j++
			}
			words++
			n := 0
			for k := i; k < j; k++ {
				if labels[k] != model.IgnoreIndex {
					n++
				}
			}
			if n != 0 && n != j-i {
				t.Fatalf("word %v: %d of its %d pieces labelled", orig[i:j], n, j-i)
			}
			if n > 0 {
				chosenWords++
			}
			i = j
		}
	}
	if s := float64(chosenWords) / float64(words); math.Abs(s-0.15) > 0.01 {
		t.Errorf("whole words chosen: %.4f, want 0.15 ± 0.01", s)
	}
}

// The same generator state gives the same masks (what --resume relies on);
// a batch where nothing was chosen gets one forced piece; padding is never
// touched.
func TestBatchDeterministicForcedAndPadding(t *testing.T) {
	m, err := New(vocab(), false)
	if err != nil {
		t.Fatal(err)
	}
	mk := func() *model.Batch {
		b := &model.Batch{B: 2, T: 6, InputIDs: []int32{3, 10, 11, 4, 0, 0, 3, 12, 13, 14, 15, 4},
			Mask: []int32{1, 1, 1, 1, 0, 0, 1, 1, 1, 1, 1, 1}}
		return b
	}
	a, b := mk(), mk()
	m.Batch(a, rand.New(rand.NewPCG(9, 9)))
	m.Batch(b, rand.New(rand.NewPCG(9, 9)))
	if !slices.Equal(a.InputIDs, b.InputIDs) || !slices.Equal(a.TokenLabels, b.TokenLabels) {
		t.Fatalf("same seed, different masks: %v %v vs %v %v", a.InputIDs, a.TokenLabels, b.InputIDs, b.TokenLabels)
	}
	// 8 eligible pieces: about 0.85^8 = 27% of seeds choose none on their
	// own, so without Force some of these batches would have no label.
	for seed := uint64(0); seed < 200; seed++ {
		c := mk()
		n := m.Batch(c, rand.New(rand.NewPCG(seed, 1)))
		got := 0
		for i, l := range c.TokenLabels {
			if l != model.IgnoreIndex {
				got++
				if c.Mask[i] == 0 || i%6 == 0 || c.InputIDs[i] == 4 && l == 4 {
					t.Fatalf("seed %d: position %d (padding or special) labelled", seed, i)
				}
			}
		}
		if n < 1 || got != n {
			t.Fatalf("seed %d: %d labelled, Batch says %d; want at least 1", seed, got, n)
		}
		if c.InputIDs[4] != 0 || c.InputIDs[5] != 0 {
			t.Fatalf("seed %d: padding changed: %v", seed, c.InputIDs)
		}
	}
	if _, err := New([]string{"[PAD]", "a"}, false); err == nil {
		t.Fatal("a vocabulary without [MASK] was accepted")
	}
}

// With ReplaceAll (ELECTRA's generator input) every chosen piece is
// [MASK] and still about 15% are chosen; unchosen pieces are untouched.
func TestReplaceAll(t *testing.T) {
	m, err := New(vocab(), false)
	if err != nil {
		t.Fatal(err)
	}
	m.ReplaceAll()
	data, rng := rand.New(rand.NewPCG(1, 2)), rand.New(rand.NewPCG(3, 4))
	var eligible, chosen int
	for eligible < 50_000 {
		ids := sentence(data, 5+data.IntN(60))
		orig := slices.Clone(ids)
		labels := make([]int32, len(ids))
		chosen += m.Row(ids, labels, rng)
		eligible += len(ids) - 2
		for i := range ids {
			switch {
			case labels[i] == model.IgnoreIndex && ids[i] != orig[i]:
				t.Fatalf("position %d changed without a label", i)
			case labels[i] != model.IgnoreIndex && (ids[i] != 5 || labels[i] != orig[i]):
				t.Fatalf("chosen position %d holds %d (label %d, original %d); want [MASK] labelled with the original", i, ids[i], labels[i], orig[i])
			}
		}
	}
	if share := float64(chosen) / float64(eligible); math.Abs(share-Prob) > 0.01 {
		t.Errorf("chose %.4f of the pieces, want %.2f", share, Prob)
	}
}

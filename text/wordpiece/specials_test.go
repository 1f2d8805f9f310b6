package wordpiece

import (
	"slices"
	"testing"
)

func TestSpecials(t *testing.T) {
	for _, tc := range []struct {
		vocab   []string
		unk     int32
		special []int32
		err     bool
	}{
		{[]string{"[PAD]", "[unused0]", "[UNK]", "[CLS]", "[SEP]", "[MASK]", "the", "##s", "[", "[]"}, 2, []int32{0, 1, 2, 3, 4, 5}, false},
		{[]string{"[PAD]", "a"}, 0, nil, true},
	} {
		unk, special, err := Specials(tc.vocab)
		if (err != nil) != tc.err {
			t.Fatalf("Specials(%q): err %v, want error %v", tc.vocab, err, tc.err)
		}
		if err == nil && (unk != tc.unk || !slices.Equal(special, tc.special)) {
			t.Errorf("Specials(%q) = %d, %v; want %d, %v", tc.vocab, unk, special, tc.unk, tc.special)
		}
	}
}

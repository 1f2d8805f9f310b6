package wordpiece

import (
	"fmt"
)

// Specials finds, in a vocabulary in id order, the [UNK] id and the id of
// every bracketed special entry ([CLS], [SEP], [PAD], [MASK], [unused…]):
// what token dropout replaces tokens by and what it must never replace.
func Specials(vocab []string) (unk int32, special []int32, err error) {
	unk = -1
	for i, w := range vocab {
		if len(w) > 2 && w[0] == '[' && w[len(w)-1] == ']' {
			special = append(special, int32(i))
			if w == "[UNK]" {
				unk = int32(i)
			}
		}
	}
	if unk < 0 {
		return 0, nil, fmt.Errorf("wordpiece: vocabulary has no [UNK] entry")
	}
	return unk, special, nil
}

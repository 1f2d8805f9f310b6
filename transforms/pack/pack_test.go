package pack

import (
	"fmt"
	"reflect"
	"slices"
	"strings"
	"testing"

	"github.com/taskweave/taskweave/transforms/writeshards"
)

func TestPack(t *testing.T) {
	s := func(id string, p ...int32) Sentence { return Sentence{ID: id, Pieces: p} }
	for _, c := range []struct {
		name   string
		sents  []Sentence
		maxLen int
		want   [][]int32
	}{
		{"one short sentence", []Sentence{s("f:1", 5, 6)}, 6, [][]int32{{1, 5, 6, 2}}},
		{"sentences run together and split at the cut", []Sentence{s("f:1", 5, 6, 7), s("f:2", 8, 9, 10, 11)}, 6,
			[][]int32{{1, 5, 6, 7, 8, 2}, {1, 9, 10, 11, 2}}},
		{"exact fill leaves no empty tail", []Sentence{s("f:1", 5, 6), s("f:2", 7, 8)}, 6, [][]int32{{1, 5, 6, 7, 8, 2}}},
		{"a sentence longer than a sequence spreads", []Sentence{s("f:1", 5, 6, 7, 8, 9, 10, 11, 12, 13)}, 5,
			[][]int32{{1, 5, 6, 7, 2}, {1, 8, 9, 10, 2}, {1, 11, 12, 13, 2}}},
		{"empty sentences add nothing", []Sentence{s("f:1"), s("f:2", 5), s("f:3")}, 8, [][]int32{{1, 5, 2}}},
		{"nothing in, nothing out", nil, 8, nil},
	} {
		t.Run(c.name, func(t *testing.T) {
			if got := Pack(c.sents, c.maxLen, 1, 2); !reflect.DeepEqual(got, c.want) {
				t.Fatalf("Pack = %v, want %v", got, c.want)
			}
		})
	}
}

func TestDocKey(t *testing.T) {
	for _, c := range []struct{ task, id, want string }{
		{"brown", "ca01:1", "brown/ca01/0"},
		{"brown", "ca01:255", "brown/ca01/0"},
		{"brown", "ca01:256", "brown/ca01/1"},
		{"ner", "train.txt:300#w2", "ner/train.txt/1"},
		{"sst2", "a:b:c", "sst2/a:b/0"}, // an own id that is not a number: the file alone
		{"sst2", "no-colon", "sst2/no-colon/0"},
	} {
		if got := DocKey(c.task, c.id); got != c.want {
			t.Errorf("DocKey(%q, %q) = %q, want %q", c.task, c.id, got, c.want)
		}
	}
}

// A spilled sentence id carries the document's hash, key and the
// sentence's id, and reads back into them; ids of one document sort by the
// sentence's id (file order), and no two documents' ids interleave even
// when their names are equal as numbers (x1, x01).
func TestSentenceID(t *testing.T) {
	h, k, id, err := parseSentenceID(sentenceID("story/x1.txt/0", "x1.txt:7#w1"))
	if err != nil || k != "story/x1.txt/0" || id != "x1.txt:7#w1" || len(h) != 20 {
		t.Fatalf("parse: %q %q %q %v", h, k, id, err)
	}
	if _, _, _, err := parseSentenceID("no separators"); err == nil {
		t.Fatal("a malformed id parsed")
	}
	var ids []string
	for _, doc := range []string{"story/x1.txt/0", "story/x01.txt/0", "story/x12.txt/0"} {
		for _, n := range []int{10, 2, 9, 1} {
			ids = append(ids, sentenceID(doc, fmt.Sprintf("%s:%d", strings.Split(doc, "/")[1], n)))
		}
	}
	slices.SortFunc(ids, writeshards.NaturalCompare)
	seen, last := map[string]bool{}, ""
	prev := ""
	for _, s := range ids {
		_, k, id, _ := parseSentenceID(s)
		if k != last {
			if seen[k] {
				t.Fatalf("document %s comes back after another: %q", k, ids)
			}
			seen[k], last, prev = true, k, ""
		}
		if prev != "" && writeshards.NaturalCompare(prev, id) >= 0 {
			t.Fatalf("in %s, %s sorts after %s", k, prev, id)
		}
		prev = id
	}
}

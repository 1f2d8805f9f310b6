package spec

import (
	"math"
	"strings"
	"testing"
)

// TestJobNameIsAName: `name: ../../../tmp/evil` wrote outside the output
// tree, and empty names and names with a newline were accepted (issue
// 26). A job name is letters, digits, - _ and . (not first), at most 64
// characters, and the error names the line.
func TestJobNameIsAName(t *testing.T) {
	body := strings.Replace(minimal, "\nname: t\n", "\n", 1) // minimal without its name; line 2 is free
	for _, c := range []struct {
		name, line string
		want       []string // empty: accepted
	}{
		{"plain", "name: wnut17-ewt_v2.1", nil},
		{"64 characters", "name: " + strings.Repeat("a", 64), nil},
		{"parent path", "name: ../../../tmp/evil", []string{"line 2: name:", `"../../../tmp/evil" starts with '.'`}},
		{"slash", "name: a/b", []string{"line 2: name:", `contains '/'`}},
		{"empty", `name: ""`, []string{"line 2: name:", "is empty"}},
		{"missing", "", []string{"name:", "is empty"}},
		{"newline", `name: "a\nb"`, []string{"line 2: name:", `contains '\n'`}},
		{"hidden", "name: .x", []string{"line 2: name:", "starts with '.'"}},
		{"65 characters", "name: " + strings.Repeat("a", 65), []string{"line 2: name:", "65 characters; a name has at most 64"}},
		{"space", "name: my job", []string{"line 2: name:", `contains ' '`}},
		{"non-ASCII", "name: jöb", []string{"line 2: name:", `contains 'ö'`}},
	} {
		t.Run(c.name, func(t *testing.T) {
			doc := "\n" + c.line + body
			if c.want == nil {
				if _, err := Parse([]byte(doc), "/jobs"); err != nil {
					t.Fatalf("refused: %v", err)
				}
				return
			}
			wantErrors(t, doc, c.want)
		})
	}
	wantErrors(t, strings.Replace(minimal, "name: sst2", "name: \"../x\"", 1), []string{"line 6: tasks[0].name:", `"../x" is not a valid task name: it starts with '.'`})
}

// TestVocabTruncationKey: model.allow_vocab_truncation is read, and
// refused without model.init, where it would mean nothing.
func TestVocabTruncationKey(t *testing.T) {
	s, err := Parse([]byte(minimal+"model:\n  init: bert-base-cased\n  allow_vocab_truncation: true\n"), "/jobs")
	if err != nil {
		t.Fatal(err)
	}
	if !s.Model.AllowVocabTruncation {
		t.Fatal("model.allow_vocab_truncation: true not read")
	}
	wantErrors(t, minimal+"model:\n  allow_vocab_truncation: true\n", []string{"line 13: model.allow_vocab_truncation:", "model.init is not set"})
}

// TestFlagErrorsNameTheFlag: `train --lr NaN` was reported as the spec's
// line of train.lr (issue 26).
func TestFlagErrorsNameTheFlag(t *testing.T) {
	s, err := Parse([]byte(minimal+"train:\n  lr: 0.001\n"), "/jobs")
	if err != nil {
		t.Fatal(err)
	}
	s.Train.LR = math.NaN()
	s.SetByFlag("train.lr", "--lr")
	err = s.Validate()
	if err == nil || !strings.HasPrefix(err.Error(), "--lr sets train.lr: ") || strings.Contains(err.Error(), "line 13") {
		t.Fatalf("err = %v; want it to name --lr, not the spec line", err)
	}
}

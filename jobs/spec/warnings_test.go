package spec

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestWarnings: validate now warns about a split reading another split's
// file (same path, or a hard link) and eval_every past steps; a plain spec
// gets no warning.
func TestWarnings(t *testing.T) {
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "dev.tsv"), []byte("x\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.Link(filepath.Join(dir, "dev.tsv"), filepath.Join(dir, "test.tsv")); err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		name, yaml string
		want       []string
	}{
		{"plain", minimal, nil},
		{"same path", strings.Replace(minimal, "validation: [dev.tsv]", "validation: [dev.tsv]\n      test: [dev.tsv]", 1),
			[]string{"line 12: tasks[0].paths.test: reads dev.tsv, which the validation split reads too"}},
		{"hard link", strings.Replace(minimal, "validation: [dev.tsv]", "validation: [dev.tsv]\n      test: [test.tsv]", 1),
			[]string{"line 12: tasks[0].paths.test: reads test.tsv, which the validation split reads too"}},
		{"eval_every past steps", minimal + "train:\n  steps: 300\n  eval_every: 500\n",
			[]string{"line 14: train.eval_every: 500 is more than train.steps (300)"}},
	} {
		t.Run(c.name, func(t *testing.T) {
			s, err := Parse([]byte(c.yaml), dir)
			if err != nil {
				t.Fatal(err)
			}
			got := s.Warnings()
			if len(got) != len(c.want) {
				t.Fatalf("warnings %q; want %d", got, len(c.want))
			}
			for i, w := range c.want {
				if !strings.HasPrefix(got[i], w) {
					t.Errorf("warning %q; want it to start %q", got[i], w)
				}
			}
		})
	}
}

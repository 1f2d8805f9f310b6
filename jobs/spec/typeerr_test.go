package spec

import (
	"strings"
	"testing"
)

// TestTypeErrorsInSpecWords: a value of the wrong type was reported in Go
// ("cannot unmarshal []interface {} into Go struct field Spec.Schedule of
// type string", issue 26); now with the line, the key and YAML's words.
func TestTypeErrorsInSpecWords(t *testing.T) {
	for _, c := range []struct{ name, yaml, want string }{
		{"list for a string", minimal + "schedule: [1, 2]\n", "line 12: schedule: want a string, found a list"},
		{"list for a number", minimal + "train:\n  batch_size: [3]\n", "line 13: train.batch_size: want a whole number, found a list"},
		{"word for a number", minimal + "train:\n  steps: many\n", "line 13: train.steps: want a whole number, found a string"},
	} {
		t.Run(c.name, func(t *testing.T) {
			_, err := Parse([]byte(c.yaml), "/jobs")
			if err == nil || !strings.HasPrefix(err.Error(), c.want) || strings.Contains(err.Error(), "Go struct") {
				t.Fatalf("err = %v; want it to start %q", err, c.want)
			}
		})
	}
}

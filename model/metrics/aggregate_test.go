package metrics

import (
	"strings"
	"testing"
)

func TestAggregate(t *testing.T) {
	scores := map[string]float64{"a": 0.9, "b": 0.6, "lm": 0.1}
	tasks := []string{"a", "b"} // lm is auxiliary: not folded
	cases := []struct {
		name string
		want float64
		err  string
	}{
		{"mean", 0.75, ""},
		{"min", 0.6, ""},
		{"a", 0.9, ""},
		{"b", 0.6, ""},
		{"lm", 0, "name of a scored task (a, b)"},
		{"median", 0, "use mean, min"},
	}
	for _, c := range cases {
		got, err := Aggregate(c.name, scores, tasks)
		if c.err != "" {
			if err == nil || !strings.Contains(err.Error(), c.err) {
				t.Errorf("Aggregate(%s) error %v, want one containing %q", c.name, err, c.err)
			}
			continue
		}
		if err != nil || got != c.want {
			t.Errorf("Aggregate(%s) = %v, %v; want %v", c.name, got, err, c.want)
		}
	}
	if _, err := Aggregate("mean", scores, nil); err == nil {
		t.Error("mean over no task gave no error")
	}
}

package registry

import (
	"strings"
	"testing"
)

func TestGate(t *testing.T) {
	cases := []struct {
		name      string
		cand, inc map[string]float64
		aux       map[string]bool
		promote   bool
		reason    string
	}{
		{"first model", map[string]float64{"a": 0.5}, nil, nil, true, "no model in production"},
		{"better on all", map[string]float64{"a": 0.8, "b": 0.7}, map[string]float64{"a": 0.7, "b": 0.7}, nil, true, "promoted: mean 0.7500 > production's 0.7000"},
		{"one task falls past tolerance", map[string]float64{"a": 0.95, "b": 0.68}, map[string]float64{"a": 0.7, "b": 0.7}, nil, false, "b fell 0.7000 → 0.6800"},
		{"fall within tolerance, mean up", map[string]float64{"a": 0.8, "b": 0.695}, map[string]float64{"a": 0.7, "b": 0.7}, nil, true, "promoted"},
		{"equal is not better", map[string]float64{"a": 0.7}, map[string]float64{"a": 0.7}, nil, false, "does not improve"},
		{"auxiliary fall ignored", map[string]float64{"a": 0.8, "lm": 0.1}, map[string]float64{"a": 0.7, "lm": 0.9}, map[string]bool{"lm": true}, true, "promoted"},
		{"worse model", map[string]float64{"a": 0.5}, map[string]float64{"a": 0.9}, nil, false, "a fell"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			d := Gate(c.cand, c.inc, c.aux, 0.01)
			if d.Promote != c.promote || !strings.Contains(d.Reason, c.reason) {
				t.Fatalf("Gate = %+v; want promote=%v reason containing %q", d, c.promote, c.reason)
			}
		})
	}
}

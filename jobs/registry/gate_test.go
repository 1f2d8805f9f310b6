package registry

import (
	"math"
	"testing"
)

func TestGate(t *testing.T) {
	type ev = Evaluation
	sc := func(kv ...any) map[string]float64 {
		m := map[string]float64{}
		for i := 0; i < len(kv); i += 2 {
			m[kv[i].(string)] = kv[i+1].(float64)
		}
		return m
	}
	n := func(kv ...any) map[string]int64 {
		m := map[string]int64{}
		for i := 0; i < len(kv); i += 2 {
			m[kv[i].(string)] = int64(kv[i+1].(int))
		}
		return m
	}
	cases := []struct {
		name    string
		cand    ev
		inc     *ev
		metric  string
		aux     map[string]bool
		promote bool
		code    string
		agg     float64 // candidate's aggregate; NaN = not computed
		incAgg  float64
	}{
		{"first model", ev{Scores: sc("a", 0.5)}, nil, "mean", nil, true, CodeFirst, 0.5, 0},
		{"better on all", ev{Scores: sc("a", 0.8, "b", 0.7)}, &ev{Scores: sc("a", 0.7, "b", 0.7)}, "mean", nil, true, CodeBetter, 0.75, 0.7},
		{"one task falls past tolerance", ev{Scores: sc("a", 0.95, "b", 0.68)}, &ev{Scores: sc("a", 0.7, "b", 0.7)}, "mean", nil, false, CodeTaskFell, 0.815, 0.7},
		{"fall within tolerance, mean up", ev{Scores: sc("a", 0.8, "b", 0.695)}, &ev{Scores: sc("a", 0.7, "b", 0.7)}, "mean", nil, true, CodeBetter, 0.7475, 0.7},
		{"equal is not better", ev{Scores: sc("a", 0.7)}, &ev{Scores: sc("a", 0.7)}, "mean", nil, false, CodeNotBetter, 0.7, 0.7},
		{"auxiliary fall ignored", ev{Scores: sc("a", 0.8, "lm", 0.1)}, &ev{Scores: sc("a", 0.7, "lm", 0.9)}, "mean", map[string]bool{"lm": true}, true, CodeBetter, 0.8, 0.7},
		{"worse model", ev{Scores: sc("a", 0.5)}, &ev{Scores: sc("a", 0.9)}, "mean", nil, false, CodeTaskFell, 0.5, 0.9},
		{"only auxiliary tasks", ev{Scores: sc("lm", 0.5)}, nil, "mean", map[string]bool{"lm": true}, false, CodeNoTasks, math.NaN(), 0},
		{"new tasks only", ev{Scores: sc("b", 0.5)}, &ev{Scores: sc("a", 0.9)}, "mean", nil, true, CodeNewTasks, 0.5, 0},

		// registry.metric decides which figure must improve. The same scores
		// pass under mean (0.7525 > 0.75) and fail under min (0.695 < 0.7)
		// and under "a" (0.695 < 0.70): min and a single task are not the mean.
		{"metric mean", ev{Scores: sc("a", 0.695, "b", 0.81)}, &ev{Scores: sc("a", 0.7, "b", 0.8)}, "mean", nil, true, CodeBetter, 0.7525, 0.75},
		{"metric min", ev{Scores: sc("a", 0.695, "b", 0.81)}, &ev{Scores: sc("a", 0.7, "b", 0.8)}, "min", nil, false, CodeNotBetter, 0.695, 0.7},
		{"metric task a", ev{Scores: sc("a", 0.695, "b", 0.81)}, &ev{Scores: sc("a", 0.7, "b", 0.8)}, "a", nil, false, CodeNotBetter, 0.695, 0.7},
		{"metric task b", ev{Scores: sc("a", 0.695, "b", 0.81)}, &ev{Scores: sc("a", 0.7, "b", 0.8)}, "b", nil, true, CodeBetter, 0.81, 0.8},
		{"metric names an unscored task", ev{Scores: sc("a", 0.9)}, &ev{Scores: sc("a", 0.7)}, "ner", nil, false, CodeBadMetric, math.NaN(), math.NaN()},

		// Test records rejected upstream: the candidate is scored on fewer
		// examples than production's report, so a better figure proves nothing.
		{"fewer examples", ev{Scores: sc("a", 0.9), Examples: n("a", 95)}, &ev{Scores: sc("a", 0.7), Examples: n("a", 100)}, "mean", nil, false, CodeFewerExamples, 0.9, 0.7},
		{"as many examples", ev{Scores: sc("a", 0.9), Examples: n("a", 100)}, &ev{Scores: sc("a", 0.7), Examples: n("a", 100)}, "mean", nil, true, CodeBetter, 0.9, 0.7},
		{"more examples", ev{Scores: sc("a", 0.9), Examples: n("a", 120)}, &ev{Scores: sc("a", 0.7), Examples: n("a", 100)}, "mean", nil, true, CodeBetter, 0.9, 0.7},
		{"production's count unknown", ev{Scores: sc("a", 0.9), Examples: n("a", 95)}, &ev{Scores: sc("a", 0.7)}, "mean", nil, true, CodeBetter, 0.9, 0.7},
	}
	same := func(a, b float64) bool { return math.IsNaN(a) && math.IsNaN(b) || math.Abs(a-b) < 1e-12 }
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			d := Gate(c.cand, c.inc, Policy{Metric: c.metric, Tolerance: 0.01, Auxiliary: c.aux})
			if d.Promote != c.promote || d.Code != c.code {
				t.Fatalf("Gate: promote=%v code=%s (%s); want promote=%v code=%s", d.Promote, d.Code, d.Reason, c.promote, c.code)
			}
			if !same(d.Aggregate, c.agg) || (c.inc != nil && !same(d.IncumbentAggregate, c.incAgg)) {
				t.Fatalf("Gate aggregates %v vs %v; want %v vs %v", d.Aggregate, d.IncumbentAggregate, c.agg, c.incAgg)
			}
			if d.Reason == "" {
				t.Fatal("no reason given")
			}
		})
	}
}

package metrics

import (
	"fmt"
	"math"
	"slices"
	"sort"
	"strings"
)

// Aggregates are the names of the ways to fold per-task scores into one
// figure, besides naming a single task (train.select_metric and
// registry.metric take the same values).
var Aggregates = []string{"mean", "min"}

// Aggregate folds per-task primary scores into one figure: "mean" or "min"
// over tasks, or the name of one task for that task's score alone. tasks
// lists the tasks to fold (auxiliary tasks already left out).
func Aggregate(name string, scores map[string]float64, tasks []string) (float64, error) {
	if slices.Contains(Aggregates, name) {
		if len(tasks) == 0 {
			return 0, fmt.Errorf("aggregate %s: no task to aggregate", name)
		}
		sum, lo := 0.0, math.Inf(1)
		for _, t := range tasks {
			v, ok := scores[t]
			if !ok {
				return 0, fmt.Errorf("aggregate %s: no score for task %s", name, t)
			}
			sum += v
			lo = math.Min(lo, v)
		}
		if name == "min" {
			return lo, nil
		}
		return sum / float64(len(tasks)), nil
	}
	v, ok := scores[name]
	if !ok || !slices.Contains(tasks, name) {
		have := slices.Clone(tasks)
		sort.Strings(have)
		return 0, fmt.Errorf("aggregate %q: use %s, or the name of a scored task (%s)",
			name, strings.Join(Aggregates, ", "), strings.Join(have, ", "))
	}
	return v, nil
}

package registry

import (
	"fmt"
	"math"
	"sort"
	"strings"
)

// Decision is the promotion gate's verdict, with the reason spelt out for
// the run record.
type Decision struct {
	Promote            bool               `json:"promote"`
	Reason             string             `json:"reason"`
	Aggregate          float64            `json:"aggregate"`
	IncumbentAggregate float64            `json:"incumbent_aggregate,omitempty"`
	Deltas             map[string]float64 `json:"deltas,omitempty"`
}

// Gate compares a candidate's per-task scores with the incumbent's, measured
// on the same evaluation data. It promotes only if no (non-auxiliary) task
// falls by more than tolerance and the mean over those tasks improves.
// incumbent nil means nothing is in production yet.
func Gate(candidate, incumbent map[string]float64, auxiliary map[string]bool, tolerance float64) Decision {
	var tasks []string
	for t := range candidate {
		if !auxiliary[t] {
			tasks = append(tasks, t)
		}
	}
	sort.Strings(tasks)
	d := Decision{Aggregate: mean(candidate, tasks)}
	if len(tasks) == 0 {
		d.Reason = "candidate has no scored (non-auxiliary) task"
		return d
	}
	if incumbent == nil {
		d.Promote = true
		d.Reason = fmt.Sprintf("no model in production; candidate mean %.4f", d.Aggregate)
		return d
	}
	d.Deltas = map[string]float64{}
	var falls []string
	for _, t := range tasks {
		old, ok := incumbent[t]
		if !ok {
			continue // a new task cannot regress
		}
		delta := candidate[t] - old
		d.Deltas[t] = delta
		if delta < -tolerance {
			falls = append(falls, fmt.Sprintf("%s fell %.4f → %.4f (Δ %.4f, tolerance %.4f)", t, old, candidate[t], delta, tolerance))
		}
	}
	var shared []string
	for t := range d.Deltas {
		shared = append(shared, t)
	}
	sort.Strings(shared)
	d.Aggregate = mean(candidate, shared)
	d.IncumbentAggregate = mean(incumbent, shared)
	switch {
	case len(shared) == 0:
		d.Promote = true
		d.Reason = "incumbent scores none of the candidate's tasks"
	case len(falls) > 0:
		d.Reason = "not promoted: " + strings.Join(falls, "; ")
	case !(d.Aggregate > d.IncumbentAggregate):
		d.Reason = fmt.Sprintf("not promoted: mean %.4f does not improve on production's %.4f", d.Aggregate, d.IncumbentAggregate)
	default:
		d.Promote = true
		d.Reason = fmt.Sprintf("promoted: mean %.4f > production's %.4f, no task fell more than %.4f", d.Aggregate, d.IncumbentAggregate, tolerance)
	}
	return d
}

func mean(m map[string]float64, keys []string) float64 {
	if len(keys) == 0 {
		return math.NaN()
	}
	s := 0.0
	for _, k := range keys {
		s += m[k]
	}
	return s / float64(len(keys))
}

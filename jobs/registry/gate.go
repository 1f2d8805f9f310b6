package registry

import (
	"fmt"
	"math"
	"sort"
	"strings"

	"github.com/taskweave/taskweave/model/metrics"
)

// Decision codes: why the gate promoted a candidate or not. Code is stable
// for scripts and tests; Reason spells it out for people.
const (
	CodeFirst         = "first"          // promoted: nothing in production yet
	CodeNewTasks      = "new_tasks"      // promoted: production scores none of the candidate's tasks
	CodeBetter        = "better"         // promoted: the metric improves and no task fell past the tolerance
	CodeNoTasks       = "no_tasks"       // refused: the candidate scores no non-auxiliary task
	CodeFewerExamples = "fewer_examples" // refused: scored on fewer examples of a task than production's report
	CodeTaskFell      = "task_fell"      // refused: a task fell by more than the tolerance
	CodeNotBetter     = "not_better"     // refused: the metric does not improve
	CodeBadMetric     = "bad_metric"     // refused: the metric cannot be computed (e.g. it names a task not scored)
)

// Policy is the promotion rule: the spec's registry section.
type Policy struct {
	Metric    string  // mean | min | <task name>: the figure that must improve (metrics.Aggregate)
	Tolerance float64 // largest allowed drop of any single non-auxiliary task
	Auxiliary map[string]bool
}

// Evaluation is one model's figures on the evaluation split.
type Evaluation struct {
	Scores map[string]float64 // task → primary metric
	// Examples counts the labelled examples each task was scored on; nil
	// when unknown (a version registered before the count was kept).
	Examples map[string]int64
}

// Decision is the promotion gate's verdict, with the reason spelt out for
// the run record.
type Decision struct {
	Promote            bool               `json:"promote"`
	Code               string             `json:"code"`
	Reason             string             `json:"reason"`
	Aggregate          float64            `json:"aggregate"`
	IncumbentAggregate float64            `json:"incumbent_aggregate,omitempty"`
	Deltas             map[string]float64 `json:"deltas,omitempty"`
}

// Gate compares a candidate with the incumbent. Both are scored on the same
// evaluation data by the same run (candidate.Scores and incumbent.Scores);
// incumbent.Examples are the counts in the report production was promoted
// on. It promotes only if every task is scored on at least as many examples
// as production was (test records rejected upstream must not quietly shrink
// the test set), no non-auxiliary task falls by more than the tolerance, and
// the policy's metric improves. incumbent nil means nothing is in
// production yet.
func Gate(candidate Evaluation, incumbent *Evaluation, p Policy) Decision {
	var tasks []string
	for t := range candidate.Scores {
		if !p.Auxiliary[t] {
			tasks = append(tasks, t)
		}
	}
	sort.Strings(tasks)
	d := Decision{Aggregate: math.NaN()}
	if len(tasks) == 0 {
		d.Code, d.Reason = CodeNoTasks, "not promoted: the candidate has no scored (non-auxiliary) task"
		return d
	}
	if incumbent == nil {
		agg, err := metrics.Aggregate(p.Metric, candidate.Scores, tasks)
		if err != nil {
			d.Code, d.Reason = CodeBadMetric, "not promoted: registry.metric: "+err.Error()
			return d
		}
		d.Aggregate, d.Promote, d.Code = agg, true, CodeFirst
		d.Reason = fmt.Sprintf("promoted: no model in production; candidate %s %.4f", p.Metric, agg)
		return d
	}
	d.Deltas = map[string]float64{}
	var fewer, falls, shared []string
	for _, t := range tasks {
		old, ok := incumbent.Scores[t]
		if !ok {
			continue // a new task cannot regress
		}
		shared = append(shared, t)
		if n, ok := incumbent.Examples[t]; ok && candidate.Examples[t] < n {
			fewer = append(fewer, fmt.Sprintf("%s on %d examples, production's report had %d", t, candidate.Examples[t], n))
		}
		delta := candidate.Scores[t] - old
		d.Deltas[t] = delta
		if delta < -p.Tolerance {
			falls = append(falls, fmt.Sprintf("%s fell %.4f → %.4f (Δ %.4f, tolerance %.4f)", t, old, candidate.Scores[t], delta, p.Tolerance))
		}
	}
	if len(shared) == 0 {
		d.Aggregate, _ = metrics.Aggregate(p.Metric, candidate.Scores, tasks)
		d.Promote, d.Code, d.Reason = true, CodeNewTasks, "promoted: production scores none of the candidate's tasks"
		return d
	}
	agg, err := metrics.Aggregate(p.Metric, candidate.Scores, shared)
	incAgg, incErr := metrics.Aggregate(p.Metric, incumbent.Scores, shared)
	if err == nil {
		err = incErr
	}
	if err != nil {
		agg, incAgg = math.NaN(), math.NaN()
	}
	d.Aggregate, d.IncumbentAggregate = agg, incAgg
	switch {
	case len(fewer) > 0:
		d.Code = CodeFewerExamples
		d.Reason = "not promoted: scored on fewer examples than production was (records rejected upstream?): " + strings.Join(fewer, "; ") +
			"; check the split's rejected records, or promote by hand with taskweave promote"
	case err != nil:
		d.Code, d.Reason = CodeBadMetric, "not promoted: registry.metric: "+err.Error()
	case len(falls) > 0:
		d.Code, d.Reason = CodeTaskFell, "not promoted: "+strings.Join(falls, "; ")
	case !(agg > incAgg):
		d.Code = CodeNotBetter
		d.Reason = fmt.Sprintf("not promoted: %s %.4f does not improve on production's %.4f", p.Metric, agg, incAgg)
	default:
		d.Promote, d.Code = true, CodeBetter
		d.Reason = fmt.Sprintf("promoted: %s %.4f > production's %.4f, no task fell more than %.4f", p.Metric, agg, incAgg, p.Tolerance)
	}
	return d
}

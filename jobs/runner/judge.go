package runner

import (
	"context"
	"errors"
	"io/fs"

	"github.com/taskweave/taskweave/jobs/registry"
	"github.com/taskweave/taskweave/jobs/spec"
)

// Policy is the job's promotion rule (the spec's registry section) and the
// auxiliary tasks it leaves out.
func Policy(s *spec.Spec) (registry.Policy, []string) {
	p := registry.Policy{Metric: s.Registry.Metric, Tolerance: s.Registry.Tolerance, Auxiliary: map[string]bool{}}
	var aux []string
	for _, t := range s.Tasks {
		if t.Auxiliary {
			p.Auxiliary[t.Name] = true
			aux = append(aux, t.Name)
		}
	}
	return p, aux
}

// incumbentEvaluation is production's figures from the same evaluation as
// the candidate's, with the example counts of the report production was
// promoted on; nil when nothing is in production.
func incumbentEvaluation(ctx context.Context, reg *registry.Registry, prod registry.Pointer, hasProd bool, ev EvalResult) (*registry.Evaluation, error) {
	if !hasProd {
		return nil, nil
	}
	if ev.IncumbentScore == nil {
		return nil, errors.New("evaluation returned no scores for the production model")
	}
	pv, err := reg.Get(ctx, prod.Version)
	if err != nil {
		return nil, err
	}
	return &registry.Evaluation{Scores: ev.IncumbentScore, Examples: pv.Examples}, nil
}

// Judgement is what Judge found and did.
type Judgement struct {
	Eval      EvalResult
	Incumbent string // production's version when the candidate was judged; "" for none
	Version   registry.Version
	Decision  registry.Decision
	// Existed is true when the registry already held the version (a re-run
	// of the same sweep): nothing was evaluated, registered or promoted.
	Existed bool
}

// Judge takes a trained checkpoint through the end of a job, as Run does:
// evaluate it against production on the same shards, register it as
// version v.ID (scores, examples and auxiliary tasks filled in) and promote
// it if the gate agrees. `taskweave sweep` ends with it.
func Judge(ctx context.Context, s *spec.Spec, st Stages, dataDir, ckpt string, v registry.Version) (Judgement, error) {
	var j Judgement
	reg := registry.Open(s.Path(s.Registry.Path))
	if old, err := reg.Get(ctx, v.ID); err == nil {
		j.Version, j.Existed = old, true
		return j, nil
	} else if !errors.Is(err, fs.ErrNotExist) {
		return j, err
	}
	prod, _, hasProd, err := reg.Production(ctx)
	if err != nil {
		return j, err
	}
	incumbent := ""
	if hasProd {
		incumbent, j.Incumbent = reg.ModelDir(prod.Version), prod.Version
	}
	if j.Eval, err = st.Evaluate(ctx, s, dataDir, ckpt, incumbent, v.ID); err != nil {
		return j, err
	}
	inc, err := incumbentEvaluation(ctx, reg, prod, hasProd, j.Eval)
	if err != nil {
		return j, err
	}
	policy, aux := Policy(s)
	v.Scores, v.Examples, v.Auxiliary = j.Eval.Scores, j.Eval.Examples, aux
	if j.Version, err = reg.Register(ctx, ckpt, j.Eval.Report, v); err != nil {
		return j, err
	}
	j.Decision = registry.Gate(registry.Evaluation{Scores: j.Eval.Scores, Examples: j.Eval.Examples}, inc, policy)
	if j.Decision.Promote {
		_, err = reg.Promote(ctx, v.ID, j.Decision.Reason)
	}
	return j, err
}

package spec

import (
	"slices"

	"github.com/taskweave/taskweave/internal/rules"
	"github.com/taskweave/taskweave/model/multitask"
	"github.com/taskweave/taskweave/trainer"
	"github.com/taskweave/taskweave/trainer/mixture"
)

// The spec does not restate the rules of the packages that own a
// behaviour: it builds their configs and asks them. Their errors name spec
// keys (*rules.Error), so they come out with the key's line like the
// spec's own.

// StrategyConfig is train.strategy as model/multitask takes it, over the
// job's tasks (the trainer narrows it to each phase's).
func (s *Spec) StrategyConfig() multitask.Config {
	st := &s.Train.Strategy
	c := multitask.Config{Name: multitask.Name(st.Name), Alpha: st.Alpha, Window: st.Window, Temperature: st.Temperature,
		LR: st.LR, Gamma: st.Gamma, Primary: slices.Clone(st.Primary)}
	for _, t := range s.Tasks {
		c.Tasks, c.Static = append(c.Tasks, t.Name), append(c.Static, t.Weight)
	}
	return c
}

// MixtureConfig is train.mixture as trainer/mixture takes it, with the
// tasks' rates.
func (s *Spec) MixtureConfig() mixture.Config {
	m := &s.Train.Mixture
	c := mixture.Config{Name: m.Name, Cap: m.Cap, Temperature: m.Temperature}
	if m.Name == "explicit" {
		for _, t := range s.Tasks {
			c.Rates = append(c.Rates, t.Rate)
		}
	}
	return c
}

// checkOwners asks the strategy, the mixture and the trainer for the
// rules they own.
func (s *Spec) checkOwners(bad func(key, format string, a ...any)) {
	tr := &s.Train
	if len(s.Tasks) > 0 {
		report(bad, s.StrategyConfig().Validate())
	}
	report(bad, s.MixtureConfig().Validate())
	if slices.Contains(StepModes, tr.StepMode) {
		report(bad, trainer.CheckStepMode(multitask.Name(tr.Strategy.Name), tr.StepMode))
	}
	report(bad, trainer.CheckBatchTokens(tr.BatchTokens, s.Tokenizer.MaxSeqLen))
}

// report hands an owner's errors to bad: a rule keyed by a spec key under
// that key, anything else under train.
func report(bad func(key, format string, a ...any), err error) {
	keyed, other := rules.Split(err)
	for _, e := range keyed {
		bad(e.Key, "%s", e.Msg)
	}
	for _, o := range other {
		bad("train", "%v", o)
	}
}

package trainer

import (
	"fmt"
	"math"
	"slices"

	"github.com/taskweave/taskweave/model"
	"github.com/taskweave/taskweave/model/multitask"
)

// Phase is one stage of a run (train.phases): Steps optimizer steps on a
// subset of the tasks, e.g. task-adaptive masked-LM pre-training before
// multi-task training. Each phase has its own mixture sampler, strategy
// and learning-rate schedule (warm-up and decay over the phase's steps);
// the weights and AdamW's moments carry over.
type Phase struct {
	Name  string
	Tasks []string // empty = every task of the run
	Steps int
}

// phase is a Phase resolved against the run's tasks.
type phase struct {
	Phase
	start, end int   // optimizer steps [start, end)
	idx        []int // the phase's tasks, as indexes into Trainer.tasks
}

// resolvePhases lays the configured phases end to end; no phases is one
// phase of every task over all Steps.
func resolvePhases(c *Config) []phase {
	ph := c.Phases
	if len(ph) == 0 {
		ph = []Phase{{Name: "train", Steps: c.Steps}}
	}
	var out []phase
	start := 0
	for _, p := range ph {
		r := phase{Phase: p, start: start, end: start + p.Steps}
		for i, t := range c.Tasks {
			if len(p.Tasks) == 0 || slices.Contains(p.Tasks, t.Name) {
				r.idx = append(r.idx, i)
			}
		}
		out = append(out, r)
		start = r.end
	}
	return out
}

// validatePhases checks Config.Phases (bad reports a key).
func (c *Config) validatePhases(bad func(key, format string, a ...any)) {
	if len(c.Phases) == 0 {
		return
	}
	sum := 0
	for i, p := range c.Phases {
		k := fmt.Sprintf("train.phases[%d]", i)
		if p.Steps < 1 {
			bad(k+".steps", "= %d is out of range; every phase needs 1 or more steps", p.Steps)
		}
		sum += p.Steps
		for _, n := range p.Tasks {
			if !slices.ContainsFunc(c.Tasks, func(t TaskOptions) bool { return t.Name == n }) {
				bad(k+".tasks", "names %q, which is not a task of this run", n)
			}
		}
	}
	if c.Strategy.Name == multitask.NameAutoLambda {
		for i, p := range c.Phases {
			for _, n := range c.Strategy.Primary {
				if len(p.Tasks) > 1 && !slices.Contains(p.Tasks, n) {
					bad(fmt.Sprintf("train.phases[%d].tasks", i), "leave out auto_lambda's primary task %q; a multi-task phase needs every primary task", n)
				}
			}
		}
	}
	if sum != c.Steps {
		bad("train.phases", "steps add up to %d but train.steps is %d", sum, c.Steps)
	}
}

// phaseSalt separates the samplers and strategies of later phases from
// the first one's (which keeps the seeds of a run without phases).
func phaseSalt(p int) uint64 { return uint64(p) * 0x9e3779b97f4a7c15 }

// enterPhase makes phase p current: a sampler and strategy over its tasks,
// its learning-rate schedule and its stepper. A phase of one task trains it
// alone: equal weighting, one batch a step.
func (tr *Trainer) enterPhase(p int) error {
	cfg := &tr.cfg
	ph := tr.phases[p]
	tr.phase, tr.active = p, ph.idx
	n := len(ph.idx)
	names, weights := make([]string, n), make([]float64, n)
	sc := cfg.Strategy
	sc.Regression = make([]bool, n)
	for i, k := range ph.idx {
		t := tr.tasks[k]
		names[i], weights[i] = t.name, t.weight
		sc.Regression[i] = t.kind == model.SequenceRegression
	}
	mxc := cfg.Mixture
	mxc.Seed = cfg.Seed ^ phaseSalt(p)
	var err error
	if tr.sampler, err = tr.groupSampler(mxc); err != nil {
		return fmt.Errorf("phase %s: %w", ph.Name, err)
	}
	sc.Tasks, sc.Static, sc.Seed = names, weights, cfg.Seed^0x5ca1ab1e^phaseSalt(p)
	tr.stepMode = cfg.StepMode
	if n == 1 {
		sc.Name, tr.stepMode = multitask.NameEqual, "sampled"
	}
	if tr.strat, err = multitask.New(sc); err != nil {
		return fmt.Errorf("phase %s: %w", ph.Name, err)
	}
	tr.sched = model.Schedule{Peak: cfg.LR, Warmup: int(math.Round(cfg.Warmup * float64(ph.Steps))), Total: ph.Steps}
	switch {
	case tr.el != nil:
		tr.stepper = electraStepper{tr}
	case tr.stepMode == "all":
		tr.stepper = newAllTasksStepper(tr)
	default:
		tr.stepper = sampledStepper{tr}
	}
	return nil
}

// activeNames are the current phase's task names.
func (tr *Trainer) activeNames() []string {
	out := make([]string, len(tr.active))
	for i, k := range tr.active {
		out[i] = tr.tasks[k].name
	}
	return out
}

// nextPhase moves to the phase after the current one, logging the change.
func (tr *Trainer) nextPhase() error {
	if err := tr.enterPhase(tr.phase + 1); err != nil {
		return err
	}
	ph := tr.phases[tr.phase]
	tr.logf("phase %s from step %d to %d: tasks %v, strategy %s, step mode %s", ph.Name, ph.start, ph.end, tr.activeNames(), tr.strat.Name(), tr.stepMode)
	return tr.metrics.write(map[string]any{"event": "phase", "step": tr.step, "phase": ph.Name, "tasks": tr.activeNames(),
		"strategy": tr.strat.Name(), "step_mode": tr.stepMode, "rates": rateMap(tr.drawnNames(), tr.sampler.Rates())})
}

// phaseEnds is the step at which each phase ends.
func (tr *Trainer) phaseEnds() []int {
	out := make([]int, len(tr.phases))
	for i, p := range tr.phases {
		out[i] = p.end
	}
	return out
}

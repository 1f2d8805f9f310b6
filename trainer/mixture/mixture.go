// Package mixture decides which task the next batch comes from. The rates
// are fixed from the tasks' training-set sizes when the sampler is built
// (examples-proportional, proportional with a cap K, temperature T, equal,
// or explicit), and draws come from a seeded splitmix64 stream whose whole
// state is one word plus a draw count, so a resumed run continues the
// same sequence exactly.
package mixture

import (
	"errors"
	"fmt"
	"math"
	"slices"
	"strings"

	"github.com/taskweave/taskweave/internal/rng"
	"github.com/taskweave/taskweave/internal/rules"
)

// Names lists the strategies New knows.
var Names = []string{"proportional", "capped", "temperature", "equal", "explicit"}

// Config selects the strategy.
type Config struct {
	Name        string
	Cap         int       // capped: examples cap K
	Temperature float64   // temperature: T (rates ∝ n^(1/T))
	Rates       []float64 // explicit: one non-negative rate per task
	Seed        uint64
}

// Ranges are the allowed values of the mixture's keys; Validate adds the
// rules of the named mixture.
var Ranges = []rules.Range{
	{Key: "train.mixture.cap", Lo: 0, Hi: rules.Inf, Note: "capped: examples per task counted at most, 1 or more"},
	{Key: "train.mixture.temperature", Lo: 0, Hi: rules.Inf, LoOpen: true},
	{Key: "tasks[].rate", Lo: 0, Hi: rules.Inf, Note: "explicit mixture's share"},
}

// Validate checks c before any task size is known: the name, the keys the
// named mixture reads against Ranges, and (when Rates are given) that an
// explicit mixture has a rate above 0. Each broken rule is a *rules.Error
// keyed by the job spec's key.
func (c Config) Validate() error {
	if !slices.Contains(Names, c.Name) {
		return rules.Errorf("train.mixture.name", "%q is not allowed; use one of %s", c.Name, strings.Join(Names, ", "))
	}
	var errs []error
	check := func(pattern, key string, v float64) {
		if err := rules.Find(Ranges, pattern).Check(key, v); err != nil {
			errs = append(errs, err)
		}
	}
	switch c.Name {
	case "capped":
		check("train.mixture.cap", "train.mixture.cap", float64(c.Cap))
		if c.Cap == 0 {
			errs = append(errs, rules.Errorf("train.mixture.cap", "0; the capped mixture needs cap >= 1 (examples per task counted at most)"))
		}
	case "temperature":
		check("train.mixture.temperature", "train.mixture.temperature", c.Temperature)
	case "explicit":
		sum := 0.0
		for i, r := range c.Rates {
			check("tasks[].rate", fmt.Sprintf("tasks[%d].rate", i), r)
			sum += r
		}
		if len(c.Rates) > 0 && !(sum > 0) {
			errs = append(errs, rules.Errorf("train.mixture.name", "explicit mixture with no rates; give tasks[].rate (at least one > 0)"))
		}
	}
	return errors.Join(errs...)
}

// Sampler draws task indices.
type Sampler struct {
	tasks []string
	rates []float64
	cum   []float64
	st    State
}

// State is everything a draw depends on besides the rates.
type State struct {
	RNG   uint64 `json:"rng"`
	Draws int64  `json:"draws"`
}

// Rates computes the effective sampling rates for tasks of the given sizes
// (training examples).
func Rates(c Config, sizes []int64) ([]float64, error) {
	n := len(sizes)
	if n == 0 {
		return nil, fmt.Errorf("mixture: no tasks")
	}
	raw := make([]float64, n)
	for i, s := range sizes {
		if s < 0 {
			return nil, fmt.Errorf("mixture: task %d has %d examples", i, s)
		}
		switch c.Name {
		case "proportional":
			raw[i] = float64(s)
		case "capped":
			if c.Cap <= 0 {
				return nil, fmt.Errorf("mixture: capped needs cap > 0 (got %d); set train.mixture.cap", c.Cap)
			}
			raw[i] = float64(min(s, int64(c.Cap)))
		case "temperature":
			if c.Temperature <= 0 {
				return nil, fmt.Errorf("mixture: temperature must be > 0 (got %g)", c.Temperature)
			}
			raw[i] = math.Pow(float64(s), 1/c.Temperature)
		case "equal":
			raw[i] = 1
		case "explicit":
			if len(c.Rates) != n {
				return nil, fmt.Errorf("mixture: explicit needs one rate per task: got %d for %d tasks; set rate on every task", len(c.Rates), n)
			}
			if c.Rates[i] < 0 || math.IsNaN(c.Rates[i]) {
				return nil, fmt.Errorf("mixture: explicit rate %d is %g; rates must be >= 0", i, c.Rates[i])
			}
			raw[i] = c.Rates[i]
		default:
			return nil, fmt.Errorf("mixture: unknown strategy %q; use one of %s", c.Name, strings.Join(Names, ", "))
		}
	}
	sum := 0.0
	for _, r := range raw {
		sum += r
	}
	if sum <= 0 {
		return nil, fmt.Errorf("mixture: all rates are zero (sizes %v)", sizes)
	}
	for i := range raw {
		raw[i] /= sum
	}
	return raw, nil
}

// New builds a sampler over the named tasks with their training sizes.
func New(c Config, tasks []string, sizes []int64) (*Sampler, error) {
	if len(tasks) != len(sizes) {
		return nil, fmt.Errorf("mixture: %d tasks but %d sizes", len(tasks), len(sizes))
	}
	r, err := Rates(c, sizes)
	if err != nil {
		return nil, err
	}
	s := &Sampler{tasks: tasks, rates: r, cum: make([]float64, len(r)), st: State{RNG: c.Seed}}
	acc := 0.0
	for i, v := range r {
		acc += v
		s.cum[i] = acc
	}
	return s, nil
}

// Rates returns the effective rates, in task order.
func (s *Sampler) Rates() []float64 { return append([]float64(nil), s.rates...) }

// Describe formats the rates for the log, e.g. "sst2=0.6930 ner=0.3070".
func (s *Sampler) Describe() string {
	parts := make([]string, len(s.tasks))
	for i, t := range s.tasks {
		parts[i] = fmt.Sprintf("%s=%.4f", t, s.rates[i])
	}
	return strings.Join(parts, " ")
}

func (s *Sampler) next() uint64 { return rng.Next(&s.st.RNG) }

// Next draws the index of the next task.
func (s *Sampler) Next() int {
	s.st.Draws++
	u := float64(s.next()>>11) / (1 << 53)
	for i, c := range s.cum {
		if u < c && s.rates[i] > 0 {
			return i
		}
	}
	for i := len(s.rates) - 1; i >= 0; i-- { // rounding: u ≥ the last cumulative sum
		if s.rates[i] > 0 {
			return i
		}
	}
	return 0
}

// State exports the position of the draw stream.
func (s *Sampler) State() State { return s.st }

// SetState continues from a position saved by State.
func (s *Sampler) SetState(st State) { s.st = st }

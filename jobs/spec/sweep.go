package spec

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"maps"
	"math"
	"reflect"
	"slices"
	"strings"

	"github.com/goccy/go-yaml"

	"github.com/taskweave/taskweave/internal/rng"
)

// Sweep is the search `taskweave sweep` runs over train and model keys:
// every combination of the grid, each with Trials seeded random draws of
// the random keys. A trial is the spec with its settings written in (With),
// so it is validated, defaulted and mapped like any job.
type Sweep struct {
	Grid   map[string][]any `yaml:"grid"`   // key → values; every combination is a trial
	Random map[string]Draw  `yaml:"random"` // key → distribution, drawn per trial
	// Trials is the number of random draws per grid point (1 without
	// random keys: the grid alone).
	Trials   int    `yaml:"trials"`
	Seed     uint64 `yaml:"seed"`     // of the random draws
	Parallel int    `yaml:"parallel"` // trials trained at a time on one machine (prism)
	// TrialSeconds is each trial's wall-time budget: the trainer stops
	// early enough for a final evaluation. 0 = no budget.
	TrialSeconds float64 `yaml:"trial_seconds"`
	Metric       string  `yaml:"metric"` // ranks trials on train.eval_split: mean | min | a task
}

// Draw is a random key's distribution: uniform over [min, max] (over
// log(min)..log(max) with log), or one of values.
type Draw struct {
	Min    *float64 `yaml:"min"`
	Max    *float64 `yaml:"max"`
	Log    bool     `yaml:"log"`
	Values []any    `yaml:"values"`
}

// Setting is one key's value in a trial.
type Setting struct {
	Key   string
	Value any
}

// maxTrials bounds a sweep: a typo such as a 100-value grid on four keys
// should fail validation, not queue a hundred million trainings.
const maxTrials = 1000

// Active reports whether the spec has a sweep: grid or random keys.
func (w Sweep) Active() bool { return len(w.Grid)+len(w.Random) > 0 }

// ID names the sweep after its search (grid, random draws, trials, seed,
// budget): a re-run of the same sweep finds its trials' output under the
// same <output>/sweeps/<id>/ and resumes. Parallel and Metric change how
// the sweep runs and is ranked, not what it trains, so they are left out.
func (w Sweep) ID() string {
	b, _ := json.Marshal(struct {
		Grid         map[string][]any
		Random       map[string]Draw
		Trials       int
		Seed         uint64
		TrialSeconds float64
	}{w.Grid, w.Random, w.Trials, w.Seed, w.TrialSeconds})
	sum := sha256.Sum256(b)
	return hex.EncodeToString(sum[:6])
}

// Keys are the swept keys: grid keys then random keys, each sorted.
func (w Sweep) Keys() []string {
	g, r := sortedKeys(w.Grid), sortedKeys(w.Random)
	return append(g, r...)
}

func sortedKeys[V any](m map[string]V) []string { return slices.Sorted(maps.Keys(m)) }

// SweepKeys lists the keys a sweep may set: every train and model key but
// train.output (the sweep places each trial's output itself).
func SweepKeys() []string {
	var out []string
	for _, l := range leaves(&Spec{}) {
		if (strings.HasPrefix(l.pattern, "train.") || strings.HasPrefix(l.pattern, "model.")) && l.pattern != "train.output" {
			out = append(out, l.pattern)
		}
	}
	return out
}

// leafOf is the field a sweep key sets, in s.
func leafOf(s *Spec, key string) (reflect.Value, bool) {
	for _, l := range leaves(s) {
		if l.pattern == key {
			return l.v, true
		}
	}
	return reflect.Value{}, false
}

// Trials lists the trials of the sweep in order: the grid's combinations
// (the last grid key varying fastest), each with Trials draws of the random
// keys from one splitmix64 stream seeded by Seed. The list is a pure
// function of the sweep block.
func (s *Spec) Trials() [][]Setting {
	w := s.Sweep
	grid := sortedKeys(w.Grid)
	points := [][]Setting{nil}
	for _, k := range grid {
		var next [][]Setting
		for _, p := range points {
			for _, v := range w.Grid[k] {
				next = append(next, append(slices.Clone(p), Setting{Key: k, Value: v}))
			}
		}
		points = next
	}
	draws := max(w.Trials, 1)
	state := w.Seed
	var out [][]Setting
	for _, p := range points {
		for range draws {
			t := slices.Clone(p)
			for _, k := range sortedKeys(w.Random) {
				v, _ := leafOf(s, k)
				t = append(t, Setting{Key: k, Value: w.Random[k].draw(&state, isInteger(v))})
			}
			out = append(out, t)
		}
	}
	return out
}

// draw takes one value; integer keys get a whole number in [min, max].
func (d Draw) draw(state *uint64, integer bool) any {
	u := float64(rng.Next(state)>>11) / (1 << 53) // uniform in [0, 1)
	if len(d.Values) > 0 {
		return d.Values[int(u*float64(len(d.Values)))]
	}
	lo, hi := *d.Min, *d.Max
	if integer {
		hi++ // whole numbers in [min, max]: floor of [min, max+1)
	}
	var x float64
	if d.Log {
		x = math.Exp(math.Log(lo) + u*(math.Log(hi)-math.Log(lo)))
	} else {
		x = lo + u*(hi-lo)
	}
	if integer {
		return int64(min(math.Floor(x), *d.Max))
	}
	return x
}

// With returns the spec as the file would be with settings written in and
// without its sweep block: parsed, defaulted and validated again, so a
// trial obeys every rule a job does. A rule a setting breaks is reported at
// the line of the sweep block that set it.
func (s *Spec) With(settings []Setting) (*Spec, error) {
	var tree map[string]any
	if err := yaml.Unmarshal(s.raw, &tree); err != nil {
		return nil, err
	}
	if tree == nil {
		tree = map[string]any{}
	}
	delete(tree, "sweep")
	lines := map[string]int{}
	for k, l := range s.lines {
		if k != "sweep" && !strings.HasPrefix(k, "sweep.") {
			lines[k] = l
		}
	}
	for _, st := range settings {
		m := tree
		parts := strings.Split(st.Key, ".")
		for _, p := range parts[:len(parts)-1] {
			sub, ok := m[p].(map[string]any)
			if !ok {
				sub = map[string]any{}
				m[p] = sub
			}
			m = sub
		}
		m[parts[len(parts)-1]] = st.Value
		for _, src := range []string{"sweep.grid." + st.Key, "sweep.random." + st.Key} {
			if l, ok := s.lines[src]; ok {
				lines[st.Key] = l
			}
		}
	}
	b, err := yaml.Marshal(tree)
	if err != nil {
		return nil, err
	}
	t, err := parse(b, s.dir, lines)
	if err != nil {
		return nil, fmt.Errorf("trial %s: %w", FormatSettings(settings), err)
	}
	return t, nil
}

// FormatSettings writes settings as key=value pairs.
func FormatSettings(settings []Setting) string {
	parts := make([]string, len(settings))
	for i, st := range settings {
		parts[i] = st.Key + "=" + FormatValue(st.Value)
	}
	return strings.Join(parts, " ")
}

// FormatValue writes a setting's value as a person would type it.
func FormatValue(v any) string {
	if f, ok := v.(float64); ok {
		return num(f)
	}
	return fmt.Sprint(v)
}

// checkSweep checks the sweep block: keys a sweep may set, values of the
// key's type, distributions that can be drawn from, a bounded number of
// trials, and every trial a valid job.
func (s *Spec) checkSweep(bad func(key, format string, a ...any), baseOK bool) {
	w := s.Sweep
	if !w.Active() {
		for k := range s.written {
			if strings.HasPrefix(k, "sweep.") {
				bad("sweep", "no grid or random keys to sweep over; add sweep.grid (e.g. train.lr: [1e-3, 3e-4]) or sweep.random")
				return
			}
		}
		return
	}
	s.checkMetric("sweep.metric", w.Metric, s.Train.EvalSplit, "train.eval_split", bad)
	allowed := SweepKeys()
	ok := true
	typed := func(key, where string, v any) {
		field, _ := leafOf(s, key)
		b, err := yaml.Marshal(v)
		if err == nil {
			err = yaml.Unmarshal(b, reflect.New(field.Type()).Interface())
		}
		if err != nil || v == nil {
			bad(where, "%v is not a value of %s (a %s)", v, key, field.Type())
			ok = false
		}
	}
	for _, k := range w.Keys() {
		where := "sweep.grid." + k
		if _, inGrid := w.Grid[k]; !inGrid {
			where = "sweep.random." + k
		}
		if !slices.Contains(allowed, k) {
			bad(where, "%q cannot be swept; use one of %s", k, strings.Join(allowed, ", "))
			ok = false
			continue
		}
		if vals, inGrid := w.Grid[k]; inGrid {
			if _, both := w.Random[k]; both {
				bad(where, "%s is in both grid and random; keep it in one", k)
				ok = false
			}
			if len(vals) == 0 {
				bad(where, "no values; list at least one, e.g. [%s]", FormatValue(reflect.Zero(mustLeaf(s, k).Type()).Interface()))
				ok = false
			}
			for i, v := range vals {
				typed(k, fmt.Sprintf("%s[%d]", where, i), v)
			}
			continue
		}
		ok = s.checkDraw(k, where, w.Random[k], typed, bad) && ok
	}
	if len(w.Random) == 0 && w.Trials > 1 {
		bad("sweep.trials", "%d draws with no random keys would train each grid point %d times alike; use 1 or add sweep.random", w.Trials, w.Trials)
		ok = false
	}
	n := max(w.Trials, 1)
	for _, vals := range w.Grid {
		n *= max(len(vals), 1)
		if n > maxTrials {
			break
		}
	}
	if n > maxTrials {
		bad("sweep", "more than %d trials; narrow the grid or lower sweep.trials", maxTrials)
		ok = false
	}
	if !ok || !baseOK {
		return
	}
	for _, t := range s.Trials() {
		if _, err := s.With(t); err != nil {
			bad("sweep", "%v", err)
			return // one broken trial says what to fix; the rest usually repeat it
		}
	}
}

// checkDraw checks the distribution d of sweep.random's key k (at where);
// typed checks a value against k's type. It reports whether d is usable.
func (s *Spec) checkDraw(k, where string, d Draw, typed func(key, where string, v any), bad func(key, format string, a ...any)) bool {
	field := mustLeaf(s, k)
	_, numeric := number(field)
	switch {
	case len(d.Values) > 0:
		if d.Min != nil || d.Max != nil || d.Log {
			bad(where, "give either values or min and max (with log), not both")
			return false
		}
		for i, v := range d.Values {
			typed(k, fmt.Sprintf("%s.values[%d]", where, i), v)
		}
	case !numeric:
		bad(where, "%s is not numeric; draw it from values: [...]", k)
		return false
	case d.Min == nil || d.Max == nil:
		bad(where, "needs min and max (or values: [...])")
		return false
	case !(*d.Min <= *d.Max) || math.IsInf(*d.Min, 0) || math.IsInf(*d.Max, 0):
		bad(where, "min %s and max %s; use finite bounds with min <= max", num(*d.Min), num(*d.Max))
		return false
	case d.Log && !(*d.Min > 0):
		bad(where, "log draws need min > 0 (got %s)", num(*d.Min))
		return false
	}
	return true
}

func mustLeaf(s *Spec, key string) reflect.Value {
	v, _ := leafOf(s, key)
	return v
}

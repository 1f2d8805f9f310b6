// Package rules is the shape of a configuration rule, shared by the
// packages that own one: a numeric key's allowed interval (Range) and a
// broken rule that names its key (Error). Each owner keeps its own table
// (trainer.Ranges, multitask.Ranges, mixture.Ranges, model.SharingRanges;
// jobs/spec keeps those of the stages it configures itself), checks its
// config against it, and jobs/spec collects the tables, so `taskweave
// validate` and the stages refuse the same values with the same words.
//
// Keys are the job spec's dotted keys ("train.lr", "tasks[].weight"), even
// in packages that never see a spec: the message then tells a user which
// line of their YAML to change.
package rules

import (
	"errors"
	"fmt"
	"math"
	"strconv"
	"strings"
)

// Range is the allowed interval of a numeric key.
type Range struct {
	Key            string  // pattern: "tasks[]." stands for every task
	Lo, Hi         float64 // ±Inf for no bound
	LoOpen, HiOpen bool    // the bound itself is excluded
	Note           string  // what special values mean, e.g. "0 = off"
}

// Inf is an open upper end.
var Inf = math.Inf(1)

// Contains reports whether x is a finite number inside r.
func (r Range) Contains(x float64) bool {
	if math.IsNaN(x) || math.IsInf(x, 0) {
		return false
	}
	lo := x > r.Lo || (!r.LoOpen && x == r.Lo)
	hi := x < r.Hi || (!r.HiOpen && x == r.Hi)
	return lo && hi
}

// Check returns an *Error for key (the concrete key r's pattern stands
// for, e.g. tasks[1].weight) when x is outside r.
func (r Range) Check(key string, x float64) error {
	if r.Contains(x) {
		return nil
	}
	return Errorf(key, "%s is out of range; use %s", Num(x), r)
}

// String writes the range as the fix an error message suggests, e.g.
// "0 <= dropout < 1" or "clip >= 0 (0 = no clipping)".
func (r Range) String() string {
	name := r.Key[strings.LastIndex(r.Key, ".")+1:]
	op := func(open bool) string {
		if open {
			return " < "
		}
		return " <= "
	}
	var s string
	switch {
	case math.IsInf(r.Hi, 1):
		s = name + strings.Replace(op(r.LoOpen), "<", ">", 1) + Num(r.Lo)
	default:
		s = Num(r.Lo) + op(r.LoOpen) + name + op(r.HiOpen) + Num(r.Hi)
	}
	if r.Note != "" {
		s += " (" + r.Note + ")"
	}
	return s
}

// Num writes a bound or a value: whole numbers in full (1073741824, not
// 1.073741824e+09), others in their shortest form.
func Num(x float64) string {
	if x == math.Trunc(x) && math.Abs(x) < 1e15 {
		return strconv.FormatFloat(x, 'f', -1, 64)
	}
	return strconv.FormatFloat(x, 'g', -1, 64)
}

// Find returns the range of key in table. A key without one is a
// programming error the owner's tests catch, so Find panics.
func Find(table []Range, key string) Range {
	for _, r := range table {
		if r.Key == key {
			return r
		}
	}
	panic("rules: no range for " + key)
}

// Error is a rule broken by one key's value.
type Error struct {
	Key string // the concrete dotted key, e.g. tasks[1].weight
	Msg string // what is wrong and what to write instead
}

func (e *Error) Error() string { return e.Key + ": " + e.Msg }

// Errorf returns an *Error for key.
func Errorf(key, format string, a ...any) error {
	return &Error{Key: key, Msg: fmt.Sprintf(format, a...)}
}

// Split takes err apart (errors.Join trees included) into the rules it
// names by key and any other errors.
func Split(err error) (keyed []*Error, other []error) {
	if err == nil {
		return nil, nil
	}
	var e *Error
	if errors.As(err, &e) && e == err {
		return []*Error{e}, nil
	}
	if j, ok := err.(interface{ Unwrap() []error }); ok {
		for _, x := range j.Unwrap() {
			k, o := Split(x)
			keyed, other = append(keyed, k...), append(other, o...)
		}
		return keyed, other
	}
	return nil, []error{err}
}

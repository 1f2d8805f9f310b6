package spec

import (
	"fmt"
	"math"
	"reflect"
	"strings"
)

// leaf is one scalar setting of a spec: its dotted key as written in the
// YAML ("train.clip", "tasks[1].weight"), its pattern in the defaults and
// range tables ("tasks[].weight") and the field that holds it.
type leaf struct {
	key, pattern string
	v            reflect.Value
	task         *Task // the task a tasks[] key belongs to; nil otherwise
}

// leaves lists every setting of s in struct order, through the yaml tags,
// so the defaults and range tables address fields by the names users write.
func leaves(s *Spec) []leaf {
	var out []leaf
	var walk func(v reflect.Value, key, pattern string, task *Task)
	walk = func(v reflect.Value, key, pattern string, task *Task) {
		t := v.Type()
		for i := range t.NumField() {
			f := t.Field(i)
			name, _, _ := strings.Cut(f.Tag.Get("yaml"), ",")
			if !f.IsExported() || (name == "" && !f.Anonymous) || name == "-" {
				continue
			}
			k, p := join(key, name), join(pattern, name)
			fv := v.Field(i)
			switch {
			case fv.Kind() == reflect.Struct && f.Anonymous: // yaml:",inline"
				walk(fv, key, pattern, task)
			case fv.Kind() == reflect.Struct:
				walk(fv, k, p, task)
			case fv.Kind() == reflect.Slice && fv.Type().Elem() == reflect.TypeFor[Task]():
				for j := range fv.Len() {
					walk(fv.Index(j), fmt.Sprintf("%s[%d]", k, j), p+"[]", fv.Index(j).Addr().Interface().(*Task))
				}
			default:
				out = append(out, leaf{key: k, pattern: p, v: fv, task: task})
			}
		}
	}
	walk(reflect.ValueOf(s).Elem(), "", "", nil)
	return out
}

func join(prefix, name string) string {
	if prefix == "" {
		return name
	}
	return prefix + "." + name
}

// written collects the keys a YAML document gives a value, from its generic
// decoding (so anchors, aliases and merge keys count as written, exactly as
// the typed decoder sees them). A key whose value is null is not written:
// it takes its default, as an absent key does.
func written(tree any) map[string]any {
	out := map[string]any{}
	var walk func(v any, key string)
	walk = func(v any, key string) {
		switch x := v.(type) {
		case map[string]any:
			for k, e := range x {
				walk(e, join(key, k))
			}
		case []any:
			out[key] = x // a list is written as a whole (columns.text: [a, b]; matrices: [] too)
			for i, e := range x {
				walk(e, fmt.Sprintf("%s[%d]", key, i))
			}
		case nil:
		default:
			out[key] = x
		}
	}
	walk(tree, "")
	return out
}

// number reads a numeric field as float64; ok is false for other kinds.
func number(v reflect.Value) (x float64, ok bool) {
	switch v.Kind() {
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64:
		return float64(v.Int()), true
	case reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64:
		return float64(v.Uint()), true
	case reflect.Float32, reflect.Float64:
		return v.Float(), true
	}
	return 0, false
}

func isInteger(v reflect.Value) bool {
	switch v.Kind() {
	case reflect.Float32, reflect.Float64:
		return false
	}
	_, ok := number(v)
	return ok
}

// fractional is the written value of an integer key when it has a fraction
// (the typed decoder truncates 20.7 to 20 without a word).
func fractional(raw any) (float64, bool) {
	f, ok := raw.(float64)
	return f, ok && f != math.Trunc(f)
}

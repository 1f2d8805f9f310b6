// Package beampaths lists the paths a Beam pipeline hands to its workers:
// the path-like string fields of every DoFn and CombineFn (walked through
// structs, slices and maps) and of every element that beam.Create put into
// the graph. Tests use it to check that each one is absolute or gs://: a
// worker runs in a working directory of its own, where a relative path
// names another file or none.
package beampaths

import (
	"bytes"
	"fmt"
	"path/filepath"
	"reflect"
	"strings"

	"github.com/apache/beam/sdks/v2/go/pkg/beam"
)

// Path is one path found in the graph and where.
type Path struct {
	Where string // transform name and field, e.g. "Preprocess/ReadFn.Tasks[sst].Path"
	Value string
}

// pathFields are field names that hold a file or directory even when the
// value has no separator (a relative "out" or "vocab.txt").
var pathFields = map[string]bool{"Out": true, "Path": true, "Vocab": true, "Model": true, "Dir": true,
	"Data": true, "Compare": true, "Init": true, "Summary": true, "File": true, "Root": true}

// All lists every path-like string that reaches p's workers.
func All(p *beam.Pipeline) ([]Path, error) {
	edges, _, err := p.Build()
	if err != nil {
		return nil, err
	}
	var out []Path
	for _, e := range edges {
		var recv any
		switch {
		case e.DoFn != nil:
			recv = e.DoFn.Recv
		case e.CombineFn != nil:
			recv = e.CombineFn.Recv
		}
		if recv == nil {
			continue
		}
		v := reflect.Indirect(reflect.ValueOf(recv))
		if v.Kind() == reflect.Struct && v.Type().Name() == "createFn" {
			found, err := created(e.Name(), v)
			if err != nil {
				return nil, err
			}
			out = append(out, found...)
			continue
		}
		walk(e.Name()+"/"+v.Type().Name(), "", v, &out)
	}
	return out, nil
}

// created decodes the elements of a beam.Create and walks them.
func created(name string, v reflect.Value) ([]Path, error) {
	t, ok := v.FieldByName("Type").Interface().(beam.EncodedType)
	if !ok {
		return nil, fmt.Errorf("beampaths: %s: unexpected Create layout", name)
	}
	dec := beam.NewElementDecoder(t.T)
	var out []Path
	for i, b := range v.FieldByName("Values").Interface().([][]byte) {
		elem, err := dec.Decode(bytes.NewReader(b))
		if err != nil {
			return nil, fmt.Errorf("beampaths: %s element %d: %w", name, i, err)
		}
		walk(fmt.Sprintf("%s/Create[%d]", name, i), "", reflect.ValueOf(elem), &out)
	}
	return out, nil
}

func walk(where, field string, v reflect.Value, out *[]Path) {
	switch v.Kind() {
	case reflect.Pointer, reflect.Interface:
		if !v.IsNil() {
			walk(where, field, v.Elem(), out)
		}
	case reflect.Struct:
		for i := range v.NumField() {
			f := v.Type().Field(i)
			if f.IsExported() {
				walk(where+"."+f.Name, f.Name, v.Field(i), out)
			}
		}
	case reflect.Slice, reflect.Array:
		if v.Type().Elem().Kind() == reflect.Uint8 {
			return // encoded bytes, not text
		}
		for i := range v.Len() {
			walk(fmt.Sprintf("%s[%d]", where, i), field, v.Index(i), out)
		}
	case reflect.Map:
		for _, k := range v.MapKeys() {
			walk(fmt.Sprintf("%s[%v]", where, k), field, v.MapIndex(k), out)
		}
	case reflect.String:
		s := v.String()
		if s != "" && (pathFields[field] || looksLikeFile(s)) {
			*out = append(*out, Path{Where: where, Value: s})
		}
	}
}

// Relative returns the paths that are neither absolute nor URLs (gs://…).
func Relative(paths []Path) []Path {
	var bad []Path
	for _, p := range paths {
		if !filepath.IsAbs(p.Value) && !strings.Contains(p.Value, "://") {
			bad = append(bad, p)
		}
	}
	return bad
}

// looksLikeFile is a string outside a path-named field that is taken for a
// path: it has a directory part and its last element a file extension
// ("data/x.tsv"), unlike keys such as "task/split/3".
func looksLikeFile(s string) bool {
	return strings.Contains(s, "/") && strings.Contains(filepath.Base(s), ".")
}

package spec

import (
	"reflect"
	"strings"
	"testing"

	"github.com/goccy/go-yaml"
)

// withKey returns the minimal spec with one more key written, e.g.
// withKey(t, "train.clip", 0) or withKey(t, "tasks[].weight", 0) (the task).
func withKey(t *testing.T, key string, v any) []byte {
	t.Helper()
	var doc map[string]any
	if err := yaml.Unmarshal([]byte(minimal), &doc); err != nil {
		t.Fatal(err)
	}
	m := doc
	parts := strings.Split(key, ".")
	for _, p := range parts[:len(parts)-1] {
		if p == "tasks[]" {
			m = doc["tasks"].([]any)[0].(map[string]any)
			continue
		}
		next, ok := m[p].(map[string]any)
		if !ok {
			next = map[string]any{}
			m[p] = next
		}
		m = next
	}
	m[parts[len(parts)-1]] = v
	out, err := yaml.Marshal(doc)
	if err != nil {
		t.Fatal(err)
	}
	return out
}

func leafByKey(s *Spec, key string) (reflect.Value, bool) { return leafOf(s, key) }

// The tables address real fields with values of the right type, once each,
// and every numeric key has a range (a key added without one fails here).
func TestTablesCoverTheSpec(t *testing.T) {
	s, err := Parse([]byte(minimal), ".")
	if err != nil {
		t.Fatal(err)
	}
	seen := map[string]bool{}
	for _, d := range Defaults {
		if seen[d.Key] {
			t.Errorf("%s has two defaults", d.Key)
		}
		seen[d.Key] = true
		v, ok := leafByKey(s, d.Key)
		switch {
		case !ok:
			t.Errorf("default for %s, which is not a key of the spec", d.Key)
		case d.derive == nil && reflect.TypeOf(d.Value) != v.Type():
			t.Errorf("default of %s is a %T; the key is a %s", d.Key, d.Value, v.Type())
		case d.derive != nil && (d.Doc == "" || d.Value != nil):
			t.Errorf("derived default of %s needs a Doc and no Value", d.Key)
		}
	}
	ranges := map[string]int{}
	for _, r := range Ranges {
		ranges[r.Key]++
		if v, ok := leafByKey(s, r.Key); !ok {
			t.Errorf("range for %s, which is not a key of the spec", r.Key)
		} else if _, num := number(v); !num {
			t.Errorf("range for %s, which is not numeric", r.Key)
		}
	}
	for _, l := range leaves(s) {
		if _, num := number(l.v); num && ranges[l.pattern] != 1 {
			t.Errorf("numeric key %s has %d ranges; want exactly 1", l.pattern, ranges[l.pattern])
		}
		if _, num := number(l.v); num && !seen[l.pattern] {
			t.Errorf("numeric key %s has no entry in Defaults (list it, even when its default is 0)", l.pattern)
		}
	}
}

// A key the file does not write takes its default from the table.
func TestUnwrittenKeysTakeTheirDefault(t *testing.T) {
	s, err := Parse([]byte(minimal), "/jobs")
	if err != nil {
		t.Fatal(err)
	}
	for _, d := range Defaults {
		if d.derive != nil {
			continue
		}
		if v, _ := leafByKey(s, d.Key); !reflect.DeepEqual(v.Interface(), d.Value) {
			t.Errorf("%s = %v; want the default %v", d.Key, v.Interface(), d.Value)
		}
	}
	if s.Output != "out/t" || s.Train.Output != "out/t/train" || s.Preprocess.Output != "out/t/data" ||
		s.Registry.Path != "out/t/registry" || s.Evaluate.Output != "out/t/eval" || s.Model.Size != "mini" {
		t.Errorf("derived defaults: output %q train %q data %q registry %q eval %q size %q", s.Output, s.Train.Output,
			s.Preprocess.Output, s.Registry.Path, s.Evaluate.Output, s.Model.Size)
	}
}

// Zero is a value: every numeric key with a non-zero default, written as 0,
// is either kept as 0 or rejected with its range — never replaced by the
// default (issue 14 item 2: dropout: 0 became 0.1, max_rejected_fraction: 0
// became 0.01, and tolerance, warmup, weight decay, clip, seed the same).
func TestWrittenZeroIsKept(t *testing.T) {
	for _, d := range Defaults {
		if d.derive != nil {
			continue
		}
		rv := reflect.ValueOf(d.Value)
		if x, num := number(rv); !num || x == 0 {
			continue
		}
		t.Run(d.Key, func(t *testing.T) {
			s, err := Parse(withKey(t, d.Key, 0), ".")
			var r Range
			for _, rr := range Ranges {
				if rr.Key == d.Key {
					r = rr
				}
			}
			if !r.Contains(0) {
				if err == nil || !strings.Contains(err.Error(), r.String()) {
					t.Fatalf("%s: 0 is outside %s but Parse said %v", d.Key, r, err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if v, _ := leafByKey(s, d.Key); !v.IsZero() {
				t.Fatalf("%s: 0 became %v", d.Key, v.Interface())
			}
			if !s.Written(strings.Replace(d.Key, "tasks[]", "tasks[0]", 1)) {
				t.Errorf("%s not reported as written", d.Key)
			}
		})
	}
}

// A null value is not written: the key takes its default. Aliases and merge
// keys count as written, as the typed decoder sees them.
func TestNullAliasAndMergeKeys(t *testing.T) {
	s, err := Parse([]byte(minimal+"train:\n  clip: ~\n"), ".")
	if err != nil || s.Train.Clip != 1 {
		t.Fatalf("clip: ~ gave %v, %v; want the default 1", s.Train.Clip, err)
	}
	y := minimal + `model: {seed: &zero 0}
train:
  seed: *zero
  clip: *zero
  mixture: &mx {temperature: 3}
  strategy: {<<: *mx, name: dwa}
`
	s, err = Parse([]byte(y), ".")
	if err != nil {
		t.Fatal(err)
	}
	if s.Train.Seed != 0 || s.Train.Clip != 0 || s.Train.Strategy.Temperature != 3 {
		t.Fatalf("aliases and merge keys: seed %d clip %g strategy.temperature %g; want 0, 0, 3",
			s.Train.Seed, s.Train.Clip, s.Train.Strategy.Temperature)
	}
}

// The defaults table printed for the README lists every key once.
func TestWriteDefaults(t *testing.T) {
	var b strings.Builder
	if err := WriteDefaults(&b); err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"| `model.dropout` | 0.1 |", "| `train.seed` | 42 |", "| `output` | out/<name> |",
		"| `preprocess.max_record_bytes` | 8388608 (8 MiB) |", "| `tasks[].columns.label` | label |",
		"| `tasks[].columns.text` | input_from's, else [sentence, text] for tsv (GLUE's name first), [text, sentence] for jsonl: the first name the file has |"} {
		if !strings.Contains(b.String(), want) {
			t.Errorf("table lacks %q:\n%s", want, b.String())
		}
	}
	if n := strings.Count(b.String(), "\n"); n != len(Defaults)+2 {
		t.Errorf("%d lines for %d defaults", n, len(Defaults))
	}
}

func TestDefaultValue(t *testing.T) {
	if got := DefaultValue[int]("evaluate.batch_size"); got != 64 {
		t.Fatalf("evaluate.batch_size default %d", got)
	}
	defer func() {
		if recover() == nil {
			t.Fatal("DefaultValue of a mistyped key did not panic")
		}
	}()
	DefaultValue[string]("evaluate.batch_size")
}

package spec

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/taskweave/taskweave/internal/hostile"
)

// FuzzParse feeds arbitrary YAML to Parse: a spec or an error, never a
// panic. Seeds: every spec under testdata/ (the repository's), and under
// testdata/fuzz/FuzzParse the deep nesting that cost quadratic memory.
//
//	go test ./jobs/spec -run '^$' -fuzz FuzzParse -fuzztime 60s
func FuzzParse(f *testing.F) {
	specs, _ := filepath.Glob(filepath.Join("..", "..", "testdata", "jobs", "*.yaml"))
	for _, p := range specs {
		if b, err := os.ReadFile(p); err == nil {
			f.Add(b)
		}
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		Parse(data, "/fuzz")
	})
}

// TestParseRefusesDeepNesting: 8 KB of nested brackets made the YAML
// decoder allocate 63 MB (cost grows with the square of the depth); Parse
// now refuses more than maxSpecDepth levels, and files over maxSpecBytes,
// before decoding.
func TestParseRefusesDeepNesting(t *testing.T) {
	for _, c := range []struct{ name, doc, want string }{
		{"brackets", "name: x\nmodel: " + strings.Repeat("[", 4000) + strings.Repeat("]", 4000) + "\n", "line 2: lists and maps nested more than 64 deep"},
		{"braces", "name: x\ntags: " + strings.Repeat("{a: ", 4000) + "1" + strings.Repeat("}", 4000) + "\n", "line 2: lists and maps nested more than 64 deep"},
		{"huge", "name: x\n# " + strings.Repeat("x", maxSpecBytes) + "\n", "a job spec is at most"},
	} {
		t.Run(c.name, func(t *testing.T) {
			out, problem := hostile.Run(hostile.Limits{Time: 10 * time.Second, Alloc: 16<<20 + uint64(len(c.doc))}, func() error {
				_, err := Parse([]byte(c.doc), "/x")
				return err
			})
			if problem != nil {
				t.Fatal(problem)
			}
			if out.Err == nil || !strings.Contains(out.Err.Error(), c.want) {
				t.Fatalf("err = %v; want %q", out.Err, c.want)
			}
		})
	}
	// Brackets inside quotes and comments do not count.
	doc := "name: x # " + strings.Repeat("[", 100) + "\ndescription: \"" + strings.Repeat("{", 100) + "\"\n"
	if err := checkSize([]byte(doc)); err != nil {
		t.Fatalf("quoted and commented brackets counted: %v", err)
	}
}

package main

import (
	"fmt"
	"go/ast"
	"go/parser"
	"go/token"
	"io/fs"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

// root is the module root, two folders up from this package.
const root = "../.."

// The package map in docs/architecture.md is what `go run ./tools/pkgmap`
// writes from today's imports.
func TestDocIsCurrent(t *testing.T) {
	ps, err := readGraph(root)
	if err != nil {
		t.Fatal(err)
	}
	doc, err := readDoc(root)
	if err != nil {
		t.Fatal(err)
	}
	want, err := splice(doc, render(ps))
	if err != nil {
		t.Fatal(err)
	}
	if doc != want {
		t.Fatal("docs/architecture.md's package map is stale; run `go run ./tools/pkgmap` from the module root")
	}
}

// No import breaks the layering, and the check itself catches each kind
// of break.
func TestLayering(t *testing.T) {
	ps, err := readGraph(root)
	if err != nil {
		t.Fatal(err)
	}
	if v := violations(ps); len(v) > 0 {
		t.Fatalf("imports that break the layering:\n  %s", strings.Join(v, "\n  "))
	}
	for _, c := range []struct {
		dir, imports string
		broken       bool
	}{
		{"model", "io/storage", true},
		{"io/manifest", "trainer", true},
		{"internal/plotfile", "io/storage", true},
		{"trainer", "jobs/spec", true},
		{"model/scoring", "model", false},
		{"jobs/spec", "trainer", false},
		{"io/shards", "internal/testcorpora", false},
		{"tools/pkgmap", "cmd/taskweave", false},
	} {
		got := len(violations([]pkg{{dir: c.dir, imports: []string{c.imports}}})) > 0
		if got != c.broken {
			t.Errorf("%s importing %s: broken = %v, want %v", c.dir, c.imports, got, c.broken)
		}
	}
}

// maxLines bounds a function outside tests (house rule).
const maxLines = 80

// generated reports files whose functions are tables, not code: Go's
// "Code generated" header, or a name ending in _tables.go.
func generated(path string, f *ast.File) bool {
	if strings.HasSuffix(path, "_tables.go") || ast.IsGenerated(f) {
		return true
	}
	return false
}

// longFunc is one function longer than maxLines.
type longFunc struct {
	at    string // file:line name
	key   string // file name, as owedSplits keys it
	lines int
}

// longFunctions lists every function (and method) outside tests and
// generated tables longer than maxLines.
func longFunctions(t *testing.T) []longFunc {
	var out []longFunc
	fset := token.NewFileSet()
	err := filepath.WalkDir(root, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(root, path)
		if d.IsDir() {
			if skipDir(filepath.ToSlash(rel), d) {
				return filepath.SkipDir
			}
			return nil
		}
		if !strings.HasSuffix(path, ".go") || strings.HasSuffix(path, "_test.go") {
			return nil
		}
		f, err := parser.ParseFile(fset, path, nil, parser.ParseComments)
		if err != nil || generated(path, f) {
			return err
		}
		for _, decl := range f.Decls {
			fn, ok := decl.(*ast.FuncDecl)
			if !ok || fn.Body == nil {
				continue
			}
			from, to := fset.Position(fn.Pos()).Line, fset.Position(fn.End()).Line
			if n := to - from + 1; n > maxLines {
				out = append(out, longFunc{at: fmt.Sprintf("%s:%d %s", filepath.ToSlash(rel), from, fn.Name.Name),
					key: filepath.ToSlash(rel) + " " + fn.Name.Name, lines: n})
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	slices.SortFunc(out, func(a, b longFunc) int { return strings.Compare(a.at, b.at) })
	return out
}

// owedSplits are the functions still over maxLines when the rule came in
// (issue 23), with their length then: each may only shrink, and leaves the
// list once split. The list is debt, not an exemption: it must end empty.
var owedSplits = map[string]int{}

// No function outside tests and generated tables is longer than 80
// lines, counted from `func` to the closing brace, except the owed ones,
// which may not grow.
func TestNoLongFunctions(t *testing.T) {
	var bad []string
	over := map[string]bool{}
	for _, f := range longFunctions(t) {
		over[f.key] = true
		switch owed, ok := owedSplits[f.key]; {
		case !ok:
			bad = append(bad, fmt.Sprintf("%s (%d lines): split it", f.at, f.lines))
		case f.lines > owed:
			bad = append(bad, fmt.Sprintf("%s (%d lines): owed a split at %d lines, and it grew", f.at, f.lines, owed))
		}
	}
	for key := range owedSplits {
		if !over[key] {
			bad = append(bad, key+": no longer over the limit; remove it from owedSplits")
		}
	}
	if len(bad) > 0 {
		slices.Sort(bad)
		t.Fatalf("%d functions break the %d-line rule:\n  %s", len(bad), maxLines, strings.Join(bad, "\n  "))
	}
}

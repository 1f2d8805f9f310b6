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

// longFunctions lists every function (and method) outside tests and
// generated tables longer than maxLines, as "file:line name (n lines)".
func longFunctions(t *testing.T) []string {
	var out []string
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
				out = append(out, fmt.Sprintf("%s:%d %s (%d lines)", filepath.ToSlash(rel), from, fn.Name.Name, n))
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	slices.Sort(out)
	return out
}

// No function outside tests and generated tables is longer than 80
// lines, counted from `func` to the closing brace.
func TestNoLongFunctions(t *testing.T) {
	if long := longFunctions(t); len(long) > 0 {
		t.Fatalf("%d functions longer than %d lines; split them:\n  %s", len(long), maxLines, strings.Join(long, "\n  "))
	}
}

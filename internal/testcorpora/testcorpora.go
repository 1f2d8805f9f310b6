// Package testcorpora locates the real corpora that tests read in place.
// They live in ../shared/corpora beside the repository and are never copied
// into it: CoNLL-2003's licence does not allow redistribution.
package testcorpora

import (
	"os"
	"path/filepath"
	"testing"
)

// Dir walks up from the test's working directory to the first
// shared/corpora and returns it, or skips the test when there is none.
func Dir(tb testing.TB) string {
	tb.Helper()
	dir, err := filepath.Abs(".")
	if err != nil {
		tb.Fatal(err)
	}
	for {
		c := filepath.Join(dir, "shared", "corpora")
		if st, err := os.Stat(c); err == nil && st.IsDir() {
			return c
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			tb.Skip("shared/corpora not found in any parent directory of the test; the real-corpus checks need ../shared/corpora beside the repository")
		}
		dir = parent
	}
}

// Package testcorpora locates the real corpora that tests read in place.
// They live in ../shared/corpora beside the repository and are never copied
// into it: CoNLL-2003's licence does not allow redistribution.
//
// On a developer machine without them, the real-corpus tests skip (and so do
// the DuckDB checks, io/shards/duckcheck.Require). With the
// CI environment variable set (as CI services and .ci/run set it), a missing
// corpus or tool fails the test instead: a green CI run must mean the
// real-data checks ran.
package testcorpora

import (
	"fmt"
	"os"
	"path/filepath"
	"testing"
)

// Dir walks up from the test's working directory to the first
// shared/corpora and returns it; without one the test is Missing.
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
			Missing(tb, "shared/corpora not found in any parent directory of the test; the real-corpus checks need ../shared/corpora beside the repository")
		}
		dir = parent
	}
}

// File returns the file at rel under shared/corpora; without it the test is
// Missing.
func File(tb testing.TB, rel ...string) string {
	tb.Helper()
	p := filepath.Join(append([]string{Dir(tb)}, rel...)...)
	if _, err := os.Stat(p); err != nil {
		Missing(tb, "real corpus file missing: %v", err)
	}
	return p
}

// Missing ends a test whose real data or tool is not there: a skip, or a
// failure when the CI environment variable is set.
func Missing(tb testing.TB, format string, args ...any) {
	tb.Helper()
	msg := fmt.Sprintf(format, args...)
	if os.Getenv("CI") != "" {
		tb.Fatalf("%s (CI is set, so this is a failure, not a skip)", msg)
	}
	tb.Skip(msg)
}

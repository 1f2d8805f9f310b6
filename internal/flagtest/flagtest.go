// Package flagtest sets global command-line flags (Beam's runner options
// live on flag.CommandLine) for the duration of one test.
package flagtest

import (
	"flag"
	"testing"
)

// Set sets each name=value pair of kv and restores the old values when the
// test ends. Tests using it must not run in parallel.
func Set(t testing.TB, kv ...string) {
	t.Helper()
	for i := 0; i+1 < len(kv); i += 2 {
		name := kv[i]
		f := flag.Lookup(name)
		if f == nil {
			t.Fatalf("no flag --%s", name)
		}
		old := f.Value.String()
		if err := flag.Set(name, kv[i+1]); err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { _ = flag.Set(name, old) })
	}
}

package main

import (
	"flag"
	"sort"
)

func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}

// given is the set of flags the command line sets. A flag that overrides a
// job-spec key applies only when given, so an explicit 0 (--clip 0) is an
// override like any other value and an absent flag never is.
func given() map[string]bool {
	set := map[string]bool{}
	flag.Visit(func(f *flag.Flag) { set[f.Name] = true })
	return set
}

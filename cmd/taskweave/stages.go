package main

import (
	"flag"
	"fmt"
	"os"
	"strings"

	"github.com/taskweave/taskweave/jobs/runner"
	"github.com/taskweave/taskweave/jobs/spec"
	"github.com/taskweave/taskweave/jobs/stages"
)

// jobStages wires the real stages into the job runner.
func jobStages() runner.Stages {
	return stages.New(stages.Options{Runner: beamRunner(), Progress: os.Stderr, Log: os.Stderr})
}

// applyRunner turns the spec's runner section into Beam's flags, unless the
// command line already set them: flags beat the file.
func applyRunner(s *spec.Spec) error {
	set := map[string]bool{}
	flag.Visit(func(f *flag.Flag) { set[f.Name] = true })
	apply := func(name, value string) error {
		if set[name] {
			return nil
		}
		if flag.Lookup(name) == nil {
			return fmt.Errorf("runner.flags: Beam has no flag --%s", name)
		}
		return flag.Set(name, value)
	}
	if err := apply("runner", s.Runner.Name); err != nil {
		return err
	}
	for _, k := range sortedKeys(s.Runner.Flags) {
		if err := apply(k, s.Runner.Flags[k]); err != nil {
			return err
		}
	}
	return nil
}

func reportMarkdown(reportJSON string) string {
	return strings.TrimSuffix(reportJSON, ".json") + ".md"
}

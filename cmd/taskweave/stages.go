package main

import (
	"errors"
	"flag"
	"fmt"
	"os"
	"strings"

	"github.com/taskweave/taskweave/jobs/runner"
	"github.com/taskweave/taskweave/jobs/spec"
	"github.com/taskweave/taskweave/jobs/stages"
	"github.com/taskweave/taskweave/pipelines/launch"
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

// checkJob refuses, at launch, a job that cannot run on the chosen runner:
// every path the job reads or writes, named by its spec key (on Dataflow
// all must be gs://), and --dry_run, which a whole job cannot honour (the
// train stage needs the shards preprocess would have written).
func checkJob(s *spec.Spec) error {
	if launch.DryRun() {
		return errors.New("--dry_run applies to one pipeline: use taskweave preprocess --config job.yaml --dry_run (or evaluate … --dry_run); a job's later stages need the earlier ones' output")
	}
	paths := []launch.Path{
		{Setting: "output", Value: s.Path(s.Output)},
		{Setting: "preprocess.output", Value: s.Path(s.Preprocess.Output)},
		{Setting: "tokenizer.vocab", Value: s.Path(s.Tokenizer.Vocab)},
		{Setting: "model.init", Value: s.Path(s.Model.Init)},
		{Setting: "train.output", Value: s.Path(s.Train.Output)},
		{Setting: "evaluate.output", Value: s.Path(s.Evaluate.Output)},
		{Setting: "registry.path", Value: s.Path(s.Registry.Path)},
	}
	for i, t := range s.Tasks {
		for _, split := range sortedKeys(t.Paths) {
			for _, f := range t.Paths[split] {
				paths = append(paths, launch.Path{Setting: fmt.Sprintf("tasks[%d].paths.%s", i, split), Value: s.Path(f)})
			}
		}
	}
	return launch.Check(launch.Runner(), paths)
}

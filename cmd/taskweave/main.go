// Command taskweave is the one binary of the project: it prepares corpora
// (preprocess), trains the shared encoder (train), scores checkpoints
// (evaluate, predict), runs whole jobs (run, schedule, runs, promote,
// rollback, validate). Speed is measured by `make bench` (Go benchmarks).
//
// Flags use the standard library's flag package on purpose: Beam registers
// its runner flags (--runner, --project, --endpoint, …) on flag.CommandLine,
// and Beam workers re-execute this binary with their own flags and no
// subcommand, so beam.Init must see them untouched.
package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"sort"
	"strings"

	"github.com/apache/beam/sdks/v2/go/pkg/beam"
)

// command is one subcommand. setup registers the subcommand's own flags on
// fs (which is flag.CommandLine, shared with Beam's runner flags) and returns
// the function to run once the flags are parsed.
type command struct {
	summary string
	setup   func(fs *flag.FlagSet) func(ctx context.Context, args []string) error
}

var commands = map[string]command{}

// register is called from each subcommand file's init.
func register(name, summary string, setup func(fs *flag.FlagSet) func(ctx context.Context, args []string) error) {
	if _, dup := commands[name]; dup {
		panic("taskweave: subcommand registered twice: " + name)
	}
	commands[name] = command{summary: summary, setup: setup}
}

func usage() {
	fmt.Fprintf(os.Stderr, "usage: taskweave <command> [flags] [args]\n\ncommands:\n")
	names := make([]string, 0, len(commands))
	for n := range commands {
		names = append(names, n)
	}
	sort.Strings(names)
	for _, n := range names {
		fmt.Fprintf(os.Stderr, "  %-11s %s\n", n, commands[n].summary)
	}
	fmt.Fprintf(os.Stderr, "\nRun 'taskweave <command> -h' for a command's flags.\n")
}

func main() {
	// A Beam worker (Dataflow, Flink, prism loopback) starts this binary with
	// flags only; beam.Init runs the worker harness and never returns then.
	if len(os.Args) < 2 || strings.HasPrefix(os.Args[1], "-") {
		flag.Parse()
		beam.Init()
		usage()
		os.Exit(exitUsage)
	}
	name := os.Args[1]
	cmd, ok := commands[name]
	if !ok {
		if name == "help" {
			if len(os.Args) > 2 && os.Args[2] == "beam" {
				fmt.Fprintf(os.Stderr, "Beam pipeline options, accepted by every command (preprocess, evaluate and run use them):\n")
				printFlags(flag.CommandLine, func(string) bool { return true })
				return
			}
			usage()
			return
		}
		fmt.Fprintf(os.Stderr, "taskweave: unknown command %q\n\n", name)
		usage()
		os.Exit(exitUsage)
	}
	beamFlags := flagNames(flag.CommandLine)
	run := cmd.setup(flag.CommandLine)
	flag.CommandLine.Usage = func() {
		fmt.Fprintf(os.Stderr, "usage: taskweave %s [flags] [args]\n%s\n\nflags:\n", name, cmd.summary)
		printFlags(flag.CommandLine, func(n string) bool { return !beamFlags[n] })
		fmt.Fprintf(os.Stderr, "\nBeam's pipeline options (--runner, --endpoint, --project, --region, --temp_location, …)\n"+
			"are accepted too; 'taskweave help beam' lists all %d of them.\n", len(beamFlags))
	}
	if err := flag.CommandLine.Parse(os.Args[2:]); err != nil {
		os.Exit(exitUsage)
	}
	beam.Init()
	ctx, stop, received := signalContext()
	err := run(ctx, flag.CommandLine.Args())
	stop()
	if err != nil {
		fmt.Fprintf(os.Stderr, "taskweave %s: %v\n", name, err)
	}
	sig := received()
	if sig != nil {
		fmt.Fprintf(os.Stderr, "taskweave %s: stopped by %v\n", name, sig)
	}
	os.Exit(exitStatus(err, sig))
}

// flagNames is the set of flags registered on fs so far: before a
// subcommand's setup runs, that is Beam's pipeline options.
func flagNames(fs *flag.FlagSet) map[string]bool {
	names := map[string]bool{}
	fs.VisitAll(func(f *flag.Flag) { names[f.Name] = true })
	return names
}

// printFlags prints the defaults of the flags of fs that keep selects, so a
// command's -h shows its own flags without Beam's sixty-odd options.
func printFlags(fs *flag.FlagSet, keep func(name string) bool) {
	sub := flag.NewFlagSet("", flag.ContinueOnError)
	sub.SetOutput(os.Stderr)
	fs.VisitAll(func(f *flag.Flag) {
		if keep(f.Name) {
			sub.Var(f.Value, f.Name, f.Usage)
		}
	})
	sub.PrintDefaults()
}

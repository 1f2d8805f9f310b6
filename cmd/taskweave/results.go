package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"strings"

	"github.com/taskweave/taskweave/trainer"
)

func init() {
	register("results", "print a Markdown table of finished training runs (summary.json of each)", func(fs *flag.FlagSet) func(context.Context, []string) error {
		cols := fs.String("columns", "", "comma-separated task:metric columns, e.g. sst2:accuracy,conll:entity_f1")
		return func(ctx context.Context, args []string) error {
			if len(args) == 0 || *cols == "" {
				return fmt.Errorf("usage: taskweave results --columns task:metric,… LABEL=DIR …")
			}
			var cs [][2]string
			for _, c := range strings.Split(*cols, ",") {
				task, metric, ok := strings.Cut(c, ":")
				if !ok {
					return fmt.Errorf("--columns: %q is not task:metric", c)
				}
				cs = append(cs, [2]string{task, metric})
			}
			var rows []trainer.ResultRow
			for _, a := range args {
				label, dir, ok := strings.Cut(a, "=")
				if !ok {
					return fmt.Errorf("%q is not LABEL=DIR", a)
				}
				s, err := trainer.ReadSummary(ctx, dir)
				if err != nil {
					return err
				}
				rows = append(rows, trainer.ResultRow{Label: label, Dir: dir, Summary: s})
			}
			_, err := os.Stdout.WriteString(trainer.ResultsTable(rows, cs))
			return err
		}
	})
}

package main

// taskweave export: one task of a taskweave checkpoint as a plain Hugging
// Face BertForSequenceClassification / BertForTokenClassification directory
// (model/checkpoint.ExportHF: low-rank factors merged, a lower layer as a
// shorter encoder; layer attention, adapters and experts refused with the
// reason).

import (
	"context"
	"flag"
	"fmt"

	"github.com/taskweave/taskweave/io/storage"
	"github.com/taskweave/taskweave/model/checkpoint"
)

func init() {
	register("export", "write one task of a checkpoint as a Hugging Face BertFor…Classification directory (local or gs://)", setupExport)
}

type exportConfig struct{ model, task, out string }

func setupExport(fs *flag.FlagSet) func(ctx context.Context, args []string) error {
	var c exportConfig
	fs.StringVar(&c.model, "model", "", "taskweave checkpoint directory (local or gs://)")
	fs.StringVar(&c.task, "task", "", "task to export; optional when the checkpoint has one task")
	fs.StringVar(&c.out, "out", "", "directory to write the Hugging Face checkpoint to (local or gs://)")
	return func(ctx context.Context, args []string) error {
		if len(args) > 0 {
			return fmt.Errorf("unexpected arguments %q; every input is a flag (see -h)", args)
		}
		return runExport(ctx, c)
	}
}

func runExport(ctx context.Context, c exportConfig) error {
	if c.model == "" || c.out == "" {
		return fmt.Errorf("--model and --out are required: taskweave export --model DIR --task NAME --out HF_DIR")
	}
	if err := checkExportTarget(c.model, c.out); err != nil {
		return err
	}
	m, meta, err := checkpoint.Load(storage.Dir(ctx, c.model))
	if err != nil {
		return err
	}
	head, _, err := pickHead(m, meta, c.task, c.model)
	if err != nil {
		return err
	}
	err = exportTo(ctx, c.out, func(fs checkpoint.FS) error { return checkpoint.ExportHF(fs, m, meta, head.Task) })
	if err != nil {
		return fmt.Errorf("%s: %w", c.model, err)
	}
	fmt.Fprintf(predictStderr, "exported task %s of %s to %s\n", head.Task, c.model, c.out)
	return nil
}

package trainer

import (
	"context"
	"fmt"
	"slices"

	"github.com/taskweave/taskweave/io/manifest"
)

// checkShards runs the manifest's check (the one evaluate runs) on every
// shard the run will read, train and evaluation splits, before the first
// step: a shard replaced after preprocessing must stop the run in seconds,
// not be trained on for an hour.
func checkShards(ctx context.Context, man *manifest.Manifest, manPath string, tasks []*taskData) error {
	var paths []string
	for _, t := range tasks {
		paths = append(paths, t.train...)
		paths = append(paths, t.eval...)
	}
	slices.Sort(paths)
	if err := man.CheckShards(ctx, manPath, slices.Compact(paths)); err != nil {
		return fmt.Errorf("train: %w", err)
	}
	return nil
}

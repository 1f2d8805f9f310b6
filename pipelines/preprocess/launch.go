package preprocess

import (
	"fmt"
	"strings"

	"github.com/taskweave/taskweave/pipelines/launch"
	"maps"
	"slices"

	"github.com/taskweave/taskweave/io/storage"
)

// Resolve returns a copy of c with every path absolute (gs:// kept), the
// form in which paths reach Beam workers, the fingerprint and the manifest.
func (c Config) Resolve() (Config, error) {
	var err error
	if c.Out, err = storage.Abs(c.Out); err != nil {
		return c, err
	}
	if c.Vocab, err = storage.Abs(c.Vocab); err != nil {
		return c, err
	}
	c.Tasks = slices.Clone(c.Tasks)
	for i := range c.Tasks {
		t := &c.Tasks[i]
		paths := maps.Clone(t.Paths)
		for split, files := range paths {
			abs := make([]string, len(files))
			for j, f := range files {
				if abs[j], err = storage.Abs(f); err != nil {
					return c, err
				}
			}
			paths[split] = abs
		}
		t.Paths = paths
	}
	return c, nil
}

// paths lists every path of c with the setting it comes from.
func (c Config) paths() []launch.Path {
	out := []launch.Path{{Setting: "preprocess.output (or --out)", Value: c.Out}, {Setting: "tokenizer.vocab (or --vocab)", Value: c.Vocab}}
	for _, t := range c.Tasks {
		for _, split := range t.splits() {
			for _, p := range t.Paths[split] {
				out = append(out, launch.Path{Setting: t.Setting("paths." + split), Value: p})
			}
		}
	}
	return out
}

// plan says in one paragraph what a run of c would do, for --dry_run.
func (c Config) plan() string {
	var b strings.Builder
	fmt.Fprintf(&b, "the preprocess pipeline: %d task(s), vocabulary %s, %d shard(s) per task and split → %s\n", len(c.Tasks), c.Vocab, c.Shards, c.Out)
	for _, t := range c.Tasks {
		for _, split := range t.splits() {
			fmt.Fprintf(&b, "  %s/%s: %s\n", t.Name, split, strings.Join(t.Paths[split], ", "))
		}
	}
	return b.String()
}

package manifest

import (
	"fmt"
	"strings"

	"github.com/taskweave/taskweave/io/storage"
)

// A masked LM over other tasks' text (a job's tasks[].source) has no shards
// of its own: it reads its sources' shards, split by split. The trainer
// (train and dev data) and evaluate (the split it scores) both resolve a
// source list here, so they read the same shards and refuse the same gaps.

// TextSource is one task whose text a masked LM reads, and what it holds of
// one split.
type TextSource struct {
	Task     string
	HasSplit bool     // the task has the split (its shard list may still be empty)
	Shards   []string // the split's shards, resolved against the manifest's path
	Examples int64    // the split's rows
}

// MissingSourcesError is TextSources' refusal of a source list naming tasks
// the manifest does not hold.
type MissingSourcesError struct {
	LM       string   // the masked LM
	Manifest string   // the manifest's path
	Missing  []string // in source order
}

func (e *MissingSourcesError) Error() string {
	return fmt.Sprintf("task %q reads the text of %s, which %s does not have; preprocess the task first, or train on shards that hold it",
		e.LM, strings.Join(e.Missing, ", "), e.Manifest)
}

// TextSources resolves masked LM lm's sources, in source order, with what
// each holds of split. A source that is no task of m is an error
// (*MissingSourcesError, listing every such source); a source without the
// split is returned with HasSplit false and no shards.
func (m *Manifest) TextSources(manifestPath, lm string, sources []string, split string) ([]TextSource, error) {
	var missing []string
	out := make([]TextSource, 0, len(sources))
	for _, src := range sources {
		t, ok := m.Tasks[src]
		if !ok {
			missing = append(missing, src)
			continue
		}
		ts := TextSource{Task: src}
		if s, ok := t.Splits[split]; ok {
			ts.HasSplit, ts.Examples = true, s.Examples
			for _, sh := range s.Shards {
				ts.Shards = append(ts.Shards, storage.Join(dirOf(manifestPath), sh))
			}
		}
		out = append(out, ts)
	}
	if len(missing) > 0 {
		return nil, &MissingSourcesError{LM: lm, Manifest: manifestPath, Missing: missing}
	}
	return out, nil
}

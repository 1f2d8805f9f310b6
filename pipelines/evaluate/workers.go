package evaluate

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"sort"

	"github.com/apache/beam/sdks/v2/go/pkg/beam"
	"github.com/apache/beam/sdks/v2/go/pkg/beam/register"

	"github.com/taskweave/taskweave/io/storage"
	"github.com/taskweave/taskweave/model"
	"github.com/taskweave/taskweave/transforms/score"
)

func init() {
	register.DoFn2x0[score.Prediction, func(string, string)](&blasFn{})
	register.DoFn3x1[context.Context, string, func(*string) bool, error](&writeWorkersFn{})
	register.Emitter2[string, string]()
	register.Iter1[string]()
}

// Workers is what the scoring workers said about themselves: which BLAS
// backend the binary they ran was built with. It comes from the workers,
// not the launcher: on a cluster they run another binary (--worker_binary,
// the worker container's), which may or may not be the fast OpenBLAS build.
type Workers struct {
	BLAS []string `json:"blas"` // distinct backends, e.g. "openblas (Haswell)" or "gonum (pure Go)"
}

// blasFn follows the scoring ParDo (so it fuses into the same worker
// stage) and names that process's BLAS backend once per bundle that scored
// anything.
type blasFn struct{ seen bool }

func (f *blasFn) ProcessElement(_ score.Prediction, _ func(string, string)) { f.seen = true }

func (f *blasFn) FinishBundle(emit func(string, string)) {
	if f.seen {
		emit("blas", backend())
	}
	f.seen = false
}

func backend() string { return fmt.Sprintf("%s (%s)", model.Backend(), model.BLASCore()) }

// writeWorkersFn writes the distinct backends to <dir>/workers.json.
type writeWorkersFn struct{ Dir string }

func (f *writeWorkersFn) ProcessElement(ctx context.Context, _ string, names func(*string) bool) error {
	set := map[string]bool{}
	var n string
	for names(&n) {
		set[n] = true
	}
	w := Workers{BLAS: sortedKeys(set)}
	b, err := json.Marshal(w)
	if err != nil {
		return err
	}
	return storage.WriteFile(ctx, workersPath(f.Dir), append(b, '\n'))
}

func workersPath(dir string) string { return storage.Join(dir, "workers.json") }

// buildWorkers adds the backend report over the scored predictions.
func buildWorkers(s beam.Scope, scored beam.PCollection, dir string) {
	s = s.Scope("workers")
	beam.ParDo0(s, &writeWorkersFn{Dir: dir}, beam.GroupByKey(s, beam.ParDo(s, &blasFn{}, scored)))
}

// readWorkers reads what buildWorkers wrote; nothing scored, nothing written.
func readWorkers(ctx context.Context, dir string) (Workers, error) {
	var w Workers
	b, err := storage.ReadFile(ctx, workersPath(dir))
	if errors.Is(err, fs.ErrNotExist) {
		return w, nil
	}
	if err != nil {
		return w, err
	}
	err = json.Unmarshal(b, &w)
	return w, err
}

func sortedKeys(m map[string]bool) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

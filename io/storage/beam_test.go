package storage_test

import (
	"context"
	"testing"

	"github.com/apache/beam/sdks/v2/go/pkg/beam"
	"github.com/apache/beam/sdks/v2/go/pkg/beam/register"
	"github.com/apache/beam/sdks/v2/go/pkg/beam/testing/passert"
	"github.com/apache/beam/sdks/v2/go/pkg/beam/testing/ptest"
	"github.com/taskweave/taskweave/io/storage"
)

func TestMain(m *testing.M) { ptest.Main(m) }

// writeFn writes one file per element from inside a Beam worker.
type writeFn struct{ Root string }

func (f *writeFn) ProcessElement(ctx context.Context, name string, emit func(string)) error {
	if err := storage.WriteFile(ctx, storage.Join(f.Root, name), []byte(name)); err != nil {
		return err
	}
	emit(name)
	return nil
}

func init() {
	register.DoFn3x1[context.Context, string, func(string), error](&writeFn{})
	register.Emitter1[string]()
}

// The same storage calls work inside DoFns run by prism, locally and against
// the emulator (prism's loopback workers share the test's environment).
func TestInsideBeamWorkers(t *testing.T) {
	ctx := context.Background()
	names := []string{"a.txt", "dir/b.txt", "dir/sub/c.txt"}
	for name, root := range roots(t) {
		t.Run(name, func(t *testing.T) {
			p, s := beam.NewPipelineWithRoot()
			out := beam.ParDo(s, &writeFn{Root: root}, beam.CreateList(s, names))
			passert.Count(s, out, "written", len(names))
			if err := ptest.Run(p); err != nil {
				t.Fatal(err)
			}
			got, err := storage.Walk(ctx, root)
			if err != nil {
				t.Fatal(err)
			}
			if len(got) != len(names) || got[0] != names[0] || got[1] != names[1] || got[2] != names[2] {
				t.Fatalf("after the pipeline %s holds %q, want %q", root, got, names)
			}
		})
	}
}

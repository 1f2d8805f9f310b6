package registry

import (
	"context"
	"errors"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/taskweave/taskweave/io/storage"
	"github.com/taskweave/taskweave/io/storage/gcstest"
)

func roots(t *testing.T) map[string]func(t *testing.T) string {
	return map[string]func(t *testing.T) string{
		"local": func(t *testing.T) string { return t.TempDir() },
		"gcs":   func(t *testing.T) string { return "gs://" + gcstest.Start(t) + "/work" },
	}
}

// fakeCheckpoint writes a small checkpoint directory: real file names, bytes
// that the registry must copy unchanged.
func fakeCheckpoint(t *testing.T, ctx context.Context, dir string, tag string) {
	for name, body := range map[string]string{
		"config.json": `{"hidden_size":16,"tag":"` + tag + `"}`, "model.safetensors": "weights-" + tag,
		"vocab.txt": "[PAD]\n", "tasks.json": "[]", "trainer_state.json": "{}",
	} {
		if err := storage.WriteFile(ctx, storage.Join(dir, name), []byte(body)); err != nil {
			t.Fatal(err)
		}
	}
}

func TestRegistryLifecycle(t *testing.T) {
	for name, root := range roots(t) {
		t.Run(name, func(t *testing.T) {
			ctx := context.Background()
			base := root(t)
			reg := Open(storage.Join(base, "registry"))
			if _, _, ok, err := reg.Production(ctx); err != nil || ok {
				t.Fatalf("empty registry has production: ok=%v err=%v", ok, err)
			}
			for _, id := range []string{"v1", "v2"} {
				fakeCheckpoint(t, ctx, storage.Join(base, "ckpt-"+id), id)
				storage.WriteFile(ctx, storage.Join(base, "report-"+id+".json"), []byte(`{"id":"`+id+`"}`))
				if _, err := reg.Register(ctx, storage.Join(base, "ckpt-"+id), storage.Join(base, "report-"+id+".json"),
					Version{ID: id, Scores: map[string]float64{"a": 0.5}}); err != nil {
					t.Fatal(err)
				}
			}
			if _, err := reg.Register(ctx, storage.Join(base, "ckpt-v1"), "", Version{ID: "v1"}); err == nil || !strings.Contains(err.Error(), "immutable") {
				t.Fatalf("re-registering v1: %v", err)
			}
			got, err := storage.ReadFile(ctx, storage.Join(reg.ModelDir("v2"), "model.safetensors"))
			if err != nil || string(got) != "weights-v2" {
				t.Fatalf("copied weights = %q, %v", got, err)
			}
			if ok, _ := storage.Exists(ctx, storage.Join(reg.ModelDir("v2"), "trainer_state.json")); ok {
				t.Fatal("trainer state copied into the registry")
			}
			vs, err := reg.Versions(ctx)
			if err != nil || len(vs) != 2 || vs[0].ID != "v1" {
				t.Fatalf("Versions = %+v, %v", vs, err)
			}
			if _, err := reg.Promote(ctx, "v1", "first"); err != nil {
				t.Fatal(err)
			}
			if _, err := reg.Promote(ctx, "v2", "better"); err != nil {
				t.Fatal(err)
			}
			p, _, _, _ := reg.Production(ctx)
			if p.Version != "v2" || len(p.History) != 1 || p.History[0] != "v1" {
				t.Fatalf("production = %+v", p)
			}
			if p, err = reg.Rollback(ctx, "manual"); err != nil || p.Version != "v1" {
				t.Fatalf("rollback = %+v, %v", p, err)
			}
			if _, err := reg.Rollback(ctx, "again"); err == nil {
				t.Fatal("rolled back past the first version")
			}
			if _, err := reg.Promote(ctx, "v9", "missing"); err == nil {
				t.Fatal("promoted a version that does not exist")
			}
		})
	}
}

// Two promotions racing from the same pointer generation: one wins, the other
// gets ErrPrecondition, and the pointer is one of the two, never a mix.
func TestConcurrentPromotion(t *testing.T) {
	for name, root := range roots(t) {
		t.Run(name, func(t *testing.T) {
			ctx := context.Background()
			base := root(t)
			reg := Open(storage.Join(base, "registry"))
			for _, id := range []string{"v1", "v2", "v3"} {
				fakeCheckpoint(t, ctx, storage.Join(base, "c"+id), id)
				if _, err := reg.Register(ctx, storage.Join(base, "c"+id), "", Version{ID: id}); err != nil {
					t.Fatal(err)
				}
			}
			if _, err := reg.Promote(ctx, "v1", "base"); err != nil {
				t.Fatal(err)
			}
			_, gen, _, _ := reg.Production(ctx)
			var wg sync.WaitGroup
			errs := make([]error, 2)
			for i, id := range []string{"v2", "v3"} {
				wg.Add(1)
				go func(i int, id string) {
					defer wg.Done()
					errs[i] = reg.writePointer(ctx, Pointer{Version: id, History: []string{"v1"}}, gen)
				}(i, id)
			}
			wg.Wait()
			failed := 0
			for _, err := range errs {
				if err != nil {
					if !errors.Is(err, storage.ErrPrecondition) {
						t.Fatalf("unexpected error %v", err)
					}
					failed++
				}
			}
			if failed != 1 {
				t.Fatalf("%d of 2 racing promotions failed, want exactly 1", failed)
			}
			p, _, _, err := reg.Production(ctx)
			if err != nil || (p.Version != "v2" && p.Version != "v3") {
				t.Fatalf("production after race = %+v, %v", p, err)
			}
		})
	}
}

func TestRegisterMissingCheckpoint(t *testing.T) {
	reg := Open(filepath.Join(t.TempDir(), "r"))
	_, err := reg.Register(context.Background(), filepath.Join(t.TempDir(), "nothing"), "", Version{ID: "x"})
	if err == nil || !strings.Contains(err.Error(), "empty or missing") {
		t.Fatalf("got %v", err)
	}
}

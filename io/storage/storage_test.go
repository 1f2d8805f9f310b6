package storage_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"

	"github.com/taskweave/taskweave/io/storage"
	"github.com/taskweave/taskweave/io/storage/gcstest"
)

// roots returns one fresh root per backend: a temp dir and a bucket on an
// in-process fake-gcs-server.
func roots(t *testing.T) map[string]string {
	t.Helper()
	return map[string]string{
		"local": t.TempDir(),
		"gcs":   "gs://" + gcstest.Start(t) + "/root",
	}
}

func TestJoin(t *testing.T) {
	for _, tc := range []struct {
		base string
		elem []string
		want string
	}{
		{"gs://b", []string{"x", "y.parquet"}, "gs://b/x/y.parquet"},
		{"gs://b/", []string{"x"}, "gs://b/x"},
		{"gs://b/out/", []string{"../y"}, "gs://b/y"},
		{"gs://b/out", nil, "gs://b/out"},
		{"/tmp/out", []string{"ner", "train"}, "/tmp/out/ner/train"},
		{"out", []string{"a//b"}, "out/a/b"},
	} {
		if got := storage.Join(tc.base, tc.elem...); got != tc.want {
			t.Errorf("Join(%q, %q) = %q, want %q", tc.base, tc.elem, got, tc.want)
		}
	}
}

func TestRoundTrip(t *testing.T) {
	ctx := context.Background()
	for name, root := range roots(t) {
		t.Run(name, func(t *testing.T) {
			p := storage.Join(root, "dir", "file.bin")
			data := bytes.Repeat([]byte("taskweave\x00\xff"), 1000)
			if ok, err := storage.Exists(ctx, p); err != nil || ok {
				t.Fatalf("Exists before write = %v, %v; want false, nil", ok, err)
			}
			if _, err := storage.Open(ctx, p); !errors.Is(err, fs.ErrNotExist) {
				t.Fatalf("Open of a missing file: %v; want fs.ErrNotExist", err)
			}
			if err := storage.WriteFile(ctx, p, data); err != nil {
				t.Fatal(err)
			}
			got, err := storage.ReadFile(ctx, p)
			if err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(got, data) {
				t.Fatalf("read back %d bytes, want the %d written", len(got), len(data))
			}
			if n, err := storage.Size(ctx, p); err != nil || n != int64(len(data)) {
				t.Fatalf("Size = %d, %v; want %d", n, err, len(data))
			}
			info, err := storage.Stat(ctx, p)
			if err != nil || info.Size != int64(len(data)) {
				t.Fatalf("Stat = %+v, %v", info, err)
			}
			if name == "gcs" && (info.Generation == 0 || info.Checksum() == "") {
				t.Fatalf("Stat on gs:// lacks generation or checksum: %+v", info)
			}
			// Overwrite replaces the content.
			if err := storage.WriteFile(ctx, p, []byte("short")); err != nil {
				t.Fatal(err)
			}
			if got, _ := storage.ReadFile(ctx, p); string(got) != "short" {
				t.Fatalf("after overwrite read %q", got)
			}
			if err := storage.Remove(ctx, p); err != nil {
				t.Fatal(err)
			}
			if ok, err := storage.Exists(ctx, p); err != nil || ok {
				t.Fatalf("Exists after Remove = %v, %v", ok, err)
			}
			if err := storage.Remove(ctx, p); !errors.Is(err, fs.ErrNotExist) {
				t.Fatalf("second Remove: %v; want fs.ErrNotExist", err)
			}
		})
	}
}

// A large write goes through GCS's resumable upload in several chunks; the
// object must still appear only on Close.
func TestCreateIsAtomic(t *testing.T) {
	ctx := context.Background()
	big := bytes.Repeat([]byte{0xab}, 20<<20) // > the client's 16 MiB chunk
	for name, root := range roots(t) {
		t.Run(name, func(t *testing.T) {
			type step func(w storage.Writer, cancel context.CancelFunc) error
			for _, tc := range []struct {
				name    string
				finish  step
				visible bool
			}{
				{"close", func(w storage.Writer, _ context.CancelFunc) error { return w.Close() }, true},
				{"abort", func(w storage.Writer, _ context.CancelFunc) error { w.Abort(); return nil }, false},
				{"cancelled", func(w storage.Writer, cancel context.CancelFunc) error {
					cancel()
					if err := w.Close(); err == nil {
						return errors.New("Close after cancel returned nil")
					}
					return nil
				}, false},
			} {
				t.Run(tc.name, func(t *testing.T) {
					p := storage.Join(root, tc.name, "shard.parquet")
					wctx, cancel := context.WithCancel(ctx)
					defer cancel()
					cw, err := storage.Create(wctx, p)
					if err != nil {
						t.Fatal(err)
					}
					w := cw.(storage.Writer)
					if _, err := w.Write(big); err != nil {
						t.Fatal(err)
					}
					if ok, _ := storage.Exists(ctx, p); ok {
						t.Fatal("file visible before Close")
					}
					if got, _ := storage.List(ctx, storage.Join(root, tc.name, "*")); len(got) != 0 {
						t.Fatalf("List shows %q before Close", got)
					}
					if err := tc.finish(w, cancel); err != nil {
						t.Fatal(err)
					}
					ok, err := storage.Exists(ctx, p)
					if err != nil || ok != tc.visible {
						t.Fatalf("Exists = %v, %v; want %v", ok, err, tc.visible)
					}
					if tc.visible {
						if got, _ := storage.ReadFile(ctx, p); !bytes.Equal(got, big) {
							t.Fatalf("read back %d bytes, want %d", len(got), len(big))
						}
					}
					if name == "local" {
						// No temp file is left behind either.
						ents, _ := os.ReadDir(filepath.Dir(p))
						if want := map[bool]int{true: 1, false: 0}[tc.visible]; len(ents) != want {
							t.Fatalf("directory holds %d entries, want %d", len(ents), want)
						}
					}
				})
			}
		})
	}
}

func TestList(t *testing.T) {
	ctx := context.Background()
	for name, root := range roots(t) {
		t.Run(name, func(t *testing.T) {
			for _, f := range []string{"ner/train/part-00000-of-00002.parquet", "ner/train/part-00001-of-00002.parquet",
				"ner/test/part-00000-of-00001.parquet", "sst2/train/part-00000-of-00001.parquet", "manifest.json"} {
				if err := storage.WriteFile(ctx, storage.Join(root, f), []byte(f)); err != nil {
					t.Fatal(err)
				}
			}
			// An unfinished Create must not show up.
			w, err := storage.Create(ctx, storage.Join(root, "ner/train/part-00002-of-00002.parquet"))
			if err != nil {
				t.Fatal(err)
			}
			w.Write([]byte("partial"))
			defer storage.Abort(w)
			for _, tc := range []struct {
				glob string
				want []string
			}{
				{"ner/train/*.parquet", []string{"ner/train/part-00000-of-00002.parquet", "ner/train/part-00001-of-00002.parquet"}},
				{"*/train/part-*", []string{"ner/train/part-00000-of-00002.parquet", "ner/train/part-00001-of-00002.parquet", "sst2/train/part-00000-of-00001.parquet"}},
				{"ner/*/part-0000[0]-of-*.parquet", []string{"ner/test/part-00000-of-00001.parquet", "ner/train/part-00000-of-00002.parquet"}},
				{"*.json", []string{"manifest.json"}},
				{"manifest.json", []string{"manifest.json"}},
				{"nothing/*", nil},
			} {
				got, err := storage.List(ctx, storage.Join(root, tc.glob))
				if err != nil {
					t.Fatal(err)
				}
				var want []string
				for _, w := range tc.want {
					want = append(want, storage.Join(root, w))
				}
				if fmt.Sprint(got) != fmt.Sprint(want) {
					t.Errorf("List(%s) = %q, want %q", tc.glob, got, want)
				}
			}
		})
	}
}

func TestGenerations(t *testing.T) {
	ctx := context.Background()
	for name, root := range roots(t) {
		t.Run(name, func(t *testing.T) {
			p := storage.Join(root, "pointers", "latest")
			if _, _, err := storage.ReadGen(ctx, p); !errors.Is(err, fs.ErrNotExist) {
				t.Fatalf("ReadGen of missing object: %v; want fs.ErrNotExist", err)
			}
			g1, err := storage.WriteGen(ctx, p, []byte("one"), 0)
			if err != nil {
				t.Fatal(err)
			}
			if _, err := storage.WriteGen(ctx, p, []byte("again"), 0); !errors.Is(err, storage.ErrPrecondition) {
				t.Fatalf("create-if-absent over an existing object: %v; want ErrPrecondition", err)
			}
			g2, err := storage.WriteGen(ctx, p, []byte("two"), g1)
			if err != nil {
				t.Fatal(err)
			}
			if g2 == g1 {
				t.Fatalf("generation did not change: %d", g2)
			}
			if _, err := storage.WriteGen(ctx, p, []byte("stale"), g1); !errors.Is(err, storage.ErrPrecondition) {
				t.Fatalf("write with a stale generation: %v; want ErrPrecondition", err)
			}
			data, g, err := storage.ReadGen(ctx, p)
			if err != nil || string(data) != "two" || g != g2 {
				t.Fatalf("ReadGen = %q, %d, %v; want \"two\", %d", data, g, err, g2)
			}
			// On gs:// WriteGen uses the direct client and ReadFile Beam's
			// filesystem: both must see the same emulator.
			if b, err := storage.ReadFile(ctx, p); err != nil || string(b) != "two" {
				t.Fatalf("ReadFile after WriteGen = %q, %v", b, err)
			}
			// A removed pointer can be created again with gen 0, and the new
			// generation differs from every earlier one.
			if err := storage.Remove(ctx, p); err != nil {
				t.Fatal(err)
			}
			g3, err := storage.WriteGen(ctx, p, []byte("three"), 0)
			if err != nil {
				t.Fatal(err)
			}
			if g3 == g1 || g3 == g2 {
				t.Fatalf("re-created object reused generation %d", g3)
			}
			// Local bookkeeping (the generation sidecar) stays out of listings.
			if got, err := storage.List(ctx, storage.Join(root, "pointers", "*")); err != nil || len(got) != 1 || got[0] != p {
				t.Fatalf("List(pointers/*) = %q, %v; want only %s", got, err, p)
			}
		})
	}
}

// Goroutines increment a counter with read-modify-write; a lost update would
// leave the total short. Each conflict must surface as ErrPrecondition.
func TestGenerationsUnderContention(t *testing.T) {
	ctx := context.Background()
	const workers, increments = 4, 10
	for name, root := range roots(t) {
		t.Run(name, func(t *testing.T) {
			p := storage.Join(root, "lease")
			// First: all race to create; exactly one wins.
			var wg sync.WaitGroup
			wins := make(chan int, workers)
			errs := make(chan error, workers)
			for i := range workers {
				wg.Go(func() {
					if _, err := storage.WriteGen(ctx, p, []byte("0"), 0); err == nil {
						wins <- i
					} else if !errors.Is(err, storage.ErrPrecondition) {
						errs <- err
					}
				})
			}
			wg.Wait()
			close(wins)
			close(errs)
			for err := range errs {
				t.Fatalf("losing creator got %v; want ErrPrecondition", err)
			}
			if n := len(wins); n != 1 {
				t.Fatalf("%d creators won, want exactly 1", n)
			}
			// Then: all hold the same generation and race to replace; exactly one wins.
			_, gen, err := storage.ReadGen(ctx, p)
			if err != nil {
				t.Fatal(err)
			}
			var won, lost sync.Map
			for i := range workers {
				wg.Go(func() {
					_, err := storage.WriteGen(ctx, p, []byte("0"), gen)
					switch {
					case err == nil:
						won.Store(i, true)
					case errors.Is(err, storage.ErrPrecondition):
						lost.Store(i, true)
					default:
						t.Errorf("worker %d: %v", i, err)
					}
				})
			}
			wg.Wait()
			if n := count(&won); n != 1 || count(&lost) != workers-1 {
				t.Fatalf("%d writers with generation %d won, %d got ErrPrecondition; want 1 and %d", n, gen, count(&lost), workers-1)
			}
			var conflicts sync.Map
			for i := range workers {
				wg.Go(func() {
					for range increments {
						for {
							data, gen, err := storage.ReadGen(ctx, p)
							if err != nil {
								t.Error(err)
								return
							}
							n, _ := strconv.Atoi(string(data))
							_, err = storage.WriteGen(ctx, p, []byte(strconv.Itoa(n+1)), gen)
							if err == nil {
								break
							}
							if !errors.Is(err, storage.ErrPrecondition) {
								t.Error(err)
								return
							}
							conflicts.Store(i, true)
						}
					}
				})
			}
			wg.Wait()
			data, _, err := storage.ReadGen(ctx, p)
			if err != nil {
				t.Fatal(err)
			}
			if got := string(data); got != strconv.Itoa(workers*increments) {
				t.Fatalf("counter = %s after %d increments: updates were lost", got, workers*increments)
			}
			t.Logf("%s: %d of %d workers hit at least one precondition failure", name, count(&conflicts), workers)
		})
	}
}

func TestDir(t *testing.T) {
	for name, root := range roots(t) {
		t.Run(name, func(t *testing.T) {
			d := storage.Dir(context.Background(), storage.Join(root, "ckpt"))
			w, err := d.Create("sub/config.json")
			if err != nil {
				t.Fatal(err)
			}
			io.WriteString(w, `{"hidden_size": 128}`)
			if err := w.Close(); err != nil {
				t.Fatal(err)
			}
			r, err := d.Open("sub/config.json")
			if err != nil {
				t.Fatal(err)
			}
			b, _ := io.ReadAll(r)
			r.Close()
			if string(b) != `{"hidden_size": 128}` {
				t.Fatalf("read %q", b)
			}
			if _, err := d.Open("missing.json"); !errors.Is(err, fs.ErrNotExist) {
				t.Fatalf("Open(missing) = %v; want fs.ErrNotExist", err)
			}
			for _, bad := range []string{"../escape", "/abs", ""} {
				if _, err := d.Create(bad); err == nil {
					t.Errorf("Create(%q) accepted a name outside the directory", bad)
				}
			}
		})
	}
}

func count(m *sync.Map) int {
	n := 0
	m.Range(func(any, any) bool { n++; return true })
	return n
}

func TestOpenAt(t *testing.T) {
	ctx := context.Background()
	// 3.5 blocks of distinct bytes, so a wrong offset shows.
	data := make([]byte, 3<<20+1<<19)
	for i := range data {
		data[i] = byte(i*7 + i>>12)
	}
	for name, root := range roots(t) {
		t.Run(name, func(t *testing.T) {
			p := storage.Join(root, "big.bin")
			if err := storage.WriteFile(ctx, p, data); err != nil {
				t.Fatal(err)
			}
			r, err := storage.OpenAt(ctx, p)
			if err != nil {
				t.Fatal(err)
			}
			defer r.Close()
			if r.Size() != int64(len(data)) {
				t.Fatalf("Size = %d, want %d", r.Size(), len(data))
			}
			for _, tc := range []struct {
				off, n int
				eof    bool
			}{
				{0, 10, false},
				{1<<20 - 5, 10, false},      // straddles a block boundary
				{100, 2<<20 + 12345, false}, // spans three blocks
				{len(data) - 4, 4, false},   // footer-style read at the end
				{len(data) - 4, 10, true},   // past the end
				{3 << 20, 1 << 19, false},   // the short last block
				{0, len(data), false},       // everything
				{len(data) + 10, 1, true},   // beyond
			} {
				buf := make([]byte, tc.n)
				n, err := r.ReadAt(buf, int64(tc.off))
				want := data[min(tc.off, len(data)):min(tc.off+tc.n, len(data))]
				if !bytes.Equal(buf[:n], want) {
					t.Fatalf("ReadAt(%d, %d) returned wrong bytes", tc.off, tc.n)
				}
				if tc.eof != (err == io.EOF) || (!tc.eof && err != nil) {
					t.Fatalf("ReadAt(%d, %d) err = %v, want EOF=%v", tc.off, tc.n, err, tc.eof)
				}
			}
			if _, err := storage.OpenAt(ctx, storage.Join(root, "absent")); !errors.Is(err, fs.ErrNotExist) {
				t.Fatalf("OpenAt of a missing file: %v", err)
			}
		})
	}
}

func TestBadPaths(t *testing.T) {
	ctx := context.Background()
	bucket := gcstest.Start(t)
	for _, tc := range []struct {
		path, want string
	}{
		{"", "empty path"},
		{"  ", "empty path"},
		{"gs://" + bucket, "names a bucket or directory, not an object"},
		{"gs://" + bucket + "/dir/", "names a bucket or directory, not an object"},
		{"gs:///obj", "no bucket"},
		{"s3://b/k", "s3://b/k"}, // not registered in Beam, and no generations
	} {
		checks := map[string]error{}
		_, checks["ReadFile"] = storage.ReadFile(ctx, tc.path)
		checks["WriteFile"] = storage.WriteFile(ctx, tc.path, []byte("x"))
		_, checks["Exists"] = storage.Exists(ctx, tc.path)
		_, _, checks["ReadGen"] = storage.ReadGen(ctx, tc.path)
		_, checks["WriteGen"] = storage.WriteGen(ctx, tc.path, []byte("x"), 0)
		_, checks["OpenAt"] = storage.OpenAt(ctx, tc.path)
		for op, err := range checks {
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("%s(%q) error = %v; want one containing %q", op, tc.path, err, tc.want)
			}
		}
	}
	if got, _ := storage.List(ctx, "gs://"+bucket+"/*"); len(got) != 0 {
		t.Fatalf("rejected writes left objects: %q", got)
	}
	err := storage.WriteFile(ctx, "gs://no-such-bucket-here/obj", []byte("x"))
	if err == nil || !strings.Contains(err.Error(), "bucket not found") {
		t.Fatalf("write into a missing bucket: %v", err)
	}
}

func TestWalk(t *testing.T) {
	ctx := context.Background()
	files := []string{"manifest.json", "ner/train/part-00000-of-00001.parquet", "rejected/ner.jsonl", "sst2/validation/part-00000-of-00001.parquet"}
	for name, root := range roots(t) {
		t.Run(name, func(t *testing.T) {
			out := storage.Join(root, "out")
			if got, err := storage.Walk(ctx, out); err != nil || len(got) != 0 {
				t.Fatalf("Walk of a missing root = %q, %v; want empty", got, err)
			}
			for _, f := range files {
				if err := storage.WriteFile(ctx, storage.Join(out, f), []byte(f)); err != nil {
					t.Fatal(err)
				}
			}
			// Neighbours sharing the prefix and bookkeeping files stay out.
			storage.WriteFile(ctx, storage.Join(root, "out2", "x"), []byte("x"))
			storage.WriteGen(ctx, storage.Join(out, "ner", "lease"), []byte("l"), 0)
			got, err := storage.Walk(ctx, out)
			if err != nil {
				t.Fatal(err)
			}
			want := append(slices.Clone(files), "ner/lease")
			slices.Sort(want)
			if !slices.Equal(got, want) {
				t.Fatalf("Walk = %q, want %q", got, want)
			}
		})
	}
}

package storage

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"sync"
)

const (
	tmpMarker = ".tw-tmp-" // .<name>.tw-tmp-<random>: a Create in progress
	genMarker = ".tw-gen"  // .<name>.tw-gen: generation sidecar of <name>
)

func isBookkeeping(base string) bool {
	return strings.HasPrefix(base, ".") && (strings.Contains(base, tmpMarker) || strings.HasSuffix(base, genMarker))
}

// localWriter writes to a hidden temporary file next to the destination and
// renames it into place on Close, so readers see either the old file or the
// complete new one, never a prefix.
type localWriter struct {
	ctx   context.Context
	f     *os.File
	final string
	mu    sync.Mutex
	done  bool
}

func createLocal(ctx context.Context, p string) (*localWriter, error) {
	if err := ctx.Err(); err != nil {
		return nil, pathErr("create", p, err)
	}
	dir := filepath.Dir(p)
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, err
	}
	f, err := os.CreateTemp(dir, "."+filepath.Base(p)+tmpMarker+"*")
	if err != nil {
		return nil, err
	}
	// CreateTemp uses 0600; shards and manifests are meant to be shared.
	if err := f.Chmod(0o644); err != nil {
		f.Close()
		os.Remove(f.Name())
		return nil, err
	}
	return &localWriter{ctx: ctx, f: f, final: p}, nil
}

func (w *localWriter) Write(b []byte) (int, error) {
	if err := w.ctx.Err(); err != nil {
		return 0, pathErr("write", w.final, err)
	}
	return w.f.Write(b)
}

func (w *localWriter) Close() error {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.done {
		return nil
	}
	w.done = true
	tmp := w.f.Name()
	fail := func(err error) error {
		w.f.Close()
		os.Remove(tmp)
		return pathErr("close", w.final, err)
	}
	if err := w.ctx.Err(); err != nil {
		return fail(err)
	}
	if err := w.f.Sync(); err != nil {
		return fail(err)
	}
	if err := w.f.Close(); err != nil {
		os.Remove(tmp)
		return pathErr("close", w.final, err)
	}
	if err := os.Rename(tmp, w.final); err != nil {
		os.Remove(tmp)
		return pathErr("rename", w.final, err)
	}
	// The rename is durable only once the directory entry is on disk.
	return syncDir(filepath.Dir(w.final))
}

func (w *localWriter) Abort() {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.done {
		return
	}
	w.done = true
	w.f.Close()
	os.Remove(w.f.Name())
}

// SyncDir makes renames and removals in dir durable (fsync of the
// directory; a no-op where directories cannot be synced).
func SyncDir(dir string) error { return syncDir(dir) }

func syncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	defer d.Close()
	if err := d.Sync(); err != nil && !errors.Is(err, os.ErrInvalid) {
		return pathErr("sync", dir, err)
	}
	return nil
}

package checkpoint

import (
	"fmt"
	"io"
	"os"
	"path/filepath"
)

// FS is the directory a checkpoint lives in. Create must be atomic: what it
// writes becomes visible under name only when Close returns nil. LocalDir
// is the local implementation; io/storage.Dir provides local and gs://
// directories with the same two methods.
type FS interface {
	Open(name string) (io.ReadCloser, error)
	Create(name string) (io.WriteCloser, error)
}

// LocalDir is a checkpoint directory on the local disk. Create writes a
// temporary file in the same directory, syncs it and renames it over name
// on Close, so readers see either the old file or the whole new one.
func LocalDir(path string) FS { return localDir(path) }

type localDir string

func (d localDir) Open(name string) (io.ReadCloser, error) {
	return os.Open(filepath.Join(string(d), name))
}

func (d localDir) Create(name string) (io.WriteCloser, error) {
	if err := os.MkdirAll(string(d), 0o755); err != nil {
		return nil, err
	}
	f, err := os.CreateTemp(string(d), "."+name+".tmp-*")
	if err != nil {
		return nil, err
	}
	return &atomicFile{f: f, final: filepath.Join(string(d), name)}, nil
}

// String is the directory path; Load uses it to name an imported task.
func (d localDir) String() string { return string(d) }

// path gives the file's local path, so pytorch_model.bin can be handed to
// gopickle (which opens files by name) without a copy.
func (d localDir) path(name string) string { return filepath.Join(string(d), name) }

type atomicFile struct {
	f      *os.File
	final  string
	closed bool
}

func (a *atomicFile) Write(p []byte) (int, error) { return a.f.Write(p) }

// Abort drops the temporary file: nothing becomes visible under the final
// name. Save calls it (through the aborter interface) when a write fails,
// so that a failed Save never publishes a truncated file.
func (a *atomicFile) Abort() error {
	if a.closed {
		return nil
	}
	a.closed = true
	a.f.Close()
	return os.Remove(a.f.Name())
}

func (a *atomicFile) Close() error {
	if a.closed {
		return fmt.Errorf("%s: closed twice", a.final)
	}
	a.closed = true
	tmp := a.f.Name()
	if err := a.f.Sync(); err != nil {
		a.f.Close()
		os.Remove(tmp)
		return fmt.Errorf("%s: %w", a.final, err)
	}
	if err := a.f.Close(); err != nil {
		os.Remove(tmp)
		return fmt.Errorf("%s: %w", a.final, err)
	}
	if err := os.Chmod(tmp, 0o644); err != nil {
		os.Remove(tmp)
		return err
	}
	if err := os.Rename(tmp, a.final); err != nil {
		os.Remove(tmp)
		return err
	}
	return nil
}

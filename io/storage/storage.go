// Package storage reads and writes files on local disk and on Google Cloud
// Storage (gs://bucket/object) through the Beam Go SDK's filesystem
// abstraction, so the same calls work in the launcher and inside Beam workers.
//
// What it adds on top of Beam's filesystem:
//
//   - Create is atomic: the file or object becomes visible only when Close
//     returns nil. Beam's local OpenWrite truncates the destination in place,
//     so local files are written to a hidden temporary name in the same
//     directory, fsynced and renamed instead. On gs:// the Beam writer already
//     has the right semantics (GCS finalises an upload only on Close); Abort
//     cancels the upload so nothing appears.
//   - ReadGen/WriteGen give generation-checked writes for pointers and leases.
//     GCS generations are used directly through cloud.google.com/go/storage
//     (Beam's filesystem has no preconditions). Local files emulate them with
//     an flock-protected sidecar holding a generation counter.
//   - "Not found" errors from either backend satisfy errors.Is(err, fs.ErrNotExist).
//
// Both Beam's gcs filesystem and this package's own client are built with
// storage.NewClient, which honours STORAGE_EMULATOR_HOST, so tests point both
// at fake-gcs-server (see gcstest) without any other switch.
//
// Local bookkeeping files start with a dot and carry a ".tw-tmp-" (a Create
// in progress) or ".tw-gen" (generation sidecar) marker; List skips them.
// Remove leaves a sidecar in place so a re-created file never reuses an old
// generation.
//
// Globs follow Beam: filepath.Match syntax locally; on gs:// `*` and `?` stay
// within one path segment, `**` crosses segments (local globs have no `**`).
//
// Additions to the contract in docs/architecture.md (all additive): Writer and
// Abort (discard an unfinished Create), Size, Stat/Info (gs:// generation and
// checksums, used by manifest fingerprints), OpenAt/ReaderAt (random access
// for Parquet; ranged reads on gs://), OpenAppend/Appender (logs appended in
// place locally and by compose on gs://), Walk (recursive listing) and
// DirFS.Base.
package storage

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"net/http"
	"os"
	"path"
	"path/filepath"
	"slices"
	"strings"
	"sync"

	gcs "cloud.google.com/go/storage"
	"github.com/apache/beam/sdks/v2/go/pkg/beam/io/filesystem"
	_ "github.com/apache/beam/sdks/v2/go/pkg/beam/io/filesystem/gcs"   // registers gs://
	_ "github.com/apache/beam/sdks/v2/go/pkg/beam/io/filesystem/local" // registers plain paths
	"google.golang.org/api/googleapi"
)

const gsPrefix = "gs://"

// ErrPrecondition reports that a generation-checked write lost a race: the
// object changed (or appeared) since the caller read it.
var ErrPrecondition = errors.New("storage: precondition failed (object changed since it was read)")

// IsGCS reports whether path names a Google Cloud Storage object.
func IsGCS(p string) bool { return strings.HasPrefix(p, gsPrefix) }

// Join joins path elements with path.Join semantics and keeps the gs://bucket
// prefix intact.
func Join(base string, elem ...string) string {
	if IsGCS(base) {
		rest := strings.TrimPrefix(base, gsPrefix)
		return gsPrefix + path.Join(append([]string{rest}, elem...)...)
	}
	return filepath.Join(append([]string{base}, elem...)...)
}

// Open opens a file or object for reading.
func Open(ctx context.Context, p string) (io.ReadCloser, error) {
	if err := checkPath("open", p); err != nil {
		return nil, err
	}
	fsys, err := beamFS(p)
	if err != nil {
		return nil, err
	}
	r, err := fsys.OpenRead(ctx, p)
	if err != nil {
		return nil, pathErr("open", p, err)
	}
	return r, nil
}

// ReadFile reads a whole file or object.
func ReadFile(ctx context.Context, p string) ([]byte, error) {
	r, err := Open(ctx, p)
	if err != nil {
		return nil, err
	}
	defer r.Close()
	data, err := io.ReadAll(r)
	if err != nil {
		return nil, pathErr("read", p, err)
	}
	return data, nil
}

// Writer is the dynamic type of what Create returns: Close commits, Abort
// discards everything written and leaves the destination as it was (a no-op
// after Close). Create's signature stays io.WriteCloser as the contract fixes;
// use the Abort helper or a type assertion to reach Abort.
type Writer interface {
	io.WriteCloser
	Abort()
}

// Create returns a writer whose content becomes visible at p only when Close
// returns nil (local: temp file + fsync + rename; gs://: the upload is
// finalised on Close). A write is discarded if ctx is cancelled before Close
// or if the caller calls Abort (see the package-level Abort helper). Parent
// directories are created as needed.
func Create(ctx context.Context, p string) (io.WriteCloser, error) {
	if err := checkPath("create", p); err != nil {
		return nil, err
	}
	if isLocal(p) {
		return createLocal(ctx, p)
	}
	fsys, err := beamFS(p)
	if err != nil {
		return nil, err
	}
	wctx, cancel := context.WithCancel(ctx)
	w, err := fsys.OpenWrite(wctx, p)
	if err != nil {
		cancel()
		return nil, pathErr("create", p, err)
	}
	return &remoteWriter{w: w, cancel: cancel, path: p}, nil
}

// Abort discards a writer returned by Create. For any other io.WriteCloser it
// just closes it. Use it on error paths: `defer storage.Abort(w)` is harmless
// after a successful Close.
func Abort(w io.WriteCloser) {
	if a, ok := w.(interface{ Abort() }); ok {
		a.Abort()
		return
	}
	_ = w.Close()
}

// remoteWriter wraps a Beam filesystem writer (a GCS object writer for gs://).
// GCS finalises the object on Close; cancelling the writer's context before
// that abandons the upload, so nothing becomes visible.
type remoteWriter struct {
	w      io.WriteCloser
	cancel context.CancelFunc
	path   string
	mu     sync.Mutex
	done   bool
}

func (w *remoteWriter) Write(b []byte) (int, error) {
	n, err := w.w.Write(b)
	if err != nil {
		return n, pathErr("write", w.path, err)
	}
	return n, nil
}

func (w *remoteWriter) Close() error {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.done {
		return nil
	}
	w.done = true
	err := w.w.Close()
	w.cancel()
	var ge *googleapi.Error
	if errors.As(err, &ge) && ge.Code == http.StatusNotFound {
		return pathErr("close", w.path, fmt.Errorf("bucket not found (create it or fix the path): %w", err))
	}
	if err != nil {
		return pathErr("close", w.path, err)
	}
	return nil
}

func (w *remoteWriter) Abort() {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.done {
		return
	}
	w.done = true
	w.cancel()      // abandons the upload before it is finalised
	_ = w.w.Close() // returns context.Canceled; releases the upload goroutine
}

// WriteFile atomically replaces p with data.
func WriteFile(ctx context.Context, p string, data []byte) error {
	w, err := Create(ctx, p)
	if err != nil {
		return err
	}
	if _, err := w.Write(data); err != nil {
		Abort(w)
		return err
	}
	return w.Close()
}

// List expands a glob (filepath.Match syntax locally; on gs:// `*` stays
// within one path segment and `**` crosses segments, as in Beam) and returns
// the matches sorted. No match is not an error.
func List(ctx context.Context, glob string) ([]string, error) {
	if strings.TrimSpace(glob) == "" {
		return nil, errors.New("storage: list: empty pattern")
	}
	if IsGCS(glob) && strings.HasPrefix(strings.TrimPrefix(glob, gsPrefix), "/") {
		return nil, fmt.Errorf("storage: list %s: no bucket; write gs://bucket/dir/*", glob)
	}
	fsys, err := beamFS(glob)
	if err != nil {
		return nil, err
	}
	names, err := fsys.List(ctx, glob)
	if err != nil {
		return nil, fmt.Errorf("storage: list %s: %w", glob, err)
	}
	out := names[:0]
	for _, n := range names {
		if isLocal(glob) && isBookkeeping(filepath.Base(n)) {
			continue
		}
		out = append(out, n)
	}
	slices.Sort(out)
	return out, nil
}

// Walk lists every file under root (recursively) as sorted, slash-separated
// paths relative to root, without local bookkeeping files. A missing root
// gives an empty list. It lets two output trees (say a local and a gs:// run)
// be compared file by file.
func Walk(ctx context.Context, root string) ([]string, error) {
	if strings.TrimSpace(root) == "" {
		return nil, errors.New("storage: walk: empty root")
	}
	var rel []string
	if IsGCS(root) {
		base := strings.TrimSuffix(root, "/")
		names, err := List(ctx, base+"/**")
		if err != nil {
			return nil, err
		}
		for _, n := range names {
			rel = append(rel, strings.TrimPrefix(n, base+"/"))
		}
		return rel, nil
	}
	err := filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			if p == root && errors.Is(err, fs.ErrNotExist) {
				return fs.SkipAll
			}
			return err
		}
		if d.IsDir() || isBookkeeping(d.Name()) {
			return nil
		}
		r, err := filepath.Rel(root, p)
		if err != nil {
			return err
		}
		rel = append(rel, filepath.ToSlash(r))
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("storage: walk %s: %w", root, err)
	}
	slices.Sort(rel)
	return rel, nil
}

// Exists reports whether a file or object exists. On gs:// a "directory" (a
// common prefix without an object of its own) does not exist.
func Exists(ctx context.Context, p string) (bool, error) {
	if err := checkPath("stat", p); err != nil {
		return false, err
	}
	if isLocal(p) {
		_, err := os.Stat(p)
		if err == nil {
			return true, nil
		}
		if errors.Is(err, fs.ErrNotExist) {
			return false, nil
		}
		return false, err
	}
	fsys, err := beamFS(p)
	if err != nil {
		return false, err
	}
	if _, err := fsys.Size(ctx, p); err != nil {
		if isNotExist(err) {
			return false, nil
		}
		return false, pathErr("stat", p, err)
	}
	return true, nil
}

// Size returns the size of a file or object in bytes.
func Size(ctx context.Context, p string) (int64, error) {
	if err := checkPath("stat", p); err != nil {
		return 0, err
	}
	fsys, err := beamFS(p)
	if err != nil {
		return 0, err
	}
	n, err := fsys.Size(ctx, p)
	if err != nil {
		return 0, pathErr("stat", p, err)
	}
	return n, nil
}

// Remove deletes a file or object. Removing something absent is an error
// satisfying errors.Is(err, fs.ErrNotExist).
func Remove(ctx context.Context, p string) error {
	if err := checkPath("remove", p); err != nil {
		return err
	}
	fsys, err := beamFS(p)
	if err != nil {
		return err
	}
	rm, ok := fsys.(filesystem.Remover)
	if !ok {
		return fmt.Errorf("storage: remove %s: the filesystem for this scheme cannot remove files", p)
	}
	if err := rm.Remove(ctx, p); err != nil {
		return pathErr("remove", p, err)
	}
	return nil
}

// DirFS is a directory (local or gs://) seen as a flat namespace of files; it
// satisfies model/checkpoint.FS. Names are slash-separated and relative.
type DirFS struct {
	ctx  context.Context
	base string
}

// Dir adapts a directory (local or gs://) to model/checkpoint.FS.
func Dir(ctx context.Context, base string) DirFS { return DirFS{ctx: ctx, base: base} }

// Base returns the directory DirFS was made for.
func (d DirFS) Base() string { return d.base }

// Open opens name inside the directory.
func (d DirFS) Open(name string) (io.ReadCloser, error) {
	p, err := d.resolve("open", name)
	if err != nil {
		return nil, err
	}
	return Open(d.ctx, p)
}

// Create creates name inside the directory; it becomes visible on Close.
func (d DirFS) Create(name string) (io.WriteCloser, error) {
	p, err := d.resolve("create", name)
	if err != nil {
		return nil, err
	}
	return Create(d.ctx, p)
}

func (d DirFS) resolve(op, name string) (string, error) {
	if !fs.ValidPath(name) {
		return "", &fs.PathError{Op: op, Path: name, Err: fmt.Errorf("invalid name in %s: use a relative, slash-separated path without '..'", d.base)}
	}
	return Join(d.base, name), nil
}

// checkPath rejects paths that cannot name a file or object before any
// backend sees them (GCS would happily create an object with an empty name).
func checkPath(op, p string) error {
	if strings.TrimSpace(p) == "" {
		return fmt.Errorf("storage: %s: empty path", op)
	}
	if !IsGCS(p) {
		return nil
	}
	bucket, object, _ := strings.Cut(strings.TrimPrefix(p, gsPrefix), "/")
	if bucket == "" {
		return fmt.Errorf("storage: %s %s: no bucket; write gs://bucket/dir/name", op, p)
	}
	if object == "" || strings.HasSuffix(object, "/") {
		return fmt.Errorf("storage: %s %s: names a bucket or directory, not an object; add a file name (gs://%s/dir/name)", op, p, bucket)
	}
	return nil
}

// isLocal reports whether p goes to Beam's "default" (local) filesystem.
func isLocal(p string) bool { return !strings.Contains(p, "://") }

// Beam's gcs filesystem builds a new storage client every time; building one
// per Open would redo transport and credential setup for every shard, so
// filesystems are cached per scheme (and per emulator address, because tests
// start a fresh emulator each time). They are never closed: Close would
// invalidate readers still streaming from them.
var fsCache sync.Map // key string -> filesystem.Interface

func beamFS(p string) (filesystem.Interface, error) {
	if strings.TrimSpace(p) == "" {
		return nil, errors.New("storage: empty path")
	}
	scheme := "default"
	if i := strings.Index(p, "://"); i > 0 {
		scheme = p[:i]
	}
	key := scheme
	if scheme == "gs" {
		key += "|" + os.Getenv("STORAGE_EMULATOR_HOST")
	}
	if v, ok := fsCache.Load(key); ok {
		return v.(filesystem.Interface), nil
	}
	// A background context: the filesystem outlives the caller's context
	// (credential refresh uses the context given at construction).
	fsys, err := filesystem.New(context.Background(), p)
	if err != nil {
		return nil, fmt.Errorf("storage: %s: %w", p, err)
	}
	if v, loaded := fsCache.LoadOrStore(key, fsys); loaded {
		_ = fsys.Close()
		return v.(filesystem.Interface), nil
	}
	return fsys, nil
}

// notExist marks a backend's "not found" error as fs.ErrNotExist without
// hiding the original error.
type notExist struct{ err error }

func (e notExist) Error() string        { return e.err.Error() }
func (e notExist) Unwrap() error        { return e.err }
func (e notExist) Is(target error) bool { return target == fs.ErrNotExist }

func isNotExist(err error) bool {
	return errors.Is(err, fs.ErrNotExist) || errors.Is(err, gcs.ErrObjectNotExist) || errors.Is(err, gcs.ErrBucketNotExist)
}

// pathErr names the path in every error and makes not-found errors uniform.
func pathErr(op, p string, err error) error {
	var pe *fs.PathError
	if errors.As(err, &pe) && pe.Path == p {
		return err
	}
	if isNotExist(err) && !errors.Is(err, fs.ErrNotExist) {
		err = notExist{err}
	}
	return &fs.PathError{Op: op, Path: p, Err: err}
}

package storage

import (
	"context"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"

	gcs "cloud.google.com/go/storage"
	"github.com/apache/beam/sdks/v2/go/pkg/beam/util/gcsx"
	"google.golang.org/api/googleapi"
)

// ReadGen reads p together with its generation. Absent objects give an error
// satisfying errors.Is(err, fs.ErrNotExist) (and gen 0).
func ReadGen(ctx context.Context, p string) (data []byte, gen int64, err error) {
	if err := checkPath("read", p); err != nil {
		return nil, 0, err
	}
	if isLocal(p) {
		return readGenLocal(p)
	}
	obj, err := gcsObject(p)
	if err != nil {
		return nil, 0, err
	}
	r, err := obj.NewReader(ctx)
	if err != nil {
		return nil, 0, pathErr("read", p, err)
	}
	defer r.Close()
	data, err = io.ReadAll(r)
	if err != nil {
		return nil, 0, pathErr("read", p, err)
	}
	return data, r.Attrs.Generation, nil
}

// WriteGen replaces p with data only if its current generation is gen
// (gen 0: only if p does not exist yet) and returns the new generation. A lost
// race gives an error wrapping ErrPrecondition; the caller should re-read.
func WriteGen(ctx context.Context, p string, data []byte, gen int64) (newGen int64, err error) {
	if err := checkPath("write", p); err != nil {
		return 0, err
	}
	if gen < 0 {
		return 0, fmt.Errorf("storage: write %s: negative generation %d", p, gen)
	}
	if isLocal(p) {
		return writeGenLocal(ctx, p, data, gen)
	}
	obj, err := gcsObject(p)
	if err != nil {
		return 0, err
	}
	cond := gcs.Conditions{GenerationMatch: gen}
	if gen == 0 {
		cond = gcs.Conditions{DoesNotExist: true}
	}
	w := obj.If(cond).NewWriter(ctx)
	// Pointers and leases are tiny and rewritten often: a 256 KiB chunk (the
	// smallest the client allows) instead of the 16 MiB default keeps retries
	// without allocating 16 MiB per heartbeat.
	w.ChunkSize = max(256<<10, min(len(data), 16<<20))
	if _, err := w.Write(data); err != nil {
		_ = w.Close()
		return 0, genErr(p, err)
	}
	if err := w.Close(); err != nil {
		return 0, genErr(p, err)
	}
	return w.Attrs().Generation, nil
}

func genErr(p string, err error) error {
	var ge *googleapi.Error
	if errors.As(err, &ge) && ge.Code == http.StatusPreconditionFailed {
		return fmt.Errorf("storage: write %s: %w", p, ErrPrecondition)
	}
	return pathErr("write", p, err)
}

// Info describes a stored file or object.
type Info struct {
	Size int64
	// Generation is the GCS object generation (0 for local files).
	Generation int64
	// MD5 and CRC32C are the server-side checksums of a GCS object (nil /
	// HasCRC32C false for local files and composite objects without MD5).
	MD5       []byte
	CRC32C    uint32
	HasCRC32C bool
}

// Checksum returns a stable description of the object's content from
// server-side checksums ("md5:…" or "crc32c:…"), or "" when there is none
// (local files: hash the bytes instead).
func (i Info) Checksum() string {
	switch {
	case len(i.MD5) > 0:
		return "md5:" + base64.StdEncoding.EncodeToString(i.MD5)
	case i.HasCRC32C:
		return "crc32c:" + strconv.FormatUint(uint64(i.CRC32C), 16)
	}
	return ""
}

// Stat returns size and, on gs://, the generation and server checksums.
func Stat(ctx context.Context, p string) (Info, error) {
	if err := checkPath("stat", p); err != nil {
		return Info{}, err
	}
	if isLocal(p) {
		st, err := os.Stat(p)
		if err != nil {
			return Info{}, err
		}
		if st.IsDir() {
			return Info{}, &fs.PathError{Op: "stat", Path: p, Err: errors.New("is a directory, not a file")}
		}
		return Info{Size: st.Size()}, nil
	}
	obj, err := gcsObject(p)
	if err != nil {
		return Info{}, err
	}
	a, err := obj.Attrs(ctx)
	if err != nil {
		return Info{}, pathErr("stat", p, err)
	}
	return Info{Size: a.Size, Generation: a.Generation, MD5: a.MD5, CRC32C: a.CRC32C, HasCRC32C: true}, nil
}

// Beam's filesystem has no preconditions, range reads or attributes, so those
// go to a client of our own, built exactly like Beam's (gcsx.NewClient, which
// honours STORAGE_EMULATOR_HOST) and cached per emulator address.
var clients sync.Map // emulator host -> *gcs.Client

func gcsClient() (*gcs.Client, error) {
	key := os.Getenv("STORAGE_EMULATOR_HOST")
	if c, ok := clients.Load(key); ok {
		return c.(*gcs.Client), nil
	}
	ctx := context.Background()
	c, err := gcsx.NewClient(ctx, gcs.ScopeReadWrite)
	if err != nil {
		// Same fallback as Beam's gcs filesystem: public buckets still work.
		c, err = gcsx.NewUnauthenticatedClient(ctx)
		if err != nil {
			return nil, fmt.Errorf("storage: creating GCS client: %w", err)
		}
	}
	if v, loaded := clients.LoadOrStore(key, c); loaded {
		c.Close()
		return v.(*gcs.Client), nil
	}
	return c, nil
}

func gcsObject(p string) (*gcs.ObjectHandle, error) {
	if !IsGCS(p) {
		return nil, fmt.Errorf("storage: %s: generations, stat and range reads support local paths and gs:// only", p)
	}
	bucket, object, err := gcsx.ParseObject(p)
	if err != nil || bucket == "" || object == "" || strings.HasSuffix(object, "/") {
		return nil, fmt.Errorf("storage: %s is not an object path: write it as gs://bucket/dir/name", p)
	}
	c, err := gcsClient()
	if err != nil {
		return nil, err
	}
	return c.Bucket(bucket).Object(object), nil
}

// Local generations: the sidecar .<name>.tw-gen holds the last generation
// written through WriteGen and doubles as the lock file (flock, so two
// goroutines of one process exclude each other as well as two processes).
// The counter survives Remove so a re-created file never reuses an old
// generation. A file that exists without a sidecar counts as generation 1.
// A plain WriteFile does not bump the local counter (on GCS it does), so
// paths used as pointers or leases must be written with WriteGen only.
func sidecar(p string) string {
	return filepath.Join(filepath.Dir(p), "."+filepath.Base(p)+genMarker)
}

func readGenLocal(p string) ([]byte, int64, error) {
	f, err := os.Open(sidecar(p))
	switch {
	case errors.Is(err, fs.ErrNotExist):
		data, err := os.ReadFile(p)
		if err != nil {
			return nil, 0, err
		}
		return data, 1, nil
	case err != nil:
		return nil, 0, err
	}
	defer f.Close()
	if err := lockFile(f, false); err != nil {
		return nil, 0, pathErr("lock", p, err)
	}
	defer unlockFile(f)
	stored, err := readCounter(f)
	if err != nil {
		return nil, 0, pathErr("read generation of", p, err)
	}
	data, err := os.ReadFile(p)
	if err != nil {
		return nil, 0, err
	}
	return data, max(stored, 1), nil
}

func writeGenLocal(ctx context.Context, p string, data []byte, gen int64) (int64, error) {
	if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
		return 0, err
	}
	f, err := os.OpenFile(sidecar(p), os.O_RDWR|os.O_CREATE, 0o644)
	if err != nil {
		return 0, err
	}
	defer f.Close()
	if err := lockFile(f, true); err != nil {
		return 0, pathErr("lock", p, err)
	}
	defer unlockFile(f)
	stored, err := readCounter(f)
	if err != nil {
		return 0, pathErr("read generation of", p, err)
	}
	var cur int64
	if _, err := os.Stat(p); err == nil {
		cur = max(stored, 1)
	} else if !errors.Is(err, fs.ErrNotExist) {
		return 0, err
	}
	if cur != gen {
		return 0, fmt.Errorf("storage: write %s: have generation %d, current is %d: %w", p, gen, cur, ErrPrecondition)
	}
	next := max(stored, cur) + 1
	// Counter first, data second: a crash in between leaves a bumped counter
	// with the old data, which only makes the next writer re-read (never a
	// lost update).
	if err := writeCounter(f, next); err != nil {
		return 0, pathErr("write generation of", p, err)
	}
	w, err := createLocal(ctx, p)
	if err != nil {
		return 0, err
	}
	if _, err := w.Write(data); err != nil {
		w.Abort()
		return 0, err
	}
	if err := w.Close(); err != nil {
		return 0, err
	}
	return next, nil
}

func readCounter(f *os.File) (int64, error) {
	b := make([]byte, 32)
	n, err := f.ReadAt(b, 0)
	if err != nil && !errors.Is(err, io.EOF) {
		return 0, err
	}
	s := strings.TrimSpace(string(b[:n]))
	if s == "" {
		return 0, nil
	}
	g, err := strconv.ParseInt(s, 10, 64)
	if err != nil || g < 0 {
		return 0, fmt.Errorf("corrupt generation sidecar %s (%q): delete it to restart generations at 1", f.Name(), s)
	}
	return g, nil
}

func writeCounter(f *os.File, g int64) error {
	s := strconv.FormatInt(g, 10) + "\n"
	if err := f.Truncate(0); err != nil {
		return err
	}
	if _, err := f.WriteAt([]byte(s), 0); err != nil {
		return err
	}
	return f.Sync()
}

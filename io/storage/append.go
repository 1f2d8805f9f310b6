package storage

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"strings"
	"time"

	gcs "cloud.google.com/go/storage"
)

// Appender adds bytes to the end of a file or object, for logs such as a
// training run's metrics.jsonl that must survive a crash up to the last
// flush without being rewritten whole at the end.
//
// Local files are opened with O_APPEND: every Write reaches the file at once
// (a killed process loses nothing written) and Flush fsyncs it.
//
// GCS objects cannot be appended to, so Write buffers and Flush uploads the
// buffer as a hidden part object next to the log, composes [log, part] onto
// the log under a generation precondition, and deletes the part. A crash
// loses at most what was written since the last flush. Write flushes by
// itself when the buffer holds more than appendChunk bytes or when interval
// has passed since the last flush. A composite object may have at most 1024
// components; when the log has maxComponents of them the next flush
// rewrites it whole (one component again) instead of composing.
type Appender struct {
	ctx      context.Context
	path     string
	interval time.Duration

	local bool
	f     *os.File // local

	buf        bytes.Buffer // gs://: written since the last flush
	gen        int64        // gs://: generation of the log; 0 = absent
	components int64
	last       time.Time
}

const appendChunk = 4 << 20

// maxComponents is where a gs:// log stops being composed and is rewritten;
// GCS refuses composites of more than 1024 components. A variable so the
// test can reach the rewrite path in a few flushes.
var maxComponents int64 = 1000

// OpenAppend opens p for appending, creating it (and local parent
// directories) if it does not exist. On gs://, Write flushes by itself once
// interval has passed since the last flush (0: at every Write).
//
// A log has one writer at a time, so what a killed writer left beside it (a
// gs:// part uploaded but not yet composed and deleted, a local temporary
// file of an unfinished rewrite) is removed here.
func OpenAppend(ctx context.Context, p string, interval time.Duration) (*Appender, error) {
	if err := checkPath("append", p); err != nil {
		return nil, err
	}
	if err := removeLeftovers(ctx, p); err != nil {
		return nil, err
	}
	a := &Appender{ctx: ctx, path: p, interval: interval, last: time.Now()}
	if isLocal(p) {
		a.local = true
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			return nil, err
		}
		f, err := os.OpenFile(p, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
		if err != nil {
			return nil, err
		}
		a.f = f
		return a, nil
	}
	obj, err := gcsObject(p)
	if err != nil {
		return nil, err
	}
	attrs, err := obj.Attrs(ctx)
	switch {
	case errors.Is(err, gcs.ErrObjectNotExist):
	case err != nil:
		return nil, pathErr("append", p, err)
	default:
		a.gen, a.components = attrs.Generation, max(attrs.ComponentCount, 1)
	}
	return a, nil
}

// removeLeftovers deletes the hidden temporary objects or files of p
// (.<name>.tw-tmp-*), the ones a writer killed mid-flush or mid-rewrite
// leaves behind. The directory is listed and filtered by prefix, so a name
// with glob metacharacters needs no quoting.
func removeLeftovers(ctx context.Context, p string) error {
	if isLocal(p) {
		dir, base := filepath.Split(p)
		entries, err := os.ReadDir(filepath.Clean(dir))
		if errors.Is(err, fs.ErrNotExist) {
			return nil
		}
		if err != nil {
			return pathErr("append", p, err)
		}
		for _, e := range entries {
			if strings.HasPrefix(e.Name(), "."+base+tmpMarker) {
				if err := os.Remove(filepath.Join(dir, e.Name())); err != nil && !errors.Is(err, fs.ErrNotExist) {
					return pathErr("append", p, err)
				}
			}
		}
		return nil
	}
	dir, base := path.Split(p)
	names, err := List(ctx, dir+"*")
	if err != nil {
		return err
	}
	for _, n := range names {
		if strings.HasPrefix(n, dir+"."+base+tmpMarker) {
			if err := Remove(ctx, n); err != nil && !errors.Is(err, fs.ErrNotExist) {
				return pathErr("append", p, err)
			}
		}
	}
	return nil
}

// Write appends b (locally at once; on gs:// at the next flush).
func (a *Appender) Write(b []byte) (int, error) {
	if a.local {
		if a.f == nil {
			return 0, pathErr("append", a.path, fs.ErrClosed)
		}
		n, err := a.f.Write(b)
		if err != nil {
			return n, pathErr("append", a.path, err)
		}
		return n, nil
	}
	a.buf.Write(b)
	if a.buf.Len() >= appendChunk || time.Since(a.last) >= a.interval {
		if err := a.Flush(); err != nil {
			return 0, err
		}
	}
	return len(b), nil
}

// Flush makes everything written so far durable: fsync locally, one compose
// (or rewrite) on gs://.
func (a *Appender) Flush() error {
	a.last = time.Now()
	if a.local {
		if a.f == nil {
			return nil
		}
		if err := a.f.Sync(); err != nil {
			return pathErr("sync", a.path, err)
		}
		return nil
	}
	if a.buf.Len() == 0 {
		return nil
	}
	var err error
	switch {
	case a.gen == 0:
		a.gen, err = WriteGen(a.ctx, a.path, a.buf.Bytes(), 0)
		a.components = 1
	case a.components >= maxComponents:
		err = a.rewrite()
	default:
		err = a.compose()
	}
	if err != nil {
		return err
	}
	a.buf.Reset()
	return nil
}

// compose uploads the buffer as a part and composes it onto the log.
func (a *Appender) compose() error {
	var rnd [8]byte
	_, _ = rand.Read(rnd[:])
	dir, base := path.Split(a.path)
	part := dir + "." + base + tmpMarker + hex.EncodeToString(rnd[:])
	log, err := gcsObject(a.path)
	if err != nil {
		return err
	}
	if _, err := WriteGen(a.ctx, part, a.buf.Bytes(), 0); err != nil {
		return err
	}
	po, err := gcsObject(part)
	if err != nil {
		return err
	}
	// The precondition below closes the race on GCS; this check also catches
	// another writer on emulators that ignore compose preconditions.
	if cur, err := log.Attrs(a.ctx); err != nil || cur.Generation != a.gen {
		_ = po.Delete(context.WithoutCancel(a.ctx))
		if err != nil {
			return pathErr("append", a.path, err)
		}
		return fmt.Errorf("storage: append %s: the log changed under the appender (generation %d, expected %d): %w", a.path, cur.Generation, a.gen, ErrPrecondition)
	}
	c := log.If(gcs.Conditions{GenerationMatch: a.gen}).ComposerFrom(log.Generation(a.gen), po)
	c.ContentType = "application/octet-stream"
	attrs, err := c.Run(a.ctx)
	// The part is garbage whatever happened; a failed delete leaves a hidden
	// object, not a wrong log.
	_ = po.Delete(context.WithoutCancel(a.ctx))
	if err != nil {
		return genErr(a.path, err)
	}
	a.gen, a.components = attrs.Generation, max(attrs.ComponentCount, a.components+1)
	return nil
}

// rewrite replaces the log by its content plus the buffer, as one component.
func (a *Appender) rewrite() error {
	old, gen, err := ReadGen(a.ctx, a.path)
	if err != nil && !errors.Is(err, fs.ErrNotExist) {
		return err
	}
	if gen != a.gen {
		return fmt.Errorf("storage: append %s: the log changed under the appender (generation %d, expected %d): %w", a.path, gen, a.gen, ErrPrecondition)
	}
	if a.gen, err = WriteGen(a.ctx, a.path, append(old, a.buf.Bytes()...), a.gen); err != nil {
		return err
	}
	a.components = 1
	return nil
}

// Close flushes and releases the appender.
func (a *Appender) Close() error {
	err := a.Flush()
	if a.f != nil {
		if cerr := a.f.Close(); err == nil && cerr != nil {
			err = pathErr("close", a.path, cerr)
		}
		a.f = nil
	}
	return err
}

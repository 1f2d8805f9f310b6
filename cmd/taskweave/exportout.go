package main

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"

	"github.com/taskweave/taskweave/io/storage"
	"github.com/taskweave/taskweave/model/checkpoint"
)

// checkExportTarget refuses an --out that is the checkpoint, lies inside
// it, or contains it. Exporting over the source replaced its weights with
// one head's and left its tasks.json naming every head, so predict printed
// another task's labels with exit 0; an --out that contains the source
// would be replaced as a whole by the export's rename and lose it.
func checkExportTarget(src, out string) error {
	s, o := canonical(src), canonical(out)
	switch {
	case s == o:
		return fmt.Errorf("export: --out %s is the checkpoint --model %s itself; writing there would replace its weights with one task's; choose a new directory", out, src)
	case within(o, s):
		return fmt.Errorf("export: --out %s lies inside the checkpoint --model %s; choose a directory outside it", out, src)
	case within(s, o):
		return fmt.Errorf("export: --out %s contains the checkpoint --model %s, and the export replaces --out as a whole; choose a directory that does not hold it", out, src)
	}
	return nil
}

// canonical spells a directory one way: gs:// without trailing slashes,
// local paths absolute with symbolic links resolved as far as they exist
// (--out usually does not exist yet).
func canonical(p string) string {
	if storage.IsRemote(p) {
		return strings.TrimRight(p, "/")
	}
	a, err := filepath.Abs(p)
	if err != nil {
		return filepath.Clean(p)
	}
	var rest []string
	for d := a; ; d = filepath.Dir(d) {
		if r, err := filepath.EvalSymlinks(d); err == nil {
			return filepath.Join(append([]string{r}, rest...)...)
		}
		if filepath.Dir(d) == d {
			return a
		}
		rest = append([]string{filepath.Base(d)}, rest...)
	}
}

func within(p, dir string) bool { return strings.HasPrefix(p, strings.TrimSuffix(dir, "/")+"/") }

// exportTo runs write on a fresh directory and puts it in place of out
// when it succeeded, so a failed or killed export never leaves half a
// checkpoint under out, nor mixes its files with those already there.
// Locally that is a sibling temporary directory and renames (an existing
// out is moved aside first and removed after). gs:// has no renames: the
// files go straight to out, config.json last, which is what makes a
// directory a checkpoint to every loader.
func exportTo(ctx context.Context, out string, write func(checkpoint.FS) error) error {
	if storage.IsRemote(out) {
		return write(storage.Dir(ctx, out))
	}
	out = filepath.Clean(out)
	if err := os.MkdirAll(filepath.Dir(out), 0o755); err != nil {
		return err
	}
	tmp, err := os.MkdirTemp(filepath.Dir(out), "."+filepath.Base(out)+".export-*")
	if err != nil {
		return err
	}
	defer os.RemoveAll(tmp) // a no-op once renamed
	if err := write(checkpoint.LocalDir(tmp)); err != nil {
		return err
	}
	if err := os.Chmod(tmp, 0o755); err != nil {
		return err
	}
	return swapIn(tmp, out)
}

// swapIn renames the complete directory tmp to out, moving an existing out
// aside first and removing it once the new one is in place.
func swapIn(tmp, out string) error {
	old := tmp + ".old"
	if err := os.Rename(out, old); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return fmt.Errorf("export: moving the previous %s aside: %w", out, err)
	}
	if err := os.Rename(tmp, out); err != nil {
		os.Rename(old, out) // put the previous export back
		return fmt.Errorf("export: %w", err)
	}
	if err := storage.SyncDir(filepath.Dir(out)); err != nil {
		return err
	}
	return os.RemoveAll(old)
}

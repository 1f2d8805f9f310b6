package trainer

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"strings"

	"github.com/taskweave/taskweave/io/storage"
)

// LastDir returns the directory of the run's last save under out (last/
// locally, the prefix last.json names on gs://), or "" when nothing was
// saved, for readers of the final model such as the pre-training stage's
// encoder export.
func LastDir(ctx context.Context, out string) (string, error) {
	s, err := openLast(ctx, out)
	if err != nil {
		return "", err
	}
	return s.dir(), nil
}

// FollowLast returns the directory a checkpoint path names: for a gs://
// path ending in /last whose parent has last.json (the run saves last/ as
// a pointer there, lastdir.go), the prefix the pointer names; any other
// path unchanged. It only reads, so it is safe while the run still trains.
// `evaluate --model <out>/last` and `predict --model <out>/last` go
// through it.
func FollowLast(ctx context.Context, dir string) (string, error) {
	dir = strings.TrimSuffix(dir, "/")
	out, base, ok := cutLast(dir)
	if !storage.IsGCS(dir) || !ok || base != lastDir || !strings.Contains(strings.TrimPrefix(out, "gs://"), "/") {
		return dir, nil
	}
	b, err := storage.ReadFile(ctx, storage.Join(out, lastPointer))
	if errors.Is(err, fs.ErrNotExist) {
		return dir, nil // a run saved before pointers existed: its files are in last/
	}
	if err != nil {
		return "", fmt.Errorf("reading %s: %w", storage.Join(out, lastPointer), err)
	}
	var p pointer
	if err := json.Unmarshal(b, &p); err != nil || !strings.HasPrefix(p.Dir, lastVersions+"/") || strings.Contains(p.Dir, "..") {
		return "", fmt.Errorf("%s is not a taskweave last/ pointer (%q)", storage.Join(out, lastPointer), clipBytes(b))
	}
	return storage.Join(out, p.Dir), nil
}

// cutLast splits a slash path at its last slash (path.Dir would fold
// gs://'s double slash).
func cutLast(p string) (dir, base string, ok bool) {
	i := strings.LastIndexByte(p, '/')
	if i < 0 {
		return "", p, false
	}
	return p[:i], p[i+1:], true
}

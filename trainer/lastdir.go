package trainer

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"

	"github.com/taskweave/taskweave/io/storage"
)

// last/ is replaced as a whole, never file by file, so a kill at any moment
// of a save leaves the previous complete save or the new one, never a mix.
//
// Locally a save writes a complete new directory .last.new, then swaps it in
// with two renames (last → .last.old, .last.new → last) and removes
// .last.old. A kill leaves either the previous complete last/, or no last/
// and a complete .last.old that the next start renames back.
//
// gs:// has no directory renames, so the switch is a pointer: a save writes
// a complete checkpoint under a fresh prefix last.d/<step>-<nonce>/, then
// replaces the small object last.json, which names it, by a
// generation-checked write, and only then deletes the previous prefix. A
// kill leaves last.json naming a complete checkpoint; prefixes it does not
// name (a save or a deletion cut short) are removed on the next start.
const (
	lastDir      = "last"
	lastNewDir   = ".last.new"
	lastOldDir   = ".last.old"
	lastPointer  = "last.json" // gs:// only
	lastVersions = "last.d"    // gs:// only: one prefix per save
)

// pointer is last.json's content.
type pointer struct {
	Dir  string `json:"dir"` // relative to the output, e.g. last.d/00000012-3f9a0c2e
	Step int    `json:"step"`
}

// lastStore saves and finds last/ under one output directory.
type lastStore struct {
	out string
	// gs:// only: the pointer's generation as this run last read or wrote
	// it (0: no pointer yet), and the directory it names ("" before the
	// first save; last/ itself for a run saved before pointers existed).
	gen int64
	cur string
	// next is the directory the save in progress writes.
	next string
}

// openLast finishes or rolls back what a kill left of a save and returns
// the store. On gs:// it removes every saved prefix the pointer does not
// name.
func openLast(ctx context.Context, out string) (*lastStore, error) {
	l := &lastStore{out: out}
	if !storage.IsGCS(out) {
		return l, recoverLocal(out)
	}
	b, gen, err := storage.ReadGen(ctx, storage.Join(out, lastPointer))
	switch {
	case errors.Is(err, fs.ErrNotExist):
		// A run saved before last.json existed keeps its files in last/.
		if ok, err := storage.Exists(ctx, storage.Join(out, lastDir, stateJSON)); err != nil {
			return nil, err
		} else if ok {
			l.cur = storage.Join(out, lastDir)
		}
	case err != nil:
		return nil, fmt.Errorf("reading %s: %w", storage.Join(out, lastPointer), err)
	default:
		var p pointer
		if err := json.Unmarshal(b, &p); err != nil || !strings.HasPrefix(p.Dir, lastVersions+"/") || strings.Contains(p.Dir, "..") {
			return nil, fmt.Errorf("%s is not a taskweave last/ pointer (%q); delete it and %s to start over", storage.Join(out, lastPointer), clipBytes(b), storage.Join(out, lastVersions))
		}
		l.gen, l.cur = gen, storage.Join(out, p.Dir)
	}
	return l, removeUnder(ctx, storage.Join(out, lastVersions), l.cur)
}

// recoverLocal finishes or rolls back a local swap a kill interrupted and
// removes what an unfinished save left behind.
func recoverLocal(out string) error {
	last, old, tmp := filepath.Join(out, lastDir), filepath.Join(out, lastOldDir), filepath.Join(out, lastNewDir)
	if _, err := os.Stat(last); errors.Is(err, fs.ErrNotExist) {
		if _, err := os.Stat(old); err == nil {
			// Killed between the two renames: the previous save is whole.
			if err := os.Rename(old, last); err != nil {
				return fmt.Errorf("restoring %s from %s: %w", last, old, err)
			}
		}
	}
	for _, d := range []string{old, tmp} {
		if err := os.RemoveAll(d); err != nil {
			return fmt.Errorf("removing the unfinished save %s: %w", d, err)
		}
	}
	return nil
}

// removeUnder deletes every object under root (gs://) except those under
// keep ("" keeps nothing).
func removeUnder(ctx context.Context, root, keep string) error {
	names, err := storage.Walk(ctx, root)
	if err != nil {
		return err
	}
	for _, n := range names {
		p := storage.Join(root, n)
		if keep != "" && strings.HasPrefix(p, keep+"/") {
			continue
		}
		if err := storage.Remove(ctx, p); err != nil && !errors.Is(err, fs.ErrNotExist) {
			return fmt.Errorf("removing the stale save %s: %w", p, err)
		}
	}
	return nil
}

// dir is the complete last/ to resume from: out/last locally, the
// pointer's directory on gs:// ("" when nothing was saved there).
func (l *lastStore) dir() string {
	if storage.IsGCS(l.out) {
		return l.cur
	}
	return filepath.Join(l.out, lastDir)
}

// begin returns an empty directory for the save of step.
func (l *lastStore) begin(step int) (string, error) {
	if !storage.IsGCS(l.out) {
		l.next = filepath.Join(l.out, lastNewDir)
		return l.next, os.RemoveAll(l.next)
	}
	nonce := make([]byte, 4)
	if _, err := rand.Read(nonce); err != nil {
		return "", err
	}
	l.next = storage.Join(l.out, lastVersions, fmt.Sprintf("%08d-%s", step, hex.EncodeToString(nonce)))
	return l.next, nil
}

// commit makes the complete save in l.next the last/ (the step is recorded
// in the gs:// pointer for people reading it).
func (l *lastStore) commit(ctx context.Context, step int) error {
	if !storage.IsGCS(l.out) {
		return commitLocal(l.out)
	}
	rel := strings.TrimPrefix(l.next, l.out+"/")
	b, err := json.Marshal(pointer{Dir: rel, Step: step})
	if err != nil {
		return err
	}
	p := storage.Join(l.out, lastPointer)
	gen, err := storage.WriteGen(ctx, p, append(b, '\n'), l.gen)
	if err != nil {
		_ = removeUnder(ctx, l.next, "") // the new save is unreferenced: drop it
		if errors.Is(err, storage.ErrPrecondition) {
			return fmt.Errorf("saving last/: %s changed since this run read it: another run writes to %s; give each run its own train.output", p, l.out)
		}
		return fmt.Errorf("saving last/: %w", err)
	}
	prev := l.cur
	l.gen, l.cur = gen, l.next
	if prev == storage.Join(l.out, lastDir) { // a save from before pointers: now superseded
		return removeUnder(ctx, prev, "")
	}
	return removeUnder(ctx, storage.Join(l.out, lastVersions), l.cur)
}

// commitLocal swaps a complete .last.new in for last/.
func commitLocal(out string) error {
	last, old, tmp := filepath.Join(out, lastDir), filepath.Join(out, lastOldDir), filepath.Join(out, lastNewDir)
	if err := os.RemoveAll(old); err != nil {
		return err
	}
	if err := os.Rename(last, old); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return fmt.Errorf("saving %s: %w", last, err)
	}
	if err := os.Rename(tmp, last); err != nil {
		return fmt.Errorf("saving %s: %w", last, err)
	}
	if err := storage.SyncDir(out); err != nil {
		return err
	}
	return os.RemoveAll(old)
}

func clipBytes(b []byte) string {
	if len(b) > 80 {
		return string(b[:80]) + "…"
	}
	return string(b)
}

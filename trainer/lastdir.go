package trainer

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"

	"github.com/taskweave/taskweave/io/storage"
)

// A local last/ is replaced as a whole: a save writes a complete new
// directory .last.new, then swaps it in with two renames (last → .last.old,
// .last.new → last) and removes .last.old. A kill at any moment leaves
// either the previous complete last/, or no last/ and a complete .last.old
// that recoverLast renames back, never a mix of two saves. On gs:// there
// are no directory renames: files are replaced one by one and a save cut
// short is detected on resume (step and sha256 cross-checks in
// trainer_state.json), not prevented.
const (
	lastDir    = "last"
	lastNewDir = ".last.new"
	lastOldDir = ".last.old"
)

// recoverLast finishes or rolls back a swap a kill interrupted and removes
// what an unfinished save left behind. Local outputs only.
func recoverLast(out string) error {
	if storage.IsGCS(out) {
		return nil
	}
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

// saveDir is where a save writes: .last.new locally (swapped in by
// commitSave), last/ itself on gs://.
func saveDir(out string) string {
	if storage.IsGCS(out) {
		return storage.Join(out, lastDir)
	}
	return filepath.Join(out, lastNewDir)
}

// commitSave swaps a complete .last.new in for last/.
func commitSave(out string) error {
	if storage.IsGCS(out) {
		return nil
	}
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

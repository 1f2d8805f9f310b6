//go:build !unix

package storage

import (
	"errors"
	"os"
)

func lockFile(*os.File, bool) error {
	return errors.New("generation-checked local writes need flock (unix only); use gs:// on this platform")
}

func unlockFile(*os.File) {}

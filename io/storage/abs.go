package storage

import (
	"fmt"
	"path/filepath"
	"strings"
)

// Abs is the one rule for paths that leave the launcher: a URL (gs://…) is
// kept as written, anything else is made absolute against the launcher's
// working directory and cleaned. A Beam worker runs in a working directory
// of its own (another process, container or machine), so a relative path
// would name a different file there; and two spellings of one file must give
// the same string wherever paths are hashed into fingerprints.
func Abs(p string) (string, error) {
	if p == "" || strings.Contains(p, "://") {
		return p, nil
	}
	a, err := filepath.Abs(p)
	if err != nil {
		return "", fmt.Errorf("storage: making %q absolute: %w", p, err)
	}
	return a, nil
}

// IsRemote reports whether p names an object on a filesystem the workers of
// a cluster share (any URL scheme, e.g. gs://), as opposed to a local path.
func IsRemote(p string) bool { return strings.Contains(p, "://") }

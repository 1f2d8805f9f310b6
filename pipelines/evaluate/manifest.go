package evaluate

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"strings"

	"github.com/taskweave/taskweave/io/manifest"
	"github.com/taskweave/taskweave/io/storage"
)

// manifestFile is the shards' manifest with where it was read from and the
// sha256 of its bytes (the data fingerprint in the report).
type manifestFile struct {
	*manifest.Manifest
	path   string
	sha256 string
}

// readManifest reads data's manifest: data is the shards directory (local or
// gs://) or the manifest.json path itself.
func readManifest(ctx context.Context, data string) (*manifestFile, error) {
	p := data
	if !strings.HasSuffix(data, ".json") {
		p = manifest.Path(data)
	}
	b, err := storage.ReadFile(ctx, p)
	if err != nil {
		return nil, fmt.Errorf("evaluate: reading the shards' manifest: %w (is --data the output directory of `taskweave preprocess`?)", err)
	}
	m, err := manifest.Read(ctx, p)
	if err != nil {
		return nil, fmt.Errorf("evaluate: %w", err)
	}
	sum := sha256.Sum256(b)
	return &manifestFile{Manifest: m, path: p, sha256: "sha256:" + hex.EncodeToString(sum[:])}, nil
}

// stripSHA drops an optional "sha256:" prefix so fingerprints compare equal
// whichever way a writer spelled them.
func stripSHA(s string) string { return strings.TrimPrefix(strings.ToLower(s), "sha256:") }

package evaluate

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"strings"

	"github.com/taskweave/taskweave/io/storage"
)

// manifestFile is the part of <shards>/manifest.json evaluation reads. It is
// a private adapter over the format of docs/architecture.md until io/manifest
// lands; only documented fields are used.
type manifestFile struct {
	FormatVersion int    `json:"format_version"`
	Fingerprint   string `json:"fingerprint"`
	Tokenizer     struct {
		VocabSHA256 string `json:"vocab_sha256"`
		VocabSize   int    `json:"vocab_size"`
		Lowercase   bool   `json:"lowercase"`
		MaxSeqLen   int    `json:"max_seq_len"`
	} `json:"tokenizer"`
	Tasks map[string]manifestTask `json:"tasks"`

	path   string // where it was read from
	dir    string // shard paths are relative to it
	sha256 string // of the file's bytes
}

type manifestTask struct {
	Type      string                   `json:"type"`
	TagScheme string                   `json:"tag_scheme"`
	Labels    []string                 `json:"labels"`
	Splits    map[string]manifestSplit `json:"splits"`
}

type manifestSplit struct {
	Examples int64    `json:"examples"`
	Tokens   int64    `json:"tokens"`
	Shards   []string `json:"shards"`
}

// readManifest reads data's manifest: data is the shards directory (local or
// gs://) or the manifest.json path itself.
func readManifest(ctx context.Context, data string) (*manifestFile, error) {
	p, dir := data, data
	if strings.HasSuffix(data, ".json") {
		dir = data[:strings.LastIndex(data, "/")+1]
		if dir == "" {
			dir = "."
		}
	} else {
		p = storage.Join(data, "manifest.json")
	}
	b, err := storage.ReadFile(ctx, p)
	if err != nil {
		return nil, fmt.Errorf("evaluate: reading the shards' manifest: %w (is --data the output directory of `taskweave preprocess`?)", err)
	}
	var m manifestFile
	if err := json.Unmarshal(b, &m); err != nil {
		return nil, fmt.Errorf("evaluate: %s: %w; re-run preprocess to rewrite it", p, err)
	}
	if m.FormatVersion != 1 {
		return nil, fmt.Errorf("evaluate: %s has format_version %d; this evaluate reads format 1", p, m.FormatVersion)
	}
	sum := sha256.Sum256(b)
	m.path, m.dir, m.sha256 = p, dir, "sha256:"+hex.EncodeToString(sum[:])
	return &m, nil
}

// stripSHA drops an optional "sha256:" prefix so fingerprints compare equal
// whichever way a writer spelled them.
func stripSHA(s string) string { return strings.TrimPrefix(strings.ToLower(s), "sha256:") }

// Package manifest reads and writes <out>/manifest.json, the index of a
// preprocessing run: format version, tokenizer, each task's type and labels,
// per-split counts and shard lists, and a fingerprint of inputs + config.
//
// The pipeline writes the manifest last, atomically, so a manifest that
// exists always describes shards that are complete. A later run whose
// fingerprint matches the stored one has nothing to do.
//
// Fingerprint preimage (version 1), hashed with SHA-256 and written as
// "sha256:<hex>":
//
//	taskweave-fingerprint v1\n
//	config <canonical JSON of the config>\n
//	input <path>\t<size>\t<content hash>\n      one line per input, sorted by path, duplicates removed
//
// Canonical JSON is encoding/json's compact form after a round trip through
// a generic value (object keys sorted, numbers kept as written). The content
// hash is "sha256:<hex>" of the bytes for local files; for gs:// objects it is
// the server's MD5 ("md5:<base64>") or, for composite objects, CRC32C
// ("crc32c:<hex>"), so a fingerprint never downloads a bucket.
package manifest

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"maps"
	"path"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/taskweave/taskweave/internal/taskkind"
	"github.com/taskweave/taskweave/io/storage"
)

// FormatVersion is the manifest and shard layout version this package writes.
const FormatVersion = 1

// FileName is the manifest's name inside the output directory.
const FileName = "manifest.json"

// Task types (the model's head kinds, as manifest.json spells them) and tag
// schemes (docs/architecture.md).
const (
	SequenceClassification = string(taskkind.SequenceClassification)
	SequenceRegression     = string(taskkind.SequenceRegression)
	TokenClassification    = string(taskkind.TokenClassification)
	MaskedLM               = string(taskkind.MaskedLM)

	TagIOB1 = "iob1"
	TagIOB2 = "iob2"
	TagNone = "none"
)

// Splits are the split names a job can give, in the order tables list them.
var Splits = []string{"train", "validation", "test"}

// Manifest is manifest.json.
type Manifest struct {
	FormatVersion int             `json:"format_version"`
	Fingerprint   string          `json:"fingerprint"`
	Created       time.Time       `json:"created"`
	Tokenizer     Tokenizer       `json:"tokenizer"`
	Tasks         map[string]Task `json:"tasks"`
	// ShardFiles records every shard's size and checksum as the run wrote
	// it, keyed like Split.Shards, so a shard truncated or replaced later
	// makes the output stale even though the inputs are unchanged.
	ShardFiles map[string]File `json:"shard_files,omitempty"`
}

// File is a file's size and content checksum (the same kind of checksum as
// the fingerprint's inputs: "sha256:<hex>" locally, the server's MD5 or
// CRC32C on gs://).
type File struct {
	Size     int64  `json:"size"`
	Checksum string `json:"checksum"`
}

// Tokenizer records the vocabulary and settings the shards were tokenized with.
type Tokenizer struct {
	VocabSHA256 string `json:"vocab_sha256"`
	VocabSize   int    `json:"vocab_size"`
	Lowercase   bool   `json:"lowercase"`
	MaxSeqLen   int    `json:"max_seq_len"`
}

// Task is one task's type, label list and splits.
type Task struct {
	Type      string           `json:"type"`
	TagScheme string           `json:"tag_scheme,omitempty"` // token tasks: iob1, iob2 or none
	Labels    []string         `json:"labels"`
	Splits    map[string]Split `json:"splits"`
	// InputFrom names the task whose rows this task's shards hold too, in
	// the same shards and order, with this task's labels (a group,
	// input_from): evaluation scores the group from one encoder pass.
	InputFrom string `json:"input_from,omitempty"`
}

// Split holds the counts and files of one task's split.
type Split struct {
	Examples  int64 `json:"examples"`  // rows in the shards (windows count separately)
	Tokens    int64 `json:"tokens"`    // WordPiece tokens including [CLS]/[SEP]
	Truncated int64 `json:"truncated"` // sentence examples cut to max_seq_len
	Windows   int64 `json:"windows"`   // extra rows from token sentences split into windows
	Rejected  int64 `json:"rejected"`  // records sent to rejected/<task>.jsonl
	// LooseIOB2 counts I-X tags that start a chunk (after O or another
	// type) in an iob2 task's encoded records: kept and read as chunk
	// starts, as conlleval does, but counted so the annotation noise shows.
	LooseIOB2 int64    `json:"loose_iob2"`
	Sources   []string `json:"sources"` // input files as given
	Shards    []string `json:"shards"`  // relative to the manifest's directory, slash-separated
}

// Path returns the manifest path for an output directory.
func Path(out string) string { return storage.Join(out, FileName) }

// Read reads and validates the manifest at p (the manifest file itself).
func Read(ctx context.Context, p string) (*Manifest, error) {
	data, err := storage.ReadFile(ctx, p)
	if err != nil {
		return nil, err
	}
	var m Manifest
	if err := json.Unmarshal(data, &m); err != nil {
		return nil, fmt.Errorf("%s%s: invalid manifest JSON: %v; delete it and re-run preprocess", p, jsonPos(data, err), err)
	}
	if err := m.Validate(); err != nil {
		return nil, fmt.Errorf("%s: %w", p, err)
	}
	return &m, nil
}

// jsonPos turns a decoding error's byte offset into ":line:column".
func jsonPos(data []byte, err error) string {
	var off int64
	var se *json.SyntaxError
	var te *json.UnmarshalTypeError
	switch {
	case errors.As(err, &se):
		off = se.Offset
	case errors.As(err, &te):
		off = te.Offset
	default:
		return ""
	}
	off = min(off, int64(len(data)))
	before := data[:off]
	line := bytes.Count(before, []byte("\n")) + 1
	col := int(off) - (bytes.LastIndexByte(before, '\n') + 1)
	return ":" + strconv.Itoa(line) + ":" + strconv.Itoa(col)
}

// Validate checks what readers rely on. Its errors say what to fix.
func (m *Manifest) Validate() error {
	if m.FormatVersion != FormatVersion {
		return fmt.Errorf("format_version %d, this taskweave reads %d: re-run preprocess with this version", m.FormatVersion, FormatVersion)
	}
	if !strings.HasPrefix(m.Fingerprint, "sha256:") {
		return fmt.Errorf("fingerprint %q is not \"sha256:<hex>\"", m.Fingerprint)
	}
	if len(m.Tasks) == 0 {
		return errors.New("no tasks: the run produced nothing; check the job's task list")
	}
	for _, sh := range slices.Sorted(maps.Keys(m.ShardFiles)) {
		if !fs.ValidPath(sh) || m.ShardFiles[sh].Size < 0 || m.ShardFiles[sh].Checksum == "" {
			return fmt.Errorf("shard_files: entry %q must be a slash-separated path relative to the manifest with a size >= 0 and a checksum", sh)
		}
	}
	for _, name := range slices.Sorted(maps.Keys(m.Tasks)) {
		t := m.Tasks[name]
		switch t.Type {
		case SequenceClassification, SequenceRegression, MaskedLM:
			if t.TagScheme != "" && t.TagScheme != TagNone {
				return fmt.Errorf("task %q: tag_scheme %q on a %s task; only token_classification tasks have one", name, t.TagScheme, t.Type)
			}
		case TokenClassification:
			if t.TagScheme != TagIOB1 && t.TagScheme != TagIOB2 && t.TagScheme != TagNone {
				return fmt.Errorf("task %q: tag_scheme %q; use iob1, iob2 or none", name, t.TagScheme)
			}
		default:
			return fmt.Errorf("task %q: unknown type %q; use %s, %s, %s or %s", name, t.Type, SequenceClassification, SequenceRegression, TokenClassification, MaskedLM)
		}
		if t.Type != SequenceRegression && t.Type != MaskedLM && len(t.Labels) == 0 {
			return fmt.Errorf("task %q: empty label list", name)
		}
		for sname, s := range t.Splits {
			if s.Examples < 0 || s.Tokens < 0 || s.Truncated < 0 || s.Windows < 0 || s.Rejected < 0 {
				return fmt.Errorf("task %q split %q: negative count", name, sname)
			}
			for _, sh := range s.Shards {
				if !fs.ValidPath(sh) {
					return fmt.Errorf("task %q split %q: shard %q must be a slash-separated path relative to the manifest", name, sname, sh)
				}
			}
		}
	}
	return nil
}

// ShardPaths resolves a split's shards against the manifest's path (local or
// gs://). Missing tasks or splits are errors naming what exists.
func (m *Manifest) ShardPaths(manifestPath, task, split string) ([]string, error) {
	t, ok := m.Tasks[task]
	if !ok {
		return nil, fmt.Errorf("%s: no task %q (have %s)", manifestPath, task, strings.Join(slices.Sorted(maps.Keys(m.Tasks)), ", "))
	}
	s, ok := t.Splits[split]
	if !ok {
		return nil, fmt.Errorf("%s: task %q has no split %q (have %s)", manifestPath, task, split, strings.Join(slices.Sorted(maps.Keys(t.Splits)), ", "))
	}
	dir := dirOf(manifestPath)
	out := make([]string, len(s.Shards))
	for i, sh := range s.Shards {
		out[i] = storage.Join(dir, sh)
	}
	return out, nil
}

func dirOf(p string) string {
	if storage.IsGCS(p) {
		return "gs://" + path.Dir(strings.TrimPrefix(p, "gs://"))
	}
	return filepath.Dir(p)
}

// Write stores m at p atomically (readers see the old manifest or the new
// one). The pipeline calls it after every shard is in place.
func Write(ctx context.Context, p string, m *Manifest) error {
	if err := m.Validate(); err != nil {
		return fmt.Errorf("refusing to write %s: %w", p, err)
	}
	data, err := json.MarshalIndent(m, "", "  ")
	if err != nil {
		return fmt.Errorf("%s: %w", p, err)
	}
	return storage.WriteFile(ctx, p, append(data, '\n'))
}

// UpToDate reports whether the manifest at p exists and carries fingerprint
// fp; it returns that manifest when it does. A missing manifest is not an
// error (the run has simply not happened yet).
func UpToDate(ctx context.Context, p, fp string) (bool, *Manifest, error) {
	m, err := Read(ctx, p)
	if errors.Is(err, fs.ErrNotExist) {
		return false, nil, nil
	}
	if err != nil {
		return false, nil, err
	}
	return m.Fingerprint == fp, m, nil
}

// Stat returns a file's size and checksum, reading it only where the
// storage keeps no checksum (local files).
func Stat(ctx context.Context, p string) (File, error) {
	size, sum, err := contentHash(ctx, p)
	return File{Size: size, Checksum: sum}, err
}

// RecordShards fills m.ShardFiles from the shards under dir (the manifest's
// directory) as they are now. The pipeline calls it after every shard is
// written, before Write.
func (m *Manifest) RecordShards(ctx context.Context, dir string) error {
	m.ShardFiles = map[string]File{}
	for _, sh := range m.shards() {
		f, err := Stat(ctx, storage.Join(dir, sh))
		if err != nil {
			return fmt.Errorf("shard %s: %w", storage.Join(dir, sh), err)
		}
		m.ShardFiles[sh] = f
	}
	return nil
}

// VerifyShards compares every shard under dir with the size and checksum
// recorded in m and describes each one that is missing or changed; none
// means the shards are exactly those the manifest describes. A manifest
// without records (written by an older taskweave) cannot vouch for its
// shards, which is reported too.
func (m *Manifest) VerifyShards(ctx context.Context, dir string) ([]string, error) {
	if m.ShardFiles == nil {
		return []string{"the manifest records no shard sizes or checksums (written by an older taskweave)"}, nil
	}
	var stale []string
	for _, sh := range m.shards() {
		p := storage.Join(dir, sh)
		want, ok := m.ShardFiles[sh]
		if !ok {
			stale = append(stale, p+": no size or checksum recorded")
			continue
		}
		if exists, err := storage.Exists(ctx, p); err != nil {
			return nil, err
		} else if !exists {
			stale = append(stale, p+": missing")
			continue
		}
		got, err := Stat(ctx, p)
		if err != nil {
			return nil, fmt.Errorf("shard %s: %w", p, err)
		}
		switch {
		case got.Size != want.Size:
			stale = append(stale, fmt.Sprintf("%s: %d bytes, the manifest recorded %d", p, got.Size, want.Size))
		case got.Checksum != want.Checksum:
			stale = append(stale, fmt.Sprintf("%s: checksum %s, the manifest recorded %s", p, got.Checksum, want.Checksum))
		}
	}
	return stale, nil
}

// shards lists every split's shards, sorted.
func (m *Manifest) shards() []string {
	var out []string
	for _, t := range m.Tasks {
		for _, s := range t.Splits {
			out = append(out, s.Shards...)
		}
	}
	slices.Sort(out)
	return slices.Compact(out)
}

// Fingerprint hashes config (any JSON-marshalable value) and the inputs'
// paths, sizes and contents into "sha256:<hex>" (preimage in the package doc).
func Fingerprint(ctx context.Context, config any, inputs []string) (string, error) {
	canon, err := CanonicalJSON(config)
	if err != nil {
		return "", fmt.Errorf("fingerprint: config: %w", err)
	}
	h := sha256.New()
	fmt.Fprintf(h, "taskweave-fingerprint v1\nconfig %s\n", canon)
	paths := slices.Clone(inputs)
	slices.Sort(paths)
	paths = slices.Compact(paths)
	for _, p := range paths {
		size, sum, err := contentHash(ctx, p)
		if err != nil {
			return "", fmt.Errorf("fingerprint: input %s: %w; check the path in the job's corpus list", p, err)
		}
		fmt.Fprintf(h, "input %s\t%d\t%s\n", p, size, sum)
	}
	return "sha256:" + hex.EncodeToString(h.Sum(nil)), nil
}

// CanonicalJSON encodes v so that equal content gives equal bytes,
// whatever the Go types or map order behind it.
func CanonicalJSON(v any) ([]byte, error) {
	raw, err := json.Marshal(v)
	if err != nil {
		return nil, err
	}
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.UseNumber()
	var generic any
	if err := dec.Decode(&generic); err != nil {
		return nil, err
	}
	return json.Marshal(generic)
}

func contentHash(ctx context.Context, p string) (int64, string, error) {
	if storage.IsGCS(p) {
		info, err := storage.Stat(ctx, p)
		if err != nil {
			return 0, "", err
		}
		if sum := info.Checksum(); sum != "" {
			return info.Size, sum, nil
		}
	}
	return HashFile(ctx, p)
}

// HashFile streams a file or object through SHA-256 and returns its size and
// "sha256:<hex>".
func HashFile(ctx context.Context, p string) (int64, string, error) {
	r, err := storage.Open(ctx, p)
	if err != nil {
		return 0, "", err
	}
	defer r.Close()
	h := sha256.New()
	n, err := io.Copy(h, r)
	if err != nil {
		return 0, "", fmt.Errorf("reading %s: %w", p, err)
	}
	return n, "sha256:" + hex.EncodeToString(h.Sum(nil)), nil
}

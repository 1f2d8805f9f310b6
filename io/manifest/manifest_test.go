package manifest_test

import (
	"context"
	"encoding/json"
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/taskweave/taskweave/io/manifest"
	"github.com/taskweave/taskweave/io/storage"
	"github.com/taskweave/taskweave/io/storage/gcstest"
)

func sample(t *testing.T) *manifest.Manifest {
	t.Helper()
	m, err := manifest.Read(context.Background(), "testdata/manifest.json")
	if err != nil {
		t.Fatal(err)
	}
	return m
}

func TestReadSample(t *testing.T) {
	m := sample(t)
	ner := m.Tasks["ner"]
	if m.Tokenizer.VocabSize != 28996 || ner.TagScheme != "iob2" || ner.Splits["train"].Examples != 14041 ||
		ner.Splits["train"].Windows != 3 || m.Tasks["sst2"].Splits["validation"].Examples != 872 ||
		!m.Created.Equal(time.Date(2026, 11, 29, 1, 0, 0, 0, time.UTC)) {
		t.Fatalf("decoded manifest is wrong: %+v", m)
	}
	got, err := m.ShardPaths("out/manifest.json", "ner", "train")
	if err != nil {
		t.Fatal(err)
	}
	want := []string{"out/ner/train/part-00000-of-00002.parquet", "out/ner/train/part-00001-of-00002.parquet"}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("ShardPaths = %q, want %q", got, want)
	}
	got, _ = m.ShardPaths("gs://b/run/manifest.json", "sst2", "validation")
	if want := []string{"gs://b/run/sst2/validation/part-00000-of-00001.parquet"}; !reflect.DeepEqual(got, want) {
		t.Fatalf("ShardPaths on gs:// = %q, want %q", got, want)
	}
	for _, tc := range [][2]string{{"pos", "train"}, {"ner", "test"}} {
		if _, err := m.ShardPaths("out/manifest.json", tc[0], tc[1]); err == nil || !strings.Contains(err.Error(), "have ") {
			t.Errorf("ShardPaths(%s, %s) error = %v; want one listing what exists", tc[0], tc[1], err)
		}
	}
}

func TestWriteReadRoundTrip(t *testing.T) {
	ctx := context.Background()
	m := sample(t)
	bucket := gcstest.Start(t)
	for _, out := range []string{t.TempDir(), "gs://" + bucket + "/run"} {
		p := manifest.Path(out)
		if err := manifest.Write(ctx, p, m); err != nil {
			t.Fatal(err)
		}
		got, err := manifest.Read(ctx, p)
		if err != nil {
			t.Fatal(err)
		}
		if !reflect.DeepEqual(got, m) {
			t.Fatalf("%s: read back\n%+v\nwant\n%+v", p, got, m)
		}
		// Overwrite in place; the reader sees the new one.
		m2 := *m
		m2.Fingerprint = "sha256:00"
		if err := manifest.Write(ctx, p, &m2); err != nil {
			t.Fatal(err)
		}
		ok, cur, err := manifest.UpToDate(ctx, p, "sha256:00")
		if err != nil || !ok || cur.Fingerprint != "sha256:00" {
			t.Fatalf("UpToDate after rewrite = %v, %+v, %v", ok, cur, err)
		}
		if ok, _, _ := manifest.UpToDate(ctx, p, m.Fingerprint); ok {
			t.Fatal("UpToDate true for a different fingerprint")
		}
		if ok, cur, err := manifest.UpToDate(ctx, manifest.Path(storage.Join(out, "never")), "sha256:00"); ok || cur != nil || err != nil {
			t.Fatalf("UpToDate without a manifest = %v, %v, %v; want false, nil, nil", ok, cur, err)
		}
	}
}

func TestReadErrors(t *testing.T) {
	dir := t.TempDir()
	valid, _ := os.ReadFile("testdata/manifest.json")
	edit := func(f func(map[string]any)) string {
		var v map[string]any
		json.Unmarshal(valid, &v)
		f(v)
		b, _ := json.Marshal(v)
		return string(b)
	}
	task := func(v map[string]any, name string) map[string]any {
		return v["tasks"].(map[string]any)[name].(map[string]any)
	}
	for _, tc := range []struct {
		name, content, want string
	}{
		{"syntax", "{\n  \"format_version\": 1,\n  \"tasks\": {,}\n}", "bad.json:3:13: invalid manifest JSON"},
		{"type", "{\n\"format_version\": \"one\"}", "bad.json:2:23: invalid manifest JSON"},
		{"version", edit(func(v map[string]any) { v["format_version"] = 2 }), "format_version 2, this taskweave reads 1: re-run preprocess"},
		{"fingerprint", edit(func(v map[string]any) { v["fingerprint"] = "md5:x" }), `fingerprint "md5:x"`},
		{"no tasks", edit(func(v map[string]any) { delete(v, "tasks") }), "no tasks"},
		{"task type", edit(func(v map[string]any) { task(v, "ner")["type"] = "ner" }), `task "ner": unknown type "ner"`},
		{"tag scheme", edit(func(v map[string]any) { task(v, "ner")["tag_scheme"] = "bio" }), `tag_scheme "bio"; use iob1, iob2 or none`},
		{"labels", edit(func(v map[string]any) { task(v, "sst2")["labels"] = []string{} }), `task "sst2": empty label list`},
		{"absolute shard", edit(func(v map[string]any) {
			task(v, "sst2")["splits"].(map[string]any)["validation"].(map[string]any)["shards"] = []string{"/etc/passwd"}
		}), "relative to the manifest"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p := filepath.Join(dir, "bad.json")
			os.WriteFile(p, []byte(tc.content), 0o644)
			_, err := manifest.Read(context.Background(), p)
			if err == nil || !strings.Contains(err.Error(), tc.want) || !strings.Contains(err.Error(), p) {
				t.Fatalf("error = %v; want one naming %s and containing %q", err, p, tc.want)
			}
		})
	}
	if _, err := manifest.Read(context.Background(), filepath.Join(dir, "absent.json")); !errors.Is(err, fs.ErrNotExist) {
		t.Fatalf("Read of a missing manifest: %v; want fs.ErrNotExist", err)
	}
	bad := sample(t)
	bad.FormatVersion = 0
	if err := manifest.Write(context.Background(), filepath.Join(dir, "w.json"), bad); err == nil {
		t.Fatal("Write accepted an invalid manifest")
	}
	if _, err := os.Stat(filepath.Join(dir, "w.json")); !errors.Is(err, fs.ErrNotExist) {
		t.Fatal("a refused Write left a file behind")
	}
}

// The golden value was computed with Python's hashlib and json from the
// preimage format in the package doc.
func TestFingerprintGolden(t *testing.T) {
	var cfg map[string]any
	raw, _ := os.ReadFile("testdata/config.json")
	if err := json.Unmarshal(raw, &cfg); err != nil {
		t.Fatal(err)
	}
	golden, _ := os.ReadFile("testdata/fingerprint.golden")
	// Input order and duplicates must not matter.
	got, err := manifest.Fingerprint(context.Background(), cfg, []string{"testdata/b.txt", "testdata/a.txt", "testdata/b.txt"})
	if err != nil {
		t.Fatal(err)
	}
	if want := strings.TrimSpace(string(golden)); got != want {
		t.Fatalf("Fingerprint = %s, want %s", got, want)
	}
	// The same config as a struct hashes the same.
	type taskCfg struct {
		Files     []string `json:"files,omitempty"`
		TagScheme string   `json:"tag_scheme,omitempty"`
		Type      string   `json:"type"`
	}
	type jobCfg struct {
		RejectLimit float64            `json:"reject_limit"`
		MaxSeqLen   int                `json:"max_seq_len"`
		Tasks       map[string]taskCfg `json:"tasks"`
		Lowercase   bool               `json:"lowercase"`
	}
	st := jobCfg{RejectLimit: 0.5, MaxSeqLen: 128, Lowercase: false, Tasks: map[string]taskCfg{
		"sst2": {Type: "sequence_classification", Files: []string{"a.txt"}},
		"pos":  {Type: "token_classification", TagScheme: "none"},
	}}
	if got2, _ := manifest.Fingerprint(context.Background(), st, []string{"testdata/a.txt", "testdata/b.txt"}); got2 != got {
		t.Fatalf("struct config hashes to %s, map config to %s", got2, got)
	}
}

func TestFingerprintChanges(t *testing.T) {
	ctx := context.Background()
	bucket := gcstest.Start(t)
	for _, root := range []string{t.TempDir(), "gs://" + bucket + "/corpora"} {
		a, b := storage.Join(root, "a.txt"), storage.Join(root, "b.txt")
		storage.WriteFile(ctx, a, []byte("one two three\n"))
		storage.WriteFile(ctx, b, []byte("four five\n"))
		cfg := map[string]any{"max_seq_len": 128}
		base, err := manifest.Fingerprint(ctx, cfg, []string{a, b})
		if err != nil {
			t.Fatal(err)
		}
		fp := func(cfg any, in ...string) string {
			t.Helper()
			s, err := manifest.Fingerprint(ctx, cfg, in)
			if err != nil {
				t.Fatal(err)
			}
			return s
		}
		if again := fp(cfg, b, a); again != base {
			t.Fatalf("%s: unchanged inputs give %s then %s", root, base, again)
		}
		if fp(map[string]any{"max_seq_len": 256}, a, b) == base {
			t.Errorf("%s: config change not seen", root)
		}
		if fp(cfg, a) == base {
			t.Errorf("%s: dropped input not seen", root)
		}
		// Same size, different bytes.
		storage.WriteFile(ctx, b, []byte("four fivE\n"))
		if fp(cfg, a, b) == base {
			t.Errorf("%s: content change of equal size not seen", root)
		}
		_, err = manifest.Fingerprint(ctx, cfg, []string{a, storage.Join(root, "missing.txt")})
		if err == nil || !strings.Contains(err.Error(), "missing.txt") || !errors.Is(err, fs.ErrNotExist) {
			t.Errorf("%s: missing input error = %v; want one naming the file and wrapping fs.ErrNotExist", root, err)
		}
	}
}

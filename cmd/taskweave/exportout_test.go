package main

import (
	"crypto/sha256"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"

	"github.com/taskweave/taskweave/model"
	"github.com/taskweave/taskweave/model/checkpoint"
)

// twoTaskCheckpoint saves a tiny model with a sentence head and a token
// head whose layer attention cannot be exported.
func twoTaskCheckpoint(t *testing.T, dir string) {
	t.Helper()
	cfg := model.Config{VocabSize: 8, HiddenSize: 4, NumHiddenLayers: 1, NumAttentionHeads: 1, IntermediateSize: 8,
		MaxPositionEmbeddings: 16, TypeVocabSize: 2, LayerNormEps: 1e-12, HiddenAct: "gelu"}
	m, err := model.New(cfg, []model.HeadSpec{{Task: "sst2", Kind: model.SequenceClassification, NumLabels: 2},
		{Task: "ner", Kind: model.TokenClassification, NumLabels: 3, Sharing: model.TaskSharing{LayerAttention: true}}}, 1)
	if err != nil {
		t.Fatal(err)
	}
	meta := checkpoint.Meta{Vocab: []string{"[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]", "a", "b", "c"}, MaxSeqLen: 16,
		Tasks: []checkpoint.TaskInfo{{Name: "sst2", Labels: []string{"neg", "pos"}}, {Name: "ner", Labels: []string{"O", "B-X", "I-X"}}}}
	if err := checkpoint.Save(checkpoint.LocalDir(dir), m, meta); err != nil {
		t.Fatal(err)
	}
}

// tree fingerprints every file under dir (name and sha256).
func tree(t *testing.T, dir string) string {
	t.Helper()
	var lines []string
	filepath.WalkDir(dir, func(p string, d os.DirEntry, err error) error {
		if err == nil && !d.IsDir() {
			b, _ := os.ReadFile(p)
			rel, _ := filepath.Rel(dir, p)
			lines = append(lines, fmt.Sprintf("%s %x", rel, sha256.Sum256(b)))
		}
		return nil
	})
	sort.Strings(lines)
	return strings.Join(lines, "\n")
}

// TestExportRefusesItsSource: `export --out` equal to `--model` replaced
// the checkpoint's weights with one head's and kept a stale tasks.json
// (issue 26). Every spelling of an --out that is, lies in or contains the
// source is refused before anything is written, and the source is left
// byte for byte as it was.
func TestExportRefusesItsSource(t *testing.T) {
	dir := t.TempDir()
	src := filepath.Join(dir, "ckpt")
	twoTaskCheckpoint(t, src)
	if err := os.Symlink(src, filepath.Join(dir, "link")); err != nil {
		t.Fatal(err)
	}
	before := tree(t, dir)
	for _, c := range []struct{ name, out, want string }{
		{"same", src, "is the checkpoint"},
		{"trailing slash", src + "/", "is the checkpoint"},
		{"dot segments", filepath.Join(dir, "x", "..", "ckpt"), "is the checkpoint"},
		{"through a symlink", filepath.Join(dir, "link"), "is the checkpoint"},
		{"inside", filepath.Join(src, "hf"), "lies inside the checkpoint"},
		{"inside through a symlink", filepath.Join(dir, "link", "hf", "deeper"), "lies inside the checkpoint"},
		{"contains", dir, "contains the checkpoint"},
	} {
		t.Run(c.name, func(t *testing.T) {
			err := exportCLI(t, "--model", src, "--task", "sst2", "--out", c.out)
			if err == nil || !strings.Contains(err.Error(), c.want) {
				t.Fatalf("err = %v; want %q", err, c.want)
			}
			if after := tree(t, dir); after != before {
				t.Fatalf("the refused export changed files:\n%s\nwas\n%s", after, before)
			}
		})
	}
}

// TestExportReplacesWhole: an export goes to a temporary directory and is
// renamed over --out, so a second export leaves no file of the first, and
// a failed one leaves the previous export and no temporary directory.
func TestExportReplacesWhole(t *testing.T) {
	dir := t.TempDir()
	src, out := filepath.Join(dir, "ckpt"), filepath.Join(dir, "hf")
	twoTaskCheckpoint(t, src)
	if err := os.MkdirAll(out, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(out, "stale.bin"), []byte("old"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := exportCLI(t, "--model", src, "--task", "sst2", "--out", out); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(filepath.Join(out, "stale.bin")); err == nil {
		t.Error("a file of the previous --out survived the export")
	}
	good := tree(t, out)
	if !strings.Contains(good, "config.json") || !strings.Contains(good, "model.safetensors") {
		t.Fatalf("export wrote:\n%s", good)
	}
	if err := exportCLI(t, "--model", src, "--task", "ner", "--out", out); err == nil || !strings.Contains(err.Error(), "layer_attention") {
		t.Fatalf("exporting a layer-attention head: %v", err)
	}
	if got := tree(t, out); got != good {
		t.Errorf("a failed export changed the previous one:\n%s", got)
	}
	entries, _ := os.ReadDir(dir)
	if len(entries) != 2 {
		t.Errorf("left behind: %v; want only ckpt and hf", entries)
	}
}

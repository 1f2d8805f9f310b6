package evaluate

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/taskweave/taskweave/io/shards"
	"github.com/taskweave/taskweave/model"
	"github.com/taskweave/taskweave/model/checkpoint"
)

// fixture is a small shards directory and checkpoint made with the real
// writers (io/shards, model.New + checkpoint.Save), in a temp dir.
type fixture struct {
	data, ckpt string
	vocab      []string
	rows       map[string][]shards.Row // by task
}

var (
	sstLabels = []string{"negative", "positive"}
	nerLabels = []string{"O", "B-PER", "I-PER", "B-LOC", "I-LOC"}
	posLabels = []string{"NN", "VB", "DT"}
)

func testVocab() []string {
	v := []string{"[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"}
	for i := len(v); i < 60; i++ {
		v = append(v, fmt.Sprintf("w%d", i))
	}
	return v
}

func vocabSHA(v []string) string {
	sum := sha256.Sum256([]byte(strings.Join(v, "\n") + "\n"))
	return hex.EncodeToString(sum[:])
}

// lcg is a tiny deterministic generator for fixture contents.
type lcg uint64

func (g *lcg) next(n int) int {
	*g = *g*6364136223846793005 + 1442695040888963407
	return int(uint64(*g>>33) % uint64(n))
}

// makeRows builds n examples of a task. Token tasks get words of one or two
// subwords, labels on the first subword, word_ids for every subword.
func makeRows(task, kind string, labels []string, n int, seed uint64) []shards.Row {
	g := lcg(seed)
	var rows []shards.Row
	for i := 0; i < n; i++ {
		r := shards.Row{Task: task, Split: "test", ExampleID: fmt.Sprintf("%s-%04d", task, i), Label: -1}
		r.InputIDs, r.WordIDs, r.TokenLabels = []int32{2}, []int32{-1}, []int32{-100}
		words := 2 + g.next(9)
		prevEnt := false
		for w := 0; w < words; w++ {
			r.Words = append(r.Words, fmt.Sprintf("word%d", g.next(100)))
			sub := 1 + g.next(2)
			lab := int32(g.next(max(1, len(labels))))
			if kind == "token_classification" && len(labels) == 5 {
				// Well-formed IOB2 most of the time, with some I- after O.
				switch {
				case g.next(3) == 0:
					lab = 0
				case prevEnt && g.next(2) == 0:
					lab = int32(2 + 2*g.next(2))
				default:
					lab = int32(1 + 2*g.next(2))
				}
				prevEnt = lab != 0
			}
			for s := 0; s < sub; s++ {
				r.InputIDs = append(r.InputIDs, int32(5+g.next(55)))
				r.WordIDs = append(r.WordIDs, int32(w))
				if s == 0 {
					r.TokenLabels = append(r.TokenLabels, lab)
				} else {
					r.TokenLabels = append(r.TokenLabels, -100)
				}
			}
		}
		r.InputIDs = append(r.InputIDs, 3)
		r.WordIDs = append(r.WordIDs, -1)
		r.TokenLabels = append(r.TokenLabels, -100)
		r.TokenTypeIDs = make([]int32, len(r.InputIDs))
		r.Text = strings.Join(r.Words, " ")
		switch kind {
		case "sequence_classification":
			r.Label = int32(g.next(len(labels)))
			r.TokenLabels, r.WordIDs = nil, nil
		case "sequence_regression":
			r.Target = float32(g.next(50)) / 10
			r.TokenLabels, r.WordIDs = nil, nil
		}
		if kind == "token_classification" && i%7 == 3 && len(r.Words) >= 4 {
			rows = append(rows, splitWindows(r, len(r.Words)/2)...)
			continue
		}
		rows = append(rows, r)
	}
	return rows
}

// splitWindows cuts a token row into two windows at word m, the way
// preprocess does for sentences longer than max_seq_len: ids "<id>#w0" and
// "<id>#w1", each with its own words and window-local word_ids.
func splitWindows(r shards.Row, m int) []shards.Row {
	cut := 0
	for i, w := range r.WordIDs {
		if w == int32(m) {
			cut = i
			break
		}
	}
	n := len(r.InputIDs)
	mk := func(k string, ids, wids, tl []int32, words []string, shift int32) shards.Row {
		out := r
		out.ExampleID = r.ExampleID + "#w" + k
		out.InputIDs = append(append([]int32{2}, ids...), 3)
		out.TokenLabels = append(append([]int32{-100}, tl...), -100)
		out.WordIDs = []int32{-1}
		for _, w := range wids {
			out.WordIDs = append(out.WordIDs, w-shift)
		}
		out.WordIDs = append(out.WordIDs, -1)
		out.TokenTypeIDs = make([]int32, len(out.InputIDs))
		out.Words = words
		out.Text = ""
		return out
	}
	return []shards.Row{
		mk("0", r.InputIDs[1:cut], r.WordIDs[1:cut], r.TokenLabels[1:cut], r.Words[:m], 0),
		mk("1", r.InputIDs[cut:n-1], r.WordIDs[cut:n-1], r.TokenLabels[cut:n-1], r.Words[m:], int32(m)),
	}
}

type fixtureTask struct {
	name, kind, scheme string
	labels             []string
	n                  int
	head               bool // the checkpoint has a head for it
}

var defaultTasks = []fixtureTask{
	{"sst", "sequence_classification", "", sstLabels, 70, true},
	{"ner", "token_classification", "iob2", nerLabels, 50, true},
	{"pos", "token_classification", "none", posLabels, 30, true},
	{"sts", "sequence_regression", "", nil, 25, true},
	{"orphan", "sequence_classification", "", sstLabels, 5, false},
}

// fixtureParts is how many shard files a fixture task's split is written as.
var fixtureParts = 2

// fixtureRejected is how many test records the fixture's manifest says
// preprocessing rejected, per task: the report must carry the count.
var fixtureRejected = map[string]int{"sst": 3}

func newFixture(t testing.TB, tasks []fixtureTask, seed uint64) *fixture {
	t.Helper()
	dir := t.TempDir()
	f := &fixture{data: filepath.Join(dir, "shards"), ckpt: filepath.Join(dir, "ckpt"), vocab: testVocab(), rows: map[string][]shards.Row{}}
	ctx := context.Background()
	man := map[string]any{"format_version": 1, "fingerprint": "sha256:fixture", "created": "2026-01-01T00:00:00Z",
		"tokenizer": map[string]any{"vocab_sha256": vocabSHA(f.vocab), "vocab_size": len(f.vocab), "lowercase": false, "max_seq_len": 32}}
	mtasks := map[string]any{}
	for i, tk := range tasks {
		rows := makeRows(tk.name, tk.kind, tk.labels, tk.n, seed+uint64(i))
		f.rows[tk.name] = rows
		var files []string
		parts := fixtureParts
		for p := 0; p < parts; p++ {
			var part []shards.Row
			for j := p; j < len(rows); j += parts {
				part = append(part, rows[j])
			}
			rel := filepath.ToSlash(filepath.Join(tk.name, "test", shards.ShardName(p, parts)))
			if err := shards.WriteFile(ctx, filepath.Join(f.data, rel), part); err != nil {
				t.Fatal(err)
			}
			files = append(files, rel)
		}
		mtasks[tk.name] = map[string]any{"type": tk.kind, "tag_scheme": tk.scheme, "labels": tk.labels,
			"splits": map[string]any{"test": map[string]any{"examples": len(rows), "rejected": fixtureRejected[tk.name], "shards": files}}}
	}
	man["tasks"] = mtasks
	b, _ := json.MarshalIndent(man, "", " ")
	if err := os.WriteFile(filepath.Join(f.data, "manifest.json"), b, 0o644); err != nil {
		t.Fatal(err)
	}
	saveModel(t, f.ckpt, f.vocab, tasks, seed)
	return f
}

func saveModel(t testing.TB, dir string, vocab []string, tasks []fixtureTask, seed uint64) {
	t.Helper()
	saveModelWidth(t, dir, vocab, tasks, seed, 16)
}

// saveModelWidth is saveModel with an encoder of the given hidden size
// (one layer, two heads, a feed-forward layer twice as wide).
func saveModelWidth(t testing.TB, dir string, vocab []string, tasks []fixtureTask, seed uint64, hidden int) {
	t.Helper()
	cfg := model.Config{VocabSize: len(vocab), HiddenSize: hidden, NumHiddenLayers: 1, NumAttentionHeads: 2, IntermediateSize: 2 * hidden,
		MaxPositionEmbeddings: 64, TypeVocabSize: 2, LayerNormEps: 1e-12, HiddenAct: "gelu"}
	var heads []model.HeadSpec
	var infos []checkpoint.TaskInfo
	for _, tk := range tasks {
		if !tk.head {
			continue
		}
		n := len(tk.labels)
		if tk.kind == "sequence_regression" {
			n = 1
		}
		heads = append(heads, model.HeadSpec{Task: tk.name, Kind: model.HeadKind(tk.kind), NumLabels: n})
		infos = append(infos, checkpoint.TaskInfo{Name: tk.name, Type: tk.kind, Labels: tk.labels, TagScheme: tk.scheme})
	}
	m, err := model.New(cfg, heads, seed)
	if err != nil {
		t.Fatal(err)
	}
	if err := checkpoint.Save(checkpoint.LocalDir(dir), m, checkpoint.Meta{Vocab: vocab, MaxSeqLen: 32, Tasks: infos}); err != nil {
		t.Fatal(err)
	}
}

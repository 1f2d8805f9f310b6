package preprocess

import (
	"bufio"
	"encoding/json"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/taskweave/taskweave/io/shards"
	"github.com/taskweave/taskweave/transforms/readcorpus"
)

// TestGroupPreprocessedOnce: a group (chunk and ner label pos's records)
// is read once per pass, and the three tasks' shards hold the same rows in
// the same order, each with its own column's labels.
//
//   - Reads: the scan and the encoder open each of the group's two files
//     once: 4 opens, where the same three tasks without input_from open
//     each file once per task and pass (12; run too, so the count can tell
//     them apart).
//   - Rows: shard j of every task has the same example ids in the same
//     order and the same word pieces; labels are the source's columns.
//   - Rejections: the sentence chunk's reader rejects (X-NP, line 18) and
//     the one ner cannot align (B-MISC, not in its list) are in no task's
//     shards; each task's rejected file keeps both, the other tasks'
//     reasons naming the task that rejected it.
func TestGroupPreprocessedOnce(t *testing.T) {
	cfg := loadJob(t, "group.yaml")
	separate := cfg
	separate.Out = t.TempDir()
	separate.Tasks = slices.Clone(cfg.Tasks)
	for i := range separate.Tasks {
		separate.Tasks[i].InputFrom = ""
	}
	before := readcorpus.FilesOpened()
	run(t, separate, Options{})
	if n := readcorpus.FilesOpened() - before; n != 12 {
		t.Fatalf("three tasks apart opened their 2 files %d times, want 12 (3 tasks x 2 passes)", n)
	}
	before = readcorpus.FilesOpened()
	m := run(t, cfg, Options{}).Manifest
	if n := readcorpus.FilesOpened() - before; n != 4 {
		t.Errorf("the group opened its 2 files %d times, want 4 (one scan and one encode pass each)", n)
	}
	tok := tokenizer(t, cfg)
	for _, split := range []string{"train", "validation"} {
		want := map[string]int64{"train": 6, "validation": 1}[split]
		paths := map[string][]string{}
		for _, task := range cfg.Tasks {
			mt := m.Tasks[task.Name]
			if mt.Splits[split].Examples != want {
				t.Errorf("%s/%s: %d examples, want %d", task.Name, split, mt.Splits[split].Examples, want)
			}
			if (task.Name != "pos") != (mt.InputFrom == "pos") {
				t.Errorf("%s: manifest input_from %q", task.Name, mt.InputFrom)
			}
			paths[task.Name], _ = m.ShardPaths(filepath.Join(cfg.Out, "manifest.json"), task.Name, split)
			// Every row against its source record, read with the task's column.
			ids := map[string]int32{}
			for i, l := range mt.Labels {
				ids[l] = int32(i)
			}
			recs := readSource(t, task, split)
			for _, r := range readSplit(t, cfg, m, task.Name, split) {
				checkRow(t, tok, task, ids, recs[r.ExampleID], r)
			}
		}
		sameRows(t, paths)
	}
	checkGroupRejections(t, cfg.Out)
}

// sameRows checks that shard j of every task holds the same rows in the
// same order.
func sameRows(t *testing.T, paths map[string][]string) {
	t.Helper()
	for j, p := range paths["pos"] {
		ref, err := shards.ReadAll(t.Context(), p)
		if err != nil {
			t.Fatal(err)
		}
		for _, task := range []string{"chunk", "ner"} {
			if len(paths[task]) != len(paths["pos"]) || filepath.Base(paths[task][j]) != filepath.Base(p) {
				t.Fatalf("%s's shards %v do not pair with pos's %v", task, paths[task], paths["pos"])
			}
			rows, err := shards.ReadAll(t.Context(), paths[task][j])
			if err != nil {
				t.Fatal(err)
			}
			if len(rows) != len(ref) || len(rows) == 0 {
				t.Fatalf("%s: %d rows, pos's shard %d", paths[task][j], len(rows), len(ref))
			}
			for i, r := range rows {
				if r.ExampleID != ref[i].ExampleID || !slices.Equal(r.InputIDs, ref[i].InputIDs) || !slices.Equal(r.WordIDs, ref[i].WordIDs) {
					t.Errorf("%s row %d is %s, pos's is %s (or other word pieces)", paths[task][j], i, r.ExampleID, ref[i].ExampleID)
				}
			}
		}
	}
}

// checkGroupRejections reads each task's rejected file.
func checkGroupRejections(t *testing.T, out string) {
	t.Helper()
	for _, task := range []string{"pos", "chunk", "ner"} {
		f, err := os.Open(filepath.Join(out, "rejected", task+".jsonl"))
		if err != nil {
			t.Fatal(err)
		}
		var reasons []string
		sc := bufio.NewScanner(f)
		for sc.Scan() {
			var l struct{ Reason string }
			if err := json.Unmarshal(sc.Bytes(), &l); err != nil {
				t.Fatal(err)
			}
			reasons = append(reasons, l.Reason)
		}
		f.Close()
		slices.Sort(reasons)
		if len(reasons) != 2 {
			t.Fatalf("%s: %d rejections, want 2: %q", task, len(reasons), reasons)
		}
		for _, c := range []struct{ by, what string }{{"chunk", "X-NP"}, {"ner", "B-MISC"}} {
			i := slices.IndexFunc(reasons, func(r string) bool { return strings.Contains(r, c.what) })
			if i < 0 || (task == c.by) == strings.Contains(reasons[i], "rejected with task "+c.by) {
				t.Errorf("%s: rejections %q; want the %s one (by %s), naming %s unless it is %s's own", task, reasons, c.what, c.by, c.by, task)
			}
		}
	}
}

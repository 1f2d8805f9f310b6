package preprocess

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/apache/beam/sdks/v2/go/pkg/beam/testing/ptest"

	"github.com/taskweave/taskweave/io/corpus"
	"github.com/taskweave/taskweave/io/manifest"
	"github.com/taskweave/taskweave/io/shards"
	"github.com/taskweave/taskweave/text/wordpiece"
	"github.com/taskweave/taskweave/transforms/writeshards"
)

func TestMain(m *testing.M) { ptest.Main(m) }

// loadJob loads a job from testdata with its output in a fresh directory.
func loadJob(t *testing.T, name string) Config {
	t.Helper()
	cfg, err := JobConfig(filepath.Join("testdata", name))
	if err != nil {
		t.Fatal(err)
	}
	cfg.Out = t.TempDir()
	return cfg
}

// JobConfig maps a job spec file onto a Config. The mapping lives in
// jobs/stages, which imports this package, so the external test package
// (stages_test.go) sets it.
var JobConfig func(path string) (Config, error)

func run(t *testing.T, cfg Config, opt Options) *Result {
	t.Helper()
	res, err := Run(context.Background(), cfg, opt)
	if err != nil {
		t.Fatal(err)
	}
	return res
}

func readSplit(t *testing.T, cfg Config, m *manifest.Manifest, task, split string) []shards.Row {
	t.Helper()
	paths, err := m.ShardPaths(manifest.Path(cfg.Out), task, split)
	if err != nil {
		t.Fatal(err)
	}
	var all []shards.Row
	for _, p := range paths {
		rows, err := shards.ReadAll(context.Background(), p)
		if err != nil {
			t.Fatal(err)
		}
		if !slices.IsSortedFunc(rows, func(a, b shards.Row) int { return writeshards.NaturalCompare(a.ExampleID, b.ExampleID) }) {
			t.Errorf("%s: rows not sorted by example id", p)
		}
		for _, r := range rows {
			if want := shards.RelPath(task, split, writeshards.Shard(strings.SplitN(r.ExampleID, "#", 2)[0], len(paths)), len(paths)); !strings.HasSuffix(p, want) {
				t.Errorf("%s: row %s belongs in %s", p, r.ExampleID, want)
			}
		}
		all = append(all, rows...)
	}
	return all
}

func tokenizer(t *testing.T, cfg Config) *wordpiece.Tokenizer {
	t.Helper()
	tok, err := wordpiece.LoadFile(cfg.Vocab, cfg.Lowercase)
	if err != nil {
		t.Fatal(err)
	}
	return tok
}

// TestSmallJob runs three tasks of three formats and checks the manifest's
// counts and labels and every row against the source records and the tokenizer.
func TestSmallJob(t *testing.T) {
	cfg := loadJob(t, "job.yaml")
	res := run(t, cfg, Options{})
	m := res.Manifest
	tok := tokenizer(t, cfg)

	wantCounts := map[string]map[string]int64{
		"sent": {"train": 6, "validation": 2},
		"ner":  {"train": 3, "validation": 3},
		"pos":  {"train": 2, "test": 1},
	}
	wantLabels := map[string][]string{
		"sent": {"0", "1"},
		"ner":  {"B-corporation", "B-location", "B-person", "I-corporation", "I-location", "O"},
		"pos":  {"AUX", "NOUN", "PART", "PRON", "PUNCT", "VERB"},
	}
	if len(m.Tasks) != len(wantCounts) {
		t.Fatalf("manifest has %d tasks, want %d", len(m.Tasks), len(wantCounts))
	}
	// tags-validation.conll's last sentence starts with I-corporation after
	// O (a loose IOB2 tag): kept, and counted in the manifest.
	if tr, va := m.Tasks["ner"].Splits["train"].LooseIOB2, m.Tasks["ner"].Splits["validation"].LooseIOB2; tr != 0 || va != 1 {
		t.Errorf("ner loose_iob2: train %d, validation %d; want 0 and 1", tr, va)
	}
	for _, task := range cfg.Tasks {
		mt := m.Tasks[task.Name]
		if !slices.Equal(mt.Labels, wantLabels[task.Name]) {
			t.Errorf("%s labels = %q, want %q", task.Name, mt.Labels, wantLabels[task.Name])
		}
		ids := map[string]int32{}
		for i, l := range mt.Labels {
			ids[l] = int32(i)
		}
		for split, want := range wantCounts[task.Name] {
			ms := mt.Splits[split]
			// A split gets no more shards than it has records (these have no windows).
			wantShards := int(min(int64(cfg.Shards), want))
			if ms.Examples != want || len(ms.Shards) != wantShards {
				t.Errorf("%s/%s: %d examples in %d shards, want %d in %d", task.Name, split, ms.Examples, len(ms.Shards), want, wantShards)
			}
			rows := readSplit(t, cfg, m, task.Name, split)
			if int64(len(rows)) != want {
				t.Fatalf("%s/%s: %d rows in the shards, manifest says %d", task.Name, split, len(rows), want)
			}
			var tokens int64
			for _, r := range rows {
				tokens += int64(len(r.InputIDs))
			}
			if tokens != ms.Tokens {
				t.Errorf("%s/%s: %d tokens in the shards, manifest says %d", task.Name, split, tokens, ms.Tokens)
			}
			// Every row against its source record, re-read independently.
			recs := readSource(t, task, split)
			for _, r := range rows {
				rec, ok := recs[r.ExampleID]
				if !ok {
					t.Fatalf("%s/%s: row %s has no source record", task.Name, split, r.ExampleID)
				}
				checkRow(t, tok, task, ids, rec, r)
			}
		}
	}
}

func readSource(t *testing.T, task Task, split string) map[string]corpus.Record {
	out := map[string]corpus.Record{}
	for _, p := range task.Paths[split] {
		f, err := os.Open(p)
		if err != nil {
			t.Fatal(err)
		}
		recs, _, err := corpus.ReadAll(f, p, task.Read)
		f.Close()
		if err != nil {
			t.Fatal(err)
		}
		for _, r := range recs {
			out[r.ID] = r
		}
	}
	return out
}

// checkRow decodes a row and compares it with what the tokenizer makes of
// the source record (all test sentences fit max_seq_len, so no windows).
func checkRow(t *testing.T, tok *wordpiece.Tokenizer, task Task, ids map[string]int32, rec corpus.Record, r shards.Row) {
	t.Helper()
	got := tok.Decode(r.InputIDs)
	if task.Type != "token_classification" {
		want := append(append([]string{"[CLS]"}, tok.Tokenize(rec.Text)...), "[SEP]")
		if !slices.Equal(got, want) || r.Label != ids[rec.Label] || r.Text != rec.Text {
			t.Errorf("%s: row %q label %d, want %q label %d", r.ExampleID, got, r.Label, want, ids[rec.Label])
		}
		return
	}
	want := []string{"[CLS]"}
	wantLabels := []int32{-100}
	wantWords := []int32{-1}
	for i, w := range rec.Words {
		for j, piece := range tok.Tokenize(w) {
			want = append(want, piece)
			wantWords = append(wantWords, int32(i))
			if j == 0 {
				wantLabels = append(wantLabels, ids[rec.Tags[i]])
			} else {
				wantLabels = append(wantLabels, -100)
			}
		}
	}
	want = append(want, "[SEP]")
	wantLabels = append(wantLabels, -100)
	wantWords = append(wantWords, -1)
	if !slices.Equal(got, want) || !slices.Equal(r.TokenLabels, wantLabels) || !slices.Equal(r.WordIDs, wantWords) || !slices.Equal(r.Words, rec.Words) {
		t.Errorf("%s: row %q labels %v words %v, want %q labels %v words %v", r.ExampleID, got, r.TokenLabels, r.WordIDs, want, wantLabels, wantWords)
	}
}

// TestThreeTasksFromOneFile reads one four-column CoNLL file as POS, chunk and NER.
func TestThreeTasksFromOneFile(t *testing.T) {
	cfg := loadJob(t, "conll3.yaml")
	m := run(t, cfg, Options{}).Manifest
	want := map[string][]string{
		"pos":   {".", "DT", "NN", "NNP", "TO", "VBD"},
		"chunk": {"B-NP", "B-PP", "B-VP", "I-NP", "O"},
		"ner":   {"B-LOC", "B-ORG", "B-PER", "O"},
	}
	for task, labels := range want {
		mt := m.Tasks[task]
		if !slices.Equal(mt.Labels, labels) {
			t.Errorf("%s labels = %q, want %q", task, mt.Labels, labels)
		}
		if mt.Splits["train"].Examples != 3 || mt.Splits["validation"].Examples != 1 {
			t.Errorf("%s: %d train and %d validation examples, want 3 and 1", task, mt.Splits["train"].Examples, mt.Splits["validation"].Examples)
		}
	}
	// The same sentence in the three tasks: same ids, different labels.
	byTask := map[string]shards.Row{}
	for task := range want {
		for _, r := range readSplit(t, cfg, m, task, "validation") {
			byTask[task] = r
		}
	}
	if !slices.Equal(byTask["pos"].InputIDs, byTask["ner"].InputIDs) || slices.Equal(byTask["pos"].TokenLabels, byTask["ner"].TokenLabels) {
		t.Errorf("pos and ner rows of one sentence: ids %v / %v, labels %v / %v",
			byTask["pos"].InputIDs, byTask["ner"].InputIDs, byTask["pos"].TokenLabels, byTask["ner"].TokenLabels)
	}
}

// snapshot records every file's bytes and modification time under dir.
func snapshot(t *testing.T, dir string) map[string]string {
	t.Helper()
	out := map[string]string{}
	err := filepath.WalkDir(dir, func(p string, d os.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		data, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		info, err := d.Info()
		if err != nil {
			return err
		}
		out[p] = info.ModTime().Format(time.RFC3339Nano) + "\x00" + string(data)
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// TestUpToDate: a second run with unchanged inputs writes nothing; a changed
// input, or --force, runs again and gives the same shard bytes.
func TestUpToDate(t *testing.T) {
	cfg := loadJob(t, "job.yaml")
	// Inputs in a scratch copy so one can be changed.
	in := t.TempDir()
	for i := range cfg.Tasks {
		for split, files := range cfg.Tasks[i].Paths {
			for j, f := range files {
				data, err := os.ReadFile(f)
				if err != nil {
					t.Fatal(err)
				}
				p := filepath.Join(in, filepath.Base(f))
				if err := os.WriteFile(p, data, 0o644); err != nil {
					t.Fatal(err)
				}
				cfg.Tasks[i].Paths[split][j] = p
			}
		}
	}
	first := run(t, cfg, Options{})
	if first.UpToDate {
		t.Fatal("first run reported up to date")
	}
	before := snapshot(t, cfg.Out)
	second := run(t, cfg, Options{})
	if !second.UpToDate || second.Manifest.Fingerprint != first.Manifest.Fingerprint {
		t.Fatalf("second run: up to date %v, fingerprint %s vs %s", second.UpToDate, second.Manifest.Fingerprint, first.Manifest.Fingerprint)
	}
	if after := snapshot(t, cfg.Out); !mapsEqual(before, after) {
		t.Fatal("an up-to-date run changed the output directory")
	}

	forced := run(t, cfg, Options{Force: true})
	if forced.UpToDate {
		t.Fatal("forced run reported up to date")
	}
	after := snapshot(t, cfg.Out)
	for p, v := range before {
		if strings.HasSuffix(p, ".parquet") && content(after[p]) != content(v) {
			t.Errorf("%s: bytes differ between two runs of the same job", p)
		}
	}

	// Changing one input's bytes makes the job stale again.
	p := cfg.Tasks[0].Paths["validation"][0]
	f, err := os.OpenFile(p, os.O_APPEND|os.O_WRONLY, 0)
	if err != nil {
		t.Fatal(err)
	}
	f.WriteString("one more sharp little film . \t1\n")
	f.Close()
	changed := run(t, cfg, Options{})
	if changed.UpToDate || changed.Manifest.Fingerprint == first.Manifest.Fingerprint {
		t.Fatal("a changed input was reported up to date")
	}
	if got := changed.Manifest.Tasks["sent"].Splits["validation"].Examples; got != 3 {
		t.Errorf("after appending a record: %d validation examples, want 3", got)
	}
}

// TestTruncatedShardIsRebuilt: a shard cut short after a run (a full disk,
// a killed copy) while the inputs stay unchanged is noticed by the
// up-to-date check, through the size and checksum the manifest records, and
// rebuilt with the same bytes, instead of "up to date" forever.
func TestTruncatedShardIsRebuilt(t *testing.T) {
	cfg := loadJob(t, "job.yaml")
	first := run(t, cfg, Options{})
	paths, err := first.Manifest.ShardPaths(manifest.Path(cfg.Out), "sent", "train")
	if err != nil {
		t.Fatal(err)
	}
	shard := paths[0]
	good, err := os.ReadFile(shard)
	if err != nil {
		t.Fatal(err)
	}
	rel, _ := filepath.Rel(cfg.Out, shard)
	if rec := first.Manifest.ShardFiles[filepath.ToSlash(rel)]; rec.Size != int64(len(good)) || !strings.HasPrefix(rec.Checksum, "sha256:") {
		t.Fatalf("manifest records %+v for %s (%d bytes)", rec, rel, len(good))
	}
	for _, damage := range []struct {
		name string
		data []byte
	}{
		{"truncated", good[:len(good)/2]},
		{"same size, one byte changed", append(append([]byte{}, good[:len(good)-1]...), good[len(good)-1]^1)},
	} {
		if err := os.WriteFile(shard, damage.data, 0o644); err != nil {
			t.Fatal(err)
		}
		again := run(t, cfg, Options{})
		if again.UpToDate {
			t.Fatalf("%s shard: reported up to date", damage.name)
		}
		if len(again.Stale) != 1 || !strings.Contains(again.Stale[0], shard) {
			t.Errorf("%s shard: stale list %q, want the one damaged shard", damage.name, again.Stale)
		}
		healed, err := os.ReadFile(shard)
		if err != nil || !bytes.Equal(healed, good) {
			t.Fatalf("%s shard: not rebuilt to the original bytes (%d bytes, want %d, err %v)", damage.name, len(healed), len(good), err)
		}
		if third := run(t, cfg, Options{}); !third.UpToDate {
			t.Fatalf("after healing the %s shard: not up to date (%q)", damage.name, third.Stale)
		}
	}
}

func content(v string) string { return v[strings.IndexByte(v, 0)+1:] }

func mapsEqual(a, b map[string]string) bool {
	if len(a) != len(b) {
		return false
	}
	for k, v := range a {
		if b[k] != v {
			return false
		}
	}
	return true
}

// TestRejected: malformed records under the limit go to rejected/<task>.jsonl
// with file, line and reason and are counted; the shards hold the rest.
func TestRejected(t *testing.T) {
	cfg := loadJob(t, "job.yaml")
	cfg.Tasks = cfg.Tasks[:1]
	cfg.Tasks[0].Paths = map[string][]string{"train": {"testdata/sent-bad.tsv"}}
	cfg.MaxRejectedFraction = 0.5
	m := run(t, cfg, Options{}).Manifest
	st := m.Tasks["sent"].Splits["train"]
	if st.Examples != 4 || st.Rejected != 2 {
		t.Errorf("examples %d rejected %d, want 4 and 2", st.Examples, st.Rejected)
	}
	f, err := os.Open(filepath.Join(cfg.Out, "rejected", "sent.jsonl"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	type line struct {
		Split, File, Reason, Raw string
		Line                     int
	}
	var got []line
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		var l line
		if err := json.Unmarshal(sc.Bytes(), &l); err != nil {
			t.Fatal(err)
		}
		got = append(got, l)
	}
	if len(got) != 2 {
		t.Fatalf("rejected file has %d lines, want 2: %+v", len(got), got)
	}
	for i, want := range []struct {
		line          int
		reason, rawIn string
	}{{3, "TAB-separated fields", "no label column"}, {6, "UTF-8", `\xFF\xFE broken`}} {
		g := got[i]
		if wantFile, _ := filepath.Abs("testdata/sent-bad.tsv"); g.File != wantFile || g.Line != want.line || g.Split != "train" ||
			!strings.Contains(g.Reason, want.reason) || !strings.Contains(g.Raw, want.rawIn) {
			t.Errorf("rejection %d = %+v, want line %d, reason with %q, raw with %q", i, g, want.line, want.reason, want.rawIn)
		}
	}
}

// TestBadInputStops: each input mistake stops the run with an error naming
// the file, the line where there is one, and the fix; no manifest is written.
func TestBadInputStops(t *testing.T) {
	cases := []struct {
		name  string
		edit  func(*Config)
		wants []string
	}{
		{"missing file", func(c *Config) { c.Tasks[0].Paths["validation"] = []string{"testdata/no-such-file.tsv"} },
			[]string{"testdata/no-such-file.tsv", "file not found", "tasks[0].paths.validation"}},
		{"empty corpus", func(c *Config) { c.Tasks[0].Paths["validation"] = []string{"testdata/sent-empty.tsv"} },
			[]string{"testdata/sent-empty.tsv", "no usable records", "point the task at the right file"}},
		{"unknown label in validation", func(c *Config) { c.Tasks[0].Paths["validation"] = []string{"testdata/sent-unknown-label.tsv"} },
			[]string{"testdata/sent-unknown-label.tsv:3", `"2"`, "collected from the train split, which never has this label", "tasks[0].labels"}},
		{"label not in the spec's list", func(c *Config) { c.Tasks[1].Labels = []string{"O", "B-person", "B-location"} },
			[]string{"tags-validation.conll:", "B-corporation", "tasks[1].labels"}},
		{"rejected share over the limit", func(c *Config) { c.Tasks[0].Paths["train"] = []string{"testdata/sent-bad.tsv"} },
			[]string{"testdata/sent-bad.tsv", "2 of 6 records rejected", "testdata/sent-bad.tsv:3", "max_rejected_fraction"}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			cfg := loadJob(t, "job.yaml")
			c.edit(&cfg)
			_, err := Run(context.Background(), cfg, Options{})
			if err == nil {
				t.Fatal("run succeeded")
			}
			for _, w := range c.wants {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error does not mention %q:\n%v", w, err)
				}
			}
			if _, err := os.Stat(manifest.Path(cfg.Out)); err == nil {
				t.Error("a failed run left a manifest")
			}
		})
	}
}

// TestRejectsBadConfig: settings a run cannot start with fail before Beam starts.
func TestRejectsBadConfig(t *testing.T) {
	cfg := loadJob(t, "job.yaml")
	cfg.Shards = 0
	cfg.Tasks[1].Name = "bad name"
	_, err := Run(context.Background(), cfg, Options{})
	if err == nil || !strings.Contains(err.Error(), "0 shards") || !strings.Contains(err.Error(), `"bad name" is not a valid task name`) {
		t.Fatalf("err = %v", err)
	}
}

func TestWriteTable(t *testing.T) {
	m := &manifest.Manifest{Tasks: map[string]manifest.Task{
		"ner": {Splits: map[string]manifest.Split{
			"train":      {Examples: 14044, Tokens: 300000, Windows: 3, Rejected: 1, LooseIOB2: 2},
			"validation": {Examples: 3250, Tokens: 80000},
		}},
		"sst2": {Splits: map[string]manifest.Split{"train": {Examples: 67349, Tokens: 900000, Truncated: 2}}},
	}}
	var b bytes.Buffer
	if err := WriteTable(&b, m); err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(strings.TrimSpace(b.String()), "\n")
	want := [][]string{
		{"task", "split", "examples", "tokens", "truncated", "windows", "rejected", "loose_iob2"},
		{"ner", "train", "14044", "300000", "0", "3", "1", "2"},
		{"ner", "validation", "3250", "80000", "0", "0", "0", "0"},
		{"sst2", "train", "67349", "900000", "2", "0", "0", "0"},
		{"total", "84643", "1280000", "2", "3", "1", "2"},
	}
	if len(lines) != len(want) {
		t.Fatalf("table:\n%s", b.String())
	}
	for i, l := range lines {
		if got := strings.Fields(l); !slices.Equal(got, want[i]) {
			t.Errorf("line %d = %q, want %q", i, got, want[i])
		}
	}
}

// TestMissingVocabNamesTheKey: a missing vocabulary was reported as an
// input "check the path in the job's corpus list"; it is tokenizer.vocab.
func TestMissingVocabNamesTheKey(t *testing.T) {
	cfg := loadJob(t, "job.yaml")
	cfg.Vocab = filepath.Join(t.TempDir(), "no-vocab.txt")
	_, err := Fingerprint(context.Background(), cfg)
	if err == nil || !strings.Contains(err.Error(), cfg.Vocab) || !strings.Contains(err.Error(), "tokenizer.vocab") || strings.Contains(err.Error(), "corpus list") {
		t.Fatalf("err = %v; want it to name %s and tokenizer.vocab", err, cfg.Vocab)
	}
}

// A masked_lm task's plain-text corpus goes through the pipeline like any
// task: one row per non-blank line, [CLS] pieces [SEP] truncated to
// max_seq_len, no label, and the manifest records the type with no labels.
func TestMaskedLMText(t *testing.T) {
	cfg := loadJob(t, "text.yaml")
	m := run(t, cfg, Options{}).Manifest
	tok := tokenizer(t, cfg)
	mt := m.Tasks["lm"]
	if mt.Type != "masked_lm" || len(mt.Labels) != 0 {
		t.Fatalf("lm in the manifest: type %q, labels %q; want masked_lm and none", mt.Type, mt.Labels)
	}
	if mt.Splits["train"].Examples != 4 || mt.Splits["validation"].Examples != 1 || mt.Splits["train"].Truncated != 1 {
		t.Errorf("lm: %+v; want 4 train rows (one truncated) and 1 validation row", mt.Splits)
	}
	rows := readSplit(t, cfg, m, "lm", "train")
	byText := map[string]shards.Row{}
	for _, r := range rows {
		byText[r.Text] = r
		if r.Label != -1 || len(r.TokenLabels) != 0 || r.InputIDs[0] != tok.CLS() || r.InputIDs[len(r.InputIDs)-1] != tok.SEP() || len(r.InputIDs) > 16 {
			t.Errorf("row %s: %+v", r.ExampleID, r)
		}
	}
	r, ok := byText["EU rejects German call to boycott British lamb ."]
	if !ok {
		t.Fatalf("the second line is not a row: %v", byText)
	}
	want := append(append([]int32{tok.CLS()}, tok.Encode("EU rejects German call to boycott British lamb .")...), tok.SEP())
	if !slices.Equal(r.InputIDs, want) {
		t.Errorf("ids %v, want %v", r.InputIDs, want)
	}
	if r.ExampleID != "text-train.txt:2" {
		t.Errorf("example id %q, want text-train.txt:2 (file and record number)", r.ExampleID)
	}
}

package preprocess

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/taskweave/taskweave/internal/testcorpora"
	"github.com/taskweave/taskweave/io/shards/duckcheck"
)

// loadCorporaJob loads a testdata job whose paths point into ../shared/corpora.
func loadCorporaJob(tb testing.TB, name, out string) Config {
	tb.Helper()
	corpora := testcorpora.Dir(tb)
	cfg, err := JobConfig(filepath.Join("testdata", name))
	if err != nil {
		tb.Fatal(err)
	}
	// The job's paths assume the repository sits beside shared/; a worktree
	// deeper down finds it by walking up, so re-root them there.
	reroot := func(p string) string {
		if _, rest, ok := strings.Cut(filepath.ToSlash(p), "/shared/corpora/"); ok {
			return filepath.Join(corpora, filepath.FromSlash(rest))
		}
		return p
	}
	cfg.Vocab = reroot(cfg.Vocab)
	for i := range cfg.Tasks {
		for split, files := range cfg.Tasks[i].Paths {
			for j, f := range files {
				files[j] = reroot(f)
			}
			cfg.Tasks[i].Paths[split] = files
		}
	}
	for _, p := range append(inputFiles(cfg), cfg.Vocab) {
		if _, err := os.Stat(p); err != nil {
			testcorpora.Missing(tb, "acceptance corpus missing: %v", err)
		}
	}
	cfg.Out = out
	return cfg
}

// duckdb runs SQL over the shards with DuckDB (tools/parquetcheck/count.mjs),
// a Parquet reader independent of parquet-go.
func duckdb(t *testing.T, sql, glob string, into any) {
	t.Helper()
	duckcheck.Require(t)
	tool, err := duckcheck.Dir()
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command("node", "count.mjs", "--sql", sql, glob)
	cmd.Dir = tool
	cmd.Stderr = os.Stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("node count.mjs: %v", err)
	}
	if err := json.Unmarshal(out, into); err != nil {
		t.Fatalf("DuckDB output: %v\n%s", err, out)
	}
}

// TestAcceptance preprocesses every corpus of ../shared/corpora and checks,
// through DuckDB, that each split's distinct source records (window ids
// "<id>#w<k>" folded back) equal the corpus's own counts, and that sampled
// rows' input_ids decode to the tokenizer's output for their text.
//
// It runs in `make test` (about a minute); -short skips it:
//
//	go test ./pipelines/preprocess -run Acceptance -v
func TestAcceptance(t *testing.T) {
	if testing.Short() {
		t.Skip("preprocesses every corpus of ../shared/corpora (about a minute)")
	}
	cfg := loadCorporaJob(t, "acceptance.yaml", t.TempDir())
	res := run(t, cfg, Options{Force: true})
	t.Logf("preprocessed in %.1fs", res.Elapsed.Seconds())
	var table strings.Builder
	if err := WriteTable(&table, res.Manifest); err != nil {
		t.Fatal(err)
	}
	t.Logf("\n%s", table.String())

	// Sentence counts from SOURCES.md (SST-2: rows; CoNLL-2003, WNUT17, UD EWT: sentences).
	want := map[string]map[string]int{
		"sst2":        {"train": 67349, "validation": 872},
		"conll_pos":   {"train": 14041, "validation": 3250, "test": 3453},
		"conll_chunk": {"train": 14041, "validation": 3250, "test": 3453},
		"conll_ner":   {"train": 14041, "validation": 3250, "test": 3453},
		"wnut17":      {"train": 3394, "validation": 1009, "test": 1287},
		"ewt_upos":    {"train": 2001, "test": 2077},
	}
	glob := filepath.Join(cfg.Out, "*", "*", "*.parquet")
	var counts []struct {
		Task, Split         string
		Rows, Records, Wins int64
	}
	duckdb(t, `SELECT task, split, count(*) AS rows,
	                  count(DISTINCT regexp_replace(example_id, '#w[0-9]+$', '')) AS records,
	                  count(*) FILTER (WHERE example_id LIKE '%#w%' AND NOT example_id LIKE '%#w0') AS wins
	           FROM shards GROUP BY ALL ORDER BY ALL`, glob, &counts)
	seen := 0
	for _, c := range counts {
		w, ok := want[c.Task][c.Split]
		if !ok {
			t.Errorf("unexpected %s/%s in the shards", c.Task, c.Split)
			continue
		}
		seen++
		ms := res.Manifest.Tasks[c.Task].Splits[c.Split]
		t.Logf("DuckDB %-11s %-10s rows %6d  source records %6d (want %6d)  windows %d (manifest: examples %d, windows %d)",
			c.Task, c.Split, c.Rows, c.Records, w, c.Rows-c.Records, ms.Examples, ms.Windows)
		if c.Records != int64(w) || c.Rows != ms.Examples || c.Rows-c.Records != ms.Windows || c.Wins != ms.Windows {
			t.Errorf("%s/%s: DuckDB sees %d rows, %d records, %d extra windows; source has %d records, manifest %d examples and %d windows",
				c.Task, c.Split, c.Rows, c.Records, c.Wins, w, ms.Examples, ms.Windows)
		}
	}
	if n := 16; seen != n {
		t.Errorf("DuckDB saw %d task/splits, want %d", seen, n)
	}

	// Decode a sample (plus every windowed row) and compare with the tokenizer.
	tok := tokenizer(t, cfg)
	var sample []struct {
		Task      string
		ExampleID string  `json:"example_id"`
		InputIDs  []int32 `json:"input_ids"`
		WordIDs   []int32 `json:"word_ids"`
		Words     []string
		Text      string
	}
	duckdb(t, `SELECT task, example_id, input_ids, word_ids, words, text FROM shards USING SAMPLE 400 ROWS (reservoir, 7)
	           UNION ALL SELECT task, example_id, input_ids, word_ids, words, text FROM shards WHERE example_id LIKE '%#w%'`, glob, &sample)
	windowed := 0
	for _, r := range sample {
		got := tok.Decode(r.InputIDs)
		if len(got) < 2 || got[0] != "[CLS]" || got[len(got)-1] != "[SEP]" {
			t.Errorf("%s %s: input_ids decode to %q: not framed by [CLS] … [SEP]", r.Task, r.ExampleID, got)
			continue
		}
		if len(r.Words) == 0 {
			if want := tok.Tokenize(r.Text); !slices.Equal(got[1:len(got)-1], want) {
				t.Errorf("%s %s: input_ids decode to %q, the tokenizer gives %q", r.Task, r.ExampleID, got, want)
			}
			continue
		}
		// Token rows: the pieces of each word, found through word_ids.
		perWord := make([][]string, len(r.Words))
		for i, w := range r.WordIDs[1 : len(r.WordIDs)-1] {
			perWord[w] = append(perWord[w], got[1+i])
		}
		isWindow := strings.Contains(r.ExampleID, "#w")
		if isWindow {
			windowed++
		}
		for j, w := range r.Words {
			want := tok.Tokenize(w)
			if len(want) == 0 {
				want = []string{"[UNK]"} // a word of only control characters keeps a position
			}
			// A word too long for one window is spread over several: at a
			// window's edge it may be only part of the word's pieces.
			edge := isWindow && (j == 0 || j == len(r.Words)-1)
			if ok := slices.Equal(perWord[j], want) || (edge && contains(want, perWord[j])); !ok {
				t.Errorf("%s %s word %d %q: pieces %q, the tokenizer gives %q", r.Task, r.ExampleID, j, w, perWord[j], want)
			}
		}
	}
	t.Logf("%d rows (400 sampled + every window row; %d windows in all) decoded and compared with the tokenizer", len(sample), windowed)
}

// contains reports whether part is a non-empty contiguous run of whole.
func contains(whole, part []string) bool {
	for i := 0; len(part) > 0 && i+len(part) <= len(whole); i++ {
		if slices.Equal(whole[i:i+len(part)], part) {
			return true
		}
	}
	return false
}

// BenchmarkPreprocess runs the whole pipeline on prism over SST-2 train_full
// and CoNLL-2003 train (NER): 81,390 records. cpu-s/op is the process's CPU
// time per run, which other load on the machine does not inflate.
//
//	go test ./pipelines/preprocess -run '^$' -bench Preprocess -benchtime 3x
func BenchmarkPreprocess(b *testing.B) {
	cfg := loadCorporaJob(b, "bench.yaml", b.TempDir())
	ctx := context.Background()
	var records int64
	var cpu time.Duration
	b.ResetTimer()
	for b.Loop() {
		c0 := cpuTime()
		res, err := Run(ctx, cfg, Options{Force: true})
		if err != nil {
			b.Fatal(err)
		}
		cpu += cpuTime() - c0
		records = 0
		for _, t := range res.Manifest.Tasks {
			for _, s := range t.Splits {
				records += s.Examples - s.Windows
			}
		}
	}
	b.ReportMetric(float64(records), "records/op")
	b.ReportMetric(cpu.Seconds()/float64(b.N), "cpu-s/op")
	if records != 67349+14041 {
		b.Fatalf("%d records, want %d", records, 67349+14041)
	}
}

func cpuTime() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		panic(fmt.Sprintf("getrusage: %v", err))
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

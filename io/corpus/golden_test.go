package corpus

import (
	"bytes"
	"encoding/json"
	"flag"
	"os"
	"path/filepath"
	"testing"
)

var update = flag.Bool("update", false, "rewrite the golden files under testdata/")

// goldenResult is everything a reader made of one file.
type goldenResult struct {
	Options    Options     `json:"options"`
	Records    []Record    `json:"records"`
	Rejections []Rejection `json:"rejections"`
	Stats      Stats       `json:"stats"`
	Error      string      `json:"error,omitempty"`
}

// TestGolden reads small hand-made files with each format's quirks and
// faults and compares everything the reader yields with testdata/*.golden.json
// (regression goldens: see testdata/README.md).
func TestGolden(t *testing.T) {
	cases := []struct {
		file string
		opt  Options
	}{
		{"sst2_quirks.tsv", opts(Options{Format: TSV})},
		{"sst2_test.tsv", opts(Options{Format: TSV, Unlabeled: true})},
		{"empty.tsv", opts(Options{Format: TSV})},
		{"conll2003_style.txt", opts(Options{Format: CoNLL, TagColumn: 3, TagScheme: "iob2"})},
		{"conll2003_style.txt", opts(Options{Format: CoNLL, TagColumn: 1})},
		{"conll_latin1.txt", opts(Options{Format: CoNLL, TagScheme: "iob2"})},
		{"plain.text", opts(Options{Format: Text})},
		{"wnut17_style.conll", opts(Options{Format: CoNLL, TagScheme: "iob2"})},
		{"iob1.conll", opts(Options{Format: CoNLL, TagColumn: 3, TagScheme: "iob1"})},
		{"iob1.conll", opts(Options{Format: CoNLL, TagColumn: 2, TagScheme: "iob2"})},
		{"ud_style.conllu", opts(Options{Format: CoNLLU})},
		{"ud_style.conllu", opts(Options{Format: CoNLLU, TagField: "xpos"})},
		{"sentences.jsonl", opts(Options{Format: JSONL})},
		{"tokens.jsonl", opts(Options{Format: JSONL, TokenLevel: true, IDColumn: "id", TagScheme: "iob2"})},
		{"brown_style.txt", opts(Options{Format: Brown})},
		{"brown_style.txt", opts(Options{Format: Brown, BrownText: true})},
	}
	seen := map[string]int{}
	for _, c := range cases {
		seen[c.file]++
		golden := filepath.Join("testdata", c.file)
		if n := seen[c.file]; n > 1 {
			golden += "." + string(rune('0'+n))
		}
		golden += ".golden.json"
		t.Run(filepath.Base(golden), func(t *testing.T) {
			f, err := os.Open(filepath.Join("testdata", c.file))
			if err != nil {
				t.Fatal(err)
			}
			defer f.Close()
			rd := NewReader(f, "testdata/"+c.file, c.opt)
			res := goldenResult{Options: c.opt, Records: []Record{}, Rejections: []Rejection{}}
			for {
				rec, rej, err := rd.Next()
				if err != nil {
					if err.Error() != "EOF" {
						res.Error = err.Error()
					} else if err := rd.CheckNotEmpty(); err != nil {
						res.Error = err.Error()
					}
					break
				}
				if rej != nil {
					res.Rejections = append(res.Rejections, *rej)
				} else {
					res.Records = append(res.Records, rec)
				}
			}
			res.Stats = rd.Stats()
			got, err := json.MarshalIndent(res, "", "  ")
			if err != nil {
				t.Fatal(err)
			}
			got = append(got, '\n')
			if *update {
				if err := os.WriteFile(golden, got, 0o644); err != nil {
					t.Fatal(err)
				}
				return
			}
			want, err := os.ReadFile(golden)
			if err != nil {
				t.Fatalf("%v (run go test -run TestGolden -update to create it, then review it)", err)
			}
			if !bytes.Equal(got, want) {
				t.Errorf("output differs from %s:\n%s", golden, got)
			}
		})
	}
}

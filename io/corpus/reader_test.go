package corpus

import (
	"fmt"
	"io"
	"strings"
	"testing"
)

// render turns everything a reader yields into one line per item, so a case
// states the exact records, rejections (line and reason) and errors.
func render(t *testing.T, input, file string, opt Options) []string {
	t.Helper()
	rd := NewReader(strings.NewReader(input), file, opt)
	var out []string
	for i := 0; ; i++ {
		if i > 1000 {
			t.Fatal("reader does not reach the end")
		}
		rec, rej, err := rd.Next()
		if err == io.EOF {
			if err := rd.CheckNotEmpty(); err != nil {
				out = append(out, "err "+err.Error())
			}
			break
		}
		if err != nil {
			out = append(out, "err "+err.Error())
			if _, _, again := rd.Next(); again != err {
				t.Errorf("error not sticky: %v then %v", err, again)
			}
			break
		}
		if rej != nil {
			if rej.File != file {
				t.Errorf("rejection file %q, want %q", rej.File, file)
			}
			out = append(out, fmt.Sprintf("rej %d %s", rej.Line, rej.Reason))
			continue
		}
		if rec.File != file {
			t.Errorf("record file %q, want %q", rec.File, file)
		}
		if rec.Words != nil {
			pairs := make([]string, len(rec.Words))
			for i, w := range rec.Words {
				pairs[i] = w
				if rec.Tags != nil {
					pairs[i] += "/" + rec.Tags[i]
				}
			}
			out = append(out, fmt.Sprintf("rec %d %s %s", rec.Line, rec.ID, strings.Join(pairs, " ")))
		} else {
			out = append(out, fmt.Sprintf("rec %d %s %q %q %q", rec.Line, rec.ID, rec.Text, rec.TextB, rec.Label))
		}
	}
	return out
}

type readerCase struct {
	name  string
	opt   Options
	input string
	want  []string
}

func runCases(t *testing.T, file string, cases []readerCase) {
	t.Helper()
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			got := render(t, c.input, file, c.opt)
			if strings.Join(got, "\n") != strings.Join(c.want, "\n") {
				t.Errorf("got\n\t%s\nwant\n\t%s", strings.Join(got, "\n\t"), strings.Join(c.want, "\n\t"))
			}
		})
	}
}

func TestTSV(t *testing.T) {
	tsv := opts(Options{Format: TSV})
	runCases(t, "dir/sst.tsv", []readerCase{
		{"glue quirks: BOM, trailing space before TAB, CRLF, blank lines", tsv,
			"\uFEFFsentence\tlabel\r\nit 's good \t1\r\n\r\nbad . \t0\r\n",
			[]string{`rec 2 sst.tsv:1 "it 's good" "" "1"`, `rec 4 sst.tsv:2 "bad ." "" "0"`}},
		{"label column first, text column named text", tsv,
			"label\ttext\n0\tfine\n",
			[]string{`rec 2 sst.tsv:1 "fine" "" "0"`}},
		{"unlabeled test file: index column first becomes the id", opts(Options{Format: TSV, Unlabeled: true}),
			"index\tsentence\n0\tfoo .\n1\t \n7\tbar\n",
			[]string{`rec 2 sst.tsv:0 "foo ." "" ""`,
				`rej 3 column "sentence" is empty; every example needs text`,
				`rec 4 sst.tsv:7 "bar" "" ""`}},
		{"pairs and explicit id column", opts(Options{Format: TSV, TextColumns: []string{"s1"}, TextBColumn: "s2", LabelColumn: "y", IDColumn: "id"}),
			"id\ts1\ts2\ty\na\tone\ttwo\t1\nb\tthree\t\t0\n\tfour\tfive\t1\n",
			[]string{`rec 2 sst.tsv:a "one" "two" "1"`,
				`rej 3 column "s2" is empty; a pair task needs both texts`,
				`rej 4 id column "id" is empty; every row needs its id`}},
		{"truncated row, missing label, extra TAB, empty text, bad UTF-8; the good rows survive", tsv,
			"sentence\tlabel\nok \t1\ncut off\n\t1\ntwo\ttabs\t1\nno label\t \ncaf\xe9 \t0\nlast\t0",
			[]string{`rec 2 sst.tsv:1 "ok" "" "1"`,
				`rej 3 row has 1 TAB-separated fields, the header has 2 (sentence, label); a field is missing (truncated row or absent label); complete the row`,
				`rej 4 column "sentence" is empty; every example needs text`,
				`rej 5 row has 3 TAB-separated fields, the header has 2 (sentence, label); a TAB inside the text? replace it with a space`,
				`rej 6 column "label" is empty; give the label, or read the file as unlabeled`,
				`rej 7 row has invalid UTF-8 (byte 0xE9 at byte offset 3); re-encode the file as UTF-8, e.g. iconv -f LATIN1 -t UTF-8`,
				`rec 8 sst.tsv:7 "last" "" "0"`}},
		{"ids count rejected rows so they stay stable", tsv,
			"sentence\tlabel\nbad\na\t1\n",
			[]string{`rej 2 row has 1 TAB-separated fields, the header has 2 (sentence, label); a field is missing (truncated row or absent label); complete the row`,
				`rec 3 sst.tsv:2 "a" "" "1"`}},
		{"header without the label column", tsv,
			"sentence\tpolarity\nx\t1\n",
			[]string{`err dir/sst.tsv:1: header "sentence\tpolarity" has no label column (expected "label"); name the right column in the job spec's tasks[].columns.label`}},
		{"unlabeled test file read as labeled", tsv,
			"index\tsentence\n0\tx\n",
			[]string{`err dir/sst.tsv:1: header "index\tsentence" has no label column (expected "label"); name the right column in the job spec's tasks[].columns.label; this looks like an unlabeled test file (it has an index column), read it with Unlabeled`}},
		{"header without a text column", tsv,
			"premise\tlabel\n",
			[]string{`err dir/sst.tsv:1: header "premise\tlabel" has no text column (expected "sentence" or "text"); name the right column in the job spec's tasks[].columns.text`}},
		{"duplicate header name", tsv,
			"sentence\tsentence\tlabel\n",
			[]string{`err dir/sst.tsv:1: header "sentence\tsentence\tlabel" names column "sentence" twice (columns 1 and 2); rename one`}},
		{"empty input", tsv, "",
			[]string{`err dir/sst.tsv: no usable records: the file has 0 lines but no records (empty, or only headers, comments and blank lines); point the task at the right file`}},
		{"header only", tsv, "sentence\tlabel\n\n",
			[]string{`err dir/sst.tsv: no usable records: the file has 2 lines but no records (empty, or only headers, comments and blank lines); point the task at the right file`}},
		{"every row rejected", tsv, "sentence\tlabel\nx\ny\n",
			[]string{`rej 2 row has 1 TAB-separated fields, the header has 2 (sentence, label); a field is missing (truncated row or absent label); complete the row`,
				`rej 3 row has 1 TAB-separated fields, the header has 2 (sentence, label); a field is missing (truncated row or absent label); complete the row`,
				`err dir/sst.tsv: no usable records: all 2 records were rejected, the first at line 2: row has 1 TAB-separated fields, the header has 2 (sentence, label); a field is missing (truncated row or absent label); complete the row; check the format and column options for this file`}},
		{"line over the limit is rejected and reading goes on", opts(Options{Format: TSV, MaxRecordBytes: 64}),
			"sentence\tlabel\n" + strings.Repeat("x", 200) + "\t1\nshort\t0\n",
			[]string{`rej 2 line is 202 bytes, over the 64-byte limit (a missing line break?); split it, or raise preprocess.max_record_bytes in the job spec`,
				`rec 3 sst.tsv:2 "short" "" "0"`}},
		{"gzip input", tsv, "\x1f\x8b\x08\x00",
			[]string{`err dir/sst.tsv: the file is gzip-compressed; decompress it (gunzip) or give the reader the decompressed stream`}},
		{"UTF-16 input", tsv, "\xff\xfes\x00e\x00",
			[]string{`err dir/sst.tsv: the file is UTF-16; convert it to UTF-8 (iconv -f UTF-16 -t UTF-8)`}},
	})
}

func TestCoNLL(t *testing.T) {
	ner := opts(Options{Format: CoNLL, TagScheme: "iob2"})
	runCases(t, "c/train.txt", []readerCase{
		{"CoNLL-2003: BOM, DOCSTART, three tasks from one file, no blank line at EOF", ner,
			"\uFEFF-DOCSTART- -X- -X- O\n\nEU NNP B-NP B-ORG\nrejects VBZ B-VP O\n\n-DOCSTART- -X- -X- O\n\nPeter NNP B-NP B-PER\nBlackburn NNP I-NP I-PER",
			[]string{"rec 3 train.txt:1 EU/B-ORG rejects/O", "rec 8 train.txt:2 Peter/B-PER Blackburn/I-PER"}},
		{"POS column", opts(Options{Format: CoNLL, TagColumn: 1}),
			"EU NNP B-NP B-ORG\n. NN|SYM O O\n",
			[]string{"rec 1 train.txt:1 EU/NNP ./NN|SYM"}},
		{"chunk column counted from the end", opts(Options{Format: CoNLL, TagColumn: -2, TagScheme: "iob2"}),
			"EU NNP B-NP B-ORG\n. . O O\n",
			[]string{"rec 1 train.txt:1 EU/B-NP ./O"}},
		{"DOCSTART without the blank line before it", ner,
			"a X B-NP O\n-DOCSTART- -X- -X- O\nb X B-NP O\n",
			[]string{"rec 1 train.txt:1 a/O", "rec 3 train.txt:2 b/O"}},
		{"WNUT17: TAB columns, lone-TAB separators, stray BOM line at the end", ner,
			"@paul\tO\nEmpire\tB-location\nState\tI-location\n\t\nFrom\tO\n \t \nx\tO\n\uFEFF",
			[]string{"rec 1 train.txt:1 @paul/O Empire/B-location State/I-location", "rec 5 train.txt:2 From/O", "rec 7 train.txt:3 x/O"}},
		{"a token with a space survives in a TAB file", ner,
			"New York\tB-location\n",
			[]string{"rec 1 train.txt:1 New York/B-location"}},
		{"truncated line: too few columns against the file's first line", ner,
			"EU NNP B-NP B-ORG\nrejects VBZ B-VP\n. . O O\n\nPeter NNP B-NP B-PER\n",
			[]string{"rej 2 sentence starting at line 1: line has 3 columns where the file's token lines have 4 (the most common count among the first 4); a column is missing or extra, fix the line",
				"rec 5 train.txt:2 Peter/B-PER"}},
		{"a truncated first line does not make the rest of the file wrong", ner,
			"EU NNP B-NP\nrejects VBZ B-VP O\n\nPeter NNP B-NP B-PER\n\nBlackburn NNP I-NP I-PER\n",
			[]string{"rej 1 line has 3 columns where the file's token lines have 4 (the most common count among the first 4); a column is missing or extra, fix the line",
				"rec 4 train.txt:2 Peter/B-PER",
				"rec 6 train.txt:3 Blackburn/I-PER"}},
		{"file cut off in the middle of a line", ner,
			"EU NNP B-NP B-ORG\n\nrejects VBZ",
			[]string{"rec 1 train.txt:1 EU/B-ORG",
				"rej 3 line has 2 columns where the file's token lines have 4 (the most common count among the first 2); a column is missing or extra, fix the line"}},
		{"a single column where a tag is needed", ner,
			"EU\n\nPeter\tB-PER\n",
			[]string{"rej 1 a line with 1 column(s) has no tag column apart from the word (column 0); a tag is missing, or read the file as unlabeled",
				"rec 3 train.txt:2 Peter/B-PER"}},
		{"explicit tag column beyond the line", opts(Options{Format: CoNLL, TagColumn: 3}),
			"w\tO\n",
			[]string{"rej 1 line has 2 column(s) but the word/tag columns (0/3, 0-based) need 4; the line is truncated or the column options are wrong",
				"err c/train.txt: no usable records: all 1 records were rejected, the first at line 1: line has 2 column(s) but the word/tag columns (0/3, 0-based) need 4; the line is truncated or the column options are wrong; check the format and column options for this file"}},
		{"empty word in a TAB file", ner,
			"a\tO\n\tO\n",
			[]string{"rej 2 sentence starting at line 1: word column 0 is empty; fix the line",
				"err c/train.txt: no usable records: all 1 records were rejected, the first at line 2: sentence starting at line 1: word column 0 is empty; fix the line; check the format and column options for this file"}},
		{"invalid UTF-8 and a NUL byte reject their sentences", ner,
			"ok O\n\nM\xfcnchen B-LOC\n\nnul\x00 O\n\nfine O\n",
			[]string{"rec 1 train.txt:1 ok/O",
				"rej 3 invalid UTF-8 (byte 0xFC at byte offset 1); re-encode the file as UTF-8, e.g. iconv -f LATIN1 -t UTF-8",
				"rej 5 NUL byte at byte offset 3; the file looks binary or UTF-16, convert it to UTF-8 text",
				"rec 7 train.txt:4 fine/O"}},
		{"malformed IOB tag, pointed at its line", ner,
			"a O\nb PER\nc O\n\nd B-\n\ne O\n",
			[]string{`rej 2 sentence starting at line 1: token 2 ("b"): tag "PER" is not O, B-<type> or I-<type> as iob2 requires; fix the tag or set the task's tag scheme to none`,
				`rej 5 token 1 ("d"): tag "B-" is not O, B-<type> or I-<type> as iob2 requires; fix the tag or set the task's tag scheme to none`,
				"rec 7 train.txt:3 e/O"}},
		{"IOB1 chunks (I- starts a chunk) under iob1", opts(Options{Format: CoNLL, TagScheme: "iob1"}),
			"U.N. I-ORG\nofficial O\nEkeus I-PER\nheads O\n",
			[]string{"rec 1 train.txt:1 U.N./I-ORG official/O Ekeus/I-PER heads/O"}},
		{"no scheme: POS tags are not checked", opts(Options{Format: CoNLL}),
			"a PER\n",
			[]string{"rec 1 train.txt:1 a/PER"}},
		{"unlabeled one-column file", opts(Options{Format: CoNLL, Unlabeled: true}),
			"a\nb\n\nc\n",
			[]string{"rec 1 train.txt:1 a b", "rec 4 train.txt:2 c"}},
		{"sentence over the byte limit", opts(Options{Format: CoNLL, MaxRecordBytes: 16}),
			"aaaa O\nbbbb O\ncccc O\n\nd O\n",
			[]string{"rej 3 sentence starting at line 1: sentence is over 16 bytes without a blank line; separate sentences with blank lines, or raise preprocess.max_record_bytes in the job spec",
				"rec 5 train.txt:2 d/O"}},
		{"empty input", ner, "",
			[]string{"err c/train.txt: no usable records: the file has 0 lines but no records (empty, or only headers, comments and blank lines); point the task at the right file"}},
		{"only DOCSTART and blank lines", ner, "-DOCSTART- -X- -X- O\n\n\t\n",
			[]string{"err c/train.txt: no usable records: the file has 3 lines but no records (empty, or only headers, comments and blank lines); point the task at the right file"}},
	})
}

func TestCoNLLLooseIOB2(t *testing.T) {
	// An I- after O under iob2 is kept and counted (WNUT17 dev has one).
	rd := NewReader(strings.NewReader("Lil B-person\nSly- I-person\nTurn I-creative-work\n\nx I-person\n"), "w.conll", opts(Options{Format: CoNLL, TagScheme: "iob2"}))
	n := 0
	for {
		_, rej, err := rd.Next()
		if err == io.EOF {
			break
		}
		if err != nil || rej != nil {
			t.Fatal(err, rej)
		}
		n++
	}
	if st := rd.Stats(); n != 2 || st != (Stats{Lines: 5, Records: 2, LooseIOB2: 2}) {
		t.Errorf("records %d, stats %+v", n, st)
	}
}

func TestCoNLLU(t *testing.T) {
	const sent = "# newdoc id = d1\n# sent_id = s-1\n# text = Don't go.\n" +
		"1-2\tDon't\t_\t_\t_\t_\t_\t_\t_\t_\n" +
		"1\tDo\tdo\tAUX\tVBP\t_\t3\taux\t_\t_\n" +
		"2\tn't\tnot\tPART\tRB\t_\t3\tadvmod\t_\t_\n" +
		"2.1\tgone\tgo\tVERB\tVBN\t_\t_\t_\t3:x\t_\n" +
		"3\tgo\tgo\tVERB\tVB\t_\t0\troot\t_\t_\n" +
		"4\t.\t.\tPUNCT\t.\t_\t3\tpunct\t_\t_\n"
	const plain = "1\tHi\thi\tINTJ\tUH\t_\t0\troot\t_\t_\n"
	runCases(t, "ud/en-dev.conllu", []readerCase{
		{"multiword range and empty node skipped, sent_id is the id, UPOS", opts(Options{Format: CoNLLU}),
			sent + "\n" + plain,
			[]string{"rec 1 en-dev.conllu:s-1 Do/AUX n't/PART go/VERB ./PUNCT", "rec 11 en-dev.conllu:2 Hi/INTJ"}},
		{"XPOS", opts(Options{Format: CoNLLU, TagField: "xpos"}),
			sent,
			[]string{"rec 1 en-dev.conllu:s-1 Do/VBP n't/RB go/VB ./."}},
		{"a lost line shows as an ID gap", opts(Options{Format: CoNLLU}),
			plain + "3\tx\tx\tX\tFW\t_\t1\tdep\t_\t_\n\n" + plain,
			[]string{`rej 2 sentence starting at line 1: word ID "3" where 2 was expected; a line is missing or the ID column is broken`,
				"rec 4 en-dev.conllu:2 Hi/INTJ"}},
		{"truncated line and space-separated columns", opts(Options{Format: CoNLLU}),
			"1\tHi\thi\tINTJ\n\n1 Hi hi INTJ UH _ 0 root _ _\n\n" + plain,
			[]string{"rej 1 line has 4 TAB-separated columns, CoNLL-U needs 10; the line is truncated or uses spaces instead of TABs",
				"rej 3 line has 1 TAB-separated columns, CoNLL-U needs 10; the line is truncated or uses spaces instead of TABs",
				"rec 5 en-dev.conllu:3 Hi/INTJ"}},
		{"missing XPOS", opts(Options{Format: CoNLLU, TagField: "xpos"}),
			"1\tHi\thi\tINTJ\t_\t_\t0\troot\t_\t_\n",
			[]string{`rej 1 XPOS (column 5) is "_", no tag; annotate the word or read the other tag field`,
				`err ud/en-dev.conllu: no usable records: all 1 records were rejected, the first at line 1: XPOS (column 5) is "_", no tag; annotate the word or read the other tag field; check the format and column options for this file`}},
		{"misplaced multiword range and empty node", opts(Options{Format: CoNLLU}),
			"1\tA\ta\tX\tX\t_\t0\troot\t_\t_\n3-4\tBC\t_\t_\t_\t_\t_\t_\t_\t_\n\n1.1\tA\ta\tX\tX\t_\t_\t_\t_\t_\n",
			[]string{`rej 2 sentence starting at line 1: multiword range "3-4" does not start at the next word ID 2; fix the ID column`,
				`rej 4 empty node "1.1" does not follow word 0; fix the ID column`,
				`err ud/en-dev.conllu: no usable records: all 2 records were rejected, the first at line 2: sentence starting at line 1: multiword range "3-4" does not start at the next word ID 2; fix the ID column; check the format and column options for this file`}},
		{"comments without tokens; invalid UTF-8 in a form", opts(Options{Format: CoNLLU}),
			"# sent_id = lonely\n\n1\tM\xfcnchen\tx\tPROPN\tNNP\t_\t0\troot\t_\t_\n\n" + plain,
			[]string{"rej 1 sentence has no tokens (only comments or multiword/empty-node lines); remove it or add its token lines",
				"rej 3 invalid UTF-8 (byte 0xFC at byte offset 3); re-encode the file as UTF-8, e.g. iconv -f LATIN1 -t UTF-8",
				"rec 5 en-dev.conllu:3 Hi/INTJ"}},
		{"empty input", opts(Options{Format: CoNLLU}), "\n\n",
			[]string{"err ud/en-dev.conllu: no usable records: the file has 2 lines but no records (empty, or only headers, comments and blank lines); point the task at the right file"}},
	})
}

func TestJSONL(t *testing.T) {
	sent := opts(Options{Format: JSONL})
	tok := opts(Options{Format: JSONL, TokenLevel: true, TagScheme: "iob2"})
	runCases(t, "gs://b/d/train.jsonl", []readerCase{
		{"string, integer and float labels; BOM; blank lines; pairs", opts(Options{Format: JSONL, TextBColumn: "hypothesis"}),
			"\uFEFF{\"text\": \"a\", \"hypothesis\": \"b\", \"label\": \"pos\"}\n\n{\"text\":\"c\",\"hypothesis\":\"d\",\"label\":1}\r\n{\"sentence\":\"e\",\"hypothesis\":\"f\",\"label\":0.25}\n",
			[]string{`rec 1 train.jsonl:1 "a" "b" "pos"`, `rec 3 train.jsonl:2 "c" "d" "1"`, `rec 4 train.jsonl:3 "e" "f" "0.25"`}},
		{"configured keys and id", opts(Options{Format: JSONL, TextColumns: []string{"review"}, LabelColumn: "stars", IDColumn: "idx"}),
			`{"idx": 17, "review": "fine", "stars": 4}` + "\n" + `{"idx": "x", "review": "ok"}`,
			[]string{`rec 1 train.jsonl:17 "fine" "" "4"`,
				`rej 2 no "stars" key with a value (keys found: "idx", "review"); add it, or name the right key in the job spec's tasks[].columns.label`}},
		{"malformed lines are rejected one by one", sent,
			`{"text": "ok", "label": 1}` + "\n" +
				`{"text": "cut", "lab` + "\n" +
				`{"text": "x" "label": 1}` + "\n" +
				`["text", "label"]` + "\n" +
				`{"text": "a", "label": 1} {"text": "b", "label": 2}` + "\n" +
				`{"text": "a", "label": 1}}` + "\n" +
				"{\"text\": \"caf\xe9\", \"label\": 1}\n" +
				`{"text": "  ", "label": 1}` + "\n" +
				`{"text": 5, "label": 1}` + "\n" +
				`{"text": "t", "label": true}` + "\n" +
				`{"text": "t", "label": ""}` + "\n" +
				`{"text": "t", "label": null}` + "\n" +
				`{"label": 1}` + "\n" +
				`{"text": "last", "label": 0}`,
			[]string{`rec 1 train.jsonl:1 "ok" "" "1"`,
				`rej 2 the JSON object is cut off after 20 bytes (unexpected end of line); the line or the file is truncated, re-export it`,
				`rej 3 malformed JSON at byte 14: invalid character '"' after object key:value pair; fix the line so it is one valid JSON object`,
				`rej 4 line is not a JSON object (it must start with '{'); write one object per line`,
				`rej 5 extra characters after the JSON object, at byte 27 (invalid character '{' after top-level value); put one object on each line and nothing else`,
				`rej 6 extra characters after the JSON object, at byte 26 (invalid character '}' after top-level value); put one object on each line and nothing else`,
				`rej 7 invalid UTF-8 (byte 0xE9 at byte offset 13); re-encode the file as UTF-8, e.g. iconv -f LATIN1 -t UTF-8`,
				`rej 8 key "text" is empty; every example needs text`,
				`rej 9 key "text" must be a string, found 5`,
				`rej 10 label key "label" must be a string or a number, found true`,
				`rej 11 label key "label" is empty; give the label, or read the file as unlabeled`,
				`rej 12 no "label" key with a value (keys found: "label", "text"); add it, or name the right key in the job spec's tasks[].columns.label`,
				`rej 13 no "text" or "sentence" key with a value (keys found: "label"); add it, or name the right key in the job spec's tasks[].columns.text`,
				`rec 14 train.jsonl:14 "last" "" "0"`}},
		{"token records: string and integer tags", tok,
			`{"tokens": ["EU", "rejects"], "tags": ["B-ORG", "O"]}` + "\n" +
				`{"words": ["a"], "ner_tags": [3]}`,
			[]string{"rec 1 train.jsonl:1 EU/B-ORG rejects/O",
				`rej 2 no "tokens" key with a value (keys found: "ner_tags", "words"); add it, or name the right key in the job spec's tasks[].columns.tokens`}},
		{"token records: configured keys, integer tags, no scheme", opts(Options{Format: JSONL, TokenLevel: true, WordsKey: "words", TagsKey: "ner_tags"}),
			`{"words": ["a", "b"], "ner_tags": [3, 0]}`,
			[]string{"rec 1 train.jsonl:1 a/3 b/0"}},
		{"token records: mismatch, empty, bad items, bad tag", tok,
			`{"tokens": ["a", "b"], "tags": ["O"]}` + "\n" +
				`{"tokens": [], "tags": []}` + "\n" +
				`{"tokens": ["a", 1], "tags": ["O", "O"]}` + "\n" +
				`{"tokens": ["a", " "], "tags": ["O", "O"]}` + "\n" +
				`{"tokens": "a b", "tags": ["O", "O"]}` + "\n" +
				`{"tokens": ["a"], "tags": [["O"]]}` + "\n" +
				`{"tokens": ["a", "b"], "tags": ["O", "X-PER"]}` + "\n" +
				`{"tokens": ["a"]}` + "\n" +
				`{"tokens": ["z"], "tags": ["O"]}`,
			[]string{`rej 1 2 words but 1 tags; every word needs exactly one tag`,
				`rej 2 key "tokens" is an empty list; a token example needs at least one word`,
				`rej 3 item 2 of "tokens" must be a string, found 1`,
				`rej 4 word 2 of "tokens" is empty or whitespace; remove it together with its tag`,
				`rej 5 key "tokens" must be a list, found "a b"`,
				`rej 6 item 1 of "tags" must be a string or a number, found ["O"]`,
				`rej 7 word 2 ("b"): tag "X-PER" is not O, B-<type> or I-<type> as iob2 requires; fix the tag or set the task's tag scheme to none`,
				`rej 8 no "tags" key with a value (keys found: "tokens"); add it, or name the right key in the job spec's tasks[].columns.tags`,
				"rec 9 train.jsonl:9 z/O"}},
		// Before: a duplicate key silently kept its last value, and 1, 1.0
		// and 1e400 became three classes.
		{"duplicate keys are rejected; numeric labels canonicalised", sent,
			`{"text": "a", "label": 1, "label": 0}` + "\n" +
				`{"text": "b", "text": "c", "label": 1}` + "\n" +
				`{"text": "n", "meta": [{"x": 1, "x": 2}], "label": 1}` + "\n" +
				`{"text": "d", "label": 1.0}` + "\n" +
				`{"text": "e", "label": 1e0}` + "\n" +
				`{"text": "f", "label": 1e400}` + "\n" +
				`{"text": "g", "label": -0.0}` + "\n" +
				`{"text": "h", "label": "1.0"}` + "\n" +
				`{"text": "i", "label": 0.10}` + "\n" +
				`{"text": "j", "label": 1, "meta": {"label": 2}}`,
			[]string{`rej 1 key "label" appears twice in one object; which value counts would depend on the JSON reader, so remove one of them`,
				`rej 2 key "text" appears twice in one object; which value counts would depend on the JSON reader, so remove one of them`,
				`rej 3 key "x" appears twice in one object; which value counts would depend on the JSON reader, so remove one of them`,
				`rec 4 train.jsonl:4 "d" "" "1"`,
				`rec 5 train.jsonl:5 "e" "" "1"`,
				`rej 6 label key "label" is the number 1e400, outside the float64 range; write the label as a string, or fix the value`,
				`rec 7 train.jsonl:7 "g" "" "0"`,
				`rec 8 train.jsonl:8 "h" "" "1.0"`,
				`rec 9 train.jsonl:9 "i" "" "0.1"`,
				`rec 10 train.jsonl:10 "j" "" "1"`}},
		{"token records: numeric tags canonicalised", opts(Options{Format: JSONL, TokenLevel: true}),
			`{"tokens": ["a", "b"], "tags": [2.0, 1e400]}` + "\n" +
				`{"tokens": ["a", "b"], "tags": [2.0, 0]}` + "\n" +
				`{"tokens": ["a"], "tokens": ["b"], "tags": [0]}`,
			[]string{`rej 1 item 2 of "tags" is the number 1e400, outside the float64 range; write the label as a string, or fix the value`,
				"rec 2 train.jsonl:2 a/2 b/0",
				`rej 3 key "tokens" appears twice in one object; which value counts would depend on the JSON reader, so remove one of them`}},
		{"unlabeled token records", opts(Options{Format: JSONL, TokenLevel: true, Unlabeled: true}),
			`{"tokens": ["a"]}`,
			[]string{"rec 1 train.jsonl:1 a"}},
		{"empty input", sent, " \n",
			[]string{"err gs://b/d/train.jsonl: no usable records: the file has 1 lines but no records (empty, or only headers, comments and blank lines); point the task at the right file"}},
	})
}

func TestOptionErrors(t *testing.T) {
	cases := []struct {
		opt  Options
		want string
	}{
		{Options{}, "f: corpus: no format given; use one of tsv, conll, conllu, jsonl, text, brown"},
		{Options{Format: "csv"}, `f: corpus: unknown format "csv"; use one of tsv, conll, conllu, jsonl, text, brown`},
		{Options{Format: CoNLL, TagScheme: "bio"}, `f: corpus: unknown tag scheme "bio"; use iob1, iob2, none or leave it empty`},
		{Options{Format: CoNLLU, TagField: "deprel"}, `f: corpus: unknown CoNLL-U tag field "deprel"; use upos or xpos`},
		{Options{Format: CoNLL, WordColumn: 2, TagColumn: 2}, "f: corpus: word and tag column are both 2"},
		{Options{Format: CoNLL, WordColumn: -1}, "f: corpus: word column -1 is negative; columns are 0-based"},
		{Options{Format: TSV, TokenLevel: true}, "f: corpus: TokenLevel applies to jsonl only; tsv is always sentence-level"},
		{Options{Format: CoNLL, TokenLevel: true, TagColumn: 1}, "f: corpus: TokenLevel applies to jsonl only; conll is always token-level"},
		{Options{Format: JSONL, MaxRecordBytes: -1}, "f: corpus: MaxRecordBytes -1; give the longest record in bytes, > 0 (the job spec's preprocess.max_record_bytes)"},
	}
	for _, c := range cases {
		_, _, err := NewReader(strings.NewReader("x\ty\n"), "f", c.opt).Next()
		if err == nil || err.Error() != c.want {
			t.Errorf("%+v: error %v, want %s", c.opt, err, c.want)
		}
	}
}

// TestOptionsNeedNames: the reader used to supply its own names and limit
// when options left them empty (text then sentence, label, tokens/tags,
// upos, the last CoNLL column, 8 MiB). The job spec's defaults table is now
// the only source, so an empty value is refused, naming the spec key; a
// tag column of 0 is column 0, not "the last".
func TestOptionsNeedNames(t *testing.T) {
	const mib = 8 << 20
	need := func(f Format, field, key string) string {
		return fmt.Sprintf("f: corpus: %s format needs Options.%s, which is empty; the job spec's %s gives it", f, field, key)
	}
	cases := []struct {
		opt  Options
		want string
	}{
		{Options{Format: TSV, TextColumns: []string{"sentence"}, LabelColumn: "label"},
			"f: corpus: MaxRecordBytes 0; give the longest record in bytes, > 0 (the job spec's preprocess.max_record_bytes)"},
		{Options{Format: TSV, LabelColumn: "label", MaxRecordBytes: mib}, need(TSV, "TextColumns", "tasks[].columns.text")},
		{Options{Format: JSONL, TextColumns: []string{"text", ""}, LabelColumn: "label", MaxRecordBytes: mib}, need(JSONL, "TextColumns", "tasks[].columns.text")},
		{Options{Format: TSV, TextColumns: []string{"sentence"}, MaxRecordBytes: mib}, need(TSV, "LabelColumn", "tasks[].columns.label")},
		{Options{Format: JSONL, TextColumns: []string{"text"}, MaxRecordBytes: mib}, need(JSONL, "LabelColumn", "tasks[].columns.label")},
		{Options{Format: JSONL, TokenLevel: true, TagsKey: "tags", MaxRecordBytes: mib}, need(JSONL, "WordsKey", "tasks[].columns.tokens")},
		{Options{Format: JSONL, TokenLevel: true, WordsKey: "tokens", MaxRecordBytes: mib}, need(JSONL, "TagsKey", "tasks[].columns.tags")},
		{Options{Format: CoNLLU, MaxRecordBytes: mib}, need(CoNLLU, "TagField", "tasks[].columns.field")},
		{Options{Format: CoNLL, MaxRecordBytes: mib}, "f: corpus: word and tag column are both 0"},
	}
	for _, c := range cases {
		_, _, err := NewReader(strings.NewReader("x\ty\n"), "f", c.opt).Next()
		if err == nil || err.Error() != c.want {
			t.Errorf("%+v: error %v, want %s", c.opt, err, c.want)
		}
	}
	// What an unlabeled read does not need, it does not ask for.
	for _, o := range []Options{
		{Format: TSV, TextColumns: []string{"sentence"}, Unlabeled: true, MaxRecordBytes: mib},
		{Format: JSONL, TokenLevel: true, WordsKey: "tokens", Unlabeled: true, MaxRecordBytes: mib},
		{Format: CoNLL, Unlabeled: true, MaxRecordBytes: mib},
	} {
		if err := o.Validate(); err != nil {
			t.Errorf("%+v: %v", o, err)
		}
	}
	// Tag column 0 is the first column.
	recs, _, err := ReadAll(strings.NewReader("O x\nB-PER Ann\n"), "f.conll", Options{Format: CoNLL, WordColumn: 1, TagColumn: 0, MaxRecordBytes: mib})
	if err != nil || len(recs) != 1 || strings.Join(recs[0].Words, " ") != "x Ann" || strings.Join(recs[0].Tags, " ") != "O B-PER" {
		t.Errorf("tag column 0: %v %+v", err, recs)
	}
}

// TestDuplicateIDsWithinFile: a file that gives two records one id was
// blamed later, when the shards were written, on "two input files share a
// base name", with no line. The second record is now rejected here, with
// the line of the first.
func TestDuplicateIDsWithinFile(t *testing.T) {
	runCases(t, "d/dev.tsv", []readerCase{
		{"tsv index column", opts(Options{Format: TSV, Unlabeled: true}),
			"index\tsentence\n7\ta\n8\tb\n7\tc\n",
			[]string{`rec 2 dev.tsv:7 "a" "" ""`, `rec 3 dev.tsv:8 "b" "" ""`,
				`rej 4 id "7" was already given to the record at line 2; ids must be unique within a file: fix the id`}},
		{"jsonl id key", opts(Options{Format: JSONL, IDColumn: "id"}),
			`{"id": 1, "text": "a", "label": 0}` + "\n" + `{"id": 1, "text": "b", "label": 1}`,
			[]string{`rec 1 dev.tsv:1 "a" "" "0"`,
				`rej 2 id "1" was already given to the record at line 1; ids must be unique within a file: fix the id`}},
		{"conllu sent_id", opts(Options{Format: CoNLLU}),
			"# sent_id = s1\n1\tHi\thi\tINTJ\tUH\t_\t0\troot\t_\t_\n\n# sent_id = s1\n1\tYo\tyo\tINTJ\tUH\t_\t0\troot\t_\t_\n",
			[]string{"rec 1 dev.tsv:s1 Hi/INTJ",
				`rej 4 id "s1" was already given to the record at line 1; ids must be unique within a file: fix the id`}},
	})
}

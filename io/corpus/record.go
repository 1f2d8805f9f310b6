// Package corpus reads task corpora (GLUE-style TSV, CoNLL column files,
// CoNLL-U, JSONL, plain text, the Brown Corpus's word/tag lines) as
// streams of records. A malformed record never stops a read: it comes back as a Rejection carrying file, line and reason, so the
// pipeline can keep it aside and count it.
//
// A Reader takes an io.Reader (the caller opens local or gs:// files) and
// holds one record and one line buffer at a time; lines of any length up to
// Options.MaxRecordBytes are read whole, longer ones are rejected. The
// reader defaults nothing: column names and the limit come from the job
// spec's defaults table (jobs/spec.Defaults), and an empty one is an error.
// Input that is not text at all (gzip, UTF-16) and a TSV header without the
// configured columns are errors; everything else that is wrong
// with a record is a Rejection: invalid UTF-8, NUL bytes, a row or line with
// the wrong number of columns, an empty text/word/label, words and tags of
// different lengths, a tag that is not O/B-X/I-X under an IOB scheme,
// malformed or truncated JSON, a CoNLL-U word ID out of sequence. After the
// last record, CheckNotEmpty (ReadAll calls it) turns an empty or
// all-rejected corpus into an error.
//
// Conventions shared by all formats: lines end in LF or CRLF; a UTF-8 BOM at
// the start of the file is dropped; lines holding only whitespace and BOMs
// are blank (WNUT17 separates sentences with lone TABs and ends a file with a
// stray BOM). Record ids are "<base name of the file>:<n>", n counting
// records from 1 with rejected ones included, so fixing one record does not
// renumber the rest; a TSV "index" column (or Options.IDColumn), a JSONL id
// key or a CoNLL-U "# sent_id" replaces n. Base names, not paths, keep ids
// equal between a local and a gs:// copy of a corpus.
package corpus

// Record is one example as read from a corpus, before tokenization.
// Sentence tasks fill Text (and TextB for pairs) and Label; token tasks
// fill Words and Tags (one tag per word).
type Record struct {
	File  string   `json:"file"` // source path as given
	Line  int      `json:"line"` // 1-based line where the record starts
	ID    string   `json:"id"`   // stable example id: "<base name>:<record number>" or the file's own index column
	Text  string   `json:"text,omitempty"`
	TextB string   `json:"text_b,omitempty"`
	Label string   `json:"label,omitempty"` // "" for unlabeled (test) data
	Words []string `json:"words,omitempty"`
	Tags  []string `json:"tags,omitempty"`
	// LooseIOB2 counts the record's I-X tags that start a chunk under iob2
	// (after O or another type): kept, read as chunk starts as conlleval
	// does, and reported per split by preprocess and evaluate.
	LooseIOB2 int `json:"loose_iob2,omitempty"`
}

// Rejection is a record that failed validation. Raw holds the offending
// input (truncated to a sane size) so nothing is lost.
type Rejection struct {
	File   string `json:"file"`
	Line   int    `json:"line"`
	Reason string `json:"reason"`
	Raw    string `json:"raw"`
}

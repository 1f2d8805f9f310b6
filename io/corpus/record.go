// Package corpus reads task corpora (GLUE-style TSV, CoNLL column files,
// CoNLL-U, JSONL) as streams of records. A malformed record never stops a
// read: it comes back as a Rejection carrying file, line and reason, so the
// pipeline can keep it aside and count it.
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
}

// Rejection is a record that failed validation. Raw holds the offending
// input (truncated to a sane size) so nothing is lost.
type Rejection struct {
	File   string `json:"file"`
	Line   int    `json:"line"`
	Reason string `json:"reason"`
	Raw    string `json:"raw"`
}

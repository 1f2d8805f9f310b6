package corpus

import "cmp"

// opts fills the names and limits a test leaves empty with the values the
// job spec's defaults table (jobs/spec.Defaults) gives a task of that
// format, so each test writes only what it is about. The reader itself
// defaults nothing (TestOptionsNeedNames).
func opts(o Options) Options {
	switch o.Format {
	case TSV:
		if o.TextColumns == nil {
			o.TextColumns = []string{"sentence", "text"}
		}
	case JSONL:
		if o.TextColumns == nil && !o.TokenLevel {
			o.TextColumns = []string{"text", "sentence"}
		}
	case CoNLL:
		if o.TagColumn == 0 {
			o.TagColumn = -1
		}
	case CoNLLU:
		if o.TagField == "" {
			o.TagField = "upos"
		}
	}
	if o.LabelColumn == "" && (o.Format == TSV || o.Format == JSONL) {
		o.LabelColumn = "label"
	}
	if o.TokenLevel {
		o.WordsKey = cmp.Or(o.WordsKey, "tokens")
		o.TagsKey = cmp.Or(o.TagsKey, "tags")
	}
	if o.MaxRecordBytes == 0 {
		o.MaxRecordBytes = 8 << 20
	}
	return o
}

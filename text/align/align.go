// Package align turns corpus records into shard rows for one task: WordPiece
// ids framed by [CLS]/[SEP], label ids, and for token tasks the label on the
// first subword of each word (-100 on the other subwords and on specials)
// with word_ids pointing back at the source words. It is the one text →
// model-input encoder: preprocess writes its rows into shards, and
// `taskweave predict` encodes its texts through it too, so a text reaches the
// model the same way in training, evaluation and prediction (model/scoring
// turns the rows into batches).
//
// Nothing is cut silently. A sentence example longer than MaxSeqLen is
// truncated (longest-first for pairs, as Hugging Face's fast tokenizers do,
// except at MaxSeqLen 4 where the reference's result is an artefact of
// cutting one sequence to nothing) and counted in Stats.Truncated. A token sentence longer than MaxSeqLen is
// split into consecutive windows on word boundaries, each its own row with
// id "<id>#w<k>" (k from 0, scoring.WindowID) and its own words and word_ids; a single word
// with more pieces than fit in one window is the only thing split inside a
// word, its label staying on its very first piece.
//
// Row contents by task type: sentence rows carry Text (a pair, i.e. a
// record with a non-empty TextB, as "a [SEP] b") and no token columns; regression rows carry Target (NaN when
// the record has no label) and Label -1; token rows carry Words, WordIDs and
// TokenLabels and Label -1. Unlabeled records (test files) get Label -1 and
// token labels -100.
package align

import (
	"errors"
	"fmt"
	"math"
	"slices"
	"strconv"
	"strings"

	"github.com/taskweave/taskweave/io/corpus"
	"github.com/taskweave/taskweave/io/shards"
	"github.com/taskweave/taskweave/model"
	"github.com/taskweave/taskweave/model/scoring"
	"github.com/taskweave/taskweave/text/wordpiece"
)

// Task types: the model's head kinds, as the manifest spells them.
const (
	SequenceClassification = string(model.SequenceClassification)
	SequenceRegression     = string(model.SequenceRegression)
	TokenClassification    = string(model.TokenClassification)
	MaskedLM               = string(model.MaskedLM)
)

// Ignore marks a position that no loss or metric scores.
const Ignore int32 = model.IgnoreIndex

// Task says how to align the records of one task and split.
type Task struct {
	Name, Split string
	Type        string           // SequenceClassification, SequenceRegression, TokenClassification or MaskedLM
	LabelIDs    map[string]int32 // label (or tag) → id; unused for regression and masked LM
	MaxSeqLen   int              // ids per row, [CLS] and [SEP] included
}

// Validate reports a task that cannot be aligned.
func (t Task) Validate() error {
	switch t.Type {
	case SequenceClassification, TokenClassification:
		if len(t.LabelIDs) == 0 {
			return fmt.Errorf("align: task %s has no labels; list them in the job spec or collect them from the train split", t.Name)
		}
	case SequenceRegression, MaskedLM:
	default:
		return fmt.Errorf("align: task %s: unknown type %q; use %s, %s, %s or %s", t.Name, t.Type, SequenceClassification, SequenceRegression, TokenClassification, MaskedLM)
	}
	if t.MaxSeqLen < 3 {
		return fmt.Errorf("align: task %s: max_seq_len %d is too small; it must leave room for [CLS], [SEP] and one token (3 or more)", t.Name, t.MaxSeqLen)
	}
	return nil
}

// Stats counts what one record became.
type Stats struct {
	Rows      int // rows produced
	Tokens    int // ids over all rows, specials included
	Truncated int // 1 when a sentence example lost ids to MaxSeqLen
	Windows   int // extra rows from splitting a long token sentence (Rows-1)
}

// ErrUnknownLabel is wrapped by a *RecordError whose label is not in
// Task.LabelIDs.
var ErrUnknownLabel = errors.New("unknown label")

// RecordError is a record that cannot be aligned: an unknown label, a
// regression target that is not a number, or tags that do not match the
// words. The pipeline keeps it as a rejection in the train split and stops
// the run in the others; Rejection gives the former.
type RecordError struct {
	File        string
	Line        int
	Task, Split string
	Reason      string
	Raw         string
	unknown     bool
}

func (e *RecordError) Error() string {
	return fmt.Sprintf("%s:%d: task %s, split %s: %s", e.File, e.Line, e.Task, e.Split, e.Reason)
}

// Unwrap makes errors.Is(err, ErrUnknownLabel) true for unknown labels.
func (e *RecordError) Unwrap() error {
	if e.unknown {
		return ErrUnknownLabel
	}
	return nil
}

// Rejection is the error as a corpus.Rejection for rejected/<task>.jsonl.
func (e *RecordError) Rejection() corpus.Rejection {
	return corpus.Rejection{File: e.File, Line: e.Line, Reason: e.Reason, Raw: e.Raw}
}

func recordError(t Task, rec corpus.Record, unknown bool, format string, args ...any) *RecordError {
	raw := rec.Text
	if rec.TextB != "" {
		raw += "\t" + rec.TextB
	}
	if rec.Words != nil {
		raw = strings.Join(rec.Words, " ")
	}
	if len(raw) > 1024 {
		raw = raw[:1024]
	}
	return &RecordError{File: rec.File, Line: rec.Line, Task: t.Name, Split: t.Split,
		Reason: fmt.Sprintf(format, args...), Raw: raw, unknown: unknown}
}

// Align turns one record into one row, or several windows for a long token
// sentence. Records without a label (test data) get label -1 and token
// labels -100.
func Align(tok *wordpiece.Tokenizer, t Task, rec corpus.Record) ([]shards.Row, Stats, error) {
	rows, st, err := AlignGroup(tok, []Task{t}, []corpus.Record{rec})
	if err != nil {
		return nil, Stats{}, err
	}
	return rows[0], st, nil
}

// AlignGroup aligns one record for each task of a group (input_from: the
// same record read with each task's label column): the text is tokenized,
// truncated or cut into windows once, and each task's rows carry that same
// input with its own labels, rows[i] for ts[i]. The first task whose label
// does not align makes the error; Stats count one task's rows.
func AlignGroup(tok *wordpiece.Tokenizer, ts []Task, recs []corpus.Record) ([][]shards.Row, Stats, error) {
	if len(ts) == 0 || len(recs) != len(ts) {
		return nil, Stats{}, fmt.Errorf("align: %d records for %d tasks", len(recs), len(ts))
	}
	for _, t := range ts {
		if err := t.Validate(); err != nil {
			return nil, Stats{}, err
		}
		if (t.Type == TokenClassification) != (ts[0].Type == TokenClassification) {
			return nil, Stats{}, fmt.Errorf("align: tasks %s and %s are aligned as one group, but one labels words and the other sentences", ts[0].Name, t.Name)
		}
	}
	if ts[0].Type == TokenClassification {
		return alignTokens(tok, ts, recs)
	}
	rows := make([][]shards.Row, len(ts))
	for i, t := range ts {
		row, err := sentenceLabel(t, recs[i])
		if err != nil {
			return nil, Stats{}, err
		}
		rows[i] = []shards.Row{row}
	}
	ids, types, text, truncated := sentenceInput(tok, recs[0], ts[0].MaxSeqLen)
	for i := range rows {
		rows[i][0].InputIDs, rows[i][0].TokenTypeIDs, rows[i][0].Text = ids, types, text
		if i > 0 { // rows are written on their own; no two share a slice
			rows[i][0].InputIDs, rows[i][0].TokenTypeIDs = slices.Clone(ids), slices.Clone(types)
		}
	}
	st := Stats{Rows: 1, Tokens: len(ids)}
	if truncated {
		st.Truncated = 1
	}
	return rows, st, nil
}

// sentenceLabel is a sentence row of task t with rec's label and no input yet.
func sentenceLabel(t Task, rec corpus.Record) (shards.Row, error) {
	row := shards.Row{Task: t.Name, Split: t.Split, ExampleID: rec.ID, Label: -1, Text: rec.Text}
	switch {
	case t.Type == MaskedLM && rec.Label != "":
		return row, recordError(t, rec, false, "a masked_lm record has label %q; its text is the target, read it as format text", rec.Label)
	case rec.Label == "":
		if t.Type == SequenceRegression {
			row.Target = float32(math.NaN()) // no target: test data
		}
	case t.Type == SequenceRegression:
		v, err := strconv.ParseFloat(strings.TrimSpace(rec.Label), 64)
		if err != nil || math.IsNaN(v) || math.IsInf(v, 0) || math.Abs(v) > math.MaxFloat32 {
			return row, recordError(t, rec, false, "regression target %q is not a finite number; fix the label column", rec.Label)
		}
		row.Target = float32(v)
	default:
		id, ok := t.LabelIDs[rec.Label]
		if !ok {
			return row, recordError(t, rec, true, "label %q is not one of the task's %d labels; fix the record or add the label to the task's labels in the job spec", rec.Label, len(t.LabelIDs))
		}
		row.Label = id
	}
	return row, nil
}

// sentenceInput encodes rec's text (a pair as "a [SEP] b") within maxSeqLen ids.
func sentenceInput(tok *wordpiece.Tokenizer, rec corpus.Record, maxSeqLen int) (ids, types []int32, text string, truncated bool) {
	text = rec.Text
	a := tok.Encode(rec.Text)
	var b []int32
	pair := rec.TextB != ""
	if pair {
		b = tok.Encode(rec.TextB)
		text = rec.Text + " [SEP] " + rec.TextB
	}
	na, nb, truncated := truncateLengths(len(a), len(b), pair, maxSeqLen)
	n := na + 2
	if pair {
		n += nb + 1
	}
	ids = make([]int32, 0, n)
	ids = append(ids, tok.CLS())
	ids = append(ids, a[:na]...)
	ids = append(ids, tok.SEP())
	types = make([]int32, n)
	if pair {
		ids = append(ids, b[:nb]...)
		ids = append(ids, tok.SEP())
		for i := na + 2; i < n; i++ {
			types[i] = 1
		}
	}
	return ids, types, text, truncated
}

// truncateLengths is Hugging Face tokenizers' longest-first truncation as
// tokenizers 0.23.2 does it (checked on every length pair up to 30 pieces
// and max lengths 5 to 26): with room for L ids besides the specials, a pair
// that does not fit keeps the shorter sequence whole if it takes at most
// half, otherwise both are cut to L/2, the longer one getting the odd id.
// When even the shorter sequence alone has MaxSeqLen ids or more, the first
// gets L/2 and the second the rest, whichever is longer.
func truncateLengths(na, nb int, pair bool, maxSeqLen int) (int, int, bool) {
	specials := 2
	if pair {
		specials = 3
	}
	room := max(maxSeqLen-specials, 0)
	if na+nb <= room {
		return na, nb, false
	}
	if !pair {
		return room, 0, true
	}
	n1, n2, swap := na, nb, false
	if n1 > n2 {
		n1, n2, swap = n2, n1, true
	}
	if n1 >= maxSeqLen {
		return room / 2, room/2 + room%2, true
	}
	n2 = max(n1, room-n1)
	if n1+n2 > room {
		n1 = room / 2
		n2 = n1 + room%2
	}
	if swap {
		n1, n2 = n2, n1
	}
	return min(na, n1), min(nb, n2), true
}

// alignTokens aligns a token sentence for each task of a group: one
// tokenization and one set of windows, each task's labels on them.
func alignTokens(tok *wordpiece.Tokenizer, ts []Task, recs []corpus.Record) ([][]shards.Row, Stats, error) {
	labels := make([][]int32, len(ts))
	for i, t := range ts {
		var err error
		if labels[i], err = wordLabels(t, recs[i]); err != nil {
			return nil, Stats{}, err
		}
	}
	rec := recs[0]
	wins := windows(tok, wordPieces(tok, rec.Words), len(rec.Words), ts[0].MaxSeqLen)
	st := Stats{Rows: len(wins), Windows: len(wins) - 1}
	for _, w := range wins {
		st.Tokens += len(w.ids)
	}
	out := make([][]shards.Row, len(ts))
	for i, t := range ts {
		for k, w := range wins {
			id := rec.ID
			if len(wins) > 1 {
				id = scoring.WindowID(rec.ID, k)
			}
			tl := make([]int32, len(w.labelOf))
			for j, word := range w.labelOf {
				tl[j] = Ignore
				if word >= 0 {
					tl[j] = labels[i][word]
				}
			}
			ids, wordIDs := w.ids, w.wordIDs
			if i > 0 { // rows are written on their own; no two share a slice
				ids, wordIDs = slices.Clone(ids), slices.Clone(wordIDs)
			}
			out[i] = append(out[i], shards.Row{
				Task: t.Name, Split: t.Split, ExampleID: id, Label: -1,
				InputIDs: ids, TokenTypeIDs: make([]int32, len(ids)), TokenLabels: tl, WordIDs: wordIDs,
				Words: rec.Words[w.first:w.last:w.last],
			})
		}
	}
	return out, st, nil
}

// window is one row's input of a token sentence: its ids, the source word
// of each (relative to its first word), the word whose label each
// position carries (-1: none), and the words it holds, [first, last).
type window struct {
	ids, wordIDs []int32
	labelOf      []int
	first, last  int
}

// windows places the words' pieces in rows of at most maxSeqLen ids.
func windows(tok *wordpiece.Tokenizer, pieces [][]int32, nWords, maxSeqLen int) []window {
	room := maxSeqLen - 2
	var out []window
	// w is the next word to place; off the next piece of it (non-zero only
	// while a word too long for one window is being spread over several).
	for w, off := 0, 0; w < nWords || len(out) == 0; {
		win := window{ids: []int32{tok.CLS()}, wordIDs: []int32{-1}, labelOf: []int{-1}, first: w}
		for w < nWords {
			p := pieces[w][off:]
			used := len(win.ids) - 1
			if used+len(p) > room {
				if used > 0 {
					break // the word starts the next window
				}
				p = p[:room] // a word alone too long for a window: spread it
			}
			for j, id := range p {
				win.ids = append(win.ids, id)
				win.wordIDs = append(win.wordIDs, int32(w-win.first))
				if off == 0 && j == 0 {
					win.labelOf = append(win.labelOf, w)
				} else {
					win.labelOf = append(win.labelOf, -1)
				}
			}
			if off+len(p) < len(pieces[w]) {
				off += len(p)
				break
			}
			w, off = w+1, 0
		}
		// The words of this window: a word spread over windows appears in
		// each of them.
		win.last = w
		if off > 0 {
			win.last = w + 1
		}
		win.ids = append(win.ids, tok.SEP())
		win.wordIDs = append(win.wordIDs, -1)
		win.labelOf = append(win.labelOf, -1)
		out = append(out, win)
	}
	return out
}

// wordLabels maps each word's tag to its label id (Ignore for an unlabeled
// record).
func wordLabels(t Task, rec corpus.Record) ([]int32, error) {
	labeled := len(rec.Tags) > 0
	if labeled && len(rec.Tags) != len(rec.Words) {
		return nil, recordError(t, rec, false, "%d tags for %d words; every word needs exactly one tag", len(rec.Tags), len(rec.Words))
	}
	labels := make([]int32, len(rec.Words))
	for i := range labels {
		labels[i] = Ignore
		if !labeled {
			continue
		}
		id, ok := t.LabelIDs[rec.Tags[i]]
		if !ok {
			return nil, recordError(t, rec, true, "tag %q of word %d (%q) is not one of the task's %d labels; fix the record or add the tag to the task's labels in the job spec",
				rec.Tags[i], i+1, rec.Words[i], len(t.LabelIDs))
		}
		labels[i] = id
	}
	return labels, nil
}

// wordPieces returns each word's WordPiece ids, [UNK] for a word that gives
// none: a word of nothing but control or zero-width characters still needs
// a position to carry its label.
func wordPieces(tok *wordpiece.Tokenizer, words []string) [][]int32 {
	pieces := tok.EncodeWords(words)
	unk := []int32{tok.UNK()}
	for i, p := range pieces {
		if len(p) == 0 {
			pieces[i] = unk
		}
	}
	return pieces
}

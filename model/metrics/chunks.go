package metrics

import (
	"fmt"
	"sort"
	"strings"
)

// Scheme names how entity chunks are read from a tag sequence.
type Scheme string

const (
	// IOB1 and IOB2 are both read with conlleval's rules, which do not depend
	// on the scheme: a B- tag always starts a chunk, an I- tag starts one
	// after O or after a tag of another type, a type change or O ends one, and
	// the end of a sentence closes any open chunk. The scheme only decides
	// which transitions count as ill-formed (EntityResult.GoldInvalid and
	// PredInvalid): in IOB2 an I- that does not continue a chunk, in IOB1 a
	// B- that does not follow a chunk of the same type.
	IOB1 Scheme = "iob1"
	IOB2 Scheme = "iob2"
	// StrictIOB2 accepts only well-formed IOB2 chunks: a chunk starts at B-X
	// and continues over I-X of the same type; an I- tag that does not
	// continue a chunk belongs to no chunk at all (it is not repaired into
	// one, unlike conlleval).
	StrictIOB2 Scheme = "strict_iob2"
)

// ParseScheme maps a manifest tag_scheme value to a Scheme.
func ParseScheme(s string) (Scheme, error) {
	switch Scheme(strings.ToLower(s)) {
	case IOB1:
		return IOB1, nil
	case IOB2:
		return IOB2, nil
	case StrictIOB2:
		return StrictIOB2, nil
	}
	return "", fmt.Errorf("metrics: unknown tag scheme %q (want iob1, iob2 or strict_iob2)", s)
}

// Chunk is one entity: tokens [Start, End) of type Type.
type Chunk struct {
	Type       string
	Start, End int
}

// splitTag splits a tag as conlleval does: everything before the first '-'
// is the prefix, the rest is the type; a tag without '-' is all prefix with
// an empty type ("O" → "O", "").
func splitTag(t string) (prefix, typ string) {
	if i := strings.IndexByte(t, '-'); i >= 0 {
		return t[:i], t[i+1:]
	}
	return t, ""
}

// chunkEnds reports whether a chunk open at the previous token ends before
// the current one (conlleval's endOfChunk, B/I/O rules plus the type-change
// rule; the E-, S-, [ and ] rules of IOBES and bracket formats are not
// implemented).
func chunkEnds(prevTag, tag, prevType, typ string) bool {
	switch {
	case prevTag == "B" && tag == "B",
		prevTag == "B" && tag == "O",
		prevTag == "I" && tag == "B",
		prevTag == "I" && tag == "O":
		return true
	}
	return prevTag != "O" && prevTag != "." && prevType != typ
}

// chunkStarts reports whether a chunk starts at the current token
// (conlleval's startOfChunk, same subset of rules).
func chunkStarts(prevTag, tag, prevType, typ string) bool {
	switch {
	case prevTag == "B" && tag == "B",
		prevTag == "I" && tag == "B",
		prevTag == "O" && tag == "B",
		prevTag == "O" && tag == "I":
		return true
	}
	return tag != "O" && tag != "." && prevType != typ
}

// Chunks extracts the entity chunks of one sentence's tags.
func Chunks(tags []string, scheme Scheme) []Chunk {
	if scheme == StrictIOB2 {
		return strictChunks(tags)
	}
	var out []Chunk
	prevTag, prevType := "O", ""
	open := -1
	for i, t := range tags {
		tag, typ := splitTag(t)
		if open >= 0 && chunkEnds(prevTag, tag, prevType, typ) {
			out = append(out, Chunk{Type: prevType, Start: open, End: i})
			open = -1
		}
		if chunkStarts(prevTag, tag, prevType, typ) {
			open = i
		}
		prevTag, prevType = tag, typ
	}
	// The sentence boundary is an O: it closes whatever is open.
	if open >= 0 && chunkEnds(prevTag, "O", prevType, "") {
		out = append(out, Chunk{Type: prevType, Start: open, End: len(tags)})
	}
	return out
}

func strictChunks(tags []string) []Chunk {
	var out []Chunk
	open, openType := -1, ""
	for i, t := range tags {
		tag, typ := splitTag(t)
		if open >= 0 && tag == "I" && typ == openType {
			continue
		}
		if open >= 0 {
			out = append(out, Chunk{Type: openType, Start: open, End: i})
			open = -1
		}
		if tag == "B" {
			open, openType = i, typ
		}
	}
	if open >= 0 {
		out = append(out, Chunk{Type: openType, Start: open, End: len(tags)})
	}
	return out
}

// invalid counts the ill-formed transitions of a tag sequence under scheme.
func invalid(tags []string, scheme Scheme) int64 {
	var n int64
	prevTag, prevType := "O", ""
	for _, t := range tags {
		tag, typ := splitTag(t)
		inChunk := prevTag == "B" || prevTag == "I"
		switch scheme {
		case IOB2, StrictIOB2:
			if tag == "I" && (!inChunk || prevType != typ) {
				n++
			}
		case IOB1:
			if tag == "B" && (!inChunk || prevType != typ) {
				n++
			}
		}
		prevTag, prevType = tag, typ
	}
	return n
}

// TypeCounts are conlleval's per-type chunk counts.
type TypeCounts struct {
	Correct int64 // chunks with the same type, start and end in gold and prediction
	Gold    int64
	Pred    int64
}

// Entities accumulates entity-level counts for one tag scheme, plus
// conlleval's token accuracy (whole tag equal).
type Entities struct {
	Scheme        Scheme
	Types         map[string]TypeCounts
	Sentences     int64
	Tokens        int64
	CorrectTokens int64
	GoldInvalid   int64
	PredInvalid   int64
}

// NewEntities returns an empty accumulator for scheme.
func NewEntities(scheme Scheme) *Entities {
	return &Entities{Scheme: scheme, Types: map[string]TypeCounts{}}
}

// Add scores one sentence. A chunk counts as correct when the gold and the
// predicted sequences both have a chunk of the same type spanning exactly the
// same tokens, which is what conlleval's token-by-token bookkeeping computes.
func (e *Entities) Add(gold, pred []string) error {
	if len(gold) != len(pred) {
		return fmt.Errorf("metrics: %d gold tags but %d predicted", len(gold), len(pred))
	}
	if e.Types == nil {
		e.Types = map[string]TypeCounts{}
	}
	gc := Chunks(gold, e.Scheme)
	pc := Chunks(pred, e.Scheme)
	goldSet := make(map[Chunk]bool, len(gc))
	for _, c := range gc {
		goldSet[c] = true
		tc := e.Types[c.Type]
		tc.Gold++
		e.Types[c.Type] = tc
	}
	for _, c := range pc {
		tc := e.Types[c.Type]
		tc.Pred++
		if goldSet[c] {
			tc.Correct++
		}
		e.Types[c.Type] = tc
	}
	for i := range gold {
		if gold[i] == pred[i] {
			e.CorrectTokens++
		}
	}
	e.Tokens += int64(len(gold))
	e.Sentences++
	e.GoldInvalid += invalid(gold, e.Scheme)
	e.PredInvalid += invalid(pred, e.Scheme)
	return nil
}

// Merge adds o's counts into e; both must use the same scheme.
func (e *Entities) Merge(o *Entities) error {
	if o == nil {
		return nil
	}
	if o.Scheme != e.Scheme {
		return fmt.Errorf("metrics: merging entity counts of schemes %s and %s", e.Scheme, o.Scheme)
	}
	if e.Types == nil {
		e.Types = map[string]TypeCounts{}
	}
	for t, c := range o.Types {
		tc := e.Types[t]
		tc.Correct += c.Correct
		tc.Gold += c.Gold
		tc.Pred += c.Pred
		e.Types[t] = tc
	}
	e.Sentences += o.Sentences
	e.Tokens += o.Tokens
	e.CorrectTokens += o.CorrectTokens
	e.GoldInvalid += o.GoldInvalid
	e.PredInvalid += o.PredInvalid
	return nil
}

// EntityResult is conlleval's report: micro-averaged and per-type precision,
// recall and F1 (as fractions, not percentages), token accuracy, and the
// number of ill-formed tags under the declared scheme.
type EntityResult struct {
	Scheme        Scheme         `json:"scheme"`
	Micro         PRF            `json:"micro"`
	PerType       map[string]PRF `json:"per_type"`
	Types         []string       `json:"types"` // sorted keys of PerType
	Sentences     int64          `json:"sentences"`
	Tokens        int64          `json:"tokens"`
	TokenAccuracy float64        `json:"token_accuracy"`
	GoldInvalid   int64          `json:"gold_invalid"`
	PredInvalid   int64          `json:"pred_invalid"`
}

// Result computes the figures from the counts.
func (e *Entities) Result() EntityResult {
	r := EntityResult{Scheme: e.Scheme, PerType: map[string]PRF{}, Sentences: e.Sentences,
		Tokens: e.Tokens, GoldInvalid: e.GoldInvalid, PredInvalid: e.PredInvalid}
	var c, g, p int64
	for t, tc := range e.Types {
		r.PerType[t] = prf(tc.Correct, tc.Pred, tc.Gold)
		r.Types = append(r.Types, t)
		c += tc.Correct
		g += tc.Gold
		p += tc.Pred
	}
	sort.Strings(r.Types)
	r.Micro = prf(c, p, g)
	if e.Tokens > 0 {
		r.TokenAccuracy = float64(e.CorrectTokens) / float64(e.Tokens)
	}
	return r
}

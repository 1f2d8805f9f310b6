package scoring

import (
	"fmt"
	"sort"
	"strconv"
	"strings"

	"github.com/taskweave/taskweave/model"
)

// WindowID is the example id preprocess gives window k (from 0) of a token
// sentence too long for one row.
func WindowID(id string, k int) string { return id + "#w" + strconv.Itoa(k) }

// ParseWindowID splits a window's id into the sentence id and the window
// number; ok is false for an id that is not a window's.
func ParseWindowID(id string) (sentence string, k int, ok bool) {
	i := strings.LastIndex(id, "#w")
	if i < 0 || i+2 == len(id) {
		return "", 0, false
	}
	digits := id[i+2:]
	for _, c := range digits {
		if c < '0' || c > '9' {
			return "", 0, false
		}
	}
	k, err := strconv.Atoi(digits)
	if err != nil {
		return "", 0, false
	}
	return id[:i], k, true
}

// Windowed reports whether p is one window of a longer token sentence, which
// must be stitched (Stitch) before it is counted: scoring windows separately
// would cut an entity that spans a window boundary into two chunks.
func Windowed(p *Prediction) bool {
	_, _, ok := ParseWindowID(p.ExampleID)
	return ok && p.Kind == model.TokenClassification
}

// Stitch joins the windows of one sentence, in window order whatever the
// order of ws, into one prediction with the sentence's id. It returns the
// index in ws of window 0, whose other fields (Text) the result keeps.
func Stitch(ws []Prediction) (Prediction, int, error) {
	if len(ws) == 0 {
		return Prediction{}, 0, fmt.Errorf("scoring: stitching no windows")
	}
	type win struct{ k, i int }
	order := make([]win, len(ws))
	var sentence string
	for i := range ws {
		s, k, ok := ParseWindowID(ws[i].ExampleID)
		if !ok {
			return Prediction{}, 0, fmt.Errorf("scoring: %s is not a window id", ws[i].ExampleID)
		}
		if i > 0 && s != sentence {
			return Prediction{}, 0, fmt.Errorf("scoring: stitching windows of sentences %s and %s together", sentence, s)
		}
		sentence, order[i] = s, win{k, i}
	}
	sort.Slice(order, func(a, b int) bool { return order[a].k < order[b].k })
	for i := 1; i < len(order); i++ {
		if order[i].k == order[i-1].k {
			return Prediction{}, 0, fmt.Errorf("scoring: window %s appears twice; the shards hold duplicate rows, re-run preprocess", ws[order[i].i].ExampleID)
		}
	}
	first := order[0].i
	out := ws[first]
	out.ExampleID = sentence
	out.Rows, out.Tokens = 0, 0
	out.Words, out.GoldTags, out.PredTags, out.WordScores, out.Logits = nil, nil, nil, nil, nil
	labeled := false
	for _, o := range order {
		w := &ws[o.i]
		out.Rows += max(w.Rows, 1)
		out.Tokens += w.Tokens
		out.Words = append(out.Words, w.Words...)
		out.PredTags = append(out.PredTags, w.PredTags...)
		out.WordScores = append(out.WordScores, w.WordScores...)
		out.Logits = append(out.Logits, w.Logits...)
		if w.GoldTags != nil && len(w.Words) > 0 {
			labeled = true
		}
		out.GoldTags = append(out.GoldTags, w.GoldTags...)
	}
	if !labeled {
		out.GoldTags = nil
	} else if len(out.GoldTags) != len(out.PredTags) {
		return Prediction{}, 0, fmt.Errorf("scoring: sentence %s mixes labeled and unlabeled windows", out.ExampleID)
	}
	return out, first, nil
}

// StitchAll returns preds with the windows of each sentence joined into one
// prediction, placed where the sentence's first-seen window was.
func StitchAll(preds []Prediction) ([]Prediction, error) {
	var out []Prediction
	at := map[string]int{} // sentence key → index in out
	groups := map[string][]Prediction{}
	for _, p := range preds {
		if !Windowed(&p) {
			out = append(out, p)
			continue
		}
		s, _, _ := ParseWindowID(p.ExampleID)
		key := p.Task + "/" + s
		if _, ok := at[key]; !ok {
			at[key] = len(out)
			out = append(out, Prediction{})
		}
		groups[key] = append(groups[key], p)
	}
	for key, ws := range groups {
		s, _, err := Stitch(ws)
		if err != nil {
			return nil, err
		}
		out[at[key]] = s
	}
	return out, nil
}

package score

import (
	"fmt"
	"regexp"
	"sort"
	"strconv"
)

// windowID matches the id preprocess gives each window of a token sentence
// too long for one row: "<id>#w<k>".
var windowID = regexp.MustCompile(`^(.*)#w([0-9]+)$`)

// SplitWindowsFn routes token-task predictions of windowed sentences to be
// stitched (keyed by model, task and sentence id) and passes everything else
// through. Scoring windows separately would cut an entity that spans a window
// boundary into two chunks, so conlleval's figures need whole sentences.
func SplitWindowsFn(p Prediction, whole func(Prediction), windowed func(string, Prediction)) {
	if p.Kind == KindToken {
		if m := windowID.FindStringSubmatch(p.ExampleID); m != nil {
			windowed(p.Key()+"/"+m[1], p)
			return
		}
	}
	whole(p)
}

// StitchFn joins the windows of one sentence, in window order, into one
// prediction with the sentence's id; it keeps the shard of window 0.
func StitchFn(key string, iter func(*Prediction) bool, emit func(Prediction)) error {
	type win struct {
		k int
		p Prediction
	}
	var ws []win
	var p Prediction
	for iter(&p) {
		m := windowID.FindStringSubmatch(p.ExampleID)
		if m == nil {
			return fmt.Errorf("score: %s is not a window id", p.ExampleID)
		}
		k, err := strconv.Atoi(m[2])
		if err != nil {
			return fmt.Errorf("score: window id %s: %w", p.ExampleID, err)
		}
		ws = append(ws, win{k, p})
		p = Prediction{}
	}
	if len(ws) == 0 {
		return nil
	}
	sort.Slice(ws, func(i, j int) bool { return ws[i].k < ws[j].k })
	for i := 1; i < len(ws); i++ {
		if ws[i].k == ws[i-1].k {
			return fmt.Errorf("score: window %s appears twice; the shards hold duplicate rows, re-run preprocess", ws[i].p.ExampleID)
		}
	}
	out := ws[0].p
	out.ExampleID = windowID.FindStringSubmatch(out.ExampleID)[1]
	out.Rows = 0
	out.Tokens = 0
	out.Words, out.GoldTags, out.PredTags, out.WordScores = nil, nil, nil, nil
	labeled := false
	for _, w := range ws {
		out.Rows += max(w.p.Rows, 1)
		out.Tokens += w.p.Tokens
		out.Words = append(out.Words, w.p.Words...)
		out.PredTags = append(out.PredTags, w.p.PredTags...)
		out.WordScores = append(out.WordScores, w.p.WordScores...)
		if w.p.GoldTags != nil && len(w.p.Words) > 0 {
			labeled = true
		}
		out.GoldTags = append(out.GoldTags, w.p.GoldTags...)
	}
	if !labeled {
		out.GoldTags = nil
	} else if len(out.GoldTags) != len(out.PredTags) {
		return fmt.Errorf("score: sentence %s mixes labeled and unlabeled windows", out.ExampleID)
	}
	emit(out)
	return nil
}

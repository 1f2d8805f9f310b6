package score

import (
	"github.com/taskweave/taskweave/model/scoring"
)

// SplitWindowsFn routes token-task predictions of windowed sentences to be
// stitched (keyed by model, task and sentence id) and passes everything else
// through. Scoring windows separately would cut an entity that spans a window
// boundary into two chunks, so conlleval's figures need whole sentences.
func SplitWindowsFn(p Prediction, whole func(Prediction), windowed func(string, Prediction)) {
	if scoring.Windowed(&p.Prediction) {
		s, _, _ := scoring.ParseWindowID(p.ExampleID)
		windowed(p.Key()+"/"+s, p)
		return
	}
	whole(p)
}

// StitchFn joins the windows of one sentence (scoring.Stitch) into one
// prediction with the sentence's id; it keeps the shard of window 0.
func StitchFn(key string, iter func(*Prediction) bool, emit func(Prediction)) error {
	var ws []scoring.Prediction
	var parts []string
	var model string
	var p Prediction
	for iter(&p) {
		ws = append(ws, p.Prediction)
		parts = append(parts, p.Part)
		model = p.Model
		p = Prediction{}
	}
	if len(ws) == 0 {
		return nil
	}
	s, first, err := scoring.Stitch(ws)
	if err != nil {
		return err
	}
	emit(Prediction{Model: model, Part: parts[first], Prediction: s})
	return nil
}

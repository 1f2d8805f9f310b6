package score

import (
	"io"

	"github.com/parquet-go/parquet-go"

	"github.com/taskweave/taskweave/model"
)

// ClassRow is one sequence-classification prediction in Parquet.
type ClassRow struct {
	ExampleID   string    `parquet:"example_id"`
	Gold        string    `parquet:"gold"` // label name; "" when unlabeled
	Predicted   string    `parquet:"predicted"`
	GoldID      int32     `parquet:"gold_id"` // -1 when unlabeled
	PredictedID int32     `parquet:"predicted_id"`
	Scores      []float32 `parquet:"scores,list"` // softmax over the labels, in label order
	Text        string    `parquet:"text"`
}

// RegressionRow is one regression prediction.
type RegressionRow struct {
	ExampleID string    `parquet:"example_id"`
	Gold      float32   `parquet:"gold"`
	Predicted float32   `parquet:"predicted"`
	Scores    []float32 `parquet:"scores,list"` // the raw output, one value
	Text      string    `parquet:"text"`
}

// TokenRow is one token-classification prediction, per scored word.
type TokenRow struct {
	ExampleID string    `parquet:"example_id"`
	Words     []string  `parquet:"words,list"`
	Gold      []string  `parquet:"gold,list"`
	Predicted []string  `parquet:"predicted,list"`
	Scores    []float32 `parquet:"scores,list"` // probability of each predicted tag
}

// MaskedLMRow is one row's masked-LM figures: the pieces masked in it (as
// evaluation masks them), how many the model restored, and their summed
// cross-entropy. The masked pieces themselves are not stored; the row's
// task and example id redraw them (masking.ExampleRNG).
type MaskedLMRow struct {
	ExampleID string  `parquet:"example_id"`
	Masked    int64   `parquet:"masked"`
	Correct   int64   `parquet:"correct"`
	NLL       float64 `parquet:"nll"` // nats, summed over the masked pieces
	Text      string  `parquet:"text"`
}

func writePredictions(w io.Writer, preds []Prediction, labels []string) error {
	switch preds[0].Kind {
	case model.SequenceClassification:
		rows := make([]ClassRow, len(preds))
		for i, p := range preds {
			rows[i] = ClassRow{ExampleID: p.ExampleID, GoldID: p.Gold, PredictedID: p.Pred, Scores: p.Scores, Text: p.Text}
			if p.Gold >= 0 && int(p.Gold) < len(labels) {
				rows[i].Gold = labels[p.Gold]
			}
			if int(p.Pred) < len(labels) {
				rows[i].Predicted = labels[p.Pred]
			}
		}
		return writeRows(w, rows)
	case model.SequenceRegression:
		rows := make([]RegressionRow, len(preds))
		for i, p := range preds {
			rows[i] = RegressionRow{ExampleID: p.ExampleID, Gold: p.GoldValue, Predicted: p.PredValue,
				Scores: []float32{p.PredValue}, Text: p.Text}
		}
		return writeRows(w, rows)
	case model.MaskedLM:
		rows := make([]MaskedLMRow, len(preds))
		for i, p := range preds {
			rows[i] = MaskedLMRow{ExampleID: p.ExampleID, Masked: p.Masked, Correct: p.Correct, NLL: p.NLL, Text: p.Text}
		}
		return writeRows(w, rows)
	default:
		rows := make([]TokenRow, len(preds))
		for i, p := range preds {
			rows[i] = TokenRow{ExampleID: p.ExampleID, Words: p.Words, Gold: p.GoldTags, Predicted: p.PredTags, Scores: p.WordScores}
		}
		return writeRows(w, rows)
	}
}

func writeRows[T any](w io.Writer, rows []T) error {
	pw := parquet.NewGenericWriter[T](w, parquet.Compression(&parquet.Zstd))
	if _, err := pw.Write(rows); err != nil {
		return err
	}
	return pw.Close()
}

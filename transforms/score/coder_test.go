package score

import (
	"math"
	"reflect"
	"testing"

	"github.com/taskweave/taskweave/model"
	"github.com/taskweave/taskweave/model/scoring"
)

func TestPredictionCoderRoundTrip(t *testing.T) {
	tests := []struct {
		name string
		p    Prediction
	}{
		{"empty", Prediction{}},
		{"classification", Prediction{Model: "model", Part: "part-00000-of-00001.parquet", Prediction: scoring.Prediction{Task: "sst2", Kind: model.SequenceClassification,
			ExampleID: "ex1", Text: "a fine, moving film — ünïcode", Tokens: 12, Rows: 1, Gold: -1, Pred: 1, Scores: []float32{0.25, 0.75}}}},
		{"regression", Prediction{Model: "compare", Prediction: scoring.Prediction{Task: "stsb", Kind: model.SequenceRegression, GoldValue: float32(math.NaN()), PredValue: -3.5, Rows: 1}}},
		{"token labeled", Prediction{Prediction: scoring.Prediction{Task: "ner", Kind: model.TokenClassification, ExampleID: "s7#w1", Tokens: 300, Rows: 3,
			Words: []string{"EU", "", "German"}, GoldTags: []string{"B-ORG", "O", "B-MISC"}, PredTags: []string{"B-ORG", "O", "O"},
			WordScores: []float32{0.9, 1, 0.51}, Logits: []float32{1, -2, 0.5}}}},
		// nil GoldTags means unlabeled; an empty (non-nil) list must stay distinct.
		{"token unlabeled", Prediction{Prediction: scoring.Prediction{Kind: model.TokenClassification, Words: []string{"x"}, PredTags: []string{"O"}, WordScores: []float32{0.5}}}},
		{"masked lm", Prediction{Model: "compare", Part: "sst2/part-00001-of-00002.parquet", Prediction: scoring.Prediction{Task: "mlm", Kind: model.MaskedLM,
			ExampleID: "s7#w1", Tokens: 31, Rows: 1, Masked: 5, Correct: 2, NLL: 7.125}}},
		{"token empty lists", Prediction{Prediction: scoring.Prediction{Kind: model.TokenClassification, Words: []string{}, GoldTags: []string{}, PredTags: []string{}, WordScores: []float32{}, Logits: []float32{}}}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			b, err := encodePrediction(tc.p)
			if err != nil {
				t.Fatal(err)
			}
			got, err := decodePrediction(b)
			if err != nil {
				t.Fatal(err)
			}
			// NaN != NaN: compare the bits of the float fields instead.
			if math.Float32bits(got.GoldValue) != math.Float32bits(tc.p.GoldValue) {
				t.Errorf("GoldValue %v, want %v", got.GoldValue, tc.p.GoldValue)
			}
			got.GoldValue, tc.p.GoldValue = 0, 0
			if !reflect.DeepEqual(got, tc.p) {
				t.Errorf("round trip:\n got %#v\nwant %#v", got, tc.p)
			}
			// Every proper prefix is truncated data and must be refused, not
			// decoded into a wrong prediction.
			for n := 0; n < len(b); n++ {
				if _, err := decodePrediction(b[:n]); err == nil {
					t.Fatalf("decoding the first %d of %d bytes: no error", n, len(b))
				}
			}
			if _, err := decodePrediction(append(b, 0)); err == nil {
				t.Error("a trailing byte: no error")
			}
		})
	}
}

// Package taskkind names the kinds of task a job can have. The names are
// the model's head kinds (model.HeadKind is this Kind) and the task types
// manifest.json and job specs write; they live here, below both model and
// io, so io/manifest need not import the model for four strings.
package taskkind

// Kind names what a task head predicts and which loss trains it.
type Kind string

const (
	// SequenceClassification: pooler → dropout → linear, cross-entropy (Hugging Face BertForSequenceClassification).
	SequenceClassification Kind = "sequence_classification"
	// TokenClassification: dropout → linear on every token, cross-entropy with ignore index -100.
	TokenClassification Kind = "token_classification"
	// SequenceRegression: pooler → dropout → linear to one value, mean squared error.
	SequenceRegression Kind = "sequence_regression"
	// MaskedLM: dense → GELU → LayerNorm → decoder tied to the word embeddings plus its own bias.
	MaskedLM Kind = "masked_lm"
)

// All are the kinds a job's task can have. A masked_lm task is auxiliary
// by default: trained for what it teaches the encoder, not selected on.
var All = []Kind{SequenceClassification, TokenClassification, SequenceRegression, MaskedLM}

// Names are All as strings, for allowed-value lists in messages.
func Names() []string {
	out := make([]string, len(All))
	for i, k := range All {
		out[i] = string(k)
	}
	return out
}

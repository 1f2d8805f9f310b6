package scoring

// The names of the figures taskweave reports, in the trainer's metrics.jsonl
// and summary.json, evaluate's report.json and report.md, the registry's
// gate and `taskweave results` columns. Nothing else spells them.
const (
	Accuracy = "accuracy" // sentence classification: share of examples whose argmax is the gold class
	MacroF1  = "macro_f1" // unweighted mean of the per-class F1
	MCC      = "mcc"      // multi-class Matthews correlation

	Pearson  = "pearson"
	Spearman = "spearman" // average ranks for ties
	MSE      = "mse"

	// Entity tasks, with conlleval's chunk rules: micro precision, recall and
	// F1 over chunks of every type.
	EntityPrecision = "entity_precision"
	EntityRecall    = "entity_recall"
	EntityF1        = "entity_f1"

	TokenAccuracy = "token_accuracy" // share of scored words whose tag is right

	// Masked language models, over the pieces masked as evaluation masks
	// them (masking.ExampleRNG).
	MaskedAccuracy = "masked_accuracy" // share of masked pieces whose argmax is the original piece
	Perplexity     = "perplexity"      // exp of the mean cross-entropy over the masked pieces
	MaskedTokens   = "masked_tokens"   // how many pieces were masked and scored
)

// PerLabel names a per-class (classification) or per-entity-type (token)
// F1, e.g. "f1[positive]" or "entity_f1[PER]".
func PerLabel(metric, label string) string { return metric + "[" + label + "]" }

// perClassF1 is the stem of PerLabel for classification classes.
const perClassF1 = "f1"

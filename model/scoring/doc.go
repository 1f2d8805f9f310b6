// Package scoring is the one way taskweave turns a model's logits into
// predictions and figures: the trainer's dev evaluation, the evaluate
// pipeline's Beam DoFns (transforms/score) and `taskweave predict` all call
// it, so the figure that selects best/ during training is the figure that
// gates promotion after evaluate.
//
// The path is: examples (preprocessed rows, io/shards.Row's fields) → Score,
// which sorts them by length, pads them into batches (NewBatch) and decodes
// each example's logits (Decode: argmax and softmax per class or per word,
// words read at their first subword) → the windows of a long token sentence
// ("<id>#w<k>", see WindowID) are joined back into one sentence (Stitch), so
// an entity crossing a window boundary is one chunk as in the source → an
// Acc per task, which counts with model/metrics' mergeable accumulators and
// gives a Result: the task's primary metric (PrimaryMetric, one rule per
// task kind and tag scheme) and every other figure under the names in
// metricnames.go, the only metric names taskweave writes.
//
// Like the rest of model/, the package imports neither Beam nor storage.
package scoring

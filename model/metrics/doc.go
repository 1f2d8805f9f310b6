// Package metrics computes the evaluation metrics taskweave reports:
// classification (accuracy, macro-F1, per-class precision/recall/F1,
// multi-class Matthews correlation, confusion matrix), regression (Pearson,
// Spearman with average ranks for ties), entity-level precision/recall/F1
// with the chunk rules of the CoNLL shared-task scorer conlleval (IOB1 and
// IOB2) plus a strict IOB2 mode, and token accuracy for tagging tasks.
//
// Every metric is accumulated as plain counts in a value with Add, Merge and
// Result methods, so partial results computed on different workers (a Beam
// CombineFn's accumulators) merge exactly: merging accumulators in any order
// gives the same Result as adding every example to one accumulator. All fields
// are exported so the accumulators survive JSON (and Beam) encoding.
//
// The package imports only the standard library.
package metrics

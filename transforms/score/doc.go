// Package score holds the Beam DoFns of the evaluation pipeline: read a shard
// file into rows, batch rows per task and score them with a checkpoint
// (loaded once per DoFn instance in Setup), stitch the windows of long token
// sentences back together, combine per-task metrics with a CombineFn whose
// accumulator is model/scoring's mergeable Acc, and write per-example
// predictions as Parquet. A masked LM's rows (its own, or its source tasks')
// are masked and scored by scoring.ScoreMasked, one row's masked, correct
// and NLL per prediction.
//
// The scoring itself (batching, argmax, decoding, stitching, metrics and
// their names) is model/scoring's, the same code the trainer's dev
// evaluation and `taskweave predict` run; this package only moves its values
// through the runner.
//
// Every DoFn, function, emitter and iterator and the accumulator's coder are
// registered in init, so the pipeline runs unchanged on prism, Dataflow or
// Flink without falling back to reflection.
package score

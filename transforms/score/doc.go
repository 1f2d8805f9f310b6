// Package score holds the Beam DoFns of the evaluation pipeline: read a shard
// file into rows, batch rows per task and score them with a checkpoint
// (loaded once per DoFn instance in Setup), combine per-task metrics with a
// CombineFn whose accumulator is model/metrics' mergeable counts, and write
// per-example predictions as Parquet.
//
// Every DoFn, function, emitter and the accumulator's coder are registered in
// init, so the pipeline runs unchanged on prism, Dataflow or Flink.
package score

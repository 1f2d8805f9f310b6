// Package model is the math of taskweave: float32 tensors on a BLAS backend,
// a BERT encoder whose layers are written as explicit forward/backward pairs,
// the task heads (sequence classification, sequence regression, token
// classification, masked language model), their losses, and the AdamW
// optimizer with its learning-rate schedule.
//
// Parameters carry Hugging Face BertModel names ("embeddings.word_embeddings.weight",
// "encoder.layer.0.attention.self.query.weight" in torch Linear layout [out,in], …,
// "pooler.dense.weight"); head parameters live under "heads.<task>.".
//
// # Backends
//
// Matrix products go through gonum's blas32. The default build uses gonum's
// pure-Go kernels (about 20 GFLOP/s on two cores). Building with
// `-tags openblas` routes them to OpenBLAS through gonum.org/v1/netlib
// (Debian: apt-get install libopenblas-dev), roughly ten times faster; that is
// the build to train with.
//
// # Contract notes
//
// A Model is not safe for concurrent use; it spreads its own work over all
// cores. Forward keeps the activations of the last batch for Backward; buffers
// are allocated once and reused, growing only when a batch is larger than any
// seen before. For a masked_lm head, Forward scores only the positions whose
// TokenLabels are not -100, so Output.Logits is [Scored, vocab] there, while
// Predict returns logits for every position.
//
// The package imports no storage or pipeline code (a test enforces it).
package model

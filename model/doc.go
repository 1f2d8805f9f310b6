// Package model is the math of taskweave: float32 tensors on a BLAS backend,
// a BERT encoder whose layers are written as explicit forward/backward pairs,
// the task heads (sequence classification, sequence regression, token
// classification, masked language model), their losses, and the AdamW
// optimizer with its learning-rate schedule. For pre-training it also has
// ELECTRA's parts (electra.go, rtd.go): a replaced-token-detection head,
// embeddings of their own width with a projection (Config.EmbeddingSize),
// and a generator that shares the discriminator's embeddings.
//
// Parameters carry Hugging Face BertModel names ("embeddings.word_embeddings.weight",
// "encoder.layer.0.attention.self.query.weight" in torch Linear layout [out,in], …,
// "pooler.dense.weight"); head parameters live under "heads.<task>.", except the masked-LM head's,
// which take BertForMaskedLM's "cls.predictions." names (one per model).
//
// # Soft parameter sharing
//
// NewWith gives tasks paths of their own through the encoder (sharing.go):
// low-rank factors W + A·B (factor.go), layer attention (layermix.go),
// adapters (adapter.go) and a mixture-of-experts FFN with per-task gates
// (moe.go). A batch runs its task's path. Task parameters are named
// "tasks.<task>.…", what soft sharing adds to the shared encoder "sharing.…".
//
// # Backends
//
// Matrix products go through gonum's blas32. The default build uses gonum's
// pure-Go kernels (about 20 GFLOP/s on two cores) and Go element-wise loops.
// Building with `-tags openblas` routes products to OpenBLAS through
// gonum.org/v1/netlib (Debian: apt-get install libopenblas-dev), roughly ten
// times faster, and swaps the element-wise passes (GELU, softmax, LayerNorm,
// dropout masks, AdamW) for C loops GCC vectorises; that is the build to
// train with. Both builds run the same tests.
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
// Additions to the contract in docs/architecture.md: Config.Validate,
// Model.Config/Heads/Param/Training/RNGState/SetRNGState (dropout stream
// position for resume), GradNorm, AdamW.Steps, AdamWState (moments by
// parameter name), Backend and BLASCore (which kernels run). Forward also
// accepts nil TokenTypeIDs (all 0) and nil Mask (all real tokens), and
// sequence-classification Labels may hold -100 to skip an example.
//
// The package imports no storage or pipeline code (a test enforces it).
package model

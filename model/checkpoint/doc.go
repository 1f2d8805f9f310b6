// Package checkpoint reads and writes taskweave checkpoint directories and
// imports Hugging Face BERT checkpoints.
//
// A checkpoint directory (../shared/DESIGN.md) holds config.json (the
// encoder config under Hugging Face BERT keys, model_type "bert",
// architectures ["BertModel"], plus a "taskweave" object with the format
// version, task names, heads, casing, max sequence length, Meta.Extra —
// where the trainer keeps sharing and strategy — and the sha256 of every
// other file), model.safetensors (encoder tensors under Hugging Face
// BertModel names, heads under heads.<task>.…), vocab.txt, tasks.json (the
// TaskInfo list) and, beyond the contract, tokenizer_config.json
// (do_lower_case, model_max_length) so that transformers' BertTokenizer
// reads the directory too.
//
// Save writes each file atomically through FS.Create and config.json last;
// Load checks the recorded hashes. A directory where a Save stopped halfway
// (no config.json) or whose files come from two Saves is therefore refused
// instead of loaded with mixed weights. A failed write is aborted (the
// writer's Abort method, which LocalDir's and io/storage's writers have),
// never published.
//
// Load also imports Hugging Face BertModel, BertForSequenceClassification
// and BertForTokenClassification directories: model.safetensors (F32, F16,
// BF16, F64; read with this package's own reader) or pytorch_model.bin
// (the zip format and the legacy pickle one, through
// github.com/nlpodyssey/gopickle's unpickler, which runs no Python), with or without the "bert." prefix, with the old LayerNorm
// gamma/beta names, ignoring the position_ids buffer. classifier.* becomes
// the head of one task named by Options.TaskName or after the directory,
// labelled from id2label. Refused with a message naming the tensor or file
// and both sizes: a tensor whose shape disagrees with config.json, a
// missing tensor (except the pooler of token and bare models, which
// Hugging Face builds without one), a tensor the model has no place for
// (unless listed in Options.IgnoreTensors), and a vocab.txt whose length
// differs from vocab_size (a longer one is accepted, truncated and warned,
// with Options.AllowVocabTruncation).
//
// Every byte is untrusted. Sizes read from a file are checked before they
// size an allocation: safetensors tensors are read in chunks (memory grows
// with the bytes present, so a header claiming 10^12 elements fails as
// truncated), config.json's sizes are checked against the weights file
// before model.New (vocab_size 2e9 or 100,000 layers fail with a message,
// not an out-of-memory), pytorch_model.bin's container is checked (empty,
// tar, not a zip or pickle), its pickles are scanned for lengths the bytes
// cannot hold before gopickle reads them, and each storage's size is checked
// against its bytes. Weights that are NaN or ±Inf are refused naming the
// tensor and element. Fuzz targets cover each parser (fuzz_test.go).
//
// Additions to docs/architecture.md's contract: LoadWith and Options,
// Meta.Task, ReadSafetensors/WriteSafetensors and Tensor, JSON tags on
// TaskInfo. Save requires len(Meta.Vocab) == vocab_size and a label list for
// every classification head.
package checkpoint

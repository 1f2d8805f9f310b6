// Package checkpoint reads and writes taskweave checkpoint directories and
// imports Hugging Face BERT checkpoints.
//
// A checkpoint directory (../shared/DESIGN.md) holds config.json (the
// encoder config under Hugging Face BERT keys plus a "taskweave" section
// with heads, tasks and the sha256 of every other file), model.safetensors
// (encoder tensors under Hugging Face BertModel names, heads under
// heads.<task>.…), vocab.txt and tasks.json. Save writes config.json last,
// and Load checks the recorded hashes, so a directory left half-written by
// an interrupted Save is refused instead of loaded with mixed weights.
//
// Load also imports Hugging Face BertModel, BertForSequenceClassification
// and BertForTokenClassification directories (model.safetensors or
// pytorch_model.bin), with or without the "bert." prefix and with the old
// LayerNorm gamma/beta names.
package checkpoint

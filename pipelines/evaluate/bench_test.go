package evaluate

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/taskweave/taskweave/io/shards"
	"github.com/taskweave/taskweave/model"
	"github.com/taskweave/taskweave/model/checkpoint"
)

// Scoring throughput inside the pipeline against the model core's forward
// pass at the same size: batch 32 × 128 tokens, vocab 28,996, a 9-label
// token head (the shapes of model's BenchmarkForward*).
//
//	go test -run '^$' -bench Score -benchtime 1x -tags openblas ./pipelines/evaluate/
//
// pipeline: `evaluate` end to end on prism over benchExamples rows of 128
// tokens (read the Parquet shards, batch, score, decode per word, write the
// predictions and the report), tokens scored / wall time of the pipeline.
// forward: Predict on the same checkpoint over the same rows in batches of 32,
// in the same process, once before and once after the pipeline (averaged).
const benchExamples, benchLen, benchBatch = 4096, 128, 32

func BenchmarkScoreTiny(b *testing.B) { benchScore(b, "tiny") }
func BenchmarkScoreMini(b *testing.B) { benchScore(b, "mini") }

func benchScore(b *testing.B, size string) {
	dir := b.TempDir()
	vocab := make([]string, 28996)
	for i := range vocab {
		vocab[i] = fmt.Sprintf("t%d", i)
	}
	copy(vocab, []string{"[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"})
	labels := []string{"O", "B-PER", "I-PER", "B-ORG", "I-ORG", "B-LOC", "I-LOC", "B-MISC", "I-MISC"}
	cfg, err := model.SizeConfig(size, len(vocab))
	if err != nil {
		b.Fatal(err)
	}
	m, err := model.New(cfg, []model.HeadSpec{{Task: "ner", Kind: model.TokenClassification, NumLabels: len(labels)}}, 1)
	if err != nil {
		b.Fatal(err)
	}
	ckpt := filepath.Join(dir, "ckpt")
	if err := checkpoint.Save(checkpoint.LocalDir(ckpt), m, checkpoint.Meta{Vocab: vocab, MaxSeqLen: benchLen,
		Tasks: []checkpoint.TaskInfo{{Name: "ner", Labels: labels, TagScheme: "iob2"}}}); err != nil {
		b.Fatal(err)
	}
	// Rows of exactly benchLen tokens: [CLS] + one subword per word + [SEP].
	g := lcg(3)
	const parts = 4
	var files []string
	var batches []*model.Batch
	ctx := context.Background()
	for p := 0; p < parts; p++ {
		var rows []shards.Row
		for i := p; i < benchExamples; i += parts {
			r := shards.Row{Task: "ner", Split: "test", ExampleID: fmt.Sprintf("ex%05d", i), Label: -1}
			r.InputIDs, r.WordIDs, r.TokenLabels = []int32{2}, []int32{-1}, []int32{-100}
			for w := 0; w < benchLen-2; w++ {
				id := int32(5 + g.next(len(vocab)-5))
				r.InputIDs = append(r.InputIDs, id)
				r.WordIDs = append(r.WordIDs, int32(w))
				r.TokenLabels = append(r.TokenLabels, int32(g.next(len(labels))))
				r.Words = append(r.Words, vocab[id])
			}
			r.InputIDs, r.WordIDs, r.TokenLabels = append(r.InputIDs, 3), append(r.WordIDs, -1), append(r.TokenLabels, -100)
			r.TokenTypeIDs = make([]int32, benchLen)
			rows = append(rows, r)
		}
		rel := filepath.Join("ner", "test", shards.ShardName(p, parts))
		if err := shards.WriteFile(ctx, filepath.Join(dir, "shards", rel), rows); err != nil {
			b.Fatal(err)
		}
		files = append(files, rel)
		for i := 0; i+benchBatch <= len(rows); i += benchBatch {
			bt := &model.Batch{Task: "ner", B: benchBatch, T: benchLen}
			for _, r := range rows[i : i+benchBatch] {
				bt.InputIDs = append(bt.InputIDs, r.InputIDs...)
				bt.TokenTypeIDs = append(bt.TokenTypeIDs, r.TokenTypeIDs...)
			}
			bt.Mask = make([]int32, benchBatch*benchLen)
			for k := range bt.Mask {
				bt.Mask[k] = 1
			}
			batches = append(batches, bt)
		}
	}
	man := map[string]any{"format_version": 1, "fingerprint": "sha256:bench",
		"tokenizer": map[string]any{"vocab_sha256": vocabSHA(vocab), "vocab_size": len(vocab), "max_seq_len": benchLen},
		"tasks": map[string]any{"ner": map[string]any{"type": "token_classification", "tag_scheme": "iob2", "labels": labels,
			"splits": map[string]any{"test": map[string]any{"examples": benchExamples, "shards": files}}}}}
	mb, _ := json.Marshal(man)
	if err := os.WriteFile(filepath.Join(dir, "shards", "manifest.json"), mb, 0o644); err != nil {
		b.Fatal(err)
	}

	// The model core's forward pass over the same rows, in the same process,
	// measured before and after the pipeline and averaged: the machine is
	// shared, so both sides must see the same load.
	m.SetTraining(false)
	if _, err := m.Predict(batches[0]); err != nil {
		b.Fatal(err)
	}
	var fwdTokens int
	var fwdTime time.Duration
	forwardPass := func() {
		start := time.Now()
		for _, bt := range batches {
			if _, err := m.Predict(bt); err != nil {
				b.Fatal(err)
			}
		}
		fwdTime += time.Since(start)
		fwdTokens += len(batches) * benchBatch * benchLen
	}
	forwardPass()
	b.ResetTimer()
	var tokens int64
	for i := 0; i < b.N; i++ {
		rep, err := Run(ctx, Options{Model: ckpt, Data: filepath.Join(dir, "shards"), Split: "test",
			Out: filepath.Join(dir, fmt.Sprint("eval", i)), BatchSize: benchBatch})
		if err != nil {
			b.Fatal(err)
		}
		tokens += rep.Tasks[0].Results["model"].Tokens
	}
	pipeline := float64(tokens) / b.Elapsed().Seconds()
	b.StopTimer()
	forwardPass()
	forward := float64(fwdTokens) / fwdTime.Seconds()
	b.ReportMetric(pipeline, "tokens/s")
	b.ReportMetric(forward, "forward-tokens/s")
	b.ReportMetric(100*pipeline/forward, "%-of-forward")
}

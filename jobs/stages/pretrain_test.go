package stages_test

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/taskweave/taskweave/io/storage"
	"github.com/taskweave/taskweave/jobs/runner"
	"github.com/taskweave/taskweave/jobs/spec"
	"github.com/taskweave/taskweave/jobs/stages"
	"github.com/taskweave/taskweave/model/checkpoint"
	"github.com/taskweave/taskweave/pipelines/preprocess"
)

// pretrainSpec is a job that pre-trains a tiny encoder on the demo SST-2
// sample's train text, then fine-tunes SST-2 from it.
func pretrainSpec(t *testing.T, output string, lr float64) *spec.Spec {
	t.Helper()
	demo, err := filepath.Abs("../../testdata/demo")
	if err != nil {
		t.Fatal(err)
	}
	y := fmt.Sprintf(`
name: pretraintest
output: %[1]s
tokenizer: {vocab: %[2]s/../vocab/bert-base-cased-vocab.txt, max_seq_len: 32}
tasks:
  - name: sst2
    type: sequence_classification
    format: tsv
    paths: {train: [%[2]s/sst2-train.tsv], validation: [%[2]s/sst2-validation.tsv]}
model: {size: tiny}
pretrain: {sources: [sst2], steps: 6, batch_size: 4, lr: %[3]g, holdout: 0.3, shards: 2, eval_every: 3}
`, output, demo, lr)
	s, err := spec.Parse([]byte(y), filepath.Dir(output))
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// The pretrain stage packs, trains and writes the encoder as a Hugging Face
// BertForMaskedLM directory that model.init loads with the trained weights;
// run again with the same settings it is up to date, with another lr it
// trains again; the train stage starts from the encoder.
func TestPretrainStage(t *testing.T) {
	ctx := context.Background()
	out := filepath.Join(t.TempDir(), "out")
	s := pretrainSpec(t, out, 5e-4)
	cfg, err := stages.PreprocessConfig(s)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := preprocess.Run(ctx, cfg, preprocess.Options{}); err != nil {
		t.Fatal(err)
	}
	res, err := stages.Pretrain(ctx, s, cfg.Out, stages.PretrainOptions{Auto: true})
	if err != nil {
		t.Fatal(err)
	}
	if res.UpToDate || !res.Record.Complete || res.Record.Summary.Steps != 6 {
		t.Fatalf("first run: up to date %v, record %+v", res.UpToDate, res.Record)
	}
	if res.Record.Summary.PaddedTokens != res.Record.Summary.Tokens {
		t.Errorf("packed batches padded %d of %d tokens; want none", res.Record.Summary.PaddedTokens-res.Record.Summary.Tokens, res.Record.Summary.PaddedTokens)
	}
	checkEncoder(t, stages.EncoderDir(s), filepath.Join(s.Path(s.Pretrain.Output), "train", "last"))

	again, err := stages.Pretrain(ctx, s, cfg.Out, stages.PretrainOptions{Auto: true})
	if err != nil || !again.UpToDate {
		t.Fatalf("second run with the same settings: up to date %v, %v", again.UpToDate, err)
	}
	other, err := stages.Pretrain(ctx, pretrainSpec(t, out, 1e-3), cfg.Out, stages.PretrainOptions{Auto: true})
	if err != nil || other.UpToDate || other.Record.Fingerprint == res.Record.Fingerprint {
		t.Fatalf("another lr: up to date %v (fingerprint %s, before %s), %v", other.UpToDate, other.Record.Fingerprint, res.Record.Fingerprint, err)
	}
	if _, err := stages.Pretrain(ctx, s, cfg.Out, stages.PretrainOptions{Resume: true}); err == nil || !strings.Contains(err.Error(), "other pretrain settings") {
		t.Fatalf("--resume of the lr 1e-3 run with the lr 5e-4 job: err = %v, want a refusal", err)
	}
	if got := stages.TrainConfig(s, cfg.Out, t.TempDir()).Init; got != stages.EncoderDir(s) {
		t.Fatalf("the train stage starts from %q, want the pre-trained encoder %s", got, stages.EncoderDir(s))
	}
}

// checkEncoder loads dir as model.init does and compares every encoder
// tensor with the trainer's last save, and checks the Hugging Face layout.
func checkEncoder(t *testing.T, dir, last string) {
	t.Helper()
	ctx := context.Background()
	raw, err := os.ReadFile(filepath.Join(dir, checkpoint.ConfigFile))
	if err != nil {
		t.Fatal(err)
	}
	var hc struct {
		Architectures []string `json:"architectures"`
		ModelType     string   `json:"model_type"`
	}
	if err := json.Unmarshal(raw, &hc); err != nil || !slices.Equal(hc.Architectures, []string{"BertForMaskedLM"}) || hc.ModelType != "bert" {
		t.Fatalf("config.json: %s (%v)", raw, err)
	}
	f, err := os.Open(filepath.Join(dir, checkpoint.WeightsFile))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	tensors, _, err := checkpoint.ReadSafetensors(f, checkpoint.WeightsFile)
	if err != nil {
		t.Fatal(err)
	}
	names := map[string]bool{}
	for _, x := range tensors {
		names[x.Name] = true
	}
	for _, n := range []string{"bert.embeddings.word_embeddings.weight", "bert.encoder.layer.1.output.dense.weight", "bert.pooler.dense.weight",
		"cls.predictions.transform.dense.weight", "cls.predictions.bias"} {
		if !names[n] {
			t.Errorf("model.safetensors has no %s", n)
		}
	}
	want, _, err := checkpoint.Load(storage.Dir(ctx, last))
	if err != nil {
		t.Fatal(err)
	}
	got, err := checkpoint.NewModel(checkpoint.Start{Init: storage.Dir(ctx, dir), Vocab: want.Config().VocabSize, Dropout: 0.1})
	if err != nil {
		t.Fatalf("model.init of the encoder: %v", err)
	}
	for _, p := range want.EncoderParams() {
		q := got.Param(p.Name)
		if q == nil || !slices.Equal(q.W, p.W) {
			t.Fatalf("encoder tensor %s differs after model.init", p.Name)
		}
	}
}

// taskweave run runs the pretrain stage before train, and skips it when
// it is up to date.
func TestRunHasPretrainStage(t *testing.T) {
	out := filepath.Join(t.TempDir(), "out")
	s := pretrainSpec(t, out, 5e-4)
	s.Train.Steps, s.Train.EvalEvery, s.Evaluate.Split = 4, 4, "validation"
	for i, wantSkip := range []bool{false, true} {
		rec, err := runner.Run(context.Background(), s, stages.New(stages.Options{}), runner.Options{LockTTL: 60e9, SpecData: []byte("x")})
		if err != nil {
			t.Fatal(err)
		}
		if len(rec.Stages) < 3 || rec.Stages[1].Name != "pretrain" || rec.Stages[1].Skipped != wantSkip {
			t.Fatalf("run %d: stages %+v; want pretrain second, skipped %v", i, rec.Stages, wantSkip)
		}
	}
}

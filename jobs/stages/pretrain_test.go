package stages_test

import (
	"context"
	"encoding/json"
	"fmt"
	"math"
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
	checkEncoder(t, stages.EncoderDir(s), filepath.Join(s.Path(s.Pretrain.Output), "train", "last"), "BertForMaskedLM")

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
func checkEncoder(t *testing.T, dir, last, arch string) {
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
	if err := json.Unmarshal(raw, &hc); err != nil || !slices.Equal(hc.Architectures, []string{arch}) || hc.ModelType != "bert" {
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
	need := []string{"bert.embeddings.word_embeddings.weight", "bert.encoder.layer.1.output.dense.weight", "bert.pooler.dense.weight"}
	if arch == "BertForMaskedLM" {
		need = append(need, "cls.predictions.transform.dense.weight", "cls.predictions.bias")
	}
	for _, n := range need {
		if !names[n] {
			t.Errorf("model.safetensors has no %s", n)
		}
	}
	for n := range names { // the encoder only: no RTD head, no generator
		if !strings.HasPrefix(n, "bert.") && !strings.HasPrefix(n, "cls.predictions.") {
			t.Errorf("model.safetensors has %s, which is not BERT's", n)
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

// objective electra: the pretrain stage trains the discriminator beside a
// generator, records both losses and accuracies in pretrain.json, exports
// the discriminator as a Hugging Face BertModel that model.init loads with
// the trained weights, and the train stage of the same job fine-tunes
// SST-2 from it.
func TestElectraPretrainThenFineTune(t *testing.T) {
	out := filepath.Join(t.TempDir(), "out")
	s := pretrainSpec(t, out, 5e-4)
	s.Pretrain.Objective = "electra"
	s.Train.Steps, s.Train.EvalEvery, s.Evaluate.Split = 4, 4, "validation"
	rec, err := runner.Run(context.Background(), s, stages.New(stages.Options{}), runner.Options{LockTTL: 60e9, SpecData: []byte("x")})
	if err != nil {
		t.Fatal(err)
	}
	if len(rec.Stages) < 3 || rec.Stages[1].Name != "pretrain" || rec.Stages[2].Name != "train" {
		t.Fatalf("stages %+v; want pretrain, then train", rec.Stages)
	}
	raw, err := os.ReadFile(filepath.Join(s.Path(s.Pretrain.Output), "pretrain.json"))
	if err != nil {
		t.Fatal(err)
	}
	var pr stages.PretrainRecord
	if err := json.Unmarshal(raw, &pr); err != nil {
		t.Fatal(err)
	}
	if pr.Objective != "electra" || !pr.Complete || pr.Summary.Steps != 6 {
		t.Fatalf("pretrain.json: objective %q, complete %v, summary %+v", pr.Objective, pr.Complete, pr.Summary)
	}
	for _, k := range []string{"generator_loss", "rtd_loss", "rtd_accuracy", "rtd_replaced_accuracy", "generator_accuracy"} {
		if _, ok := pr.Summary.Electra[k]; !ok {
			t.Errorf("pretrain.json's summary has no electra %s: %v", k, pr.Summary.Electra)
		}
	}
	checkEncoder(t, stages.EncoderDir(s), filepath.Join(s.Path(s.Pretrain.Output), "train", "last"), "BertModel")
	if got := stages.TrainConfig(s, "data", t.TempDir()).Init; got != stages.EncoderDir(s) {
		t.Fatalf("the train stage starts from %q, want the ELECTRA encoder %s", got, stages.EncoderDir(s))
	}
	// The fine-tuned encoder is the pre-trained one after 4 small steps,
	// not a fresh initialisation (whose weights differ by ~0.02 each).
	ctx := context.Background()
	tuned, _, err := checkpoint.Load(storage.Dir(ctx, filepath.Join(s.Path(s.Train.Output), rec.ID, "last")))
	if err != nil {
		t.Fatalf("the fine-tuning run: %v", err)
	}
	enc, err := checkpoint.NewModel(checkpoint.Start{Init: storage.Dir(ctx, stages.EncoderDir(s)), Vocab: tuned.Config().VocabSize, Dropout: 0.1})
	if err != nil {
		t.Fatal(err)
	}
	const name = "encoder.layer.0.attention.self.query.weight"
	worst := 0.0
	for i, v := range tuned.Param(name).W {
		worst = math.Max(worst, math.Abs(float64(v-enc.Param(name).W[i])))
	}
	if worst > 5e-3 {
		t.Fatalf("%s moved by up to %g in 4 fine-tuning steps: the train stage did not start from the ELECTRA encoder", name, worst)
	}
}

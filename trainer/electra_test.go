package trainer

import (
	"bytes"
	"context"
	"path/filepath"
	"strings"
	"testing"

	"github.com/taskweave/taskweave/model"
	"github.com/taskweave/taskweave/model/checkpoint"
)

// electraConfig pre-trains a tiny discriminator with ELECTRA on a text of
// repeated phrases, evaluating and logging every 2 steps.
func electraConfig(t *testing.T, data string) Config {
	cfg := baseConfig(data, filepath.Join(t.TempDir(), "run"))
	cfg.Tasks = []TaskOptions{{Name: "txt", Weight: 1}}
	cfg.Steps, cfg.BatchSize, cfg.EvalEvery, cfg.LogEvery = 8, 8, 2, 2
	cfg.Electra = &ElectraOptions{GeneratorSize: 0.25, RTDWeight: 50}
	return cfg
}

// ELECTRA resumes bit for bit: 8 steps in one go equal 4, a stop, and 4
// more — the discriminator in last/, the state tensors (both models'
// moments and the generator's weights), the evaluation and the logged
// figures. last/ holds the discriminator with its replaced-token-detection
// head, and the log has ELECTRA's figures.
func TestElectraResumesExactly(t *testing.T) {
	ctx := context.Background()
	data := phraseText(t, 256)
	full := electraConfig(t, data)
	sf, err := Train(ctx, full)
	if err != nil {
		t.Fatal(err)
	}
	sh, halfOut := resumedInHalves(t, ctx, full)
	a := sameState(t, full.Out, halfOut)
	if !bytes.Contains(a, []byte(model.GeneratorPrefix+"encoder.layer.0.attention.self.query.weight")) {
		t.Fatal("the state tensors hold no generator weights")
	}
	for k, v := range sf.Electra {
		if sh.Electra[k] != v {
			t.Errorf("summary %s: %v in one go, %v resumed", k, v, sh.Electra[k])
		}
	}
	for k, v := range sf.Last["txt"] {
		if sh.Last["txt"][k] != v {
			t.Errorf("evaluation %s: %v in one go, %v resumed", k, v, sh.Last["txt"][k])
		}
	}
	for _, k := range []string{"rtd_accuracy", "rtd_replaced_accuracy", "rtd_loss", "masked_accuracy", "perplexity"} {
		if _, ok := sf.Last["txt"][k]; !ok {
			t.Errorf("the evaluation has no %s: %v", k, sf.Last["txt"])
		}
	}
	m, meta, err := checkpoint.Load(checkpoint.LocalDir(filepath.Join(full.Out, "last")))
	if err != nil {
		t.Fatal(err)
	}
	if m.Param("discriminator_predictions.dense_prediction.weight") == nil || m.Param("cls.predictions.bias") != nil {
		t.Fatal("last/ does not hold the discriminator (an RTD head, no MLM head)")
	}
	if ti, _ := meta.Task("txt"); ti.Type != string(model.ReplacedTokenDetection) {
		t.Fatalf("tasks.json records txt as %+v", ti)
	}
	logged := 0
	for _, ev := range readEvents(t, full.Out) {
		if ev["event"] != "train" {
			continue
		}
		f, ok := ev["electra"].(map[string]any)
		if !ok {
			t.Fatalf("train event without ELECTRA's figures: %v", ev)
		}
		for _, k := range []string{electraGenLoss, electraRTDLoss, electraGenAccuracy, electraRTDAccuracy, electraRTDReplaced} {
			if _, ok := f[k]; !ok {
				t.Fatalf("train event has no %s: %v", k, f)
			}
		}
		logged++
	}
	if logged != 4 {
		t.Errorf("%d train events, want 4 (every 2 of 8 steps)", logged)
	}
}

// The trainer refuses ELECTRA settings out of range and runs that ELECTRA
// cannot train, naming the key.
func TestElectraConfigErrors(t *testing.T) {
	for _, c := range []struct {
		name string
		edit func(*Config)
		want string
	}{
		{"generator_size 0", func(c *Config) { c.Electra.GeneratorSize = 0 }, "pretrain.generator_size"},
		{"generator_size 1.5", func(c *Config) { c.Electra.GeneratorSize = 1.5 }, "pretrain.generator_size"},
		{"rtd_weight 0", func(c *Config) { c.Electra.RTDWeight = 0 }, "pretrain.rtd_weight"},
		{"two tasks", func(c *Config) { c.Tasks = append(c.Tasks, TaskOptions{Name: "b", Weight: 1}) }, "one masked-LM task"},
		{"init", func(c *Config) { c.Init = "x" }, "from scratch"},
	} {
		cfg := electraConfig(t, "data")
		c.edit(&cfg)
		if err := cfg.Validate(); err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s: %v, want an error with %q", c.name, err, c.want)
		}
	}
}

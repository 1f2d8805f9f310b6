package trainer

import (
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// Every field out of range gives an error naming its spec key and the
// allowed range; nothing is silently replaced.
func TestConfigValidate(t *testing.T) {
	for _, c := range []struct {
		name string
		edit func(*Config)
		want string
	}{
		{"no tasks", func(c *Config) { c.Tasks = nil }, "tasks: is empty"},
		{"negative layer", func(c *Config) { c.Tasks[0].Layer = -1 }, "tasks[0].layer: -1 is out of range"},
		{"negative weight", func(c *Config) { c.Tasks[1].Weight = -2 }, "tasks[1].weight: -2 is out of range"},
		{"no size", func(c *Config) { c.Size = "" }, "model.size: is empty"},
		{"dropout 1", func(c *Config) { c.Dropout = 1 }, "model.dropout: 1 is out of range; use 0 <= dropout < 1"},
		{"steps 0", func(c *Config) { c.Steps = 0 }, "train.steps: 0 is out of range"},
		{"batch size -4", func(c *Config) { c.BatchSize = -4 }, "train.batch_size: -4 is out of range"},
		{"batch tokens -100", func(c *Config) { c.BatchTokens = -100 }, "train.batch_tokens: -100 is out of range"},
		{"lr 0", func(c *Config) { c.LR = 0 }, "train.lr: 0 is out of range; use 0 < lr <= 1"},
		{"warmup 1.5", func(c *Config) { c.Warmup = 1.5 }, "train.warmup: 1.5 is out of range"},
		{"weight decay -0.1", func(c *Config) { c.WeightDecay = -0.1 }, "train.weight_decay: -0.1 is out of range"},
		{"clip -1", func(c *Config) { c.Clip = -1 }, "train.clip: -1 is out of range"},
		{"accumulate -2", func(c *Config) { c.Accumulate = -2 }, "train.accumulate: -2 is out of range"},
		{"step mode", func(c *Config) { c.StepMode = "" }, `train.step_mode: "" is not allowed`},
		{"pcgrad sampled", func(c *Config) { c.Strategy.Name = "pcgrad" }, "set train.step_mode: all"},
		{"mixture", func(c *Config) { c.Mixture.Name = "" }, `train.mixture.name: "" is not allowed`},
		{"strategy", func(c *Config) { c.Strategy.Name = "" }, `train.strategy.name: "" is not allowed`},
		{"eval every -10", func(c *Config) { c.EvalEvery = -10 }, "train.eval_every: -10 is out of range; use eval_every >= 0"},
		{"select metric", func(c *Config) { c.SelectMetric = "f1" }, `train.select_metric: "f1"`},
		{"log every 0", func(c *Config) { c.LogEvery = 0 }, "train.log_every: 0 is out of range"},
		{"shuffle buffer 0", func(c *Config) { c.ShuffleBuffer = 0 }, "train.shuffle_buffer: 0 is out of range"},
	} {
		t.Run(c.name, func(t *testing.T) {
			cfg := baseConfig("data", "out")
			c.edit(&cfg)
			err := cfg.Validate()
			if err == nil || !strings.Contains(err.Error(), c.want) {
				t.Fatalf("error %v, want one containing %q", err, c.want)
			}
			if _, err := Train(context.Background(), cfg); err == nil || !strings.Contains(err.Error(), c.want) {
				t.Fatalf("Train: error %v, want one containing %q", err, c.want)
			}
		})
	}
	cfg := baseConfig("data", "out")
	if err := cfg.Validate(); err != nil {
		t.Fatalf("the base config is invalid: %v", err)
	}
}

// Zero is a value: dropout 0, warm-up 0, weight decay 0, clip 0 (no
// clipping), seeds 0, eval_every 0 (never) and save_every 0 all run and mean
// what they say.
func TestZeroIsAValue(t *testing.T) {
	data := synthData(t, 64)
	ctx := context.Background()
	run := func(name string, edit func(*Config)) Config {
		cfg := baseConfig(data, filepath.Join(t.TempDir(), name))
		cfg.Dropout, cfg.Warmup, cfg.WeightDecay, cfg.Clip, cfg.Seed, cfg.ModelSeed = 0, 0, 0, 0, 0, 0
		cfg.EvalEvery, cfg.SaveEvery, cfg.Steps, cfg.LogEvery = 0, 0, 3, 1
		edit(&cfg)
		if _, err := Train(ctx, cfg); err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		return cfg
	}
	zero := run("zero", func(*Config) {})
	var hf struct {
		Hidden float64 `json:"hidden_dropout_prob"`
		Attn   float64 `json:"attention_probs_dropout_prob"`
	}
	b, err := os.ReadFile(filepath.Join(zero.Out, "last", "config.json"))
	if err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(b, &hf); err != nil || hf.Hidden != 0 || hf.Attn != 0 {
		t.Fatalf("dropout 0 saved as %+v (%v)", hf, err)
	}
	evs := readEvents(t, zero.Out)
	if evs[1]["event"] != "train" || evs[1]["lr"] != zero.LR {
		t.Fatalf("warmup 0: the first step's lr is %v, want the peak %v", evs[1]["lr"], zero.LR)
	}
	for _, ev := range evs {
		if ev["event"] == "eval" {
			t.Fatal("eval_every 0 evaluated")
		}
	}
	// clip 0 is no clipping: the same as a bound no gradient reaches, and
	// not the same as a bound every gradient exceeds.
	huge := run("huge", func(c *Config) { c.Clip = 1e30 })
	tiny := run("tiny", func(c *Config) { c.Clip = 1e-7 })
	sameBits(t, "clip 0 vs 1e30", loadWeights(t, filepath.Join(zero.Out, "last")), loadWeights(t, filepath.Join(huge.Out, "last")))
	if differ(loadWeights(t, filepath.Join(zero.Out, "last")), loadWeights(t, filepath.Join(tiny.Out, "last"))) == 0 {
		t.Fatal("clip 1e-7 trained the same weights as clip 0")
	}
	// weight decay 0 differs from weight decay 0.5.
	wd := run("wd", func(c *Config) { c.WeightDecay = 0.5 })
	if differ(loadWeights(t, filepath.Join(zero.Out, "last")), loadWeights(t, filepath.Join(wd.Out, "last"))) == 0 {
		t.Fatal("weight decay 0.5 trained the same weights as 0")
	}
}

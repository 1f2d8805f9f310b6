package stages

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"time"

	"github.com/taskweave/taskweave/io/manifest"
	"github.com/taskweave/taskweave/io/storage"
	"github.com/taskweave/taskweave/jobs/spec"
	"github.com/taskweave/taskweave/model"
	"github.com/taskweave/taskweave/model/checkpoint"
	"github.com/taskweave/taskweave/pipelines/pack"
	"github.com/taskweave/taskweave/trainer"
	tpack "github.com/taskweave/taskweave/transforms/pack"
)

// Files under pretrain.output.
const (
	packedDir    = "data"    // the packed shards and their manifest
	pretrainRun  = "train"   // the trainer's output: last/, best/, metrics.jsonl, summary.json
	encoderDir   = "encoder" // the pre-trained encoder, Hugging Face BertForMaskedLM layout
	pretrainJSON = "pretrain.json"
)

// EncoderDir is where the job's pre-trained encoder is written, and where
// the train stage of a job with a pretrain block starts from.
func EncoderDir(s *spec.Spec) string { return storage.Join(s.Path(s.Pretrain.Output), encoderDir) }

// PretrainOptions are the per-invocation settings of a pre-training run.
type PretrainOptions struct {
	Runner string // Beam runner of the packing pipeline; "" = prism
	// Resume continues the run saved in train/last; Auto (the run stage)
	// skips a run that finished with this job's settings and resumes one
	// that did not, starting afresh only when nothing matching was saved.
	Resume, Auto bool
	Steps        int           // overrides pretrain.steps when > 0
	TimeLimit    time.Duration // overrides pretrain.time_limit_seconds when > 0
	Progress     io.Writer
	Log          io.Writer
}

// PretrainRecord is pretrain.json: what the last session of the run did.
type PretrainRecord struct {
	Fingerprint string           `json:"fingerprint"` // of the packed data and every setting that shapes the weights
	Complete    bool             `json:"complete"`    // all pretrain.steps were taken
	Objective   string           `json:"objective"`
	Encoder     string           `json:"encoder"`
	Packed      manifest.Split   `json:"packed_train"`
	Summary     *trainer.Summary `json:"summary"`
	Finished    time.Time        `json:"finished"`
}

// PretrainResult is what the stage reports.
type PretrainResult struct {
	Record   PretrainRecord
	UpToDate bool // an earlier run finished with these settings: nothing was done
}

// Pretrain packs the sources' train text, trains the encoder on it and
// writes it to EncoderDir with pretrain.json beside it.
func Pretrain(ctx context.Context, s *spec.Spec, data string, o PretrainOptions) (PretrainResult, error) {
	p := &s.Pretrain
	out := s.Path(p.Output)
	if o.Log == nil {
		o.Log = io.Discard
	}
	pk := pack.Config{Data: data, Vocab: s.Path(s.Tokenizer.Vocab), Sources: p.Sources, Out: storage.Join(out, packedDir),
		Holdout: p.Holdout, Shards: p.Shards}
	packed, err := pack.Run(ctx, pk, o.Runner)
	if err != nil {
		return PretrainResult{}, err
	}
	st := packed.Manifest.Tasks[pack.Task].Splits["train"]
	fmt.Fprintf(o.Log, "pretrain: %d packed sequences, %d tokens (%s)\n", st.Examples, st.Tokens, map[bool]string{true: "up to date", false: "packed now"}[packed.UpToDate])
	cfg := PretrainConfig(s, pk.Out, storage.Join(out, pretrainRun), packed.Manifest)
	if o.Steps > 0 {
		cfg.Steps = o.Steps
	}
	if o.TimeLimit > 0 {
		cfg.TimeLimit = o.TimeLimit
	}
	fp, err := pretrainFingerprint(packed.Manifest, cfg)
	if err != nil {
		return PretrainResult{}, err
	}
	cfg.Resume = o.Resume
	prev, err := readRecord(ctx, out)
	if err != nil {
		return PretrainResult{}, err
	}
	if o.Resume && prev != nil && prev.Fingerprint != fp {
		return PretrainResult{}, fmt.Errorf("--resume: the run in %s was made with other pretrain settings or data (fingerprint %s, now %s); resume with the job as it was, or pre-train afresh into another --out", out, prev.Fingerprint, fp)
	}
	if o.Auto {
		if prev != nil && prev.Fingerprint == fp {
			if ok, err := storage.Exists(ctx, storage.Join(EncoderDir(s), checkpoint.ConfigFile)); err != nil {
				return PretrainResult{}, err
			} else if ok && prev.Complete {
				return PretrainResult{Record: *prev, UpToDate: true}, nil
			}
			cfg.Resume = true
		}
	}
	cfg.Progress, cfg.Log = o.Progress, o.Log
	sum, err := trainer.Train(ctx, cfg)
	if err != nil {
		return PretrainResult{}, err
	}
	rec := PretrainRecord{Fingerprint: fp, Complete: sum.Steps >= cfg.Steps, Objective: p.Objective, Encoder: EncoderDir(s),
		Packed: st, Summary: sum, Finished: time.Now().UTC().Truncate(time.Second)}
	last, err := trainer.LastDir(context.WithoutCancel(ctx), cfg.Out)
	if err != nil {
		return PretrainResult{}, err
	}
	if err := exportEncoder(context.WithoutCancel(ctx), last, rec.Encoder); err != nil {
		return PretrainResult{}, err
	}
	b, err := json.MarshalIndent(rec, "", "  ")
	if err != nil {
		return PretrainResult{}, err
	}
	if err := storage.WriteFile(context.WithoutCancel(ctx), storage.Join(out, pretrainJSON), append(b, '\n')); err != nil {
		return PretrainResult{}, err
	}
	return PretrainResult{Record: rec}, nil
}

// PretrainConfig maps the pretrain block onto the trainer: one masked-LM
// task over the packed shards, from scratch at model.size, with the
// block's optimisation settings and train's data-loading ones; with
// objective electra, the trainer's ELECTRA options (the encoder is then
// the discriminator).
func PretrainConfig(s *spec.Spec, packed, out string, m *manifest.Manifest) trainer.Config {
	p := &s.Pretrain
	cfg := TrainConfig(s, packed, out)
	cfg.Tasks = []trainer.TaskOptions{{Name: pack.Task, Weight: 1}}
	cfg.Init, cfg.TokenDropout, cfg.Sharing, cfg.Phases = "", 0, model.Sharing{}, nil
	cfg.Steps, cfg.BatchSize, cfg.BatchTokens, cfg.Accumulate = p.Steps, p.BatchSize, 0, 1
	cfg.LR, cfg.Warmup, cfg.WeightDecay, cfg.Clip, cfg.Seed = p.LR, p.Warmup, p.WeightDecay, p.Clip, p.Seed
	cfg.SparseEmbeddings = false // the tied decoder's gradient reaches every row anyway
	cfg.StepMode, cfg.Mixture.Name, cfg.Strategy.Name = "sampled", "proportional", "equal"
	cfg.EvalEvery, cfg.EvalSplit, cfg.SelectMetric, cfg.Patience = 0, tpack.Validation, "mean", 0
	if m.Tasks[pack.Task].Splits[tpack.Validation].Examples > 0 {
		cfg.EvalEvery = p.EvalEvery
	}
	cfg.SaveEvery, cfg.LogEvery = p.SaveEvery, p.LogEvery
	cfg.TimeLimit = time.Duration(p.TimeLimitSeconds * float64(time.Second))
	if p.Objective == "electra" {
		cfg.Electra = &trainer.ElectraOptions{GeneratorSize: p.GeneratorSize, RTDWeight: p.RTDWeight}
	}
	return cfg
}

// pretrainFingerprint hashes what decides the encoder's weights: the packed
// data and the trainer's settings (not where it writes, how often it logs,
// or its time limit, which only split the same run into sessions).
func pretrainFingerprint(m *manifest.Manifest, cfg trainer.Config) (string, error) {
	c := cfg
	c.Data, c.Out, c.Vocab, c.TimeLimit, c.LogEvery, c.SaveEvery, c.EvalEvery = "", "", "", 0, 0, 0, 0
	c.Progress, c.Log, c.BatchLog = nil, nil, nil
	return manifest.Fingerprint(context.Background(), struct {
		Data   string         `json:"data"`
		Config trainer.Config `json:"config"`
	}{m.Fingerprint, c}, nil)
}

func readRecord(ctx context.Context, out string) (*PretrainRecord, error) {
	b, err := storage.ReadFile(ctx, storage.Join(out, pretrainJSON))
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	var r PretrainRecord
	if err := json.Unmarshal(b, &r); err != nil {
		return nil, fmt.Errorf("%s: %w; delete it to pre-train afresh", storage.Join(out, pretrainJSON), err)
	}
	return &r, nil
}

// exportEncoder writes the model saved in last as the encoder directory.
func exportEncoder(ctx context.Context, last, dir string) error {
	m, meta, err := checkpoint.Load(storage.Dir(ctx, last))
	if err != nil {
		return fmt.Errorf("pretrain: reading the last model: %w", err)
	}
	if err := checkpoint.ExportEncoder(storage.Dir(ctx, dir), m, meta); err != nil {
		return fmt.Errorf("pretrain: writing the encoder to %s: %w", dir, err)
	}
	return nil
}

package trainer

import (
	"cmp"
	"fmt"
	"math"
	"math/rand/v2"

	"github.com/taskweave/taskweave/internal/rules"
	"github.com/taskweave/taskweave/model"
	"github.com/taskweave/taskweave/model/masking"
	"github.com/taskweave/taskweave/model/multitask"
)

// ELECTRA pre-training (Config.Electra, model/electra.go). The run's one
// task is a masked LM over packed text. Its head in tr.m becomes the
// discriminator's replaced-token detection, so tr.m is the discriminator:
// the model last/ and best/ hold and the encoder pre-training exports. The
// generator (tr.el.Gen) trains beside it on the same batches, which the
// task's masker corrupts with [MASK] only. One AdamW steps both models'
// parameters; the generator's own weights and its dropout stream are kept
// in last/'s trainer state, so a resumed run continues bit for bit. The
// replacements are sampled with a generator seeded by (train.seed, batch
// number), like the masks, so they need no saved state either.

// ElectraOptions are ELECTRA's settings (pretrain.generator_size and
// pretrain.rtd_weight, ranges in model.ElectraRanges).
type ElectraOptions struct {
	GeneratorSize float64 // the generator's width as a fraction of the discriminator's
	RTDWeight     float64 // λ: loss = MLM + λ·RTD
}

// Salts of the generator's seeds: its initial weights (from model.seed)
// and the replacements' sampling (from train.seed).
const (
	generatorSalt = 0x67656e657261746f
	samplingSalt  = 0x73616d706c696e67
)

// checkElectra checks the ELECTRA settings and what they need of the run.
func (c *Config) checkElectra() []error {
	if c.Electra == nil {
		return nil
	}
	var errs []error
	for _, f := range []struct {
		key string
		v   float64
	}{{"pretrain.generator_size", c.Electra.GeneratorSize}, {"pretrain.rtd_weight", c.Electra.RTDWeight}} {
		if err := rules.Find(model.ElectraRanges, f.key).Check(f.key, f.v); err != nil {
			errs = append(errs, err)
		}
	}
	switch {
	case len(c.Tasks) != 1:
		errs = append(errs, rules.Errorf("pretrain.objective", "electra trains one masked-LM task over the packed text; this run has %d tasks", len(c.Tasks)))
	case c.Init != "":
		errs = append(errs, rules.Errorf("pretrain.objective", "electra pre-trains from scratch; model.init is set to %s", c.Init))
	case c.Sharing != model.Sharing{}:
		errs = append(errs, rules.Errorf("pretrain.objective", "electra pre-trains one plain encoder; model.sharing is set"))
	}
	return errs
}

// electraHeads turns the run's masked-LM head into the discriminator's
// replaced-token-detection head and makes its masker replace by [MASK]
// only.
func (tr *Trainer) electraHeads(heads []model.HeadSpec) error {
	if tr.cfg.Electra == nil {
		return nil
	}
	t := tr.tasks[0]
	if t.kind != model.MaskedLM {
		return fmt.Errorf("pretrain.objective: electra trains a masked-LM task; %s is %s", t.name, t.kind)
	}
	heads[0].Kind, heads[0].NumLabels = model.ReplacedTokenDetection, 1 // one logit per token
	tr.meta.Tasks[0].Type = string(model.ReplacedTokenDetection)
	t.masker.ReplaceAll()
	return nil
}

// setupElectra builds the generator beside the discriminator tr.m.
func (tr *Trainer) setupElectra() error {
	o := tr.cfg.Electra
	if o == nil {
		return nil
	}
	var err error
	if tr.el, err = model.NewElectra(tr.m, o.GeneratorSize, o.RTDWeight, tr.cfg.ModelSeed^generatorSalt); err != nil {
		return fmt.Errorf("pretrain: %w", err)
	}
	// The discriminator's precision is set after this, from the same key.
	if err := tr.el.Gen.SetPrecision(cmp.Or(tr.cfg.Precision, model.FP32)); err != nil {
		return fmt.Errorf("train.precision: %w", err)
	}
	tr.el.SetTraining(true)
	gc := tr.el.Gen.Config()
	tr.logf("electra: generator L%d/H%d/A%d (%d own weights, embeddings shared), λ = %g, generator input masked by [MASK] only",
		gc.NumHiddenLayers, gc.HiddenSize, gc.NumAttentionHeads, model.CountParams(tr.el.GeneratorParams()), o.RTDWeight)
	return nil
}

// trainable are the parameters the optimizer steps: tr.m's, and the
// generator's own with ELECTRA.
func (tr *Trainer) trainable() []*model.Param {
	if tr.el != nil {
		return tr.el.Params()
	}
	return tr.m.Trainable()
}

// zeroGrad clears the gradients the last step left.
func (tr *Trainer) zeroGrad() {
	if tr.el != nil {
		tr.el.ZeroGrad()
		return
	}
	tr.m.ZeroGrad()
}

// samplingRNG draws the replacements of the stream's batch n.
func (tr *Trainer) samplingRNG(n int64) *rand.Rand {
	return rand.New(rand.NewPCG(tr.cfg.Seed^samplingSalt, uint64(n)))
}

// electraStepper runs ELECTRA's forward and backward passes on
// Accumulate batches of the one task.
type electraStepper struct{ tr *Trainer }

func (s electraStepper) step(st *stepStats) error {
	tr := s.tr
	acc := tr.cfg.Accumulate
	var sum model.ElectraStats
	for a := 0; a < acc; a++ {
		b, err := tr.streams[0].Next()
		if err != nil {
			return err
		}
		st.padded += tr.countTokens(b)
		if tr.cfg.BatchLog != nil {
			if err := logBatch(tr.cfg.BatchLog, b); err != nil {
				return fmt.Errorf("train: writing the batch log: %w", err)
			}
		}
		es, err := tr.el.Forward(b, tr.samplingRNG(tr.streams[0].drawn))
		if err != nil {
			return fmt.Errorf("step %d: %w", tr.step+1, err)
		}
		for _, l := range []float64{es.GenLoss, es.DiscLoss} {
			if math.IsNaN(l) || math.IsInf(l, 0) {
				return fmt.Errorf("step %d: a loss is %v (generator %v, discriminator %v); training stopped, last/ holds the last good state (lower pretrain.lr or raise pretrain.warmup)", tr.step+1, l, es.GenLoss, es.DiscLoss)
			}
		}
		if err := tr.el.Backward(float32(1 / float64(acc))); err != nil {
			return err
		}
		sum.Add(es)
	}
	loss := (sum.GenLoss + float64(tr.el.Weight)*sum.DiscLoss) / float64(acc)
	tr.noteLoss(0, loss)
	tr.elWindow.Add(sum)
	tr.elBatches += acc
	st.weights[tr.tasks[0].name] = 1
	return tr.strat.Update(multitask.Step{Losses: []float64{loss}})
}

// Names of ELECTRA's figures in metrics.jsonl, summary.json and the
// evaluation's metrics.
const (
	electraGenLoss      = "generator_loss"     // the generator's MLM cross-entropy
	electraRTDLoss      = "rtd_loss"           // the discriminator's sigmoid cross-entropy
	electraGenAccuracy  = "generator_accuracy" // masked tokens whose most probable token is the original
	electraRTDAccuracy  = "rtd_accuracy"       // tokens the discriminator classified right
	electraRTDReplaced  = "rtd_replaced_accuracy"
	electraReplacedRate = "replaced_share" // scored tokens the generator's samples changed
)

// electraFigures are the means of the figures in s over n batches.
func electraFigures(s model.ElectraStats, n int) map[string]float64 {
	ratio := func(a, b int) float64 {
		if b == 0 {
			return 0
		}
		return float64(a) / float64(b)
	}
	n = max(n, 1)
	return map[string]float64{
		electraGenLoss: s.GenLoss / float64(n), electraRTDLoss: s.DiscLoss / float64(n),
		electraGenAccuracy: ratio(s.GenCorrect, s.Masked), electraRTDAccuracy: ratio(s.DiscCorrect, s.Tokens),
		electraRTDReplaced: ratio(s.ReplacedCorrect, s.Replaced), electraReplacedRate: ratio(s.Replaced, s.Tokens),
	}
}

// electraLog returns the progress text and the figures of the batches
// since the last log, and starts a new window.
func (tr *Trainer) electraLog() (string, map[string]float64) {
	f := electraFigures(tr.elWindow, tr.elBatches)
	tr.elWindow, tr.elBatches, tr.elLast = model.ElectraStats{}, 0, f
	return fmt.Sprintf("mlm %.3f rtd %.3f acc %.3f (replaced %.3f) gen-acc %.3f", f[electraGenLoss], f[electraRTDLoss],
		f[electraRTDAccuracy], f[electraRTDReplaced], f[electraGenAccuracy]), f
}

// evalElectra scores one evaluation batch (masked as the masked-LM
// evaluation masks it) with both models, the replacements sampled from a
// generator seeded by the batch's number, so that every evaluation draws
// the same ones for the same model.
func (tr *Trainer) evalElectra(b *model.Batch, n int, res *mlmResult) error {
	tr.el.Gen.SetTraining(false)
	defer tr.el.Gen.SetTraining(true)
	es, err := tr.el.Forward(b, rand.New(rand.NewPCG(masking.EvalSeed^samplingSalt, uint64(n))))
	if err != nil {
		return err
	}
	res.Add(int64(es.Masked), int64(es.GenCorrect), es.GenLoss*float64(es.Masked))
	if res.rtd == nil {
		res.rtd = &electraEval{}
	}
	res.rtd.stats.Add(es)
	res.rtd.loss += es.DiscLoss * float64(es.Tokens)
	return nil
}

// electraEval sums the discriminator's figures over an evaluation.
type electraEval struct {
	stats model.ElectraStats
	loss  float64 // Σ per-batch RTD loss × scored tokens
}

// metrics adds the discriminator's figures to an evaluation's.
func (e *electraEval) metrics(out map[string]float64) {
	f := electraFigures(e.stats, 1)
	out[electraRTDLoss] = e.loss / float64(max(e.stats.Tokens, 1))
	for _, k := range []string{electraRTDAccuracy, electraRTDReplaced, electraReplacedRate} {
		out[k] = f[k]
	}
}

// loadGenerator restores the generator's own weights from the state
// tensors of a resumed ELECTRA run.
func (tr *Trainer) loadGenerator(byName map[string][]float32) error {
	if tr.el == nil {
		return nil
	}
	for _, p := range tr.el.GeneratorParams() {
		w, ok := byName[p.Name]
		if !ok || len(w) != len(p.W) {
			return fmt.Errorf("--resume: %s has no generator weights %s of %d values (found %d); the run was not saved by ELECTRA with this pretrain.generator_size", stateTensors, p.Name, len(p.W), len(w))
		}
		copy(p.W, w)
	}
	return nil
}

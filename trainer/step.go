package trainer

import (
	"fmt"
	"math"

	"github.com/taskweave/taskweave/model"
	"github.com/taskweave/taskweave/model/multitask"
)

// stepper runs the forward and backward passes of one optimizer step and
// leaves the step's combined gradient in the model's parameters: one
// implementation per train.step_mode.
type stepper interface {
	step(st *stepStats) error
}

// stepStats is what one step reports to the log.
type stepStats struct {
	lr, gradNorm float64
	padded       int64
	weights      map[string]float64
}

// forward draws task k's next batch and runs the model on it.
func (tr *Trainer) forward(k int, st *stepStats) (float64, error) {
	b, err := tr.streams[k].Next()
	if err != nil {
		return 0, err
	}
	st.padded += tr.countTokens(b)
	out, err := tr.m.Forward(b)
	if err != nil {
		return 0, fmt.Errorf("step %d, task %s: %w", tr.step+1, tr.tasks[k].name, err)
	}
	return float64(out.Loss), nil
}

// sampledStepper draws one task per micro-batch from the mixture sampler and
// accumulates the weighted gradients of Accumulate micro-batches.
type sampledStepper struct{ tr *Trainer }

func (s sampledStepper) step(st *stepStats) error {
	tr := s.tr
	acc := tr.cfg.Accumulate
	for a := 0; a < acc; a++ {
		k := tr.sampler.Next()
		l, err := tr.forward(k, st)
		if err != nil {
			return err
		}
		tr.noteLoss(k, l)
		res, err := tr.strat.Combine(multitask.Input{Tasks: []int{k}, Losses: []float64{l}})
		if err != nil {
			return err
		}
		st.weights[tr.tasks[k].name] = res.Weights[0]
		if err := tr.m.Backward(float32(res.Weights[0] / float64(acc))); err != nil {
			return err
		}
	}
	return nil
}

// allTasksStepper runs every task's backward pass separately, copies the
// shared gradients out, lets the strategy combine them, and writes the
// result back.
type allTasksStepper struct {
	tr     *Trainer
	shared paramGroup   // the encoder
	last   paramGroup   // GradNorm's W: the last shared layer
	heads  []paramGroup // per task
	grads  [][]float32  // per task: gradient of the shared parameters
	lastG  [][]float32
	headG  [][]float32
}

func newAllTasksStepper(tr *Trainer) *allTasksStepper {
	s := &allTasksStepper{tr: tr, shared: newParamGroup(tr.m.EncoderParams()),
		last: newParamGroup(tr.m.LayerParams(tr.m.Config().NumHiddenLayers - 1))}
	for _, t := range tr.tasks {
		h := newParamGroup(tr.m.HeadParams(t.name))
		s.heads = append(s.heads, h)
		s.grads = append(s.grads, make([]float32, s.shared.size))
		s.lastG = append(s.lastG, make([]float32, s.last.size))
		s.headG = append(s.headG, make([]float32, h.size))
	}
	return s
}

func (s *allTasksStepper) step(st *stepStats) error {
	tr := s.tr
	acc := tr.cfg.Accumulate
	idx := make([]int, len(tr.tasks))
	losses := make([]float64, len(tr.tasks))
	for k := range tr.tasks {
		idx[k] = k
		tr.m.ZeroGrad()
		for a := 0; a < acc; a++ {
			l, err := tr.forward(k, st)
			if err != nil {
				return err
			}
			losses[k] += l / float64(acc)
			if err := tr.m.Backward(float32(1 / float64(acc))); err != nil {
				return err
			}
		}
		tr.noteLoss(k, losses[k])
		s.shared.gather(s.grads[k])
		s.last.gather(s.lastG[k])
		s.heads[k].gather(s.headG[k])
	}
	res, err := tr.strat.Combine(multitask.Input{Tasks: idx, Losses: losses, Grads: s.grads, LastShared: s.lastG})
	if err != nil {
		return err
	}
	tr.m.ZeroGrad()
	if res.Shared != nil {
		s.shared.scatter(res.Shared, 1)
	} else {
		for k := range tr.tasks {
			s.shared.addScaled(s.grads[k], float32(res.Weights[k]))
		}
	}
	for k, t := range tr.tasks {
		s.heads[k].scatter(s.headG[k], float32(res.HeadWeights[k]))
		st.weights[t.name] = res.Weights[k]
	}
	return nil
}

func (tr *Trainer) countTokens(b *model.Batch) int64 {
	var n int64
	for _, v := range b.Mask {
		n += int64(v)
	}
	tr.tokens += n
	tr.padded += int64(b.B * b.T)
	return int64(b.B * b.T)
}

// noteLoss folds a task's loss into its moving average for the log.
func (tr *Trainer) noteLoss(i int, l float64) {
	if math.IsNaN(tr.lossEMA[i]) {
		tr.lossEMA[i] = l
	} else {
		tr.lossEMA[i] = 0.9*tr.lossEMA[i] + 0.1*l
	}
}

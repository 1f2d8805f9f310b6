package trainer

import (
	"encoding/json"
	"fmt"
	"io"
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
	tr.lastBatch = b
	st.padded += tr.countTokens(b)
	if tr.cfg.BatchLog != nil {
		if err := logBatch(tr.cfg.BatchLog, b); err != nil {
			return 0, fmt.Errorf("train: writing the batch log: %w", err)
		}
	}
	out, err := tr.m.Forward(b)
	if err != nil {
		return 0, fmt.Errorf("step %d, task %s: %w", tr.step+1, tr.tasks[k].name, err)
	}
	l := float64(out.Loss)
	if math.IsNaN(l) || math.IsInf(l, 0) {
		return 0, fmt.Errorf("step %d, task %s: the loss is %v; training stopped, last/ holds the last good state (lower train.lr or raise train.warmup, check the data)", tr.step+1, tr.tasks[k].name, l)
	}
	return l, nil
}

// sampledStepper draws one task per micro-batch from the mixture sampler and
// accumulates the weighted gradients of Accumulate micro-batches: the shared
// gradient is the weighted sum, as the strategies that run here define it.
// Sampler and strategy count the current phase's tasks (tr.active).
type sampledStepper struct{ tr *Trainer }

func (s sampledStepper) step(st *stepStats) error {
	tr := s.tr
	acc := tr.cfg.Accumulate
	w := tr.strat.Weights()
	sum := make([]float64, len(tr.active))
	count := make([]int, len(tr.active))
	for a := 0; a < acc; a++ {
		k := tr.drawn[tr.sampler.Next()]
		g := tr.active[k]
		if len(tr.tasks[g].members) > 0 { // the group's tasks from one pass
			if err := tr.sampledGroup(g, w, sum, count, st); err != nil {
				return err
			}
			continue
		}
		l, err := tr.forward(g, st)
		if err != nil {
			return err
		}
		tr.noteLoss(g, l)
		sum[k] += l
		count[k]++
		st.weights[tr.tasks[g].name] = w[k]
		if err := tr.m.Backward(float32(w[k] / float64(acc))); err != nil {
			return err
		}
	}
	losses := make([]float64, len(tr.active))
	for k := range losses {
		losses[k] = math.NaN() // no batch of task k in this step
		if count[k] > 0 {
			losses[k] = sum[k] / float64(count[k])
		}
	}
	return tr.strat.Update(multitask.Step{Losses: losses})
}

// allTasksStepper runs every task's backward pass separately, copies the
// shared gradients out, lets the strategy combine them, and writes the
// result back; each head gets its own gradient times its task's weight.
// "Every task" is every task of the current phase (tr.active).
type allTasksStepper struct {
	tr     *Trainer
	tasks  []*taskData  // the phase's
	idx    []int        // their indexes in tr.tasks
	shared paramGroup   // the encoder
	last   paramGroup   // GradNorm's W: the last layer every task's gradient reaches
	heads  []paramGroup // per task: its head and its soft-sharing parameters
	// auto_lambda: the step's batches per task, a copy of the shared
	// weights and scratch vectors for the hypergradient.
	batches [][]*model.Batch
	theta   []float32
	buf     [][]float32
	grads   [][]float32 // per task: gradient of the shared parameters
	lastG   [][]float32
	headG   [][]float32
}

func newAllTasksStepper(tr *Trainer) *allTasksStepper {
	var tasks []*taskData
	for _, k := range tr.active {
		tasks = append(tasks, tr.tasks[k])
	}
	s := &allTasksStepper{tr: tr, tasks: tasks, idx: tr.active, shared: newParamGroup(tr.m.SharedParams()),
		last: newParamGroup(tr.m.LayerParams(lastSharedLayer(tasks, tr.m.Config().NumHiddenLayers)))}
	for _, t := range tasks {
		h := newParamGroup(tr.m.TaskParams(t.name))
		s.heads = append(s.heads, h)
		s.grads = append(s.grads, make([]float32, s.shared.size))
		s.lastG = append(s.lastG, make([]float32, s.last.size))
		s.headG = append(s.headG, make([]float32, h.size))
	}
	return s
}

// lastSharedLayer is the 0-based index of the highest encoder layer every
// task's gradient flows through: the top one with hard sharing, the lowest
// layer a head reads (layer: k, 1-based) otherwise. Layers above it get no
// gradient from the tasks whose heads sit below.
func lastSharedLayer(tasks []*taskData, numLayers int) int {
	top := numLayers
	for _, t := range tasks {
		if t.layer > 0 && t.layer < top {
			top = t.layer
		}
	}
	return top - 1
}

func (s *allTasksStepper) step(st *stepStats) error {
	tr := s.tr
	acc := tr.cfg.Accumulate
	w := tr.strat.Weights()
	losses := make([]float64, len(s.tasks))
	primary, meta := tr.strat.Meta()
	s.batches = s.batches[:0]
	for range s.idx {
		s.batches = append(s.batches, nil)
	}
	for k, g := range s.idx {
		if t := tr.tasks[g]; t.leader != nil || len(t.members) > 0 {
			if t.leader == nil { // a group's gradients come with its first task's
				if err := s.groupGradients(g, losses, st); err != nil {
					return err
				}
			}
			continue
		}
		tr.m.ZeroGrad()
		for a := 0; a < acc; a++ {
			l, err := tr.forward(g, st)
			if err != nil {
				return err
			}
			s.batches[k] = append(s.batches[k], tr.lastBatch)
			losses[k] += l / float64(acc)
			if err := tr.m.Backward(float32(1 / float64(acc))); err != nil {
				return err
			}
		}
		tr.noteLoss(g, losses[k])
		s.shared.gather(s.grads[k])
		s.last.gather(s.lastG[k])
		s.heads[k].gather(s.headG[k])
	}
	var hyper []float64
	if meta {
		gp := make([]int, len(primary)) // the primary tasks' indexes in tr.tasks
		for i, p := range primary {
			gp[i] = s.idx[p]
		}
		var err error
		if hyper, err = s.hypergradient(w, tr.sched.LR(tr.step-tr.phases[tr.phase].start), gp); err != nil {
			return fmt.Errorf("step %d: %w", tr.step+1, err)
		}
	}
	shared, err := tr.strat.Combine(s.grads, w)
	if err != nil {
		return err
	}
	s.shared.scatter(shared, 1)
	for k, t := range s.tasks {
		s.heads[k].scatter(s.headG[k], float32(w[k]))
		st.weights[t.name] = w[k]
	}
	return tr.strat.Update(multitask.Step{Losses: losses, LastShared: s.lastG, Hyper: hyper})
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

// logBatch writes b as one JSON line (Config.BatchLog).
func logBatch(w io.Writer, b *model.Batch) error {
	line, err := json.Marshal(struct {
		Task         string  `json:"task"`
		B            int     `json:"b"`
		T            int     `json:"t"`
		InputIDs     []int32 `json:"input_ids"`
		Mask         []int32 `json:"mask,omitempty"`
		TokenTypeIDs []int32 `json:"token_type_ids,omitempty"`
		Labels       []int32 `json:"labels,omitempty"`
		TokenLabels  []int32 `json:"token_labels,omitempty"`
	}{b.Task, b.B, b.T, b.InputIDs, b.Mask, b.TokenTypeIDs, b.Labels, b.TokenLabels})
	if err != nil {
		return err
	}
	_, err = w.Write(append(line, '\n'))
	return err
}

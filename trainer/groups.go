package trainer

import (
	"fmt"
	"math"
	"path"
	"slices"

	"github.com/taskweave/taskweave/io/shards"
	"github.com/taskweave/taskweave/model"
	"github.com/taskweave/taskweave/trainer/mixture"
)

// A group is a task and the tasks that label its rows too (input_from:
// CoNLL-2003's POS and chunk columns beside its NER column). Preprocessing
// writes each task's shards from the same files, so shard j of every task
// of the group holds the same rows in the same order (rows are placed by
// a hash of their id and sorted by id). The group's stream reads them in
// step, checking ids and word pieces, and makes one batch per task over
// the same input; the sampler draws the group as one (at its first task's
// size and rate); a step runs one encoder pass for all of them
// (model.ForwardGroup) and one backward of the weighted losses, or one
// backward per task where the strategy needs each task's gradient.

// linkGroups joins each task with input_from to its group.
func linkGroups(cfg *Config, tasks []*taskData) error {
	idx := map[string]int{}
	for i, t := range tasks {
		idx[t.name] = i
	}
	for i, o := range cfg.Tasks {
		if o.InputFrom == "" {
			continue
		}
		li, ok := idx[o.InputFrom]
		if !ok {
			return fmt.Errorf("task %s labels the rows of task %s (input_from), which this run does not train; train them together", o.Name, o.InputFrom)
		}
		l, m := tasks[li], tasks[i]
		switch {
		case l.leader != nil || len(m.members) > 0:
			return fmt.Errorf("task %s: input_from %s: a group has one task whose rows the others label; name that task", o.Name, o.InputFrom)
		case (l.kind == model.TokenClassification) != (m.kind == model.TokenClassification) || m.kind == model.MaskedLM || l.kind == model.MaskedLM:
			return fmt.Errorf("task %s (%s) cannot label the rows of task %s (%s): a group's tasks label the same words or the same sentences", o.Name, m.kind, l.name, l.kind)
		}
		if err := sameShards(l.train, m.train); err != nil {
			return fmt.Errorf("task %s labels the rows of task %s, but %w; preprocess the job again (taskweave preprocess --force)", m.name, l.name, err)
		}
		l.members, l.memberIdx, m.leader = append(l.members, m), append(l.memberIdx, i), l
	}
	return nil
}

// sameShards checks that two tasks' train shards pair up one to one.
func sameShards(a, b []string) error {
	if len(a) != len(b) {
		return fmt.Errorf("their train splits have %d and %d shards", len(a), len(b))
	}
	for i := range a {
		if path.Base(a[i]) != path.Base(b[i]) {
			return fmt.Errorf("train shard %d is %s for one and %s for the other", i, path.Base(a[i]), path.Base(b[i]))
		}
	}
	return nil
}

// openMembers opens shard j of each of the group's other tasks.
func (s *stream) openMembers(j int) error {
	for _, m := range s.t.members {
		rd, err := openShard(s.ctx, m.train[j])
		if err != nil {
			s.closeMembers()
			return err
		}
		s.mrd = append(s.mrd, rd)
	}
	return nil
}

// closeMembers closes the other tasks' shards at the end of the first
// task's, and reports one that holds more rows.
func (s *stream) closeMembers() error {
	var err error
	for _, rd := range s.mrd {
		if _, e := rd.next(); e == nil && err == nil {
			err = fmt.Errorf("shard %s has more rows than %s of task %s, whose rows it labels; preprocess the job again (taskweave preprocess --force)", rd.path, path.Base(rd.path), s.t.name)
		}
		rd.close()
	}
	s.mrd = s.mrd[:0]
	return err
}

// memberRows reads the other tasks' rows that stand beside row r of the
// first task's shard: the same example, the same word pieces.
func (s *stream) memberRows(r *shards.Row) ([]example, error) {
	if len(s.mrd) == 0 {
		return nil, nil
	}
	out := make([]example, len(s.mrd))
	for i, rd := range s.mrd {
		m, err := rd.next()
		if err != nil {
			return nil, fmt.Errorf("shard %s ends before row %d of %s (task %s, example %s): %w; preprocess the job again (taskweave preprocess --force)", rd.path, s.rd.row-1, s.rd.path, s.t.name, r.ExampleID, err)
		}
		if m.ExampleID != r.ExampleID || !slices.Equal(m.InputIDs, r.InputIDs) {
			return nil, fmt.Errorf("shard %s row %d is example %s, but row %d of %s (task %s) is %s or other word pieces: the group's shards were not written from the same rows (a record rejected for one task and not the other?); check %s's rejected records, then preprocess again",
				rd.path, rd.row-1, m.ExampleID, s.rd.row-1, s.rd.path, s.t.name, r.ExampleID, s.t.members[i].name)
		}
		if out[i], err = toExample(m, s.t.members[i], rd.path, rd.row-1, s.cfg.maxLen, s.cfg.vocab); err != nil {
			return nil, err
		}
	}
	return out, nil
}

// makeGroupBatches cuts a group's pool as makeBatches does and returns the
// first task's batches and, for each, the other tasks' batches over the
// same input (sharing its InputIDs, TokenTypeIDs and Mask).
func makeGroupBatches(t *taskData, pool []example, cfg batchConfig) ([]*model.Batch, [][]*model.Batch) {
	var first []*model.Batch
	var rest [][]*model.Batch
	cutPool(pool, cfg, func(ex []example) {
		b := pad(t, ex, cfg)
		var bs []*model.Batch
		for j, m := range t.members {
			mex := make([]example, len(ex))
			for i := range ex {
				mex[i] = ex[i].more[j]
			}
			mb := pad(m, mex, cfg)
			mb.InputIDs, mb.TokenTypeIDs, mb.Mask = b.InputIDs, b.TokenTypeIDs, b.Mask
			bs = append(bs, mb)
		}
		first, rest = append(first, b), append(rest, bs)
	})
	return first, rest
}

// groupSampler is the phase's mixture sampler over the tasks it draws:
// every active task except the other tasks of a group, which come with
// their group's first task.
func (tr *Trainer) groupSampler(mxc mixture.Config) (*mixture.Sampler, error) {
	tr.drawn = tr.drawn[:0]
	var names []string
	var sizes []int64
	mxc.Rates = nil
	for i, k := range tr.active {
		t := tr.tasks[k]
		if t.leader != nil {
			continue
		}
		tr.drawn = append(tr.drawn, i)
		names, sizes, mxc.Rates = append(names, t.name), append(sizes, t.trainN), append(mxc.Rates, t.rate)
	}
	return mixture.New(mxc, names, sizes)
}

// drawnNames are the names of the tasks the sampler draws, in its order.
func (tr *Trainer) drawnNames() []string {
	out := make([]string, len(tr.drawn))
	for i, a := range tr.drawn {
		out[i] = tr.tasks[tr.active[a]].name
	}
	return out
}

// groupOf lists task g and the active tasks of its group, as positions in
// tr.active (g's first).
func (tr *Trainer) groupOf(g int) []int {
	out := []int{slices.Index(tr.active, g)}
	for _, mi := range tr.tasks[g].memberIdx {
		if a := slices.Index(tr.active, mi); a >= 0 {
			out = append(out, a)
		}
	}
	return out
}

// forwardGroup draws task g's next batch, with the batches of its group's
// active tasks, and runs them as one encoder pass. It returns the batches
// and each task's loss, in the order of groupOf.
func (tr *Trainer) forwardGroup(g int, st *stepStats) ([]*model.Batch, []float64, error) {
	s := tr.streams[g]
	if _, err := s.Next(); err != nil {
		return nil, nil, err
	}
	var bs []*model.Batch
	for i, b := range s.group {
		if i == 0 || slices.Contains(tr.active, tr.tasks[g].memberIdx[i-1]) {
			bs = append(bs, b)
		}
	}
	tr.lastBatch = bs[0]
	st.padded += tr.countTokens(bs[0])
	for _, b := range bs {
		if tr.cfg.BatchLog != nil {
			if err := logBatch(tr.cfg.BatchLog, b); err != nil {
				return nil, nil, fmt.Errorf("train: writing the batch log: %w", err)
			}
		}
	}
	outs, err := tr.m.ForwardGroup(bs)
	if err != nil {
		return nil, nil, fmt.Errorf("step %d, group of task %s: %w", tr.step+1, tr.tasks[g].name, err)
	}
	losses := make([]float64, len(outs))
	for i, o := range outs {
		losses[i] = float64(o.Loss)
		if math.IsNaN(losses[i]) || math.IsInf(losses[i], 0) {
			return nil, nil, fmt.Errorf("step %d, task %s: the loss is %v; training stopped, last/ holds the last good state (lower train.lr or raise train.warmup, check the data)", tr.step+1, bs[i].Task, losses[i])
		}
	}
	return bs, losses, nil
}

// sampledGroup runs one micro-batch of a sampled step for the group of
// task g (active position k): one forward pass, one backward of the losses
// weighted as the strategy weighs its tasks.
func (tr *Trainer) sampledGroup(g int, w []float64, sum []float64, count []int, st *stepStats) error {
	_, losses, err := tr.forwardGroup(g, st)
	if err != nil {
		return err
	}
	pos := tr.groupOf(g)
	scales := make([]float32, len(pos))
	for i, a := range pos {
		t := tr.active[a]
		tr.noteLoss(t, losses[i])
		sum[a] += losses[i]
		count[a]++
		st.weights[tr.tasks[t].name] = w[a]
		scales[i] = float32(w[a] / float64(tr.cfg.Accumulate))
	}
	return tr.m.BackwardGroup(scales)
}

// groupGradients fills the all-tasks stepper's per-task gradients of
// the group of task g from one forward pass per micro-batch: a backward
// pass per task, each with that task's loss alone.
func (s *allTasksStepper) groupGradients(g int, losses []float64, st *stepStats) error {
	tr := s.tr
	acc := tr.cfg.Accumulate
	pos := tr.groupOf(g)
	for a := 0; a < acc; a++ {
		bs, ls, err := tr.forwardGroup(g, st)
		if err != nil {
			return err
		}
		for i, k := range pos {
			s.batches[k] = append(s.batches[k], bs[i])
			losses[k] += ls[i] / float64(acc)
			one := make([]float32, len(pos))
			one[i] = float32(1 / float64(acc))
			tr.m.ZeroGrad()
			if err := tr.m.BackwardGroup(one); err != nil {
				return err
			}
			add := a > 0
			s.shared.collect(s.grads[k], add)
			s.last.collect(s.lastG[k], add)
			s.heads[k].collect(s.headG[k], add)
		}
	}
	for _, k := range pos {
		tr.noteLoss(tr.active[k], losses[k])
	}
	return nil
}

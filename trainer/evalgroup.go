package trainer

import (
	"context"
	"fmt"
	"io"
	"slices"

	"github.com/taskweave/taskweave/io/shards"
	"github.com/taskweave/taskweave/model/scoring"
)

// Dev evaluation of a group scores every task of it from one encoder pass
// per batch: the group's evaluation shards are read in step (as training
// reads them), and each pool of rows is scored by scoring.ScoreGroup, the
// scoring evaluate's pipeline runs for a group too.

// evalGroups scores every group with evaluation shards; the results are
// keyed by task name.
func (tr *Trainer) evalGroups(ctx context.Context) (map[string]scoring.Result, error) {
	out := map[string]scoring.Result{}
	for _, t := range tr.tasks {
		if len(t.members) == 0 || len(t.eval) == 0 {
			continue
		}
		group := []*taskData{t}
		for _, m := range t.members {
			if len(m.eval) > 0 {
				if err := sameShards(t.eval, m.eval); err != nil {
					return nil, fmt.Errorf("task %s labels the rows of task %s, but %w (evaluation split); preprocess the job again (taskweave preprocess --force)", m.name, t.name, err)
				}
				group = append(group, m)
			}
		}
		res, err := tr.evalGroup(ctx, group)
		if err != nil {
			return nil, err
		}
		for i, g := range group {
			out[g.name] = res[i]
		}
	}
	return out, nil
}

// evalGroup scores one group's tasks.
func (tr *Trainer) evalGroup(ctx context.Context, group []*taskData) ([]scoring.Result, error) {
	tasks := make([]scoring.Task, len(group))
	scs := make([]*scoring.Scorer, len(group))
	for i, t := range group {
		tasks[i] = scoringTask(t)
		var err error
		if scs[i], err = scoring.NewScorer(tasks[i]); err != nil {
			return nil, err
		}
	}
	pools := make([][]scoring.Example, len(group))
	flush := func() error {
		if err := ctx.Err(); err != nil {
			return err
		}
		err := tr.scoreGroup(tasks, pools, scs)
		for i := range pools {
			pools[i] = pools[i][:0]
		}
		return err
	}
	for p := range group[0].eval {
		if err := tr.readGroupShard(ctx, group, p, func(rows []*shards.Row) error {
			for i, r := range rows {
				pools[i] = append(pools[i], scoring.Example(*r))
			}
			if len(pools[0]) < evalPool {
				return nil
			}
			return flush()
		}); err != nil {
			return nil, err
		}
	}
	if err := flush(); err != nil {
		return nil, err
	}
	out := make([]scoring.Result, len(group))
	for i, sc := range scs {
		var err error
		if out[i], err = sc.Result(); err != nil {
			return nil, err
		}
	}
	return out, nil
}

// scoreGroup scores one pool of each task of a group: scoring.ScoreGroup,
// one encoder pass per batch for every task, the batches Score forms.
func (tr *Trainer) scoreGroup(tasks []scoring.Task, pools [][]scoring.Example, scs []*scoring.Scorer) error {
	return scoring.ScoreGroup(tr.m, tasks, pools, scoring.Options{BatchSize: evalBatch}, func(i, _ int, p scoring.Prediction) error {
		if err := scs[i].Add(p); err != nil {
			return fmt.Errorf("evaluating %s: %w", tasks[i].Name, err)
		}
		return nil
	})
}

// readGroupShard reads shard p of every task of a group in step and calls
// fn with each row's copies, after the checks readEvalShard applies and a
// check that they are the same example.
func (tr *Trainer) readGroupShard(ctx context.Context, group []*taskData, p int, fn func([]*shards.Row) error) error {
	rds := make([]*shardReader, len(group))
	for i, t := range group {
		rd, err := openShard(ctx, t.eval[p])
		if err != nil {
			return err
		}
		defer rd.close()
		rds[i] = rd
	}
	rows := make([]*shards.Row, len(group))
	for {
		for i, rd := range rds {
			r, err := rd.next()
			if err == io.EOF && i == 0 {
				return tr.checkEnded(rds[1:])
			}
			if err == io.EOF {
				return fmt.Errorf("shard %s ends before %s; preprocess the job again (taskweave preprocess --force)", rd.path, rds[0].path)
			}
			if err != nil {
				return err
			}
			if err := tr.checkEvalRow(group[i], rd, r); err != nil {
				return err
			}
			if i > 0 && (r.ExampleID != rows[0].ExampleID || !slices.Equal(r.InputIDs, rows[0].InputIDs)) {
				return fmt.Errorf("shard %s row %d is example %s, but row %d of %s is %s or other word pieces: the group's evaluation shards were not written from the same rows; preprocess the job again",
					rd.path, rd.row-1, r.ExampleID, rds[0].row-1, rds[0].path, rows[0].ExampleID)
			}
			c := *r // the reader reuses its buffer
			rows[i] = &c
		}
		if err := fn(rows); err != nil {
			return err
		}
	}
}

// checkEnded reports a group task's shard with rows left over.
func (tr *Trainer) checkEnded(rds []*shardReader) error {
	for _, rd := range rds {
		if _, err := rd.next(); err == nil {
			return fmt.Errorf("shard %s has more rows than its group's first task's; preprocess the job again (taskweave preprocess --force)", rd.path)
		}
	}
	return nil
}

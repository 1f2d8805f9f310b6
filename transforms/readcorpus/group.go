package readcorpus

import (
	"context"
	"fmt"
	"io"
	"strings"

	"github.com/taskweave/taskweave/io/corpus"
)

// A group's file (tasks with input_from: CoNLL-2003's NER, POS and chunk
// columns) is read once for all of its tasks. One pass over the bytes
// feeds one corpus.Reader per task (each reads its own label column with
// its own checks) through a tee, and the readers are pulled in step, one
// record each, so every task sees the same records in the same order. A
// record that any task's reader rejects is rejected for the whole group:
// the group's shards must hold the same rows, and its other tasks keep a
// rejection that names the task and the reason, so nothing is dropped
// silently.

// Tasks lists the tasks that read src: its task, then its group's others.
func (s Source) Tasks() []string { return append([]string{s.Task}, s.Members...) }

// GroupVisitor receives what StreamGroup reads, position by position: one
// record per task (in Source.Tasks order), or one rejection per task.
type GroupVisitor struct {
	Records func([]corpus.Record) error
	Reject  func([]corpus.Rejection) error
	Count   bool
}

// StreamGroup reads src once for every task of its group (tasks in
// Source.Tasks order) and checks the file as a whole for each task at its
// end. A test-split file without a label column is an error here (a
// group is its label columns; Stream reads such files as unlabeled).
func StreamGroup(ctx context.Context, src Source, tasks []Task, v GroupVisitor) error {
	names := src.Tasks()
	if len(tasks) != len(names) {
		return fmt.Errorf("readcorpus: %d read settings for the %d tasks of %s's group (pipeline construction bug)", len(tasks), len(names), src.Task)
	}
	r, err := open(ctx, src, tasks[0])
	if err != nil {
		return err
	}
	defer r.Close()
	t := &tee{src: r, pos: make([]int64, len(tasks))}
	rds := make([]*corpus.Reader, len(tasks))
	for i := range tasks {
		rds[i] = corpus.NewReader(teeReader{t, i}, src.Path, tasks[i].Options)
	}
	g := groupRead{src: src, names: names, rds: rds, rejected: make([]int, len(tasks)), first: make([][]corpus.Rejection, len(tasks))}
	for {
		done, err := g.next(v)
		if err != nil {
			return err
		}
		if done {
			break
		}
	}
	return g.check(ctx, tasks, v.Count)
}

// groupRead is one StreamGroup in progress.
type groupRead struct {
	src       Source
	names     []string
	rds       []*corpus.Reader
	records   int
	rejected  []int                // per task: its own rejections and the group's
	first     [][]corpus.Rejection // per task: the first few, for the limit's message
	recs      []corpus.Record
	rejs      []*corpus.Rejection
	positions int
}

// next reads one position of every reader and hands it to v; done at the
// end of the file.
func (g *groupRead) next(v GroupVisitor) (done bool, err error) {
	g.recs, g.rejs = g.recs[:0], g.rejs[:0]
	ended := 0
	for i, rd := range g.rds {
		rec, rej, err := rd.Next()
		if err == io.EOF {
			ended++
			continue
		}
		if err != nil {
			return false, fmt.Errorf("task %s, split %s: %w", g.names[i], g.src.Split, err)
		}
		g.recs, g.rejs = append(g.recs, rec), append(g.rejs, rej)
	}
	switch {
	case ended == len(g.rds):
		return true, nil
	case ended > 0:
		return false, fmt.Errorf("%s: the readers of task %s's group end at different records (after %d); the tasks must read the same records of the file: check the format and columns of %s",
			g.src.Path, g.src.Task, g.positions, strings.Join(g.names, ", "))
	}
	g.positions++
	if v.Count {
		recordsRead.Add(1)
	}
	if rejs := g.groupRejection(); rejs != nil {
		return false, v.Reject(rejs)
	}
	for i := range g.recs[1:] {
		if g.recs[i+1].ID != g.recs[0].ID {
			return false, fmt.Errorf("%s: task %s reads record %s where task %s reads %s; the tasks of a group must read the same records (check their columns)",
				g.src.Path, g.names[i+1], g.recs[i+1].ID, g.names[0], g.recs[0].ID)
		}
	}
	g.records++
	return false, v.Records(g.recs)
}

// groupRejection is nil when every task's reader gave a record; otherwise
// one rejection per task: its own, or one naming the task that rejected it.
func (g *groupRead) groupRejection() []corpus.Rejection {
	by := -1
	for i, rej := range g.rejs {
		if rej != nil {
			by = i
			break
		}
	}
	if by < 0 {
		return nil
	}
	out := make([]corpus.Rejection, len(g.rejs))
	for i, rej := range g.rejs {
		if rej == nil {
			own := *g.rejs[by]
			rej = &own
			rej.Reason = GroupReason(g.names[by], own.Reason)
		}
		out[i] = *rej
		g.rejected[i]++
		if len(g.first[i]) < maxListed {
			g.first[i] = append(g.first[i], *rej)
		}
	}
	return out
}

// GroupReason is the reason a group's task gives for a record another task
// of the group rejected.
func GroupReason(task, reason string) string {
	return fmt.Sprintf("rejected with task %s, which reads the same record (a group's shards hold the same rows): %s", task, reason)
}

// check applies the whole-file rules of Stream to each task of the group.
func (g *groupRead) check(ctx context.Context, tasks []Task, count bool) error {
	for i, rd := range g.rds {
		if err := rd.CheckNotEmpty(); err != nil {
			return fmt.Errorf("task %s, split %s: %w", g.names[i], g.src.Split, err)
		}
	}
	if count {
		recordsCounter.Inc(ctx, int64(g.records))
		rejectedCounter.Inc(ctx, int64(g.positions-g.records))
	}
	for i, t := range tasks {
		src := g.src
		src.Task = g.names[i]
		if err := checkShare(src, t, g.rejected[i], g.positions, g.first[i]); err != nil {
			return err
		}
	}
	return nil
}

// tee hands the bytes of one file to several readers, each at its own
// position: it keeps the bytes from the slowest reader's position to the
// end of what was read, and reads on when a reader needs more. Its readers
// are pulled in turn by one goroutine, one record each, so they are never
// more than a record and a read buffer apart: memory stays flat whatever
// the file's size.
type tee struct {
	src  io.Reader
	buf  []byte
	base int64   // file offset of buf[0]
	pos  []int64 // each reader's file offset
	err  error
}

// teeChunk is how much the tee reads from the file at a time.
const teeChunk = 64 << 10

type teeReader struct {
	t *tee
	i int
}

func (r teeReader) Read(p []byte) (int, error) {
	t := r.t
	for t.pos[r.i]-t.base == int64(len(t.buf)) {
		if t.err != nil {
			return 0, t.err
		}
		t.fill()
	}
	n := copy(p, t.buf[t.pos[r.i]-t.base:])
	t.pos[r.i] += int64(n)
	return n, nil
}

// fill drops the bytes every reader has passed and reads the next chunk.
func (t *tee) fill() {
	low := t.pos[0]
	for _, p := range t.pos[1:] {
		low = min(low, p)
	}
	n := copy(t.buf, t.buf[low-t.base:])
	t.buf, t.base = t.buf[:n], low
	if cap(t.buf)-len(t.buf) < teeChunk {
		t.buf = append(t.buf, make([]byte, teeChunk)...)[:n]
	}
	m, err := t.src.Read(t.buf[n:cap(t.buf)])
	t.buf = t.buf[:n+m]
	if err != nil {
		t.err = err
	}
}

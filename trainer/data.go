package trainer

import (
	"context"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"slices"
	"sort"

	"github.com/taskweave/taskweave/io/manifest"
	"github.com/taskweave/taskweave/io/shards"
	"github.com/taskweave/taskweave/io/storage"
	"github.com/taskweave/taskweave/model"
)

func readManifest(ctx context.Context, dir string) (*manifest.Manifest, string, error) {
	p := manifest.Path(dir)
	m, err := manifest.Read(ctx, p)
	if err != nil {
		return nil, p, fmt.Errorf("reading the preprocessed data's manifest: %w (run `taskweave preprocess` first, or point --data at its output)", err)
	}
	return m, p, nil
}

// example is one training example, unpadded.
type example struct {
	ids, types []int32
	label      int32
	target     float32
	tokLabels  []int32
	more       []example // the group's other tasks' labels for the same row (groups.go)
}

// shardReader streams one Parquet shard row by row through storage.OpenAt:
// parquet-go reads pages through ReaderAt, in place locally and as ranged
// requests on gs://, so memory does not grow with the shard's size.
type shardReader struct {
	path   string
	closer io.Closer
	r      *shards.Reader
	buf    []shards.Row
	n, i   int
	row    int64
}

func openShard(ctx context.Context, p string) (*shardReader, error) {
	ra, err := storage.OpenAt(ctx, p)
	if err != nil {
		return nil, fmt.Errorf("shard %s: %w", p, err)
	}
	r, err := shards.OpenReader(ra, ra.Size())
	if err != nil {
		ra.Close()
		return nil, fmt.Errorf("shard %s is corrupt or truncated: %w (re-run preprocessing to rewrite it)", p, err)
	}
	return &shardReader{path: p, closer: ra, r: r, buf: make([]shards.Row, 64)}, nil
}

// next returns the next row, or io.EOF after the last.
func (s *shardReader) next() (*shards.Row, error) {
	if s.i >= s.n {
		var n int
		var err error
		func() {
			// parquet-go can panic on some malformed pages; a bad shard must
			// become an error naming the file, not a crash.
			defer func() {
				if r := recover(); r != nil {
					err = fmt.Errorf("%v", r)
				}
			}()
			n, err = s.r.Read(s.buf)
		}()
		if n == 0 {
			if err == nil || errors.Is(err, io.EOF) {
				return nil, io.EOF
			}
			return nil, fmt.Errorf("shard %s is corrupt or truncated near row %d: %w (re-run preprocessing to rewrite it)", s.path, s.row, err)
		}
		if err != nil && !errors.Is(err, io.EOF) {
			return nil, fmt.Errorf("shard %s is corrupt or truncated near row %d: %w (re-run preprocessing to rewrite it)", s.path, s.row+int64(n), err)
		}
		s.n, s.i = n, 0
	}
	r := &s.buf[s.i]
	s.i++
	s.row++
	return r, nil
}

func (s *shardReader) close() {
	s.r.Close()
	s.closer.Close()
}

// toExample copies a row out of the reader's buffer and checks it against
// the task and the model.
func toExample(r *shards.Row, t *taskData, file string, row int64, maxLen, vocab int) (example, error) {
	bad := func(format string, a ...any) (example, error) {
		return example{}, fmt.Errorf("shard %s row %d (example %s): %s", file, row, r.ExampleID, fmt.Sprintf(format, a...))
	}
	if r.Task != t.name && !slices.Contains(t.sources, r.Task) {
		return bad("task %q, but the manifest lists this shard under task %q", r.Task, t.name)
	}
	n := len(r.InputIDs)
	if n == 0 || n > maxLen {
		return bad("%d tokens; the model takes 1..%d (re-run preprocessing with max_seq_len <= %d)", n, maxLen, maxLen)
	}
	for _, id := range r.InputIDs {
		if id < 0 || int(id) >= vocab {
			return bad("token id %d outside the vocabulary of %d", id, vocab)
		}
	}
	e := example{ids: append([]int32(nil), r.InputIDs...), label: r.Label, target: r.Target}
	if len(r.TokenTypeIDs) == n {
		e.types = append([]int32(nil), r.TokenTypeIDs...)
	}
	switch t.kind {
	case model.SequenceClassification:
		if r.Label < 0 || int(r.Label) >= t.numLabels {
			return bad("label %d outside 0..%d", r.Label, t.numLabels-1)
		}
	case model.TokenClassification:
		if len(r.TokenLabels) != n {
			return bad("%d token labels for %d tokens", len(r.TokenLabels), n)
		}
		for _, l := range r.TokenLabels {
			if l != model.IgnoreIndex && (l < 0 || int(l) >= t.numLabels) {
				return bad("token label %d outside 0..%d", l, t.numLabels-1)
			}
		}
		e.tokLabels = append([]int32(nil), r.TokenLabels...)
	}
	return e, nil
}

// batchConfig shapes batches.
type batchConfig struct {
	examples int // examples per batch (when tokens == 0)
	tokens   int // padded tokens per batch, if > 0
	padTo    int // pad every batch to this length (0 = dynamic padding)
	pool     int // batches per length-bucketing pool
	shuffle  int // shuffle buffer, in examples
	maxLen   int
	vocab    int
}

// stream is one task's endless, deterministic sequence of training batches:
// shards visited in a seeded order each epoch, rows through a bounded
// shuffle buffer, then pools of rows sorted by length and cut into batches
// (length bucketing keeps padding low) whose order is shuffled again. Every
// random choice comes from one generator seeded by (seed, task), so the
// sequence is a pure function of the seed: resuming replays it up to the
// saved batch count without running the model.
type stream struct {
	ctx    context.Context
	t      *taskData
	cfg    batchConfig
	seed   uint64 // the run's seed
	hash   uint64 // of the task's name
	rng    *rand.Rand
	order  []int
	next   int // index into order
	epoch  int
	rd     *shardReader
	buf    []example
	queue  []*model.Batch
	drawn  int64
	closed bool
	// keep, when set, selects the rows of the stream by example id (the
	// held-out slice of auto_lambda, or the rest); kept counts the rows
	// of the current epoch it let through.
	keep func(id string) bool
	kept int
	// a group's stream (groups.go): its other tasks' shard readers, read
	// in step with rd, and their batches, queued beside queue.
	mrd    []*shardReader
	mqueue [][]*model.Batch
	group  []*model.Batch // the last Next's batches of the whole group
}

func newStream(ctx context.Context, t *taskData, cfg batchConfig, seed uint64) *stream {
	h := uint64(14695981039346656037)
	for _, c := range []byte(t.name) {
		h = (h ^ uint64(c)) * 1099511628211
	}
	return &stream{ctx: ctx, t: t, cfg: cfg, seed: seed, hash: h, rng: rand.New(rand.NewPCG(seed, h))}
}

// maskSalt separates the masking generators from the stream's own.
const maskSalt = 0x6d61736b65644c4d

// maskRNG is the generator that masks batch number n of the stream: a pure
// function of (seed, task, n), so masks are new every epoch and a resumed
// run, replaying its batches, draws the same ones.
func (s *stream) maskRNG(n int64) *rand.Rand {
	return rand.New(rand.NewPCG(s.seed^maskSalt, s.hash^uint64(n)*0x9e3779b97f4a7c15))
}

// raw returns the next row of the endless epoch sequence.
func (s *stream) raw() (example, error) {
	for {
		if s.rd == nil {
			if s.next >= len(s.order) {
				if s.order != nil {
					if s.keep != nil && s.kept == 0 {
						return example{}, fmt.Errorf("task %s: a whole epoch of its train shards has no row in this slice (train.strategy.holdout holds back too few or too many rows of a small split)", s.t.name)
					}
					s.epoch++
					s.kept = 0
				}
				s.order = s.rng.Perm(len(s.t.train))
				s.next = 0
			}
			rd, err := openShard(s.ctx, s.t.train[s.order[s.next]])
			if err != nil {
				return example{}, err
			}
			if err := s.openMembers(s.order[s.next]); err != nil {
				rd.close()
				return example{}, err
			}
			s.next++
			s.rd = rd
		}
		r, err := s.rd.next()
		if err == io.EOF {
			s.rd.close()
			s.rd = nil
			if err := s.closeMembers(); err != nil {
				return example{}, err
			}
			continue
		}
		if err != nil {
			return example{}, err
		}
		more, err := s.memberRows(r) // in step with rd, kept or not
		if err != nil {
			return example{}, err
		}
		if s.keep != nil && !s.keep(r.ExampleID) {
			continue
		}
		s.kept++
		e, err := toExample(r, s.t, s.rd.path, s.rd.row-1, s.cfg.maxLen, s.cfg.vocab)
		e.more = more
		return e, err
	}
}

// shuffled returns the next row through the shuffle buffer.
func (s *stream) shuffled() (example, error) {
	for len(s.buf) < s.cfg.shuffle {
		e, err := s.raw()
		if err != nil {
			return example{}, err
		}
		s.buf = append(s.buf, e)
	}
	j := s.rng.IntN(len(s.buf))
	out := s.buf[j]
	e, err := s.raw()
	if err != nil {
		return example{}, err
	}
	s.buf[j] = e
	return out, nil
}

// Next returns the next batch.
func (s *stream) Next() (*model.Batch, error) {
	if len(s.queue) == 0 {
		if err := s.fill(); err != nil {
			return nil, err
		}
	}
	b := s.queue[0]
	s.queue = s.queue[1:]
	if s.mqueue != nil {
		s.group = append(s.group[:0], b)
		s.group = append(s.group, s.mqueue[0]...)
		s.mqueue = s.mqueue[1:]
	}
	if s.t.masker != nil {
		s.t.masker.Batch(b, s.maskRNG(s.drawn))
	}
	s.drawn++
	return b, nil
}

func (s *stream) fill() error {
	var pool []example
	if s.cfg.tokens > 0 {
		tok := 0
		for tok < s.cfg.pool*s.cfg.tokens {
			e, err := s.shuffled()
			if err != nil {
				return err
			}
			pool = append(pool, e)
			tok += len(e.ids)
		}
	} else {
		for len(pool) < s.cfg.pool*s.cfg.examples {
			e, err := s.shuffled()
			if err != nil {
				return err
			}
			pool = append(pool, e)
		}
	}
	if len(s.t.members) > 0 {
		s.queue, s.mqueue = makeGroupBatches(s.t, pool, s.cfg)
	} else {
		s.queue = makeBatches(s.t, pool, s.cfg)
	}
	s.rng.Shuffle(len(s.queue), func(i, j int) {
		s.queue[i], s.queue[j] = s.queue[j], s.queue[i]
		if s.mqueue != nil {
			s.mqueue[i], s.mqueue[j] = s.mqueue[j], s.mqueue[i]
		}
	})
	return nil
}

// makeBatches sorts examples by length and cuts them into batches.
func makeBatches(t *taskData, pool []example, cfg batchConfig) []*model.Batch {
	var out []*model.Batch
	cutPool(pool, cfg, func(ex []example) { out = append(out, pad(t, ex, cfg)) })
	return out
}

// cutPool sorts examples by length and hands them to batch a batch's worth
// at a time.
func cutPool(pool []example, cfg batchConfig, batch func([]example)) {
	sort.SliceStable(pool, func(i, j int) bool { return len(pool[i].ids) < len(pool[j].ids) })
	for lo := 0; lo < len(pool); {
		hi := lo + 1
		if cfg.tokens > 0 {
			for hi < len(pool) && (hi+1-lo)*padLen(len(pool[hi].ids), cfg) <= cfg.tokens {
				hi++
			}
		} else {
			hi = min(lo+cfg.examples, len(pool))
		}
		batch(pool[lo:hi])
		lo = hi
	}
}

func padLen(n int, cfg batchConfig) int {
	if cfg.padTo > n {
		return cfg.padTo
	}
	return n
}

// pad builds a right-padded batch: pad id 0, mask 0, labels -100.
func pad(t *taskData, ex []example, cfg batchConfig) *model.Batch {
	T := 0
	for _, e := range ex {
		T = max(T, len(e.ids))
	}
	T = padLen(T, cfg)
	B := len(ex)
	b := &model.Batch{Task: t.name, B: B, T: T,
		InputIDs: make([]int32, B*T), TokenTypeIDs: make([]int32, B*T), Mask: make([]int32, B*T)}
	switch t.kind {
	case model.SequenceClassification:
		b.Labels = make([]int32, B)
	case model.SequenceRegression:
		b.Targets = make([]float32, B)
	case model.TokenClassification:
		b.TokenLabels = make([]int32, B*T)
		for i := range b.TokenLabels {
			b.TokenLabels[i] = model.IgnoreIndex
		}
	}
	for i, e := range ex {
		copy(b.InputIDs[i*T:], e.ids)
		copy(b.TokenTypeIDs[i*T:], e.types)
		for j := range e.ids {
			b.Mask[i*T+j] = 1
		}
		switch t.kind {
		case model.SequenceClassification:
			b.Labels[i] = e.label
		case model.SequenceRegression:
			b.Targets[i] = e.target
		case model.TokenClassification:
			copy(b.TokenLabels[i*T:], e.tokLabels)
		}
	}
	return b
}

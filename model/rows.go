package model

// rowSet records which rows of a parameter may hold a nonzero gradient
// since the last ZeroGrad: the rows of the word embeddings that the
// batches since then looked up. ZeroGrad then clears only those rows, and a
// lazy AdamW (AdamWConfig.LazyRows) updates only those rows.
//
// The invariant: every row outside the set has an all-zero gradient.
// Backward keeps it (the embedding lookup marks its ids, the tied masked-LM
// decoder marks every row); code that writes G itself calls
// Param.MarkNonzeroRows.
type rowSet struct {
	width int
	all   bool
	mark  []bool
	list  []int32

	// read, when set (by a lazy AdamW), brings the given rows (nil: all)
	// up to date before the forward pass reads them.
	read func(rows []int32)
}

// prepare makes the rows a forward pass is about to read current.
func (s *rowSet) prepare(rows []int32) {
	if s != nil && s.read != nil {
		s.read(rows)
	}
}

func newRowSet(rows, width int) *rowSet { return &rowSet{width: width, mark: make([]bool, rows)} }

func (s *rowSet) add(r int32) {
	if !s.mark[r] {
		s.mark[r] = true
		s.list = append(s.list, r)
	}
}

func (s *rowSet) addAll() { s.all = true }

func (s *rowSet) reset() {
	for _, r := range s.list {
		s.mark[r] = false
	}
	s.list, s.all = s.list[:0], false
}

// clearGrad zeroes the rows of g in the set (all of g when every row is).
func (s *rowSet) clearGrad(g []float32) {
	if s.all || 2*len(s.list) > len(s.mark) {
		clear(g)
		return
	}
	for _, r := range s.list {
		clear(g[int(r)*s.width : (int(r)+1)*s.width])
	}
}

// MarkNonzeroRows adds to p's row set every row whose gradient is not all
// zero. Code that writes p.G other than through Backward (the all-tasks
// stepper's scatter of a combined gradient) calls it; for parameters
// without a row set it does nothing.
func (p *Param) MarkNonzeroRows() {
	s := p.rows
	if s == nil || s.all {
		return
	}
	for r := range s.mark {
		for _, g := range p.G[r*s.width : (r+1)*s.width] {
			if g != 0 {
				s.add(int32(r))
				break
			}
		}
	}
}

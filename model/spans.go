package model

import "github.com/taskweave/taskweave/model/kernels"

// spanLen is the length of the pieces that the optimizer's passes hand to
// the cores: 64K floats (256 KiB), large enough that a piece costs far more
// than handing it out, small enough that biases and LayerNorm vectors do not
// leave one core idle behind the word embeddings. A multiple of 16, so that
// every piece but a parameter's last runs entirely in the kernels' vector body.
const spanLen = 1 << 16

// span is the range [lo,hi) of parameter p.
type span struct{ p, lo, hi int }

// spans cuts a list of parameters into pieces of at most spanLen.
type spans []span

func newSpans(params []*Param) spans {
	var s spans
	for i, p := range params {
		for lo := 0; lo < len(p.W) || lo < len(p.G); lo += spanLen {
			s = append(s, span{i, lo, min(lo+spanLen, max(len(p.W), len(p.G)))})
		}
	}
	return s
}

func (s spans) run(fn func(span)) { s.runIndexed(func(_ int, sp span) { fn(sp) }) }

// runIndexed calls fn(i, s[i]) for every span, one goroutine per core taking
// the next span as it finishes one.
func (s spans) runIndexed(fn func(int, span)) {
	kernels.ParallelWorkers(len(s), func(_, i int) { fn(i, s[i]) })
}

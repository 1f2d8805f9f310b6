package trainer

import "github.com/taskweave/taskweave/model"

// paramGroup is a set of parameters whose gradients the multi-task
// strategies see as one flat vector: the shared encoder, its last shared
// layer, one task's head.
type paramGroup struct {
	params []*model.Param
	size   int
}

func newParamGroup(ps []*model.Param) paramGroup {
	n := 0
	for _, p := range ps {
		n += len(p.G)
	}
	return paramGroup{params: ps, size: n}
}

// gather copies the group's gradients into dst (len size).
func (g paramGroup) gather(dst []float32) {
	o := 0
	for _, p := range g.params {
		o += copy(dst[o:], p.G)
	}
}

// scatter sets the group's gradients to scale·src, and tells the word
// embeddings which of their rows now hold a gradient (a combined gradient
// may reach rows the last task's batch did not use).
func (g paramGroup) scatter(src []float32, scale float32) {
	o := 0
	for _, p := range g.params {
		for i := range p.G {
			p.G[i] = scale * src[o+i]
		}
		p.MarkNonzeroRows()
		o += len(p.G)
	}
}

// weights copies the group's weights into dst (grown to size) and returns it.
func (g paramGroup) weights(dst []float32) []float32 {
	if len(dst) != g.size {
		dst = make([]float32, g.size)
	}
	o := 0
	for _, p := range g.params {
		o += copy(dst[o:], p.W)
	}
	return dst
}

// setWeights sets the group's weights to base + scale·dir (dir nil: base).
func (g paramGroup) setWeights(base, dir []float32, scale float32) {
	o := 0
	for _, p := range g.params {
		if dir == nil {
			copy(p.W, base[o:o+len(p.W)])
		} else {
			for i := range p.W {
				p.W[i] = base[o+i] + scale*dir[o+i]
			}
		}
		o += len(p.W)
	}
}

// collect gathers the group's gradients into dst, or adds them to it.
func (g paramGroup) collect(dst []float32, add bool) {
	if !add {
		g.gather(dst)
		return
	}
	o := 0
	for _, p := range g.params {
		for i, v := range p.G {
			dst[o+i] += v
		}
		o += len(p.G)
	}
}

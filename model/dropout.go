package model

import (
	"github.com/taskweave/taskweave/internal/rng"

	"github.com/taskweave/taskweave/model/kernels"
)

// Dropout masks come from a counter-based generator: element i of the k-th
// mask drawn since Seed is a pure function of (seed, k, i). Masks are thus
// the same whatever the goroutine split, and resuming needs only (seed, k).

// dropoutMask fills mask with 0 (dropped, probability p) or 1/(1-p) (kept)
// and advances the stream by one mask.
func (m *Model) dropoutMask(mask []float32, p float64) {
	key := m.nextKey()
	threshold := uint64(p * (1 << 32))
	keep := float32(1 / (1 - p))
	kernels.ParallelFor(len(mask), 1<<15, func(lo, hi int) {
		kernels.DropoutMask(mask[lo:hi], uint64(lo), key, threshold, keep)
	})
}

// nextKey advances the stream by one draw and returns that draw's key.
func (m *Model) nextKey() uint64 {
	key := rng.Mix(m.rng.Seed ^ rng.Mix(m.rng.Counter+0x632be59bd9b4e019))
	m.rng.Counter++
	return key
}

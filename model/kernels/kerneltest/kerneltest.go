// Package kerneltest holds the helpers that the kernels' conformance suite
// and the model's tests above it share.
package kerneltest

import (
	"math"
	"math/rand/v2"
)

// RandVec returns n values drawn uniformly from [−scale, scale).
func RandVec(r *rand.Rand, n int, scale float64) []float32 {
	v := make([]float32, n)
	for i := range v {
		v[i] = float32((r.Float64()*2 - 1) * scale)
	}
	return v
}

// CloseTo reports whether got is within abs + rel·|want| of want.
func CloseTo(got float32, want, abs, rel float64) bool {
	return math.Abs(float64(got)-want) <= abs+rel*math.Abs(want)
}

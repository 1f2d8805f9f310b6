package model

import (
	"math"
	"math/rand/v2"
)

func randVec(r *rand.Rand, n int, scale float64) []float32 {
	v := make([]float32, n)
	for i := range v {
		v[i] = float32((r.Float64()*2 - 1) * scale)
	}
	return v
}

// closeTo reports whether got is within abs + rel·|want| of want.
func closeTo(got float32, want, abs, rel float64) bool {
	return math.Abs(float64(got)-want) <= abs+rel*math.Abs(want)
}

// sinkF keeps benchmark results alive so that the compiler cannot drop the work.
var sinkF float32

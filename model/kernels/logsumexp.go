package kernels

import "math"

// LogSumExp is log Σ exp(x), in float64 with the maximum subtracted first so
// large logits do not overflow: softmax's log-normaliser, which the
// cross-entropy losses (training and scoring) read as −log softmax(x)[y] =
// LogSumExp(x) − x[y]. Losses are reported, not trained through, so it is
// written once, in Go, for every build.
func LogSumExp(x []float32) float64 {
	mx := math.Inf(-1)
	for _, v := range x {
		mx = math.Max(mx, float64(v))
	}
	var sum float64
	for _, v := range x {
		sum += math.Exp(float64(v) - mx)
	}
	return mx + math.Log(sum)
}

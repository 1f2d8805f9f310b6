//go:build !openblas

package model

const cKernels = false

func geluRange(x, y []float32) {
	for i, v := range x {
		c, p := phiAndPdf(v)
		y[i] = v * c
		x[i] = c + v*p
	}
}

// softmaxPrefix applies softmax to every row of s[rows,T] over the first
// visible columns and zeroes the others.
func softmaxPrefix(s []float32, T, visible int) {
	for r := 0; r+T <= len(s); r += T {
		row := s[r : r+T]
		mx := row[0]
		for _, v := range row[:visible] {
			mx = max(mx, v)
		}
		var sum float32
		for j, v := range row[:visible] {
			e := expf(v - mx)
			row[j] = e
			sum += e
		}
		inv := 1 / sum
		for j := range row[:visible] {
			row[j] *= inv
		}
		clear(row[visible:])
	}
}

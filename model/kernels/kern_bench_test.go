package kernels

import (
	"math"
	"testing"
)

var sinkF float32

func BenchmarkKernelPhi(b *testing.B) {
	var s float32
	for i := 0; i < b.N; i++ {
		c, p := PhiAndPdf(float32(i%1000)*0.01 - 5)
		s += c + p
	}
	sinkF = s
}

func BenchmarkKernelErf64(b *testing.B) {
	var s float64
	for i := 0; i < b.N; i++ {
		v := float64(i%1000)*0.01 - 5
		s += math.Erf(v) + math.Exp(-v*v)
	}
	sinkF = float32(s)
}

func BenchmarkKernelExpf(b *testing.B) {
	var s float32
	for i := 0; i < b.N; i++ {
		s += Expf(float32(i%1000)*0.01 - 5)
	}
	sinkF = s
}

package kernels

import "math"

// Float32 versions of exp and the Gaussian CDF. math.Exp and math.Erf work in
// float64 with care for every edge case; the softmax and GELU passes call
// these millions of times per step and need float32 accuracy only.

const (
	log2e = 1.44269504088896341
	// ln 2 split in two so that k·ln2Hi is exact in float32 (Cody & Waite).
	ln2Hi = 0.693359375
	ln2Lo = -2.12194440e-4

	invSqrt2   = 0.70710678118654752440 // 1/√2
	invSqrt2Pi = 0.39894228040143267794 // 1/√(2π)
)

// Expf returns e^x to about one float32 ulp: x = k·ln2 + r with |r| ≤ ln2/2,
// e^r by its Taylor series to degree 7, 2^k by building the exponent bits.
func Expf(x float32) float32 {
	if x < -87 || x > 88 {
		if x < -104 {
			return 0
		}
		return float32(math.Exp(float64(x)))
	}
	kf := x*log2e + 0.5
	k := int32(kf)
	if kf < 0 && float32(k) != kf {
		k-- // floor
	}
	r := x - float32(k)*ln2Hi - float32(k)*ln2Lo
	p := 1 + r*(1+r*(1.0/2+r*(1.0/6+r*(1.0/24+r*(1.0/120+r*(1.0/720+r*(1.0/5040)))))))
	return p * math.Float32frombits(uint32(k+127)<<23)
}

// PhiAndPdf returns the standard normal CDF Φ(v) and density φ(v).
// erf uses Abramowitz & Stegun 7.1.26 (absolute error below 1.5e-7), whose
// exponential factor e^{-v²/2} is also the density's, so one Expf serves both.
func PhiAndPdf(v float32) (cdf, pdf float32) {
	const (
		p  = 0.3275911
		a1 = 0.254829592
		a2 = -0.284496736
		a3 = 1.421413741
		a4 = -1.453152027
		a5 = 1.061405429
	)
	z := v * invSqrt2
	az := z
	if az < 0 {
		az = -az
	}
	e := Expf(-z * z)
	t := 1 / (1 + p*az)
	y := 1 - t*(a1+t*(a2+t*(a3+t*(a4+t*a5))))*e // erf(|z|)
	if z < 0 {
		y = -y
	}
	return 0.5 * (1 + y), e * invSqrt2Pi
}

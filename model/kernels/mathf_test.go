package kernels

import (
	"math"
	"testing"
)

func TestExpf(t *testing.T) {
	worst := 0.0
	for x := -110.0; x < 88.5; x += 0.0137 {
		got, want := float64(Expf(float32(x))), math.Exp(float64(float32(x)))
		rel := math.Abs(got-want) / math.Max(want, 1e-38)
		if want < 1e-37 {
			rel = math.Abs(got - want)
		}
		worst = math.Max(worst, rel)
		if rel > 3e-7 {
			t.Fatalf("Expf(%g) = %g, want %g (rel %g)", x, got, want, rel)
		}
	}
	t.Logf("worst relative error %.3g", worst)
}

func TestPhiAndPdf(t *testing.T) {
	worstC, worstP := 0.0, 0.0
	for v := -12.0; v < 12; v += 0.00731 {
		c, p := PhiAndPdf(float32(v))
		vv := float64(float32(v))
		wc := 0.5 * (1 + math.Erf(vv/math.Sqrt2))
		wp := math.Exp(-vv*vv/2) / math.Sqrt(2*math.Pi)
		worstC = math.Max(worstC, math.Abs(float64(c)-wc))
		worstP = math.Max(worstP, math.Abs(float64(p)-wp)/math.Max(wp, 1e-30))
		// float32 rounding of v²/2 alone moves φ by about v²·6e-8 relative.
		if math.Abs(float64(c)-wc) > 5e-7 || (wp > 1e-30 && math.Abs(float64(p)-wp) > (1e-6+vv*vv*1e-7)*wp) {
			t.Fatalf("Φ(%g) = %g, φ = %g; want %g, %g", v, c, p, wc, wp)
		}
	}
	t.Logf("worst |ΔΦ| %.3g, worst relative Δφ %.3g", worstC, worstP)
}

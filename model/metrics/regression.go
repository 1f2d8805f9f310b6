package metrics

import (
	"math"
	"sort"
)

// Regression keeps the (gold, predicted) pairs of a regression task. Spearman
// needs every value to rank them, so the accumulator is the pairs themselves;
// merging concatenates, and Result sorts, so the merge order does not matter.
type Regression struct {
	Gold []float64
	Pred []float64
}

// Add records one example.
func (r *Regression) Add(gold, pred float64) {
	r.Gold = append(r.Gold, gold)
	r.Pred = append(r.Pred, pred)
}

// Merge appends o's pairs to r.
func (r *Regression) Merge(o *Regression) {
	if o != nil {
		r.Gold = append(r.Gold, o.Gold...)
		r.Pred = append(r.Pred, o.Pred...)
	}
}

// RegressionResult holds the regression metrics. Correlations are 0 when a
// side is constant (undefined).
type RegressionResult struct {
	Total    int64   `json:"total"`
	Pearson  float64 `json:"pearson"`
	Spearman float64 `json:"spearman"`
	MSE      float64 `json:"mse"`
}

// Result computes Pearson, Spearman and the mean squared error.
func (r *Regression) Result() RegressionResult {
	res := RegressionResult{Total: int64(len(r.Gold))}
	if len(r.Gold) == 0 {
		return res
	}
	// Merge order changes the slice order, and float sums depend on order in
	// the last bits; sorting the pairs first makes the result order-free.
	g, p := sortedPairs(r.Gold, r.Pred)
	var se float64
	for i := range g {
		d := g[i] - p[i]
		se += d * d
	}
	res.MSE = se / float64(len(g))
	res.Pearson = Pearson(g, p)
	res.Spearman = Spearman(g, p)
	return res
}

func sortedPairs(a, b []float64) ([]float64, []float64) {
	idx := make([]int, len(a))
	for i := range idx {
		idx[i] = i
	}
	sort.Slice(idx, func(x, y int) bool {
		i, j := idx[x], idx[y]
		if a[i] != a[j] {
			return a[i] < a[j]
		}
		return b[i] < b[j]
	})
	sa, sb := make([]float64, len(a)), make([]float64, len(b))
	for k, i := range idx {
		sa[k], sb[k] = a[i], b[i]
	}
	return sa, sb
}

// Pearson is the sample correlation coefficient of x and y (two-pass, for
// accuracy); 0 if either is constant or the lengths differ.
func Pearson(x, y []float64) float64 {
	n := len(x)
	if n == 0 || n != len(y) {
		return 0
	}
	var mx, my float64
	for i := range x {
		mx += x[i]
		my += y[i]
	}
	mx /= float64(n)
	my /= float64(n)
	var sxy, sxx, syy float64
	for i := range x {
		dx, dy := x[i]-mx, y[i]-my
		sxy += dx * dy
		sxx += dx * dx
		syy += dy * dy
	}
	if sxx == 0 || syy == 0 {
		return 0
	}
	return sxy / math.Sqrt(sxx*syy)
}

// Spearman is Pearson's correlation of the ranks, tied values sharing the
// average of the ranks they span.
func Spearman(x, y []float64) float64 {
	if len(x) != len(y) {
		return 0
	}
	return Pearson(Ranks(x), Ranks(y))
}

// Ranks returns 1-based ranks of v; ties get the mean of their ranks.
func Ranks(v []float64) []float64 {
	idx := make([]int, len(v))
	for i := range idx {
		idx[i] = i
	}
	sort.SliceStable(idx, func(a, b int) bool { return v[idx[a]] < v[idx[b]] })
	r := make([]float64, len(v))
	for i := 0; i < len(idx); {
		j := i
		for j+1 < len(idx) && v[idx[j+1]] == v[idx[i]] {
			j++
		}
		// positions i..j (0-based) hold equal values: ranks i+1..j+1.
		avg := float64(i+j)/2 + 1
		for k := i; k <= j; k++ {
			r[idx[k]] = avg
		}
		i = j + 1
	}
	return r
}

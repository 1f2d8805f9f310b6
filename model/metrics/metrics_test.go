package metrics

import (
	"encoding/json"
	"math"
	"reflect"
	"testing"
)

func near(a, b float64) bool { return math.Abs(a-b) < 1e-9 }

func TestConfusion(t *testing.T) {
	tests := []struct {
		name       string
		n          int
		gold, pred []int
		acc, macro float64
		mcc        float64
		perClassF1 []float64
	}{
		{
			// Confusion rows (gold) × columns (pred):
			//   g0: 2 1 0   g1: 0 1 1   g2: 1 0 3   → diagonal 6 of 9.
			// Per class P/R: c0 2/3,2/3  c1 1/2,1/2  c2 3/4,3/4.
			// Macro-F1 = (2/3+1/2+3/4)/3 = 23/36.
			// MCC: c=6 s=9 Σp·t=9+4+16=29 Σp²=Σt²=29 → (54-29)/√(52·52) = 25/52.
			name: "three classes", n: 3,
			gold: []int{0, 0, 0, 1, 1, 2, 2, 2, 2},
			pred: []int{0, 0, 1, 1, 2, 2, 2, 0, 2},
			acc:  6.0 / 9, macro: 23.0 / 36, mcc: 25.0 / 52,
			perClassF1: []float64{2.0 / 3, 0.5, 0.75},
		},
		{
			// Binary: TP=1 FN=1 TN=2 FP=0 → MCC = (1·2-0)/√(1·2·2·3) = 2/√12.
			// F1: class 1 P=1 R=1/2 → 2/3; class 0 P=2/3 R=1 → 4/5.
			name: "binary", n: 2,
			gold: []int{1, 1, 0, 0}, pred: []int{1, 0, 0, 0},
			acc: 0.75, macro: (2.0/3 + 0.8) / 2, mcc: 2 / math.Sqrt(12),
			perClassF1: []float64{0.8, 2.0 / 3},
		},
		{
			// A constant prediction: MCC undefined → 0; the never-predicted
			// class has precision 0 and F1 0; class 2 is absent from both
			// sides and left out of the macro average.
			name: "constant prediction", n: 3,
			gold: []int{0, 1, 1}, pred: []int{1, 1, 1},
			acc: 2.0 / 3, macro: (0 + 0.8) / 2, mcc: 0,
			perClassF1: []float64{0, 0.8, 0},
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			c := NewConfusion(tc.n)
			for i := range tc.gold {
				if err := c.Add(tc.gold[i], tc.pred[i]); err != nil {
					t.Fatal(err)
				}
			}
			r := c.Result()
			if !near(r.Accuracy, tc.acc) || !near(r.MacroF1, tc.macro) || !near(r.MCC, tc.mcc) {
				t.Errorf("acc %v macro %v mcc %v; want %v %v %v", r.Accuracy, r.MacroF1, r.MCC, tc.acc, tc.macro, tc.mcc)
			}
			for k, f := range tc.perClassF1 {
				if !near(r.PerClass[k].F1, f) {
					t.Errorf("class %d F1 %v, want %v", k, r.PerClass[k].F1, f)
				}
			}
			// Split in two, merge, and through JSON (as a Beam accumulator
			// travels): same result.
			a, b := NewConfusion(tc.n), NewConfusion(tc.n)
			for i := range tc.gold {
				x := a
				if i%2 == 1 {
					x = b
				}
				x.Add(tc.gold[i], tc.pred[i])
			}
			var b2 Confusion
			roundTrip(t, b, &b2)
			if err := a.Merge(&b2); err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(a.Result(), r) {
				t.Errorf("merged result differs:\n%+v\n%+v", a.Result(), r)
			}
		})
	}
}

func TestConfusionRejectsBadIDs(t *testing.T) {
	c := NewConfusion(2)
	if err := c.Add(2, 0); err == nil {
		t.Error("gold id 2 of 2 classes accepted")
	}
	if err := c.Merge(NewConfusion(3)); err == nil {
		t.Error("merge of 2 and 3 classes accepted")
	}
}

func roundTrip(t *testing.T, in, out any) {
	t.Helper()
	b, err := json.Marshal(in)
	if err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(b, out); err != nil {
		t.Fatal(err)
	}
}

func TestRegression(t *testing.T) {
	tests := []struct {
		name              string
		gold, pred        []float64
		pearson, spearman float64
		mse               float64
	}{
		{
			// x=[1,2,3] y=[2,4,7]: dx=[-1,0,1] dy=[-7/3,-1/3,8/3];
			// Sxy=5 Sxx=2 Syy=114/9 → 5/√(2·114/9). Ranks equal → Spearman 1.
			// MSE = (1+4+16)/3 = 7.
			name: "monotone", gold: []float64{1, 2, 3}, pred: []float64{2, 4, 7},
			pearson: 5 / math.Sqrt(2*114.0/9), spearman: 1, mse: 7,
		},
		{
			// Ties: ranks of gold [1,2.5,2.5,4], of pred [1,2,3,4];
			// centred [-1.5,0,0,1.5] and [-1.5,-.5,.5,1.5] → 4.5/√(4.5·5).
			name: "ties average ranks", gold: []float64{1, 2, 2, 3}, pred: []float64{10, 20, 30, 40},
			spearman: 4.5 / math.Sqrt(4.5*5),
			// Pearson on raw values: gold centred [-1,0,0,1], pred centred
			// [-15,-5,5,15] → 30/√(2·500).
			pearson: 30 / math.Sqrt(2*500), mse: (81 + 324 + 784 + 1369) / 4.0,
		},
		{
			name: "reversed", gold: []float64{3, 2, 1}, pred: []float64{1, 2, 3},
			pearson: -1, spearman: -1, mse: 8.0 / 3,
		},
		{
			name: "constant gold", gold: []float64{1, 1, 1}, pred: []float64{1, 2, 3},
			pearson: 0, spearman: 0, mse: 5.0 / 3,
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var r Regression
			for i := range tc.gold {
				r.Add(tc.gold[i], tc.pred[i])
			}
			res := r.Result()
			if !near(res.Pearson, tc.pearson) || !near(res.Spearman, tc.spearman) || !near(res.MSE, tc.mse) {
				t.Errorf("pearson %v spearman %v mse %v; want %v %v %v", res.Pearson, res.Spearman, res.MSE, tc.pearson, tc.spearman, tc.mse)
			}
			// Merge in reverse order gives the identical result.
			var a, b Regression
			for i := len(tc.gold) - 1; i >= 0; i-- {
				if i%2 == 0 {
					a.Add(tc.gold[i], tc.pred[i])
				} else {
					b.Add(tc.gold[i], tc.pred[i])
				}
			}
			b.Merge(&a)
			if b.Result() != res {
				t.Errorf("merged %+v, want %+v", b.Result(), res)
			}
		})
	}
}

func TestRanks(t *testing.T) {
	got := Ranks([]float64{5, 1, 5, 3, 5})
	want := []float64{4, 1, 4, 2, 4}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("Ranks = %v, want %v", got, want)
	}
}

func TestTokenAccuracy(t *testing.T) {
	var a, b TokenAccuracy
	a.Add([]string{"NN", "VB", "DT"}, []string{"NN", "NN", "DT"})
	b.Add([]string{"JJ"}, []string{"JJ"})
	a.Merge(&b)
	if a.Result() != 0.75 {
		t.Errorf("token accuracy %v, want 0.75", a.Result())
	}
	if err := a.Add([]string{"NN"}, nil); err == nil {
		t.Error("length mismatch accepted")
	}
}

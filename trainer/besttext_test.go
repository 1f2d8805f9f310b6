package trainer

import (
	"math"
	"testing"
)

// TestBestText: after SIGINT before the first evaluation the summary
// printed "best mean -Inf at step -1", then NaN (issue 26).
func TestBestText(t *testing.T) {
	for _, c := range []struct {
		s    Summary
		want string
	}{
		{Summary{Steps: 7, BestStep: -1, BestScore: math.NaN()}, "no evaluation finished, so best/ holds the model of step 7"},
		{Summary{Steps: 7, BestStep: -1, BestScore: math.Inf(-1)}, "no evaluation finished, so best/ holds the model of step 7"},
		{Summary{Steps: 400, BestStep: 300, BestScore: 0.81234}, "best mean 0.8123 at step 300"},
	} {
		if got := c.s.BestText("mean"); got != c.want {
			t.Errorf("BestText = %q, want %q", got, c.want)
		}
	}
}

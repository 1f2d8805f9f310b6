package beamerr

import (
	"errors"
	"strings"
	"testing"
)

// plan is the shape of a prism bundle failure (abridged from a real one):
// the DoFn's error follows the last "] failed:" line.
const plan = "bundle inst012 stage-014 failed:process bundle failed for instruction inst012 using plan stage-014 : while executing Process for Plan[stage-014]:\n" +
	"1: DataSource[S[stage-014_source@localhost:46007], i0] Out:10 Coder:W;cwv_n4<LP;c8_lp<R[readcorpus.Example]>>!GWC \n" +
	"10: ParDo[encode.EncodeFn] Out:[5 6 8] Sig: func(context.Context, readcorpus.Example) error\n" +
	"9: PCollection[n16] Out:[8]\n\tcaused by:\nsource failed processing data\n\tcaused by:\n" +
	"DoFn[UID:10, PID:e13, Name: github.com/taskweave/taskweave/transforms/score.ReadShardFn] failed:\n" +
	"/data/ner/test/part-00000-of-00002.parquet: corrupt Parquet file (footer length 9 does not fit); delete it and re-run preprocess\n"

func TestClean(t *testing.T) {
	inner := errors.New(plan)
	err := Clean("evaluate", inner)
	if got, want := err.Error(), "/data/ner/test/part-00000-of-00002.parquet: corrupt Parquet file (footer length 9 does not fit); delete it and re-run preprocess"; got != want {
		t.Errorf("Clean = %q, want %q", got, want)
	}
	if !errors.Is(err, inner) {
		t.Error("the full error is not reachable through Unwrap")
	}
	if got := Clean("preprocess", errors.New("job server unreachable")).Error(); got != "preprocess pipeline failed: job server unreachable" {
		t.Errorf("without a DoFn error: %q", got)
	}
	if Clean("x", nil) != nil {
		t.Error("Clean(nil) is not nil")
	}
	if strings.Contains(err.Error(), "PCollection") {
		t.Error("plan left in the message")
	}
}

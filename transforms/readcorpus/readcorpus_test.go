package readcorpus

import (
	"fmt"
	"strings"
	"testing"

	"github.com/apache/beam/sdks/v2/go/pkg/beam"
	"github.com/apache/beam/sdks/v2/go/pkg/beam/register"
	"github.com/apache/beam/sdks/v2/go/pkg/beam/testing/passert"
	"github.com/apache/beam/sdks/v2/go/pkg/beam/testing/ptest"

	"github.com/taskweave/taskweave/io/corpus"
)

func TestMain(m *testing.M) { ptest.Main(m) }

func init() {
	register.Function1x1(exampleKey)
	register.Function1x1(rejectionKey)
}

func exampleKey(e Example) string {
	return fmt.Sprintf("%s/%s %s %s=%s", e.Task, e.Split, e.Record.ID, e.Record.Text, e.Record.Label)
}

func rejectionKey(r Rejected) string {
	return fmt.Sprintf("%s/%s %s:%d", r.Task, r.Split, r.Rejection.File, r.Rejection.Line)
}

func tsvTask(limit float64) map[string]Task {
	return map[string]Task{"sent": {Options: corpus.Options{Format: corpus.TSV, TextColumns: []string{"sentence"}, LabelColumn: "label", MaxRecordBytes: 8 << 20}, MaxRejectedFraction: limit,
		Where: "tasks[0] in the job spec", LimitSetting: "preprocess.max_rejected_fraction in the job spec"}}
}

// TestReadFn: records to the first output, rejections (with file and line)
// to the second, both tagged with task and split.
func TestReadFn(t *testing.T) {
	before := RecordsRead()
	p, s := beam.NewPipelineWithRoot()
	srcs := beam.Create(s, Source{Task: "sent", Split: "train", Path: "testdata/mixed.tsv"})
	recs, rejs := beam.ParDo2(s, &ReadFn{Tasks: tsvTask(0.5)}, srcs)
	passert.Equals(s, beam.ParDo(s, exampleKey, recs),
		"sent/train mixed.tsv:1 good fun .=1", "sent/train mixed.tsv:3 bad , slow .=0", "sent/train mixed.tsv:4 fine .=1")
	passert.Equals(s, beam.ParDo(s, rejectionKey, rejs), "sent/train testdata/mixed.tsv:3")
	if err := ptest.Run(p); err != nil {
		t.Fatal(err)
	}
	if got := RecordsRead() - before; got != 4 {
		t.Errorf("RecordsRead advanced by %d, want 4 (3 records + 1 rejection)", got)
	}
}

// TestReadFnStops: input mistakes fail the pipeline with file, line and fix.
func TestReadFnStops(t *testing.T) {
	cases := []struct {
		name, path string
		limit      float64
		wants      []string
	}{
		{"missing", "testdata/absent.tsv", 1, []string{"testdata/absent.tsv: file not found", "fix the path of the train split (tasks[0] in the job spec)"}},
		{"empty", "testdata/header-only.tsv", 1, []string{"testdata/header-only.tsv", "no usable records"}},
		{"over the limit", "testdata/mixed.tsv", 0.2, []string{"testdata/mixed.tsv: 1 of 4 records rejected (25.00%), over the limit of 20.00%",
			"testdata/mixed.tsv:3:", "raise preprocess.max_rejected_fraction in the job spec"}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			p, s := beam.NewPipelineWithRoot()
			srcs := beam.Create(s, Source{Task: "sent", Split: "train", Path: c.path})
			beam.ParDo2(s, &ReadFn{Tasks: tsvTask(c.limit)}, srcs)
			err := ptest.Run(p)
			if err == nil {
				t.Fatal("pipeline succeeded")
			}
			for _, w := range c.wants {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error lacks %q:\n%v", w, err)
				}
			}
		})
	}
}

// TestReadFnUnlabeledTest: a GLUE-style test file (index column, no label
// column) is read as unlabeled in the test split, and rejected elsewhere.
func TestReadFnUnlabeledTest(t *testing.T) {
	p, s := beam.NewPipelineWithRoot()
	srcs := beam.Create(s, Source{Task: "sent", Split: "test", Path: "testdata/unlabeled-test.tsv"})
	recs, _ := beam.ParDo2(s, &ReadFn{Tasks: tsvTask(0)}, srcs)
	passert.Equals(s, beam.ParDo(s, exampleKey, recs), "sent/test unlabeled-test.tsv:0 quiet , lovely and a little sad .=", "sent/test unlabeled-test.tsv:1 a mess from start to finish .=")
	if err := ptest.Run(p); err != nil {
		t.Fatal(err)
	}

	p, s = beam.NewPipelineWithRoot()
	srcs = beam.Create(s, Source{Task: "sent", Split: "validation", Path: "testdata/unlabeled-test.tsv"})
	beam.ParDo2(s, &ReadFn{Tasks: tsvTask(0)}, srcs)
	if err := ptest.Run(p); err == nil || !strings.Contains(err.Error(), "has no label column") {
		t.Errorf("unlabeled validation file: %v", err)
	}
}

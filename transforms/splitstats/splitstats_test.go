package splitstats

import (
	"context"
	"path/filepath"
	"reflect"
	"testing"

	"github.com/apache/beam/sdks/v2/go/pkg/beam"
	"github.com/apache/beam/sdks/v2/go/pkg/beam/testing/ptest"

	"github.com/taskweave/taskweave/transforms/scan"
)

func TestMain(m *testing.M) { ptest.Main(m) }

// TestWrite sums counts per task and split on prism and reads them back.
func TestWrite(t *testing.T) {
	path := filepath.Join(t.TempDir(), "summary.json")
	p, s := beam.NewPipelineWithRoot()
	stats := beam.Create(s,
		Stats{Task: "ner", Split: "train", Examples: 1, Rows: 2, Tokens: 130, Windows: 1},
		Stats{Task: "sst2", Split: "train", Examples: 1, Rows: 1, Tokens: 128, Truncated: 1},
		Stats{Task: "ner", Split: "train", Examples: 1, Rows: 1, Tokens: 9},
		Stats{Task: "ner", Split: "train", Rejected: 1},
		Stats{Task: "ner", Split: "test", Examples: 1, Rows: 1, Tokens: 5},
	)
	labels := beam.Create(s, scan.Result{Tasks: []scan.TaskLabels{{Task: "ner", Labels: []string{"B-PER", "O"}}}})
	Write(s, stats, labels, path)
	if err := ptest.Run(p); err != nil {
		t.Fatal(err)
	}
	got, err := Read(context.Background(), path)
	if err != nil {
		t.Fatal(err)
	}
	want := Summary{
		Splits: []Stats{
			{Task: "ner", Split: "test", Examples: 1, Rows: 1, Tokens: 5},
			{Task: "ner", Split: "train", Examples: 2, Rows: 3, Tokens: 139, Windows: 1, Rejected: 1},
			{Task: "sst2", Split: "train", Examples: 1, Rows: 1, Tokens: 128, Truncated: 1},
		},
		Scan: scan.Result{Tasks: []scan.TaskLabels{{Task: "ner", Labels: []string{"B-PER", "O"}}}},
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("summary\n%+v\nwant\n%+v", got, want)
	}
	if st, ok := got.Find("ner", "train"); !ok || st.Rows != 3 {
		t.Errorf("Find(ner, train) = %+v, %v", st, ok)
	}
	if _, ok := got.Find("ner", "validation"); ok {
		t.Error("Find(ner, validation) found a split that has no counts")
	}
}

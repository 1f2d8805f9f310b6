package readcorpus

import (
	"context"
	"fmt"
	"strings"
	"testing"

	"github.com/taskweave/taskweave/io/corpus"
)

func tsvTask(limit float64) Task {
	return Task{Options: corpus.Options{Format: corpus.TSV, TextColumns: []string{"sentence"}, LabelColumn: "label", MaxRecordBytes: 8 << 20}, MaxRejectedFraction: limit,
		Where: "tasks[0] in the job spec", LimitSetting: "preprocess.max_rejected_fraction in the job spec"}
}

// collect streams src and lists what it saw, records as "id text=label" and
// rejections as "file:line".
func collect(src Source, t Task, count bool) (recs, rejs []string, err error) {
	err = Stream(context.Background(), src, t, Visitor{
		Record: func(r corpus.Record) error {
			recs = append(recs, fmt.Sprintf("%s %s=%s", r.ID, r.Text, r.Label))
			return nil
		},
		Reject: func(j corpus.Rejection) error { rejs = append(rejs, fmt.Sprintf("%s:%d", j.File, j.Line)); return nil },
		Count:  count,
	})
	return recs, rejs, err
}

// TestStream: records and rejections (with file and line) in file order;
// only a counting pass advances RecordsRead.
func TestStream(t *testing.T) {
	src := Source{Task: "sent", Split: "train", Path: "testdata/mixed.tsv"}
	for _, count := range []bool{false, true} {
		before := RecordsRead()
		recs, rejs, err := collect(src, tsvTask(0.5), count)
		if err != nil {
			t.Fatal(err)
		}
		if got, want := strings.Join(recs, "|"), "mixed.tsv:1 good fun .=1|mixed.tsv:3 bad , slow .=0|mixed.tsv:4 fine .=1"; got != want {
			t.Errorf("records %q, want %q", got, want)
		}
		if got, want := strings.Join(rejs, "|"), "testdata/mixed.tsv:3"; got != want {
			t.Errorf("rejections %q, want %q", got, want)
		}
		want := int64(0)
		if count {
			want = 4 // 3 records + 1 rejection
		}
		if got := RecordsRead() - before; got != want {
			t.Errorf("count %v: RecordsRead advanced by %d, want %d", count, got, want)
		}
	}
}

// TestStreamStops: input mistakes are errors with file, line and fix, and a
// visitor's error ends the read.
func TestStreamStops(t *testing.T) {
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
			_, _, err := collect(Source{Task: "sent", Split: "train", Path: c.path}, tsvTask(c.limit), false)
			if err == nil {
				t.Fatal("read succeeded")
			}
			for _, w := range c.wants {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error lacks %q:\n%v", w, err)
				}
			}
		})
	}
	stop := fmt.Errorf("visitor stop")
	n := 0
	err := Stream(context.Background(), Source{Task: "sent", Split: "train", Path: "testdata/mixed.tsv"}, tsvTask(1), Visitor{
		Record: func(corpus.Record) error { n++; return stop },
		Reject: func(corpus.Rejection) error { return nil },
	})
	if err != stop || n != 1 {
		t.Errorf("visitor error: got %v after %d records, want %v after 1", err, n, stop)
	}
}

// TestStreamUnlabeledTest: a GLUE-style test file (index column, no label
// column) is read as unlabeled in the test split, and refused elsewhere.
func TestStreamUnlabeledTest(t *testing.T) {
	recs, _, err := collect(Source{Task: "sent", Split: "test", Path: "testdata/unlabeled-test.tsv"}, tsvTask(0), false)
	if err != nil {
		t.Fatal(err)
	}
	if got, want := strings.Join(recs, "|"), "unlabeled-test.tsv:0 quiet , lovely and a little sad .=|unlabeled-test.tsv:1 a mess from start to finish .="; got != want {
		t.Errorf("records %q, want %q", got, want)
	}
	_, _, err = collect(Source{Task: "sent", Split: "validation", Path: "testdata/unlabeled-test.tsv"}, tsvTask(0), false)
	if err == nil || !strings.Contains(err.Error(), "has no label column") {
		t.Errorf("unlabeled validation file: %v", err)
	}
}

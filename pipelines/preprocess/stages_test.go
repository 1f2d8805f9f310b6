package preprocess_test

import (
	"context"
	"slices"
	"strings"
	"testing"

	"github.com/taskweave/taskweave/jobs/spec"
	"github.com/taskweave/taskweave/jobs/stages"
	"github.com/taskweave/taskweave/pipelines/preprocess"
)

func init() {
	preprocess.JobConfig = func(path string) (preprocess.Config, error) {
		s, err := spec.Load(path)
		if err != nil {
			return preprocess.Config{}, err
		}
		return stages.PreprocessConfig(s)
	}
}

func intp(v int) *int { return &v }

// TestQuick: the CLI's flags make the same kind of run as a job spec, and
// their mistakes are reported with flag names.
func TestQuick(t *testing.T) {
	q := stages.Quick{Out: t.TempDir(), Vocab: "../../testdata/vocab/bert-base-cased-vocab.txt", MaxSeqLen: 32, Shards: 2,
		MaxRejectedFraction: 0.01, MaxRecordBytes: spec.DefaultValue[int]("preprocess.max_record_bytes"), Task: "tags", Type: "token_classification", Format: "conll", TagScheme: "iob2",
		Train: "testdata/tags-train.conll", Validation: "testdata/tags-validation.conll", TagColumn: intp(-1)}
	cfg, err := q.Config()
	if err != nil {
		t.Fatal(err)
	}
	m := preprocess.RunT(t, cfg, preprocess.Options{}).Manifest
	tt := m.Tasks["tags"]
	if tt.TagScheme != "iob2" || tt.Splits["train"].Examples != 3 || tt.Splits["validation"].Examples != 3 || len(tt.Splits["train"].Shards) != 2 {
		t.Errorf("manifest task: %+v", tt)
	}

	q.Validation = "testdata/missing.conll"
	cfg, err = q.Config()
	if err != nil {
		t.Fatal(err)
	}
	if _, err := preprocess.Run(context.Background(), cfg, preprocess.Options{}); err == nil || !strings.Contains(err.Error(), "testdata/missing.conll: file not found (task tags, split validation); fix --validation") {
		t.Errorf("missing file: %v", err)
	}

	q.Validation, q.Labels = "testdata/tags-validation.conll", "O,B-person"
	cfg, err = q.Config()
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(cfg.Tasks[0].Labels, []string{"O", "B-person"}) {
		t.Errorf("labels %q", cfg.Tasks[0].Labels)
	}
	if _, err := preprocess.Run(context.Background(), cfg, preprocess.Options{}); err == nil || !strings.Contains(err.Error(), "(the list is --label-list)") {
		t.Errorf("label outside --label-list: %v", err)
	}

	q.Format, q.Train = "xml", ""
	if _, err := q.Config(); err == nil || !strings.Contains(err.Error(), `unknown format "xml"`) {
		t.Errorf("bad format: %v", err)
	}
}

// TestUnlabeledTestSplit: a GLUE-style test file (index, sentence) becomes
// rows with label -1; the progress line counts the records read.
func TestUnlabeledTestSplit(t *testing.T) {
	q := stages.Quick{Out: t.TempDir(), Vocab: "../../testdata/vocab/bert-base-cased-vocab.txt", MaxSeqLen: 32, Shards: 1,
		MaxRejectedFraction: 0.01, MaxRecordBytes: spec.DefaultValue[int]("preprocess.max_record_bytes"), Task: "sent", Type: "sequence_classification", Format: "tsv",
		Train: "testdata/sent-train.tsv", Test: "testdata/sent-test-unlabeled.tsv"}
	cfg, err := q.Config()
	if err != nil {
		t.Fatal(err)
	}
	var progress strings.Builder
	m := preprocess.RunT(t, cfg, preprocess.Options{Progress: &progress}).Manifest
	rows := preprocess.ReadSplit(t, cfg, m, "sent", "test")
	if len(rows) != 3 {
		t.Fatalf("%d test rows, want 3", len(rows))
	}
	for _, r := range rows {
		if r.Label != -1 || !strings.HasPrefix(r.ExampleID, "sent-test-unlabeled.tsv:") {
			t.Errorf("row %s label %d, want -1", r.ExampleID, r.Label)
		}
	}
	if !strings.Contains(progress.String(), "preprocess: records read (9/-)") { // 6 train + 3 test
		t.Errorf("progress output %q", progress.String())
	}
}

package score

import (
	"context"
	"path/filepath"
	"testing"

	"github.com/taskweave/taskweave/model"
	"github.com/taskweave/taskweave/model/checkpoint"
	"github.com/taskweave/taskweave/model/scoring"
)

// saveTiny writes a one-head checkpoint.
func saveTiny(t *testing.T, dir string) {
	t.Helper()
	vocab := []string{"[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]", "a", "b"}
	cfg := model.Config{VocabSize: len(vocab), HiddenSize: 8, NumHiddenLayers: 1, NumAttentionHeads: 2, IntermediateSize: 16,
		MaxPositionEmbeddings: 16, TypeVocabSize: 2, LayerNormEps: 1e-12, HiddenAct: "gelu"}
	m, err := model.New(cfg, []model.HeadSpec{{Task: "s", Kind: model.SequenceClassification, NumLabels: 2}}, 1)
	if err != nil {
		t.Fatal(err)
	}
	meta := checkpoint.Meta{Vocab: vocab, MaxSeqLen: 16, Tasks: []checkpoint.TaskInfo{{Name: "s", Type: string(model.SequenceClassification), Labels: []string{"0", "1"}}}}
	if err := checkpoint.Save(checkpoint.LocalDir(dir), m, meta); err != nil {
		t.Fatal(err)
	}
}

// DoFn instances in one worker process share one loaded checkpoint per
// fingerprint; the last Teardown frees it.
func TestScoreFnSharesModelPerProcess(t *testing.T) {
	ctx := context.Background()
	dir := filepath.Join(t.TempDir(), "ck")
	saveTiny(t, dir)
	task := scoring.Task{Name: "s", Kind: model.SequenceClassification, Labels: []string{"0", "1"}}
	newFn := func(fp string) *ScoreFn {
		f := &ScoreFn{Name: "model", Model: dir, Fingerprint: fp, BatchSize: 4, Tasks: []scoring.Task{task}}
		if err := f.Setup(ctx); err != nil {
			t.Fatal(err)
		}
		return f
	}
	a, b := newFn("sha256:one"), newFn("sha256:one")
	if a.m != b.m || loadedModels() != 1 {
		t.Fatalf("two instances, one fingerprint: %d models loaded (same copy: %v)", loadedModels(), a.m == b.m)
	}
	c := newFn("sha256:two")
	if c.m == a.m || loadedModels() != 2 {
		t.Fatalf("another fingerprint must load its own copy; %d loaded", loadedModels())
	}
	a.Teardown()
	if loadedModels() != 2 {
		t.Errorf("freed while an instance still uses it")
	}
	b.Teardown()
	c.Teardown()
	c.Teardown() // a second Teardown is harmless
	if n := loadedModels(); n != 0 {
		t.Errorf("%d models still loaded after every Teardown", n)
	}
}

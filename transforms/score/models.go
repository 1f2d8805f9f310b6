package score

import (
	"cmp"
	"context"
	"fmt"
	"sync"

	"github.com/taskweave/taskweave/io/storage"
	"github.com/taskweave/taskweave/model"
	"github.com/taskweave/taskweave/model/checkpoint"
)

// models holds the checkpoints loaded in this worker process, keyed by
// checkpoint fingerprint: a runner creates one ScoreFn instance per bundle
// processor (often one per core), and each loading its own copy would
// multiply the memory and the load time. Predictions are serialised per
// process anyway (predictMu), so one copy is all the instances need. The
// last instance to Teardown releases it.
var models = struct {
	sync.Mutex
	byKey map[string]*sharedModel
}{byKey: map[string]*sharedModel{}}

type sharedModel struct {
	m     *model.Model
	vocab []string // the checkpoint's vocab.txt: masked-LM scoring masks with it
	refs  int
}

// acquireModel returns the process's copy of the checkpoint at dir, loading
// it on first use. key identifies the checkpoint's bytes (its fingerprint);
// "" falls back to dir. It also returns the checkpoint's vocabulary.
func acquireModel(ctx context.Context, key, dir string, prec model.Precision) (*model.Model, []string, error) {
	if key == "" {
		key = dir
	}
	models.Lock()
	defer models.Unlock()
	if s, ok := models.byKey[key]; ok {
		s.refs++
		return s.m, s.vocab, nil
	}
	m, meta, err := checkpoint.Load(storage.Dir(ctx, dir))
	if err != nil {
		return nil, nil, fmt.Errorf("score: loading checkpoint %s: %w", dir, err)
	}
	m.SetTraining(false)
	if err := m.SetPrecision(cmp.Or(prec, model.FP32)); err != nil {
		return nil, nil, fmt.Errorf("score: %s: %w", dir, err)
	}
	models.byKey[key] = &sharedModel{m: m, vocab: meta.Vocab, refs: 1}
	return m, meta.Vocab, nil
}

// modelKey keys a shared copy by checkpoint and precision: the same
// checkpoint scored in fp32 and bf16 is two models.
func modelKey(fingerprint, precision string) string {
	if fingerprint == "" || precision == "" {
		return fingerprint
	}
	return fingerprint + "@" + precision
}

// releaseModel drops one reference; the last one frees the model.
func releaseModel(key, dir string) {
	if key == "" {
		key = dir
	}
	models.Lock()
	defer models.Unlock()
	if s, ok := models.byKey[key]; ok {
		if s.refs--; s.refs <= 0 {
			delete(models.byKey, key)
		}
	}
}

// loadedModels is how many checkpoints this process holds (for tests).
func loadedModels() int {
	models.Lock()
	defer models.Unlock()
	return len(models.byKey)
}

package checkpoint

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/taskweave/taskweave/model"
)

// A Hugging Face BertModel directory (the PyTorch reference's fixture) gives
// the encoder's initial weights bit for bit; the heads are new and the
// dropout is the caller's, zero included.
func TestNewModelFromHuggingFace(t *testing.T) {
	ref := filepath.Join("testdata", "ref")
	heads := []model.HeadSpec{{Task: "sent", Kind: model.SequenceClassification, NumLabels: 2}}
	m, err := NewModel(Start{Init: LocalDir(ref), Vocab: 120, Dropout: 0, Seed: 3, Heads: heads})
	if err != nil {
		t.Fatal(err)
	}
	if c := m.Config(); c.HiddenDropoutProb != 0 || c.AttentionProbsDropoutProb != 0 {
		t.Fatalf("dropout %g/%g, want the 0 asked for (the checkpoint says 0.1)", c.HiddenDropoutProb, c.AttentionProbsDropoutProb)
	}
	f, err := os.Open(filepath.Join(ref, WeightsFile))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	ts, _, err := ReadSafetensors(f, WeightsFile)
	if err != nil {
		t.Fatal(err)
	}
	checked := 0
	for _, tn := range ts {
		p := m.Param(strings.TrimPrefix(tn.Name, "bert."))
		if p == nil || tn.Data == nil {
			continue
		}
		for i := range p.W {
			if p.W[i] != tn.Data[i] {
				t.Fatalf("%s[%d] = %v, checkpoint has %v", p.Name, i, p.W[i], tn.Data[i])
			}
		}
		checked++
	}
	if checked < len(m.EncoderParams())-2 {
		t.Fatalf("only %d of %d encoder tensors came from the checkpoint", checked, len(m.EncoderParams()))
	}
	if _, err := NewModel(Start{Init: LocalDir(ref), Vocab: 99, Heads: heads}); err == nil || !strings.Contains(err.Error(), "vocab_size 120") {
		t.Fatalf("a vocabulary mismatch gave %v", err)
	}
}

func TestNewModelFromScratch(t *testing.T) {
	heads := []model.HeadSpec{{Task: "ner", Kind: model.TokenClassification, NumLabels: 3}}
	a, err := NewModel(Start{Size: "tiny", Vocab: 50, Dropout: 0.2, Seed: 7, Heads: heads})
	if err != nil {
		t.Fatal(err)
	}
	b, _ := NewModel(Start{Size: "tiny", Vocab: 50, Dropout: 0.2, Seed: 7, Heads: heads})
	if c := a.Config(); c.VocabSize != 50 || c.HiddenDropoutProb != 0.2 || c.NumHiddenLayers != 2 {
		t.Fatalf("config %+v", c)
	}
	for i, p := range a.Params() {
		for j := range p.W {
			if p.W[j] != b.Params()[i].W[j] {
				t.Fatalf("same seed, different %s", p.Name)
			}
		}
	}
	if _, err := NewModel(Start{Size: "huge", Vocab: 50, Heads: heads}); err == nil {
		t.Fatal("unknown size accepted")
	}
}

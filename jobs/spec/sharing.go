package spec

import (
	"bytes"
	"fmt"
	"slices"
	"strings"

	"github.com/goccy/go-yaml"

	"github.com/taskweave/taskweave/model"
)

// checkSharing checks model.sharing and each task's sharing block against
// each other and the model; layers is the encoder's depth (0 = unknown
// before model.init is read).
func (s *Spec) checkSharing(layers int, bad func(key, format string, a ...any)) {
	sh := &s.Model.Sharing
	if !slices.Contains(Bases, sh.Basis) {
		bad("model.sharing.basis", "%q is not allowed; use one of %s", sh.Basis, strings.Join(Bases, ", "))
	}
	if key, err := model.CheckExperts(sh.Experts, sh.ExpertLayers, layers); err != nil {
		bad("model.sharing."+key, "%v", err)
	}
	if sh.FreezeShared && s.Model.Init == "" {
		bad("model.sharing.freeze_shared", "freezes the shared encoder, but model.init is not set, so it would stay random; set model.init to a Hugging Face BERT directory or freeze_shared: false")
	}
	matrices := func(key string, ms []string, rank int) {
		if j, err := model.CheckFactorMatrices(rank, ms); err != nil {
			if j >= 0 {
				key = fmt.Sprintf("%s[%d]", key, j)
			}
			bad(key, "%v", err)
		}
	}
	matrices("model.sharing.matrices", sh.Matrices, sh.Rank)
	rank, rankTask := 0, ""
	trainable := sh.Rank > 0 || sh.Adapter > 0 || sh.LayerAttention || sh.Experts > 1
	for i, t := range s.Tasks {
		k := fmt.Sprintf("tasks[%d].sharing", i)
		matrices(k+".matrices", t.Sharing.Matrices, t.Sharing.Rank)
		if err := model.CheckLayerAttention(t.Name, t.Layer, t.Sharing.LayerAttention); err != nil {
			bad(k+".layer_attention", "%v", err)
		}
		if err := model.CheckSharedRank(sh.Basis, t.Name, t.Sharing.Rank, rankTask, rank); err != nil {
			bad(k+".rank", "%v", err)
		}
		if rank == 0 && t.Sharing.Rank > 0 {
			rank, rankTask = t.Sharing.Rank, t.Name
		}
		trainable = trainable || t.Sharing.Rank > 0 || t.Sharing.Adapter > 0 || t.Sharing.LayerAttention
	}
	if sh.FreezeShared && !trainable && len(s.Tasks) > 0 {
		bad("model.sharing.freeze_shared", "with no adapters, factors, layer attention or experts only the heads and LayerNorms would train; add adapter: 64 (say) or freeze_shared: false")
	}
}

// OverrideSharing applies a model.sharing block given outside the file
// (train --sharing '{rank: 8, matrices: [query, value]}'): the keys it
// writes replace model.sharing's, and every task key the file does not
// write (tasks[i].sharing.…) follows the new model.sharing, as if the file
// had said so. Call Validate afterwards.
func (s *Spec) OverrideSharing(block string) error {
	dec := yaml.NewDecoder(bytes.NewReader([]byte(block)), yaml.DisallowUnknownField())
	sh := s.Model.Sharing
	if err := dec.Decode(&sh); err != nil {
		return fmt.Errorf("--sharing: %s", strings.TrimSpace(yaml.FormatError(err, false, true)))
	}
	s.Model.Sharing = sh
	for i := range s.Tasks {
		t := &s.Tasks[i].Sharing
		k := fmt.Sprintf("tasks[%d].sharing.", i)
		if !s.Written(k + "rank") {
			t.Rank = sh.Rank
		}
		if !s.Written(k + "matrices") {
			t.Matrices = slices.Clone(sh.Matrices)
		}
		if !s.Written(k + "layer_attention") {
			t.LayerAttention = sh.LayerAttention
		}
		if !s.Written(k + "adapter") {
			t.Adapter = sh.Adapter
		}
	}
	return nil
}

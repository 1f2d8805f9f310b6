package spec

import (
	"slices"
	"strings"
	"testing"

	"github.com/taskweave/taskweave/model"
)

const twoTasks = minimal + `  - name: conll
    type: token_classification
    format: conll
    paths:
      train: [train.conll]
`

// model.sharing is every task's default; a task's sharing block overrides
// the keys it writes, zero included.
func TestSharingDefaultsAndOverrides(t *testing.T) {
	s, err := Parse([]byte(twoTasks), ".")
	if err != nil {
		t.Fatal(err)
	}
	sh := s.Model.Sharing
	if sh.Rank != 0 || sh.Adapter != 0 || sh.LayerAttention || sh.Basis != "per_task" || sh.Experts != 0 ||
		!slices.Equal(sh.Matrices, model.FactorMatrices) {
		t.Fatalf("model.sharing defaults: %+v", sh)
	}
	y := twoTasks + `model:
  sharing:
    rank: 8
    matrices: [query, value]
    layer_attention: true
    experts: 4
    expert_layers: 2
`
	y = strings.Replace(y, "      train: [train.conll]\n", "      train: [train.conll]\n    sharing:\n      rank: 0\n      matrices: []\n      adapter: 16\n", 1)
	if s, err = Parse([]byte(y), "."); err != nil {
		t.Fatal(err)
	}
	sst, conll := s.Tasks[0].Sharing, s.Tasks[1].Sharing
	if sst.Rank != 8 || !slices.Equal(sst.Matrices, []string{"query", "value"}) || !sst.LayerAttention || sst.Adapter != 0 {
		t.Errorf("sst2 took %+v; want model.sharing's rank 8, [query value], layer attention", sst)
	}
	if conll.Rank != 0 || len(conll.Matrices) != 0 || !conll.LayerAttention || conll.Adapter != 16 {
		t.Errorf("conll took %+v; want its own rank 0, no matrices, adapter 16 and model.sharing's layer attention", conll)
	}
	if s.Model.Sharing.Experts != 4 || s.Model.Sharing.ExpertLayers != 2 {
		t.Errorf("experts %+v", s.Model.Sharing)
	}
	// The defaults table's list is never the spec's.
	s.Model.Sharing.Matrices[0] = "changed"
	if model.FactorMatrices[0] != "query" {
		t.Fatal("a spec's matrices alias the defaults table")
	}
}

func TestSharingErrors(t *testing.T) {
	task := func(block string) string {
		return strings.Replace(twoTasks, "      train: [train.conll]\n", "      train: [train.conll]\n    sharing:\n"+block, 1)
	}
	cases := []struct {
		name, yaml string
		want       []string
	}{
		{"bad matrix", minimal + "model:\n  sharing:\n    rank: 4\n    matrices: [query, qkv]\n", []string{"line 15", "model.sharing.matrices[1]", `"qkv" is not allowed`, "attention_output, ffn_in, ffn_out"}},
		{"bad basis", minimal + "model:\n  sharing:\n    basis: common\n", []string{"line 14", "model.sharing.basis", "shared, per_task"}},
		{"no matrices", task("      rank: 4\n      matrices: []\n"), []string{"line 19", "tasks[1].sharing.matrices", "rank is 4"}},
		{"rank range", task("      rank: -1\n"), []string{"line 18", "tasks[1].sharing.rank", "0 <= rank <= 1024"}},
		{"unknown task key", task("      experts: 2\n"), []string{"experts"}},
		{"one expert", minimal + "model:\n  sharing:\n    experts: 1\n", []string{"line 14", "model.sharing.experts", "2..64"}},
		{"expert layers", minimal + "model:\n  size: tiny\n  sharing:\n    experts: 2\n    expert_layers: 3\n", []string{"line 16", "model.sharing.expert_layers", "1..2"}},
		{"layer and attention", strings.Replace(task("      layer_attention: true\n"), "    format: conll\n", "    format: conll\n    layer: 2\n", 1), []string{"tasks[1].sharing.layer_attention", "layer 2"}},
		{"shared basis ranks", task("      rank: 4\n") + "model:\n  sharing:\n    rank: 8\n    basis: shared\n", []string{"tasks[1].sharing.rank", "one rank"}},
		{"freeze without init", minimal + "model:\n  sharing:\n    freeze_shared: true\n    adapter: 8\n", []string{"model.sharing.freeze_shared", "model.init"}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) { wantErrors(t, c.yaml, c.want) })
	}
}

// train --sharing replaces model.sharing's keys it writes; tasks follow
// unless they write their own.
func TestOverrideSharing(t *testing.T) {
	y := strings.Replace(twoTasks, "      train: [train.conll]\n", "      train: [train.conll]\n    sharing: {rank: 0}\n", 1) +
		"model:\n  sharing: {adapter: 4}\n"
	s, err := Parse([]byte(y), ".")
	if err != nil {
		t.Fatal(err)
	}
	if err := s.OverrideSharing("{rank: 8, matrices: [query, value], layer_attention: true}"); err != nil {
		t.Fatal(err)
	}
	if err := s.Validate(); err != nil {
		t.Fatal(err)
	}
	sst, conll := s.Tasks[0].Sharing, s.Tasks[1].Sharing
	if sst.Rank != 8 || !slices.Equal(sst.Matrices, []string{"query", "value"}) || !sst.LayerAttention || sst.Adapter != 4 {
		t.Errorf("sst2 %+v; want rank 8 on query, value, layer attention, the file's adapter 4", sst)
	}
	if conll.Rank != 0 || !conll.LayerAttention {
		t.Errorf("conll %+v; want its own rank 0 and the override's layer attention", conll)
	}
	if err := s.OverrideSharing("{rnak: 8}"); err == nil || !strings.Contains(err.Error(), "rnak") {
		t.Errorf("unknown key: %v", err)
	}
	if err := s.OverrideSharing("{basis: common}"); err != nil {
		t.Fatal(err)
	}
	if err := s.Validate(); err == nil || !strings.Contains(err.Error(), "model.sharing.basis") {
		t.Errorf("bad basis from the flag: %v", err)
	}
}

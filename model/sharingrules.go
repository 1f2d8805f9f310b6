package model

import (
	"fmt"
	"strings"

	"github.com/taskweave/taskweave/internal/rules"
)

// The rules of soft sharing that a job spec is checked against before the
// model exists. They live here, beside the model that depends on them, and
// jobs/spec calls them: Sharing.validate (sharing.go) refuses the same
// values when the model is built.

// SharingRanges are the allowed values of the soft-sharing keys, before
// the model's size is known (a rank or adapter is further bounded by the
// hidden size, expert_layers by the depth, when the model is built).
var SharingRanges = []rules.Range{
	{Key: "model.sharing.rank", Lo: 0, Hi: 1024, Note: "0 = no factorization; at most hidden_size"},
	{Key: "model.sharing.adapter", Lo: 0, Hi: 1024, Note: "0 = no adapters; at most hidden_size"},
	{Key: "model.sharing.experts", Lo: 0, Hi: MaxExperts, Note: "0 = no mixture of experts"},
	{Key: "model.sharing.expert_layers", Lo: 1, Hi: 48, Note: "at most the number of layers"},
	{Key: "tasks[].sharing.rank", Lo: 0, Hi: 1024, Note: "0 = no factorization; at most hidden_size"},
	{Key: "tasks[].sharing.adapter", Lo: 0, Hi: 1024, Note: "0 = no adapters; at most hidden_size"},
}

// CheckLayerAttention is the rule between a task head's layer and its
// layer attention: layer attention reads a learned mix of every layer, so
// the head cannot also read one layer k.
func CheckLayerAttention(task string, layer int, layerAttention bool) error {
	if layerAttention && layer != 0 {
		return fmt.Errorf("task %s has layer attention and reads layer %d; layer attention mixes every layer, so use layer 0 or drop layer_attention", task, layer)
	}
	return nil
}

// CheckExperts is the rule on a mixture of experts' size: one expert is the
// plain FFN, and the experts replace the FFN of at most every layer
// (layers = 0: the depth is not known yet).
func CheckExperts(experts, expertLayers, layers int) (key string, err error) {
	switch {
	case experts == 1:
		return "experts", fmt.Errorf("1 expert is the plain FFN; use 0 (off) or 2..%d", MaxExperts)
	case experts > 1 && layers > 0 && expertLayers > layers:
		return "expert_layers", fmt.Errorf("%d is more than the encoder's %d layers; use 1..%d", expertLayers, layers, layers)
	}
	return "", nil
}

// CheckFactorMatrices is the rule of one factor block: every matrix it
// names is one of FactorMatrices, and a rank names at least one. bad is the
// index of the offending name, or -1 when the list as a whole is at fault.
func CheckFactorMatrices(rank int, matrices []string) (bad int, err error) {
	for j, m := range matrices {
		if matrixIndex(m) < 0 {
			return j, fmt.Errorf("%q is not allowed; use one of %s", m, strings.Join(FactorMatrices, ", "))
		}
	}
	if rank > 0 && len(matrices) == 0 {
		return -1, fmt.Errorf("rank is %d but no matrices are named; name the matrices to factorize (%s)", rank, strings.Join(FactorMatrices, ", "))
	}
	return -1, nil
}

// CheckSharedRank is the rule of basis shared: one basis serves every task,
// so every task that factorizes has the same rank. first is the first such
// task seen and firstRank its rank (0: none yet).
func CheckSharedRank(basis, task string, rank int, first string, firstRank int) error {
	if basis == "shared" && rank > 0 && firstRank > 0 && rank != firstRank {
		return fmt.Errorf("task %s has rank %d but task %s rank %d; basis: shared needs one rank for every task (or basis: per_task)", task, rank, first, firstRank)
	}
	return nil
}

package model

import (
	"fmt"

	"github.com/taskweave/taskweave/internal/taskkind"
)

// HeadKind names what a task head predicts and which loss trains it; the
// kinds are internal/taskkind's, shared with io/manifest.
type HeadKind = taskkind.Kind

// The head kinds (taskkind documents each).
const (
	SequenceClassification = taskkind.SequenceClassification
	TokenClassification    = taskkind.TokenClassification
	SequenceRegression     = taskkind.SequenceRegression
	MaskedLM               = taskkind.MaskedLM
)

// ReplacedTokenDetection is ELECTRA's discriminator head (rtd.go): one
// logit per token, "was this token replaced?", trained with a sigmoid
// cross-entropy. Pre-training builds it; it is not a kind of a job's task
// (TaskKinds), and a model has at most one.
const ReplacedTokenDetection HeadKind = "replaced_token_detection"

// TaskKinds are the kinds a job's task can have; job specs, manifests and
// the pipelines name task types with them.
var TaskKinds = taskkind.All

// TaskKindNames are TaskKinds as strings, for allowed-value lists in messages.
func TaskKindNames() []string { return taskkind.Names() }

// IgnoreIndex marks a label that is not scored.
const IgnoreIndex = -100

// HeadSpec declares one task head.
type HeadSpec struct {
	Task      string
	Kind      HeadKind
	NumLabels int         // classes; 1 for regression; ignored (vocab size) for masked_lm
	Layer     int         // encoder layer (1..L) whose output the head reads; 0 = the top layer
	Sharing   TaskSharing // the task's soft sharing (sharing.go); zero = hard sharing
}

// Batch is one batch of one task, right-padded to T.
type Batch struct {
	Task         string
	B, T         int
	InputIDs     []int32   // B*T
	TokenTypeIDs []int32   // B*T; nil means all zero
	Mask         []int32   // B*T, 1 = real token; nil means all real
	Labels       []int32   // B, sequence classification (-100 = not scored)
	Targets      []float32 // B, regression
	TokenLabels  []int32   // B*T, -100 = not scored (token tasks and masked LM)
}

// Param is one named parameter tensor with its gradient. W and G have the
// same length; Shape is row-major, Linear weights are [out, in] like torch.
type Param struct {
	Name  string
	Shape []int
	W, G  []float32
	Decay bool // false for biases and LayerNorm parameters: AdamW applies no weight decay
	// Frozen parameters get no gradient (Sharing.FreezeShared); Trainable
	// lists the others for the optimizer.
	Frozen bool

	rows *rowSet // the word embeddings only: rows with a gradient since ZeroGrad
}

// Output is the result of Forward. Logits aliases a buffer of the model and is
// valid until the next Forward or Predict.
type Output struct {
	Loss      float32
	Logits    []float32 // [B,labels], [B,T,labels], or [Scored,vocab] for masked_lm
	NumLabels int
	Scored    int // examples or tokens that contributed to Loss
}

// RNGState is the dropout random stream: a seed and how far it has advanced.
// Restoring it makes a resumed run draw the same dropout masks.
type RNGState struct {
	Seed    uint64
	Counter uint64
}

func (h HeadSpec) validate(cfg Config) error {
	if h.Task == "" {
		return fmt.Errorf("model: a head has no task name")
	}
	switch h.Kind {
	case SequenceClassification, TokenClassification:
		if h.NumLabels < 1 {
			return fmt.Errorf("model: head %q (%s) has num_labels %d; it needs at least 1", h.Task, h.Kind, h.NumLabels)
		}
	case SequenceRegression:
		if h.NumLabels != 1 && h.NumLabels != 0 {
			return fmt.Errorf("model: regression head %q has num_labels %d; it must be 1", h.Task, h.NumLabels)
		}
	case MaskedLM, ReplacedTokenDetection:
	default:
		return fmt.Errorf("model: head %q has unknown kind %q; use sequence_classification, token_classification, sequence_regression or masked_lm", h.Task, h.Kind)
	}
	if h.Layer < 0 || h.Layer > cfg.NumHiddenLayers {
		return fmt.Errorf("model: head %q reads layer %d but the encoder has layers 1..%d (0 = top)", h.Task, h.Layer, cfg.NumHiddenLayers)
	}
	return nil
}

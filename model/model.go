package model

import (
	"fmt"
	"math"
	"math/rand/v2"
	"strings"
	"sync/atomic"
)

// linear is a torch-style Linear: y = x·Wᵀ + b with W stored [out, in].
type linear struct {
	w, b    *Param
	in, out int
	mp      *mixedPrecision // the model's, or nil: fp32 whatever the model's precision
}

// layerNorm normalises rows of width n, then scales by g and shifts by b.
type layerNorm struct {
	g, b *Param
	n    int
	eps  float32
}

// encLayer is one post-LayerNorm BERT block.
type encLayer struct {
	q, k, v, o linear
	qkv        linear // Q, K and V stacked: views of the same W and G, so one product makes all three
	aln        layerNorm
	inter, out linear
	oln        layerNorm
	experts    []expert // mixture of experts: the FFNs beyond inter/out (moe.go)
}

// head is one task head and its parameters.
type head struct {
	spec  HeadSpec
	layer int // resolved 1..L
	cls   linear
	// masked_lm only: transform dense + LayerNorm, decoder bias (weight tied to word embeddings).
	dense linear
	ln    layerNorm
	bias  *Param
	path  *taskPath // the task's own parameters in the encoder (sharing.go)
}

// Model is a BERT encoder with task heads. See the package doc for the
// concurrency and buffer-reuse contract.
type Model struct {
	cfg     Config
	sharing Sharing
	heads   []*head
	byTask  map[string]*head

	params      []*Param
	byName      map[string]*Param
	nEnc        int
	layerParams [][]*Param

	word, pos, typ *Param
	eln            layerNorm
	proj           *linear // embeddings_project, when embedding_size ≠ hidden_size
	layers         []*encLayer
	pooler         linear

	training bool
	mix      mixedPrecision
	rng      RNGState
	tokDrop  tokenDropout

	st  state
	grp groupState // the last ForwardGroup (group.go)

	// encodes counts encoder passes (EncoderPasses): what shows that a
	// group's heads, or every head of an evaluation batch, read one pass.
	encodes atomic.Uint64
}

// EncoderPasses returns the number of encoder forward passes the model has
// run (Forward, ForwardGroup, Predict, PredictGroup: one each). Tests and
// benchmarks read it to count passes per batch.
func (m *Model) EncoderPasses() uint64 { return m.encodes.Load() }

// New builds a model with BERT's initialisation (normal(0, 0.02) weights and
// embeddings, zero biases, unit LayerNorm scales) drawn from seed, which also
// seeds the dropout stream. Every task shares the whole encoder unless its
// HeadSpec reads a lower layer.
func New(cfg Config, heads []HeadSpec, seed uint64) (*Model, error) {
	return NewWith(cfg, heads, Sharing{}, seed)
}

// NewWith is New with soft parameter sharing: sh for the whole model and
// each HeadSpec's Sharing for its task (sharing.go). The soft-sharing
// parameters come after the heads', so the encoder and the heads draw the
// same initial weights as New's.
func NewWith(cfg Config, heads []HeadSpec, sh Sharing, seed uint64) (*Model, error) {
	if cfg.HiddenAct == "" {
		cfg.HiddenAct = "gelu"
	}
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	if err := sh.validate(cfg, heads); err != nil {
		return nil, err
	}
	m := &Model{cfg: cfg, sharing: sh, byTask: map[string]*head{}, byName: map[string]*Param{}}
	H, I, E := cfg.HiddenSize, cfg.IntermediateSize, cfg.EmbeddingWidth()
	eps := float32(cfg.LayerNormEps)
	m.word = m.newParam("embeddings.word_embeddings.weight", cfg.VocabSize, E)
	m.word.rows = newRowSet(cfg.VocabSize, E)
	m.pos = m.newParam("embeddings.position_embeddings.weight", cfg.MaxPositionEmbeddings, E)
	m.typ = m.newParam("embeddings.token_type_embeddings.weight", cfg.TypeVocabSize, E)
	m.eln = m.newLayerNorm("embeddings.LayerNorm", E, eps)
	if E != H {
		p := m.newLinear("embeddings_project", E, H)
		m.proj = &p
	}
	for i := 0; i < cfg.NumHiddenLayers; i++ {
		start := len(m.params)
		p := fmt.Sprintf("encoder.layer.%d.", i)
		qkv, stacked := m.newStackedLinears(H, H, p+"attention.self.query", p+"attention.self.key", p+"attention.self.value")
		l := &encLayer{
			q:     qkv[0],
			k:     qkv[1],
			v:     qkv[2],
			qkv:   stacked,
			o:     m.newLinear(p+"attention.output.dense", H, H),
			aln:   m.newLayerNorm(p+"attention.output.LayerNorm", H, eps),
			inter: m.newLinear(p+"intermediate.dense", H, I),
			out:   m.newLinear(p+"output.dense", I, H),
			oln:   m.newLayerNorm(p+"output.LayerNorm", H, eps),
		}
		m.layers = append(m.layers, l)
		m.layerParams = append(m.layerParams, m.params[start:len(m.params):len(m.params)])
	}
	m.pooler = m.newLinear("pooler.dense", H, H)
	m.nEnc = len(m.params)
	for _, spec := range heads {
		if err := spec.validate(cfg); err != nil {
			return nil, err
		}
		if _, dup := m.byTask[spec.Task]; dup {
			return nil, fmt.Errorf("model: two heads for task %q; task names must be unique", spec.Task)
		}
		h, err := m.newHead(spec)
		if err != nil {
			return nil, err
		}
		m.heads = append(m.heads, h)
		m.byTask[spec.Task] = h
	}
	m.buildSharing(sh)
	m.init(seed)
	m.Seed(seed)
	return m, nil
}

// newHead builds the head of spec and registers its parameters.
func (m *Model) newHead(spec HeadSpec) (*head, error) {
	cfg := m.cfg
	H, E, eps := cfg.HiddenSize, cfg.EmbeddingWidth(), float32(cfg.LayerNormEps)
	h := &head{spec: spec, layer: spec.Layer}
	if h.layer == 0 {
		h.layer = cfg.NumHiddenLayers
	}
	p := headPrefix(spec)
	switch spec.Kind {
	case SequenceRegression:
		h.spec.NumLabels = 1
		h.cls = m.newLinear(p+"classifier", H, 1)
	case SequenceClassification, TokenClassification:
		h.cls = m.newLinear(p+"classifier", H, spec.NumLabels)
	case MaskedLM:
		if m.byName[p+"predictions.bias"] != nil {
			return nil, fmt.Errorf("model: a second masked_lm head (task %q); a model has one masked-LM head, under Hugging Face's cls.predictions names", spec.Task)
		}
		h.spec.NumLabels = cfg.VocabSize
		h.dense = m.newLinear(p+"predictions.transform.dense", H, E)
		h.ln = m.newLayerNorm(p+"predictions.transform.LayerNorm", E, eps)
		h.bias = m.newParam(p+"predictions.bias", cfg.VocabSize)
	case ReplacedTokenDetection:
		if m.byName[p+"dense.weight"] != nil {
			return nil, fmt.Errorf("model: a second replaced-token-detection head (task %q); a model has one", spec.Task)
		}
		h.spec.NumLabels = 1
		h.dense = m.newLinear(p+"dense", H, H)
		h.cls = m.newLinear(p+"dense_prediction", H, 1)
	}
	return h, nil
}

// headPrefix is where a head's parameters are named: heads.<task>. for
// task heads, and Hugging Face BertForMaskedLM's cls. for the masked-LM
// head (cls.predictions.transform.dense.weight, cls.predictions.bias, …),
// so that an encoder with its MLM head loads there as it is; ELECTRA's
// replaced-token-detection head takes ElectraForPreTraining's
// discriminator_predictions. names.
func headPrefix(h HeadSpec) string {
	switch h.Kind {
	case MaskedLM:
		return "cls."
	case ReplacedTokenDetection: // Hugging Face ElectraForPreTraining's names
		return "discriminator_predictions."
	}
	return "heads." + h.Task + "."
}

func (m *Model) newParam(name string, shape ...int) *Param {
	n := 1
	for _, s := range shape {
		n *= s
	}
	return m.addParam(name, make([]float32, n), make([]float32, n), shape...)
}

// addParam registers a parameter over the given weight and gradient arrays.
func (m *Model) addParam(name string, w, g []float32, shape ...int) *Param {
	p := &Param{Name: name, Shape: shape, W: w, G: g,
		Decay: !(strings.HasSuffix(name, ".bias") || strings.Contains(name, "LayerNorm"))}
	m.params = append(m.params, p)
	m.byName[name] = p
	return p
}

func (m *Model) newLinear(prefix string, in, out int) linear {
	return linear{w: m.newParam(prefix+".weight", out, in), b: m.newParam(prefix+".bias", out), in: in, out: out, mp: &m.mix}
}

// newStackedLinears makes one linear per prefix, all [out,in], whose
// weights, biases and their gradients are consecutive views of shared
// arrays, and the linear over all of them ([len(prefixes)·out, in]), which
// is not a parameter of its own. Parameters are registered in the order
// newLinear would register them, so initialisation draws the same numbers.
func (m *Model) newStackedLinears(in, out int, prefixes ...string) ([]linear, linear) {
	k := len(prefixes)
	w, g := make([]float32, k*out*in), make([]float32, k*out*in)
	b, bg := make([]float32, k*out), make([]float32, k*out)
	ls := make([]linear, k)
	for i, prefix := range prefixes {
		wv, bv := out*in, out
		ls[i] = linear{
			w:  m.addParam(prefix+".weight", w[i*wv:(i+1)*wv:(i+1)*wv], g[i*wv:(i+1)*wv:(i+1)*wv], out, in),
			b:  m.addParam(prefix+".bias", b[i*bv:(i+1)*bv:(i+1)*bv], bg[i*bv:(i+1)*bv:(i+1)*bv], out),
			in: in, out: out, mp: &m.mix,
		}
	}
	all := linear{w: &Param{Name: "stacked", Shape: []int{k * out, in}, W: w, G: g},
		b: &Param{Name: "stacked.bias", Shape: []int{k * out}, W: b, G: bg}, in: in, out: k * out, mp: &m.mix}
	return ls, all
}

func (m *Model) newLayerNorm(prefix string, n int, eps float32) layerNorm {
	return layerNorm{g: m.newParam(prefix+".weight", n), b: m.newParam(prefix+".bias", n), n: n, eps: eps}
}

func (m *Model) init(seed uint64) {
	r := rand.New(rand.NewPCG(seed, 0x9e3779b97f4a7c15))
	for _, p := range m.params {
		switch {
		case initSharing(p, r.NormFloat64):
		case strings.Contains(p.Name, "LayerNorm.weight"):
			for i := range p.W {
				p.W[i] = 1
			}
		case strings.HasSuffix(p.Name, ".bias"):
			// zero
		default:
			for i := range p.W {
				p.W[i] = float32(r.NormFloat64() * 0.02)
			}
		}
	}
}

// Config returns the encoder configuration.
func (m *Model) Config() Config { return m.cfg }

// Heads returns the head specs, with NumLabels and Layer resolved.
func (m *Model) Heads() []HeadSpec {
	out := make([]HeadSpec, len(m.heads))
	for i, h := range m.heads {
		out[i] = h.spec
	}
	return out
}

// Params returns every parameter: encoder first (embeddings, layers, pooler),
// then the heads in the order they were declared.
func (m *Model) Params() []*Param { return m.params }

// EncoderParams returns the embeddings, every encoder layer and the pooler.
func (m *Model) EncoderParams() []*Param { return m.params[:m.nEnc:m.nEnc] }

// LayerParams returns the parameters of encoder layer i (0-based).
func (m *Model) LayerParams(i int) []*Param {
	if i < 0 || i >= len(m.layerParams) {
		return nil
	}
	return m.layerParams[i]
}

// HeadParams returns the parameters owned by the head of task (for a
// masked_lm head, not the tied word embeddings).
func (m *Model) HeadParams(task string) []*Param {
	h, ok := m.byTask[task]
	if !ok {
		return nil
	}
	p := headPrefix(h.spec)
	var out []*Param
	for _, q := range m.params[m.nEnc:] {
		if strings.HasPrefix(q.Name, p) {
			out = append(out, q)
		}
	}
	return out
}

// Param returns the parameter with the given name, or nil.
func (m *Model) Param(name string) *Param { return m.byName[name] }

// SetTraining switches dropout on (true) or off.
func (m *Model) SetTraining(train bool) { m.training = train }

// Training reports whether dropout is on.
func (m *Model) Training() bool { return m.training }

// Seed restarts the dropout stream from seed.
func (m *Model) Seed(seed uint64) { m.rng = RNGState{Seed: seed} }

// RNGState returns the dropout stream's position, for resuming.
func (m *Model) RNGState() RNGState { return m.rng }

// SetRNGState restores a position returned by RNGState.
func (m *Model) SetRNGState(s RNGState) { m.rng = s }

// ZeroGrad clears every gradient (of the word embeddings, only the rows the
// batches since the last ZeroGrad used).
func (m *Model) ZeroGrad() {
	for _, p := range m.params {
		if p.rows != nil {
			p.rows.clearGrad(p.G)
			p.rows.reset()
			continue
		}
		clear(p.G)
	}
}

// GradNorm is the global L2 norm of the gradients of params.
func GradNorm(params []*Param) float64 { return ClipGradNorm(params, 0) }

var _ = math.Sqrt

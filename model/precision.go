package model

import (
	"fmt"

	"github.com/taskweave/taskweave/model/kernels"
)

// Precision is the number format of the model's matrix products.
type Precision string

const (
	// FP32: every product in float32.
	FP32 Precision = "fp32"
	// BF16: mixed precision, the linears' products on bfloat16 operands.
	BF16 Precision = "bf16"
)

// Precisions lists the values of train.precision.
var Precisions = []Precision{FP32, BF16}

// mixedPrecision is a model's bf16 state. Mixed precision as the field
// practises it (Micikevicius et al. 2018; PyTorch's autocast on CPU):
//   - the master weights, the gradients and AdamW's moments stay fp32
//     (Param.W, Param.G, the optimizer);
//   - each linear's weight is cast into a bf16 copy once per forward pass
//     (epoch; the backward pass reuses it), an activation or gradient as it
//     enters a product; the products accumulate and write fp32;
//   - LayerNorm, softmax, GELU, the losses and AdamW stay fp32, and so do
//     attention's per-head products and the masked-LM decoder.
//
// There is no loss scaling: bf16 keeps fp32's 8-bit exponent, so a gradient
// fp32 can hold does not underflow in bf16. Loss scaling exists for fp16,
// whose 5-bit exponent flushes small gradients to zero.
type mixedPrecision struct {
	on      bool
	epoch   uint64
	x, dy   []uint16 // activation and gradient casts, reused product to product
	dyT     []uint16 // the gradient's cast, transposed, for the weight gradient
	mirrors map[*Param]*bf16Mirror
}

// bf16Mirror is a weight's bf16 copy, current as of epoch.
type bf16Mirror struct {
	w     []uint16
	epoch uint64
}

// cpuFlags reads the CPU's flags; tests replace it to play another CPU.
var cpuFlags = kernels.CPUFlags

// SetPrecision chooses the products' number format. BF16 fails, naming
// what is missing, unless this build and this CPU run bf16 products natively
// (kernels.CheckBF16): an emulated bf16 is slower than fp32.
func (m *Model) SetPrecision(p Precision) error {
	if err := CheckPrecision(p); err != nil {
		return err
	}
	m.mix.on = p == BF16
	return nil
}

// CheckPrecision says why p cannot run in this build on this CPU, or nil:
// what SetPrecision checks, for commands that check before loading a model.
func CheckPrecision(p Precision) error {
	switch p {
	case FP32:
	case BF16:
		if err := kernels.CheckBF16(cpuFlags()); err != nil {
			return fmt.Errorf("model: %w", err)
		}
	default:
		return fmt.Errorf("model: precision %q; use %s or %s", p, FP32, BF16)
	}
	return nil
}

// Precision reports the products' number format.
func (m *Model) Precision() Precision {
	if m.mix.on {
		return BF16
	}
	return FP32
}

// newEpoch marks every weight's bf16 copy stale: the optimizer may have
// changed the weights since the last forward pass.
func (mp *mixedPrecision) newEpoch() {
	if mp.on {
		mp.epoch++
	}
}

// weight returns p's bf16 copy, casting it if it is older than this epoch.
func (mp *mixedPrecision) weight(p *Param) []uint16 {
	if mp.mirrors == nil {
		mp.mirrors = map[*Param]*bf16Mirror{}
	}
	c := mp.mirrors[p]
	if c == nil {
		c = &bf16Mirror{w: make([]uint16, len(p.W)), epoch: mp.epoch - 1}
		mp.mirrors[p] = c
	}
	if c.epoch != mp.epoch {
		kernels.ToBF16(c.w, p.W)
		c.epoch = mp.epoch
	}
	return c.w
}

// cast rounds src into the scratch buffer *buf and returns it.
func cast(buf *[]uint16, src []float32) []uint16 {
	if cap(*buf) < len(src) {
		*buf = make([]uint16, len(src))
	}
	*buf = (*buf)[:len(src)]
	kernels.ToBF16(*buf, src)
	return *buf
}

// castT rounds the rows×cols matrix src (rows ld apart) into *buf
// transposed and returns it.
func castT(buf *[]uint16, src []float32, rows, cols, ld int) []uint16 {
	if cap(*buf) < rows*cols {
		*buf = make([]uint16, rows*cols)
	}
	*buf = (*buf)[:rows*cols]
	kernels.ToBF16T(*buf, src, rows, cols, ld)
	return *buf
}

// DescribePrecision is the start-up log line's account of p: what runs the
// products and, for bf16, what stays fp32.
func DescribePrecision(p Precision) string {
	if p == BF16 {
		return fmt.Sprintf("bf16 mixed (products on bf16 operands by %s, fp32 accumulate; fp32 master weights, optimizer, norms, softmax, GELU and losses)", kernels.BF16Backend)
	}
	return fmt.Sprintf("fp32 (products by %s, %s kernels)", kernels.Backend(), kernels.BLASCore())
}

package kernels

// AdamWConsts are one AdamW update's scalars: the moment rates B1, B2 and
// their complements C1, C2; Inv2 = 1/√(1−β₂ᵗ) and Step = lr/(1−β₁ᵗ) (the bias
// corrections folded in); Decay = 1 − lr·wd (or 1); Scale multiplies the
// gradient as it is read (gradient clipping).
type AdamWConsts struct {
	B1, B2, C1, C2, Inv2, Eps, Decay, Step, Scale float32
}

//go:build !openblas

package kernels

const backendName = "gonum (pure Go)"

// gonum's kernels spread one call over all cores themselves.
const SplitGEMM = false

// BLASCore names the kernel set in use.
func BLASCore() string { return "gonum" }

// BLASAdvice is "": the pure-Go kernels have no settings to get wrong.
func BLASAdvice() string { return "" }

func SetBLASThreads(n int) {}

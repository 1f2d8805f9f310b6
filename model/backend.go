package model

import "github.com/taskweave/taskweave/model/kernels"

// Backend names the BLAS implementation this binary was built with (see
// model/kernels).
func Backend() string { return kernels.Backend() }

// BLASCore names the kernel set the BLAS backend runs (e.g. "SkylakeX").
func BLASCore() string { return kernels.BLASCore() }

// BLASAdvice says what to change when the environment holds the BLAS
// backend below what the CPU runs; "" otherwise.
func BLASAdvice() string { return kernels.BLASAdvice() }

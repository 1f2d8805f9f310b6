//go:build !openblas

package model

const backendName = "gonum (pure Go)"

// setBLASThreads is a no-op: gonum's kernels spawn their own goroutines.
func setBLASThreads(n int) {}

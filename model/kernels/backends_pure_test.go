//go:build !onednn

package kernels

// extraGEMMBackends: none without oneDNN.
var extraGEMMBackends []gemmBackend

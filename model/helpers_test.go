package model

import "github.com/taskweave/taskweave/model/kernels/kerneltest"

var (
	randVec = kerneltest.RandVec
	closeTo = kerneltest.CloseTo
)

// sinkF keeps benchmark results alive so that the compiler cannot drop the work.
var sinkF float32

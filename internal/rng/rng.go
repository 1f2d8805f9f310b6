// Package rng is splitmix64 (Steele, Lea and Flood, "Fast splittable
// pseudorandom number generators", OOPSLA 2014), the one generator behind
// taskweave's resumable random streams: mixture sampling, PCGrad's task
// order and the dropout masks. Its whole state is one uint64, so a
// checkpoint stores it exactly and a resumed run draws the same numbers.
//
// The C kernels (model/kernels/elementwise_c.go) carry the same mixing function for the
// dropout masks; model/kernels' conformance tests compare the two bit for bit.
package rng

// Gamma is the state increment (2^64 divided by the golden ratio, odd).
const Gamma = 0x9e3779b97f4a7c15

// Mix is splitmix64's output function: a bijection of uint64 that spreads
// every input bit over the output, usable as a stateless hash of a counter.
func Mix(x uint64) uint64 {
	x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9
	x = (x ^ (x >> 27)) * 0x94d049bb133111eb
	return x ^ (x >> 31)
}

// Next advances state by one step and returns the draw.
func Next(state *uint64) uint64 {
	*state += Gamma
	return Mix(*state)
}

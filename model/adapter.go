package model

// Adapters (Houlsby et al. 2019): a task's bottleneck y' = y + up(gelu(down(y)))
// on the output y of a layer's attention projection and of its FFN, before
// dropout, the residual and the LayerNorm. The up projection starts at 0, so
// an adapter starts as the identity and the task as the shared model. With
// Sharing.FreezeShared only adapters, heads, LayerNorms and the other task
// parameters train.

// adapter is one bottleneck of width m.
type adapter struct {
	down, up linear // [m,H], [H,m]
}

// adapterAct holds what one adapter keeps for its backward pass.
type adapterAct struct {
	in, u, g []float32 // input [n,H]; pre-activation turned GELU derivative, output [n,m]
}

// adapterForward replaces y[n,H] by y + up(gelu(down(y))).
func adapterForward(ad *adapter, y []float32, n int, a *adapterAct) {
	H, w := ad.down.in, ad.down.out
	grow(&a.in, n*H)
	grow(&a.u, n*w)
	grow(&a.g, n*w)
	copy(a.in, y[:n*H])
	linearForward(ad.down, a.in, n, a.u)
	geluForward(a.u, a.g)
	// y = in + up(g): up's bias is in linearForward's output, so add in after.
	linearForward(ad.up, a.g, n, y)
	addMulInto(y[:n*H], y[:n*H], a.in, nil)
}

// adapterBackward turns dy = dL/d(adapter output) into dx = dL/d(its input)
// (dx must not alias dy) and adds the adapter's gradients; dg [n,m] is scratch.
func adapterBackward(ad *adapter, dy []float32, n int, a *adapterAct, dg, dx []float32) {
	H := ad.down.in
	copy(dx[:n*H], dy[:n*H])
	linearBackward(ad.up, a.g, dy, n, dg, false)
	geluBackward(a.u, dg)
	linearBackward(ad.down, a.in, dg, n, dx, true)
}

package model

import (
	"math"
	"runtime"

	"github.com/taskweave/taskweave/model/kernels"
)

// Attention works on one (batch row, head) pair at a time. Q, K and V sit
// side by side in one [N,3H] buffer (one product makes all three) and the
// context is [N,H]; the pair's slices are the d columns of head h in rows
// b·T…b·T+T-1, read with leading dimension 3H and H. Pairs run on one
// goroutine per core, each making single-threaded BLAS calls.

// attnScratch returns per-worker [T,T] scratch buffers.
func (st *state) attnScratch(T int) [][2][]float32 {
	w := runtime.GOMAXPROCS(0)
	for len(st.attnTmp) < w {
		st.attnTmp = append(st.attnTmp, [2][]float32{})
	}
	for i := 0; i < w; i++ {
		grow(&st.attnTmp[i][0], T*T)
		grow(&st.attnTmp[i][1], T*T)
	}
	return st.attnTmp[:w]
}

// attentionForward computes P = softmax(QKᵀ/√d + mask) into p[B,A,T,T] and
// ctx = drop(P)·V. drop is nil without dropout. keyMask[b*T+s] = 0 hides key s.
func (m *Model) attentionForward(qkv, p, drop, ctx []float32, keyMask []int32, B, T int) {
	H, A := m.cfg.HiddenSize, m.cfg.NumAttentionHeads
	d, H3 := H/A, 3*H
	q, k, v := qkv, qkv[H:], qkv[2*H:]
	scale := float32(1 / math.Sqrt(float64(d)))
	tmp := m.st.attnScratch(T)
	kernels.ParallelWorkers(B*A, func(w, i int) {
		b, h := i/A, i%A
		off, o3 := b*T*H+h*d, b*T*H3+h*d
		pb := p[i*T*T : (i+1)*T*T]
		kernels.Gemm1(false, true, T, T, d, scale, q[o3:], H3, k[o3:], H3, 0, pb, T)
		softmaxMasked(pb, T, keyMask[b*T:(b+1)*T])
		src := pb
		if drop != nil {
			src = tmp[w][0][:T*T]
			db := drop[i*T*T : (i+1)*T*T]
			for j := range src {
				src[j] = pb[j] * db[j]
			}
		}
		kernels.Gemm1(false, false, T, d, T, 1, src, T, v[o3:], H3, 0, ctx[off:], H)
	})
}

// softmaxMasked turns each row of s[T,T] into probabilities over the keys
// whose mask is 1. Hidden keys get exactly 0, as exp of BERT's additive
// float32-min bias does; a row with no visible key is uniform, as there.
func softmaxMasked(s []float32, T int, keyMask []int32) {
	// Right padding, the usual case: the visible keys are a prefix.
	visible := 0
	for visible < T && keyMask[visible] != 0 {
		visible++
	}
	prefix := visible > 0
	for _, mk := range keyMask[visible:] {
		if mk != 0 {
			prefix = false
			break
		}
	}
	if prefix {
		kernels.Softmax(s, T, visible, 1)
		return
	}
	visible = 0
	for _, mk := range keyMask {
		if mk != 0 {
			visible++
		}
	}
	for t := 0; t < T; t++ {
		row := s[t*T : (t+1)*T]
		if visible == 0 {
			for j := range row {
				row[j] = 1 / float32(T)
			}
			continue
		}
		mx := float32(math.Inf(-1))
		for j, v := range row {
			if keyMask[j] != 0 && v > mx {
				mx = v
			}
		}
		var sum float32
		for j, v := range row {
			if keyMask[j] == 0 {
				row[j] = 0
				continue
			}
			e := kernels.Expf(v - mx)
			row[j] = e
			sum += e
		}
		inv := 1 / sum
		for j := range row {
			row[j] *= inv
		}
	}
}

// attentionBackward turns dctx into dQ, dK, dV, overwriting dqkv ([N,3H],
// laid out as qkv).
func (m *Model) attentionBackward(qkv, p, drop, dctx, dqkv []float32, B, T int) {
	H, A := m.cfg.HiddenSize, m.cfg.NumAttentionHeads
	d, H3 := H/A, 3*H
	q, k, v := qkv, qkv[H:], qkv[2*H:]
	dq, dk, dv := dqkv, dqkv[H:], dqkv[2*H:]
	scale := float32(1 / math.Sqrt(float64(d)))
	tmp := m.st.attnScratch(T)
	kernels.ParallelWorkers(B*A, func(w, i int) {
		b, h := i/A, i%A
		off, o3 := b*T*H+h*d, b*T*H3+h*d
		pb := p[i*T*T : (i+1)*T*T]
		dp := tmp[w][0][:T*T]
		// dP' = dctx·Vᵀ, dV = P'ᵀ·dctx with P' the dropped probabilities.
		kernels.Gemm1(false, true, T, T, d, 1, dctx[off:], H, v[o3:], H3, 0, dp, T)
		src := pb
		var db []float32
		if drop != nil {
			db = drop[i*T*T : (i+1)*T*T]
			src = tmp[w][1][:T*T]
			for j := range src {
				src[j] = pb[j] * db[j]
			}
		}
		kernels.Gemm1(true, false, T, d, T, 1, src, T, dctx[off:], H, 0, dv[o3:], H3)
		// Softmax backward: dS = P ⊙ (dP − Σ P⊙dP) row by row.
		for t := 0; t < T; t++ {
			pr := pb[t*T : (t+1)*T]
			dr := dp[t*T : (t+1)*T]
			if db != nil {
				dbr := db[t*T : (t+1)*T]
				for j := range dr {
					dr[j] *= dbr[j]
				}
			}
			var dot float32
			for j := range dr {
				dot += pr[j] * dr[j]
			}
			for j := range dr {
				dr[j] = pr[j] * (dr[j] - dot)
			}
		}
		kernels.Gemm1(false, false, T, d, T, scale, dp, T, k[o3:], H3, 0, dq[o3:], H3)
		kernels.Gemm1(true, false, T, d, T, scale, dp, T, q[o3:], H3, 0, dk[o3:], H3)
	})
}

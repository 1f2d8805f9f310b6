//go:build openblas

package kernels

/*
#cgo CFLAGS: -O3 -ffast-math
#cgo LDFLAGS: -lm
#include <stdint.h>
#include <math.h>
#include <string.h>

// Reassociation lets GCC vectorise the sums; nothing here relies on NaN or errno.
// errno needs the command line: GCC declares sqrtf once, from the command
// line's flags, so the pragma alone leaves it a call that may set errno and
// the AdamW loops scalar. cgo accepts -ffast-math but not -fno-math-errno;
// the pragma takes back the parts of -ffast-math these kernels must not
// have (infinities and NaN stay IEEE, a/b is not a·(1/b)). -ffast-math is not
// passed to the linker, so the FPU's flush-to-zero mode is left alone.
#pragma GCC optimize("no-math-errno", "no-trapping-math", "no-signed-zeros", "associative-math", "no-finite-math-only", "no-reciprocal-math", "no-cx-limited-range")

// Element-wise kernels of the fast build, written so that GCC vectorises
// them (target_clones picks AVX-512, AVX2 or SSE2 at load time). They
// compute the same functions as mathf.go: a degree-7 exp after Cody-Waite
// reduction and Abramowitz & Stegun 7.1.26 for erf.

#define TW_CLONES __attribute__((target_clones("avx512f", "avx2", "default")))

static inline float tw_exp(float x) {
	float xc = x < -87.0f ? -87.0f : (x > 88.0f ? 88.0f : x);
	float kf = floorf(xc * 1.44269504088896341f + 0.5f);
	float r = xc - kf * 0.693359375f - kf * -2.12194440e-4f;
	float p = 1.0f + r * (1.0f + r * (1.0f / 2 + r * (1.0f / 6 + r * (1.0f / 24 + r * (1.0f / 120 + r * (1.0f / 720 + r * (1.0f / 5040)))))));
	union { int32_t i; float f; } u;
	u.i = ((int32_t)kf + 127) << 23;
	float e = p * u.f;
	return x < -87.0f ? 0.0f : e;
}

TW_CLONES void tw_gelu(float *x, float *y, int64_t n) {
	for (int64_t i = 0; i < n; i++) {
		float v = x[i];
		float z = v * 0.70710678118654752440f;
		float az = fabsf(z);
		float e = tw_exp(-z * z);
		float t = 1.0f / (1.0f + 0.3275911f * az);
		float erfa = 1.0f - t * (0.254829592f + t * (-0.284496736f + t * (1.421413741f + t * (-1.453152027f + t * 1.061405429f)))) * e;
		float erfz = z < 0 ? -erfa : erfa;
		float c = 0.5f * (1.0f + erfz);
		y[i] = v * c;
		x[i] = c + v * e * 0.39894228040143267794f;
	}
}

// tw_exp_sub sets row[j] = exp(row[j] - mx) and returns the sum.
TW_CLONES float tw_exp_sub(float *row, int64_t n, float mx) {
	float s = 0;
	for (int64_t j = 0; j < n; j++) {
		float e = tw_exp(row[j] - mx);
		row[j] = e;
		s += e;
	}
	return s;
}

TW_CLONES float tw_max(const float *row, int64_t n) {
	float m = row[0];
	for (int64_t j = 1; j < n; j++) m = row[j] > m ? row[j] : m;
	return m;
}

TW_CLONES void tw_scale(float *row, int64_t n, float s) {
	for (int64_t j = 0; j < n; j++) row[j] *= s;
}

// tw_softmax_rows turns the rows of s[rows,T] into scale·softmax over the
// first visible columns; the rest become 0.
void tw_softmax_rows(float *s, int64_t T, int64_t rows, int64_t visible, float scale) {
	for (int64_t t = 0; t < rows; t++) {
		float *row = s + t * T;
		float mx = tw_max(row, visible);
		float sum = tw_exp_sub(row, visible, mx);
		tw_scale(row, visible, scale / sum);
		for (int64_t j = visible; j < T; j++) row[j] = 0;
	}
}

TW_CLONES void tw_layernorm(const float *x, float *xhat, float *y, float *rstd, const float *g, const float *b, int64_t rows, int64_t w, float eps) {
	for (int64_t r = 0; r < rows; r++) {
		const float *xr = x + r * w;
		double s = 0, ss = 0;
		for (int64_t j = 0; j < w; j++) s += xr[j];
		double mean = s / w;
		for (int64_t j = 0; j < w; j++) { double d = xr[j] - mean; ss += d * d; }
		double rs = 1.0 / sqrt(ss / w + eps);
		rstd[r] = (float)rs;
		float m32 = (float)mean, rs32 = (float)rs;
		float *xh = xhat + r * w, *yr = y + r * w;
		for (int64_t j = 0; j < w; j++) {
			float v = (xr[j] - m32) * rs32;
			xh[j] = v;
			yr[j] = v * g[j] + b[j];
		}
	}
}

TW_CLONES void tw_layernorm_back(const float *dy, const float *xhat, const float *rstd, const float *g, float *dx, int64_t rows, int64_t w) {
	for (int64_t r = 0; r < rows; r++) {
		const float *d = dy + r * w, *xh = xhat + r * w;
		double s1 = 0, s2 = 0;
		for (int64_t j = 0; j < w; j++) { float t = d[j] * g[j]; s1 += t; s2 += (double)t * xh[j]; }
		float m1 = (float)(s1 / w), m2 = (float)(s2 / w), rs = rstd[r];
		float *o = dx + r * w;
		for (int64_t j = 0; j < w; j++) o[j] = rs * (d[j] * g[j] - m1 - xh[j] * m2);
	}
}

static inline uint64_t tw_mix64(uint64_t x) {
	x ^= x >> 30; x *= 0xbf58476d1ce4e5b9ULL;
	x ^= x >> 27; x *= 0x94d049bb133111ebULL;
	x ^= x >> 31;
	return x;
}

// Same stream as DropoutMask in kernels_go.go, bit for bit.
TW_CLONES void tw_dropout(float *mask, int64_t n, uint64_t start, uint64_t key, uint64_t threshold, float keep) {
	for (int64_t i = 0; i < n; i++) {
		uint64_t h = tw_mix64(key + (start + (uint64_t)i) * 0x9e3779b97f4a7c15ULL) >> 32;
		mask[i] = h < threshold ? 0.0f : keep;
	}
}

// The AdamW kernels keep IEEE evaluation order: tw_adamw_idle must repeat
// tw_adamw's arithmetic bit for bit (with g = 0) in whichever part of the
// vector loop an element falls, and reassociation lets the vector body and
// the scalar tail differ.
#pragma GCC push_options
#pragma GCC optimize("no-associative-math")

// tw_adamw is one AdamW update of n parameters; the gradient is read as
// scale·g (gradient clipping folded in) and g itself is left alone.
TW_CLONES void tw_adamw(float *w, const float *g, float *m, float *v, int64_t n, float b1, float b2, float c1, float c2, float inv2, float eps, float decay, float step, float scale) {
	for (int64_t j = 0; j < n; j++) {
		float gj = g[j] * scale;
		float mj = b1 * m[j] + c1 * gj;
		float vj = b2 * v[j] + c2 * gj * gj;
		m[j] = mj; v[j] = vj;
		float denom = sqrtf(vj) * inv2 + eps;
		w[j] = w[j] * decay - step * mj / denom;
	}
}

// tw_adamw_idle replays `steps` zero-gradient AdamW steps on one row (see
// model/lazy.go and AdamWIdle): the expressions are tw_adamw's with g = 0.
TW_CLONES void tw_adamw_idle(float *w, float *m, float *v, int64_t n, int64_t steps, const float *decay, const float *step, const float *inv2, float b1, float b2, float eps, float theta2) {
	int64_t s = 0;
	for (; s < steps; s++) {
		int active = 0;
		float d = decay[s], st = step[s], i2 = inv2[s];
		for (int64_t j = 0; j < n; j++) {
			float mj = b1 * m[j];
			float vj = b2 * v[j];
			m[j] = mj; v[j] = vj;
			float denom = sqrtf(vj) * i2 + eps;
			int a = mj * mj > theta2 * vj;
			// One expression for both cases, as in tw_adamw, so that the
			// compiler contracts it the same way (w·d − 0 is w·d exactly).
			float q = a ? st * mj / denom : 0.0f;
			w[j] = w[j] * d - q;
			active |= a;
		}
		if (!active) { s++; break; }
	}
	for (; s < steps; s++) {
		float d = decay[s];
		for (int64_t j = 0; j < n; j++) { m[j] *= b1; v[j] *= b2; w[j] *= d; }
	}
}

#pragma GCC pop_options

// tw_to_bf16 rounds n floats to bfloat16, to nearest with ties to even (the
// upper 16 bits after adding 0x7fff plus the lowest kept bit); NaN stays a
// quiet NaN instead of rounding into infinity.
TW_CLONES void tw_to_bf16(uint16_t *dst, const float *src, int64_t n) {
	for (int64_t i = 0; i < n; i++) {
		uint32_t u;
		memcpy(&u, &src[i], 4);
		uint16_t r = (uint16_t)((u + 0x7fffu + ((u >> 16) & 1u)) >> 16);
		uint16_t q = (uint16_t)(u >> 16) | 0x40;
		dst[i] = (u & 0x7fffffffu) > 0x7f800000u ? q : r;
	}
}

// tw_to_bf16_t rounds columns j0..j1 of the rows×? matrix src (rows ld
// apart) into dst transposed, dst[j*rows+i], as tw_to_bf16 rounds. 32×32
// tiles keep both sides' lines in L1.
TW_CLONES void tw_to_bf16_t(uint16_t *dst, const float *src, int64_t rows, int64_t ld, int64_t j0, int64_t j1) {
	for (int64_t i0 = 0; i0 < rows; i0 += 32) {
		int64_t i1 = i0 + 32 < rows ? i0 + 32 : rows;
		for (int64_t j = j0; j < j1; j++) {
			uint16_t *out = dst + j * rows;
			for (int64_t i = i0; i < i1; i++) {
				uint32_t u;
				memcpy(&u, &src[i * ld + j], 4);
				uint16_t r = (uint16_t)((u + 0x7fffu + ((u >> 16) & 1u)) >> 16);
				uint16_t q = (uint16_t)(u >> 16) | 0x40;
				out[i] = (u & 0x7fffffffu) > 0x7f800000u ? q : r;
			}
		}
	}
}

// tw_sumsq is the sum of squares of n floats, accumulated in double.
TW_CLONES double tw_sumsq(const float *g, int64_t n) {
	double s = 0;
	for (int64_t j = 0; j < n; j++) { double x = g[j]; s += x * x; }
	return s;
}
*/
import "C"

import "unsafe"

// CKernels reports whether the element-wise kernels are the vectorised C ones.
const CKernels = true

// GELU writes y = x·Φ(x) and overwrites x with the derivative Φ(x) + x·φ(x).
func GELU(x, y []float32) {
	if len(x) == 0 {
		return
	}
	C.tw_gelu((*C.float)(unsafe.Pointer(&x[0])), (*C.float)(unsafe.Pointer(&y[0])), C.int64_t(len(x)))
}

// Softmax turns every row of s[rows,T] into scale·softmax over its first
// visible columns and zeroes the others (see elementwise_go.go).
func Softmax(s []float32, T, visible int, scale float32) {
	if len(s) < T || T == 0 {
		return
	}
	C.tw_softmax_rows(fp(s), C.int64_t(T), C.int64_t(len(s)/T), C.int64_t(visible), C.float(scale))
}

func fp(s []float32) *C.float { return (*C.float)(unsafe.Pointer(unsafe.SliceData(s))) }

// LayerNormRows normalises rows of width w (see model.layerNormForward).
func LayerNormRows(x, xhat, y, rstd, g, b []float32, w int, eps float32) {
	if len(rstd) == 0 {
		return
	}
	C.tw_layernorm(fp(x), fp(xhat), fp(y), fp(rstd), fp(g), fp(b), C.int64_t(len(rstd)), C.int64_t(w), C.float(eps))
}

// LayerNormBackRows writes the input gradient of rows of width w.
func LayerNormBackRows(dy, xhat, rstd, g, dx []float32, w int) {
	if len(rstd) == 0 {
		return
	}
	C.tw_layernorm_back(fp(dy), fp(xhat), fp(rstd), fp(g), fp(dx), C.int64_t(len(rstd)), C.int64_t(w))
}

// DropoutMask fills mask from the splitmix64 stream keyed by key (see elementwise_go.go).
func DropoutMask(mask []float32, start, key, threshold uint64, keep float32) {
	if len(mask) == 0 {
		return
	}
	C.tw_dropout(fp(mask), C.int64_t(len(mask)), C.uint64_t(start), C.uint64_t(key), C.uint64_t(threshold), C.float(keep))
}

// AdamW applies one AdamW update to a slice of a parameter.
func AdamW(w, g, m, v []float32, k AdamWConsts) {
	if len(w) == 0 {
		return
	}
	C.tw_adamw(fp(w), fp(g), fp(m), fp(v), C.int64_t(len(w)), C.float(k.B1), C.float(k.B2), C.float(k.C1), C.float(k.C2),
		C.float(k.Inv2), C.float(k.Eps), C.float(k.Decay), C.float(k.Step), C.float(k.Scale))
}

// SumSquares is Σ g², accumulated in float64.
func SumSquares(g []float32) float64 {
	if len(g) == 0 {
		return 0
	}
	return float64(C.tw_sumsq(fp(g), C.int64_t(len(g))))
}

// Scale multiplies g by s in place.
func Scale(g []float32, s float32) {
	if len(g) == 0 {
		return
	}
	C.tw_scale(fp(g), C.int64_t(len(g)), C.float(s))
}

// AdamWIdle replays zero-gradient AdamW steps on one row (see elementwise_go.go).
func AdamWIdle(w, m, v, decay, step, inv2 []float32, b1, b2, eps, theta2 float32) {
	if len(w) == 0 || len(decay) == 0 {
		return
	}
	C.tw_adamw_idle(fp(w), fp(m), fp(v), C.int64_t(len(w)), C.int64_t(len(decay)), fp(decay), fp(step), fp(inv2),
		C.float(b1), C.float(b2), C.float(eps), C.float(theta2))
}

func toBF16Range(dst []uint16, src []float32) {
	if len(src) == 0 {
		return
	}
	C.tw_to_bf16((*C.uint16_t)(unsafe.Pointer(&dst[0])), fp(src), C.int64_t(len(src)))
}

func toBF16TRange(dst []uint16, src []float32, rows, ld, j0, j1 int) {
	if rows == 0 || j0 == j1 {
		return
	}
	C.tw_to_bf16_t((*C.uint16_t)(unsafe.Pointer(&dst[0])), fp(src), C.int64_t(rows), C.int64_t(ld), C.int64_t(j0), C.int64_t(j1))
}

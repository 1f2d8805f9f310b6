//go:build openblas

package model

/*
#cgo CFLAGS: -O3
#include <stdint.h>
#include <math.h>

// Reassociation lets GCC vectorise the sums; nothing here relies on NaN or errno.
#pragma GCC optimize("no-math-errno", "no-trapping-math", "no-signed-zeros", "associative-math")

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

// tw_softmax_rows turns rows [r0,r1) of s[*,T] into softmax probabilities
// over the first visible columns; the rest become 0.
void tw_softmax_rows(float *s, int64_t T, int64_t rows, int64_t visible) {
	for (int64_t t = 0; t < rows; t++) {
		float *row = s + t * T;
		float mx = tw_max(row, visible);
		float sum = tw_exp_sub(row, visible, mx);
		tw_scale(row, visible, 1.0f / sum);
		for (int64_t j = visible; j < T; j++) row[j] = 0;
	}
}
*/
import "C"

import "unsafe"

const cKernels = true

func geluRange(x, y []float32) {
	if len(x) == 0 {
		return
	}
	C.tw_gelu((*C.float)(unsafe.Pointer(&x[0])), (*C.float)(unsafe.Pointer(&y[0])), C.int64_t(len(x)))
}

// softmaxPrefix applies softmax to every row of s[rows,T] over the first
// visible columns and zeroes the others.
func softmaxPrefix(s []float32, T, visible int) {
	C.tw_softmax_rows((*C.float)(unsafe.Pointer(&s[0])), C.int64_t(T), C.int64_t(len(s)/T), C.int64_t(visible))
}

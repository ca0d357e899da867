/* simd_vec.h -- a thin vector abstraction so that one template (eltwise_tmpl.h) builds both
 * the AVX2 and the AVX-512 row kernels. Include ONLY from *_avx2.c (define SIMD_VEC_AVX2 first) or
 * *_avx512.c (define SIMD_VEC_AVX512 first). */
#ifndef OC_SIMD_VEC_H
#define OC_SIMD_VEC_H

#include "ops.h"

#include <immintrin.h>
#include <stdint.h>

#if defined(SIMD_VEC_AVX512)
typedef __m512 vf;
typedef __mmask16 vmask;  /* tail mask */
typedef __mmask16 vcmp;   /* comparison result */
#define VL 16
#define VEC_SFX(name) name##_avx512
static inline vf vf_load(const float *p) { return _mm512_loadu_ps(p); }
static inline void vf_store(float *p, vf v) { _mm512_storeu_ps(p, v); }
static inline vf vf_set1(float x) { return _mm512_set1_ps(x); }
static inline vf vf_zero(void) { return _mm512_setzero_ps(); }
static inline vf vf_add(vf a, vf b) { return _mm512_add_ps(a, b); }
static inline vf vf_sub(vf a, vf b) { return _mm512_sub_ps(a, b); }
static inline vf vf_mul(vf a, vf b) { return _mm512_mul_ps(a, b); }
static inline vf vf_div(vf a, vf b) { return _mm512_div_ps(a, b); }
static inline vf vf_fma(vf a, vf b, vf c) { return _mm512_fmadd_ps(a, b, c); }
static inline vf vf_fnma(vf a, vf b, vf c) { return _mm512_fnmadd_ps(a, b, c); }
static inline vf vf_max(vf a, vf b) { return _mm512_max_ps(a, b); }
static inline vf vf_min(vf a, vf b) { return _mm512_min_ps(a, b); }
static inline vf vf_and(vf a, vf b) { return _mm512_and_ps(a, b); }
static inline vf vf_andnot(vf a, vf b) { return _mm512_andnot_ps(a, b); }
static inline vf vf_xor(vf a, vf b) { return _mm512_xor_ps(a, b); }
static inline vf vf_round(vf a) { return _mm512_roundscale_ps(a, _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC); }
/* 2^n for integral n in [-126, 127] held as float */
static inline vf vf_pow2n(vf n)
{
    __m512i i = _mm512_cvtps_epi32(n);
    i = _mm512_slli_epi32(_mm512_add_epi32(i, _mm512_set1_epi32(127)), 23);
    return _mm512_castsi512_ps(i);
}
static inline vcmp vf_lt(vf a, vf b) { return _mm512_cmp_ps_mask(a, b, _CMP_LT_OQ); }
static inline vcmp vf_ge(vf a, vf b) { return _mm512_cmp_ps_mask(a, b, _CMP_GE_OQ); }
static inline vcmp vf_gt(vf a, vf b) { return _mm512_cmp_ps_mask(a, b, _CMP_GT_OQ); }
/* c ? t : f */
static inline vf vf_sel(vcmp c, vf t, vf f) { return _mm512_mask_blend_ps(c, f, t); }
static inline vmask vf_tail(int64_t n) { return (vmask)((n >= 16) ? 0xFFFF : ((1u << n) - 1u)); }
static inline vf vf_mload(const float *p, vmask m) { return _mm512_maskz_loadu_ps(m, p); }
static inline void vf_mstore(float *p, vmask m, vf v) { _mm512_mask_storeu_ps(p, m, v); }
static inline float vf_hsum(vf a) { return _mm512_reduce_add_ps(a); }
static inline float vf_hmax(vf a) { return _mm512_reduce_max_ps(a); }
static inline vf vf_sqrt(vf a) { return _mm512_sqrt_ps(a); }
#elif defined(SIMD_VEC_AVX2)
typedef __m256 vf;
typedef __m256i vmask;
typedef __m256 vcmp;
#define VL 8
#define VEC_SFX(name) name##_avx2
static inline vf vf_load(const float *p) { return _mm256_loadu_ps(p); }
static inline void vf_store(float *p, vf v) { _mm256_storeu_ps(p, v); }
static inline vf vf_set1(float x) { return _mm256_set1_ps(x); }
static inline vf vf_zero(void) { return _mm256_setzero_ps(); }
static inline vf vf_add(vf a, vf b) { return _mm256_add_ps(a, b); }
static inline vf vf_sub(vf a, vf b) { return _mm256_sub_ps(a, b); }
static inline vf vf_mul(vf a, vf b) { return _mm256_mul_ps(a, b); }
static inline vf vf_div(vf a, vf b) { return _mm256_div_ps(a, b); }
static inline vf vf_fma(vf a, vf b, vf c) { return _mm256_fmadd_ps(a, b, c); }
static inline vf vf_fnma(vf a, vf b, vf c) { return _mm256_fnmadd_ps(a, b, c); }
static inline vf vf_max(vf a, vf b) { return _mm256_max_ps(a, b); }
static inline vf vf_min(vf a, vf b) { return _mm256_min_ps(a, b); }
static inline vf vf_and(vf a, vf b) { return _mm256_and_ps(a, b); }
static inline vf vf_andnot(vf a, vf b) { return _mm256_andnot_ps(a, b); }
static inline vf vf_xor(vf a, vf b) { return _mm256_xor_ps(a, b); }
static inline vf vf_round(vf a) { return _mm256_round_ps(a, _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC); }
static inline vf vf_pow2n(vf n)
{
    __m256i i = _mm256_cvtps_epi32(n);
    i = _mm256_slli_epi32(_mm256_add_epi32(i, _mm256_set1_epi32(127)), 23);
    return _mm256_castsi256_ps(i);
}
static inline vcmp vf_lt(vf a, vf b) { return _mm256_cmp_ps(a, b, _CMP_LT_OQ); }
static inline vcmp vf_ge(vf a, vf b) { return _mm256_cmp_ps(a, b, _CMP_GE_OQ); }
static inline vcmp vf_gt(vf a, vf b) { return _mm256_cmp_ps(a, b, _CMP_GT_OQ); }
static inline vf vf_sel(vcmp c, vf t, vf f) { return _mm256_blendv_ps(f, t, c); }
static inline vf vf_sqrt(vf a) { return _mm256_sqrt_ps(a); }
static inline vmask vf_tail(int64_t n)
{
    return _mm256_cmpgt_epi32(_mm256_set1_epi32((int)(n > 8 ? 8 : n)),
                              _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7));
}
static inline vf vf_mload(const float *p, vmask m) { return _mm256_maskload_ps(p, m); }
static inline void vf_mstore(float *p, vmask m, vf v) { _mm256_maskstore_ps(p, m, v); }
static inline float vf_hsum(vf a)
{
    __m128 s = _mm_add_ps(_mm256_castps256_ps128(a), _mm256_extractf128_ps(a, 1));
    s = _mm_add_ps(s, _mm_movehl_ps(s, s));
    s = _mm_add_ss(s, _mm_movehdup_ps(s));
    return _mm_cvtss_f32(s);
}
static inline float vf_hmax(vf a)
{
    __m128 s = _mm_max_ps(_mm256_castps256_ps128(a), _mm256_extractf128_ps(a, 1));
    s = _mm_max_ps(s, _mm_movehl_ps(s, s));
    s = _mm_max_ss(s, _mm_movehdup_ps(s));
    return _mm_cvtss_f32(s);
}
#else
#error "define SIMD_VEC_AVX2 or SIMD_VEC_AVX512 before including simd_vec.h"
#endif

/* ---- math on vectors (own polynomial approximations) ---- */

/* Polynomial coefficients: our own near-minimax fits, tools/fixtures/fit_vec_math.py.
 * exp(x): Cody-Waite range reduction, e^r = 1 + r + r^2 p5(r) on [-ln2/2, ln2/2] (fit error
 * 6e-11; in float ~1.5e-7 relative). Returns 0 below -87.3 (where expf goes denormal) and saturates above 88. */
static inline vf vf_exp(vf x)
{
    vcmp tiny = vf_lt(x, vf_set1(-87.33654f));
    x = vf_min(vf_max(x, vf_set1(-87.33654f)), vf_set1(88.0f));
    vf n = vf_round(vf_mul(x, vf_set1(1.44269504088896341f)));
    vf r = vf_fnma(n, vf_set1(0.693359375f), x);
    r = vf_fnma(n, vf_set1(-2.12194440e-4f), r);
    vf p = vf_set1(1.9826496204e-4f);
    p = vf_fma(p, r, vf_set1(1.3946020782e-3f));
    p = vf_fma(p, r, vf_set1(8.3334299753e-3f));
    p = vf_fma(p, r, vf_set1(4.1666270285e-2f));
    p = vf_fma(p, r, vf_set1(1.6666666164e-1f));
    p = vf_fma(p, r, vf_set1(5.0000000781e-1f));
    p = vf_fma(p, vf_mul(r, r), vf_add(r, vf_set1(1.0f)));
    vf y = vf_mul(p, vf_pow2n(n));
    return vf_sel(tiny, vf_zero(), y);
}

static inline vf vf_abs(vf x) { return vf_andnot(vf_set1(-0.0f), x); }

/* sigmoid, accurate for large |x|: e = exp(-|x|); x >= 0 ? 1/(1+e) : e/(1+e) */
static inline vf vf_sigmoid(vf x)
{
    vf e = vf_exp(vf_xor(vf_abs(x), vf_set1(-0.0f)));
    vf d = vf_add(vf_set1(1.0f), e);
    vf num = vf_sel(vf_ge(x, vf_zero()), vf_set1(1.0f), e);
    return vf_div(num, d);
}

/* tanh: x + x^3 q4(x^2) for |x| < 0.625 (fit error 5e-9), else (1 - e)/(1 + e) with
 * e = exp(-2|x|) */
static inline vf vf_tanh(vf x)
{
    vf ax = vf_abs(x);
    vf sign = vf_and(x, vf_set1(-0.0f));
    vf z = vf_mul(x, x);
    vf p = vf_set1(-5.7191263869e-3f);
    p = vf_fma(p, z, vf_set1(2.0653288505e-2f));
    p = vf_fma(p, z, vf_set1(-5.3744715470e-2f));
    p = vf_fma(p, z, vf_set1(1.3331513484e-1f));
    p = vf_fma(p, z, vf_set1(-3.3333285258e-1f));
    vf small = vf_fma(vf_mul(p, z), x, x);
    vf e = vf_exp(vf_mul(ax, vf_set1(-2.0f)));
    vf big = vf_div(vf_sub(vf_set1(1.0f), e), vf_add(vf_set1(1.0f), e));
    big = vf_xor(big, sign);
    return vf_sel(vf_lt(ax, vf_set1(0.625f)), small, big);
}

/* erfc(z) for z >= 0: t = 1/(1 + z/2), erfc = t exp(-z^2 + P9(t)), P9 fitted on z in [0, 10]
 * (relative error 5e-8 in exact arithmetic) */
static inline vf vf_erfc_pos(vf z)
{
    vf t = vf_div(vf_set1(1.0f), vf_fma(z, vf_set1(0.5f), vf_set1(1.0f)));
    vf p = vf_set1(0.14493021357f);
    p = vf_fma(p, t, vf_set1(-0.68082717697f));
    p = vf_fma(p, t, vf_set1(1.1567337552f));
    p = vf_fma(p, t, vf_set1(-0.69625189632f));
    p = vf_fma(p, t, vf_set1(-0.080280434347f));
    p = vf_fma(p, t, vf_set1(0.0012675875321f));
    p = vf_fma(p, t, vf_set1(0.034602799603f));
    p = vf_fma(p, t, vf_set1(0.38664041223f));
    p = vf_fma(p, t, vf_set1(0.99863278333f));
    p = vf_fma(p, t, vf_set1(-1.2654479969f));
    vf a = vf_fnma(z, z, p);
    return vf_mul(t, vf_exp(a));
}

/* GELU (erf form): 0.5 x (1 + erf(x/sqrt2)) = 0.5 x (x >= 0 ? 2 - erfc(z) : erfc(z)),
 * z = |x|/sqrt2, which keeps full relative accuracy for negative x */
static inline vf vf_gelu(vf x)
{
    vf z = vf_mul(vf_abs(x), vf_set1(0.70710678118654752f));
    vf c = vf_erfc_pos(z);
    vf g = vf_sel(vf_ge(x, vf_zero()), vf_sub(vf_set1(2.0f), c), c);
    return vf_mul(vf_mul(x, vf_set1(0.5f)), g);
}

/* GELU tanh form: 0.5 x (1 + tanh(u)) = x * sigmoid(2u) */
static inline vf vf_gelu_tanh(vf x)
{
    vf x3 = vf_mul(vf_mul(x, x), x);
    vf u = vf_mul(vf_fma(x3, vf_set1(0.044715f), x), vf_set1(0.7978845608028654f));
    return vf_mul(x, vf_sigmoid(vf_add(u, u)));
}

static inline vf vf_hardswish(vf v)
{
    vf t = vf_min(vf_max(vf_add(v, vf_set1(3.0f)), vf_zero()), vf_set1(6.0f));
    return vf_div(vf_mul(v, t), vf_set1(6.0f));
}

/* The one definition of every activation on a vector: the conv/GEMM epilogues
 * (gemm_avx2.c, gemm_avx512.c, conv2d_avx512.c) and the standalone activation
 * (eltwise_tmpl.h) all call it, so a fused layer and the same layer unfused give the same
 * bits. */
static inline vf vf_act(oc_act act, vf v)
{
    switch (act) {
    case OC_ACT_NONE: return v;
    case OC_ACT_RELU: return vf_max(v, vf_zero());
    case OC_ACT_SILU: return vf_mul(v, vf_sigmoid(v));
    case OC_ACT_SIGMOID: return vf_sigmoid(v);
    case OC_ACT_TANH: return vf_tanh(v);
    case OC_ACT_GELU: return vf_gelu(v);
    case OC_ACT_GELU_TANH: return vf_gelu_tanh(v);
    case OC_ACT_HARDSWISH: return vf_hardswish(v);
    }
    return v;
}

#endif

/* conv_math_avx512.h -- vectorised activations for the AVX-512 conv/GEMM files (included
 * only by *_avx512.c files: it needs -mavx512f). exp by range reduction + degree-6
 * polynomial (relative error ~1e-7), tanh from exp (odd series near 0), erf by Abramowitz &
 * Stegun 7.1.26 (|error| <= 1.5e-7). */
#ifndef OC_CONV_MATH_AVX512_H
#define OC_CONV_MATH_AVX512_H

#include "conv_impl.h"

#include <immintrin.h>

static inline __m512 exp512(__m512 x)
{
    x = _mm512_min_ps(_mm512_max_ps(x, _mm512_set1_ps(-87.3f)), _mm512_set1_ps(88.3f));
    __m512 n = _mm512_roundscale_ps(_mm512_mul_ps(x, _mm512_set1_ps(1.44269504088896341f)),
                                    _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
    __m512 r = _mm512_fnmadd_ps(n, _mm512_set1_ps(0.693359375f), x);
    r = _mm512_fnmadd_ps(n, _mm512_set1_ps(-2.12194440e-4f), r);
    __m512 p = _mm512_set1_ps(1.0f / 720.0f);
    p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(1.0f / 120.0f));
    p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(1.0f / 24.0f));
    p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(1.0f / 6.0f));
    p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(0.5f));
    p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(1.0f));
    p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(1.0f));
    return _mm512_scalef_ps(p, n);
}

static inline __m512 tanh512(__m512 x)
{
    __m512 ax = _mm512_abs_ps(x);
    __m512 t = exp512(_mm512_mul_ps(ax, _mm512_set1_ps(-2.0f)));
    __m512 big = _mm512_div_ps(_mm512_sub_ps(_mm512_set1_ps(1.0f), t),
                               _mm512_add_ps(_mm512_set1_ps(1.0f), t));
    /* small |x|: odd Taylor series, avoids the cancellation in 1 - t */
    __m512 x2 = _mm512_mul_ps(x, x);
    __m512 p = _mm512_set1_ps(-17.0f / 315.0f);
    p = _mm512_fmadd_ps(p, x2, _mm512_set1_ps(2.0f / 15.0f));
    p = _mm512_fmadd_ps(p, x2, _mm512_set1_ps(-1.0f / 3.0f));
    p = _mm512_mul_ps(p, x2);
    __m512 small = _mm512_fmadd_ps(p, x, x);
    /* sign of x onto big */
    __m512 sgn = _mm512_castsi512_ps(_mm512_and_si512(_mm512_castps_si512(x),
                                                      _mm512_set1_epi32((int)0x80000000u)));
    big = _mm512_or_ps(big, sgn);
    __mmask16 m = _mm512_cmp_ps_mask(ax, _mm512_set1_ps(0.0625f), _CMP_LT_OQ);
    return _mm512_mask_blend_ps(m, big, small);
}

static inline __m512 erf512(__m512 x)
{
    /* Abramowitz & Stegun 7.1.26, |error| <= 1.5e-7 */
    __m512 ax = _mm512_abs_ps(x);
    __m512 t = _mm512_div_ps(_mm512_set1_ps(1.0f),
                             _mm512_fmadd_ps(ax, _mm512_set1_ps(0.3275911f), _mm512_set1_ps(1.0f)));
    __m512 p = _mm512_set1_ps(1.061405429f);
    p = _mm512_fmadd_ps(p, t, _mm512_set1_ps(-1.453152027f));
    p = _mm512_fmadd_ps(p, t, _mm512_set1_ps(1.421413741f));
    p = _mm512_fmadd_ps(p, t, _mm512_set1_ps(-0.284496736f));
    p = _mm512_fmadd_ps(p, t, _mm512_set1_ps(0.254829592f));
    p = _mm512_mul_ps(p, t);
    __m512 e = exp512(_mm512_sub_ps(_mm512_setzero_ps(), _mm512_mul_ps(ax, ax)));
    __m512 y = _mm512_fnmadd_ps(p, e, _mm512_set1_ps(1.0f));
    __m512 sgn = _mm512_castsi512_ps(_mm512_and_si512(_mm512_castps_si512(x),
                                                      _mm512_set1_epi32((int)0x80000000u)));
    return _mm512_or_ps(y, sgn);
}

static inline __m512 act512(oc_act act, __m512 v)
{
    const __m512 one = _mm512_set1_ps(1.0f);
    switch (act) {
    case OC_ACT_NONE: return v;
    case OC_ACT_RELU: return _mm512_max_ps(v, _mm512_setzero_ps());
    case OC_ACT_SILU:
        return _mm512_div_ps(v, _mm512_add_ps(one, exp512(_mm512_sub_ps(_mm512_setzero_ps(), v))));
    case OC_ACT_SIGMOID:
        return _mm512_div_ps(one, _mm512_add_ps(one, exp512(_mm512_sub_ps(_mm512_setzero_ps(), v))));
    case OC_ACT_TANH: return tanh512(v);
    case OC_ACT_GELU: {
        __m512 e = erf512(_mm512_mul_ps(v, _mm512_set1_ps(0.70710678118654752f)));
        return _mm512_mul_ps(_mm512_mul_ps(_mm512_set1_ps(0.5f), v), _mm512_add_ps(one, e));
    }
    case OC_ACT_GELU_TANH: {
        __m512 v3 = _mm512_mul_ps(_mm512_mul_ps(v, v), v);
        __m512 u = _mm512_mul_ps(_mm512_set1_ps(0.7978845608028654f),
                                 _mm512_fmadd_ps(v3, _mm512_set1_ps(0.044715f), v));
        return _mm512_mul_ps(_mm512_mul_ps(_mm512_set1_ps(0.5f), v),
                             _mm512_add_ps(one, tanh512(u)));
    }
    case OC_ACT_HARDSWISH: {
        __m512 t = _mm512_add_ps(v, _mm512_set1_ps(3.0f));
        t = _mm512_min_ps(_mm512_max_ps(t, _mm512_setzero_ps()), _mm512_set1_ps(6.0f));
        return _mm512_div_ps(_mm512_mul_ps(v, t), _mm512_set1_ps(6.0f));
    }
    }
    return v;
}

#endif

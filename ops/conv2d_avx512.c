/* conv2d_avx512.c -- depthwise conv, one channel plane at a time: 16 output columns per zmm,
 * all taps accumulated in registers; stride 2 de-interleaves with a two-source permute.
 * Border columns (where a tap falls in the padding) use the scalar per-pixel sum. */
#include "conv_impl.h"

#include <immintrin.h>

#define VW 16

static float dw_pixel(const oc_conv2d_desc *d, const float *x, int h, int w, const float *wt,
                      int oy, int ox)
{
    float s = 0.0f;
    for (int ky = 0; ky < d->kh; ky++) {
        int iy = oy * d->stride_h - d->pad_t + ky * d->dil_h;
        if (iy < 0 || iy >= h) continue;
        for (int kx = 0; kx < d->kw; kx++) {
            int ix = ox * d->stride_w - d->pad_l + kx * d->dil_w;
            if (ix < 0 || ix >= w) continue;
            s += wt[ky * d->kw + kx] * x[(size_t)iy * w + ix];
        }
    }
    return s;
}

void oc_dw_plane_avx512(const oc_conv2d_desc *d, const float *x, int h, int w,
                        const float *wt, float bias, float *y, int oh, int ow,
                        const float *res)
{
    int sw = d->stride_w, span = (d->kw - 1) * d->dil_w;
    /* columns whose taps are all inside the row */
    int lo = (d->pad_l + sw - 1) / sw;
    int hi = (w - 1 + d->pad_l - span) >= 0 ? (w - 1 + d->pad_l - span) / sw + 1 : 0;
    if (hi > ow) hi = ow;
    if (lo > hi) lo = hi;
    const __m512i even = _mm512_setr_epi32(0, 2, 4, 6, 8, 10, 12, 14, 16, 18, 20, 22, 24, 26,
                                           28, 30);
    for (int oy = 0; oy < oh; oy++) {
        float *yr = y + (size_t)oy * ow;
        int ox = 0;
        for (; ox < lo; ox++) yr[ox] = dw_pixel(d, x, h, w, wt, oy, ox);
        if (sw == 1 || sw == 2) {
            for (; ox + VW <= hi; ox += VW) {
                __m512 acc = _mm512_setzero_ps();
                for (int ky = 0; ky < d->kh; ky++) {
                    int iy = oy * d->stride_h - d->pad_t + ky * d->dil_h;
                    if (iy < 0 || iy >= h) continue;
                    const float *xr = x + (size_t)iy * w + (size_t)ox * sw - d->pad_l;
                    for (int kx = 0; kx < d->kw; kx++) {
                        const float *p = xr + kx * d->dil_w;
                        __m512 xv;
                        if (sw == 1) {
                            xv = _mm512_loadu_ps(p);
                        } else {
                            __m512 a = _mm512_loadu_ps(p);
                            __m512 b = _mm512_maskz_loadu_ps((__mmask16)0x7FFF, p + 16);
                            xv = _mm512_permutex2var_ps(a, even, b);
                        }
                        acc = _mm512_fmadd_ps(_mm512_set1_ps(wt[ky * d->kw + kx]), xv, acc);
                    }
                }
                _mm512_storeu_ps(yr + ox, acc);
            }
        }
        for (; ox < ow; ox++) yr[ox] = dw_pixel(d, x, h, w, wt, oy, ox);
        /* epilogue */
        int i = 0;
        __m512 bv = _mm512_set1_ps(bias);
        for (; i + VW <= ow; i += VW) _mm512_storeu_ps(yr + i, _mm512_add_ps(_mm512_loadu_ps(yr + i), bv));
        for (; i < ow; i++) yr[i] += bias;
        oc_act_avx512(d->act, yr, (size_t)ow);
        if (res) {
            const float *rr = res + (size_t)oy * ow;
            for (i = 0; i + VW <= ow; i += VW)
                _mm512_storeu_ps(yr + i, _mm512_add_ps(_mm512_loadu_ps(yr + i), _mm512_loadu_ps(rr + i)));
            for (; i < ow; i++) yr[i] += rr[i];
        }
    }
}

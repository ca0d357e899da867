/* conv2d_avx2.c -- depthwise conv, one channel plane at a time: 8 output columns per ymm
 * (stride 1), all taps accumulated in registers. Border columns and other strides use the
 * scalar per-pixel sum. */
#include "conv_impl.h"

#include <immintrin.h>

#define VW 8

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

void oc_dw_plane_avx2(const oc_conv2d_desc *d, const float *x, int h, int w, const float *wt,
                      float bias, float *y, int oh, int ow, const float *res)
{
    int sw = d->stride_w, span = (d->kw - 1) * d->dil_w;
    int lo = (d->pad_l + sw - 1) / sw;
    int hi = (w - 1 + d->pad_l - span) >= 0 ? (w - 1 + d->pad_l - span) / sw + 1 : 0;
    if (hi > ow) hi = ow;
    if (lo > hi) lo = hi;
    for (int oy = 0; oy < oh; oy++) {
        float *yr = y + (size_t)oy * ow;
        int ox = 0;
        for (; ox < lo; ox++) yr[ox] = dw_pixel(d, x, h, w, wt, oy, ox);
        if (sw == 1) {
            for (; ox + VW <= hi; ox += VW) {
                __m256 acc = _mm256_setzero_ps();
                for (int ky = 0; ky < d->kh; ky++) {
                    int iy = oy * d->stride_h - d->pad_t + ky * d->dil_h;
                    if (iy < 0 || iy >= h) continue;
                    const float *xr = x + (size_t)iy * w + ox - d->pad_l;
                    for (int kx = 0; kx < d->kw; kx++)
                        acc = _mm256_fmadd_ps(_mm256_set1_ps(wt[ky * d->kw + kx]),
                                              _mm256_loadu_ps(xr + kx * d->dil_w), acc);
                }
                _mm256_storeu_ps(yr + ox, acc);
            }
        }
        for (; ox < ow; ox++) yr[ox] = dw_pixel(d, x, h, w, wt, oy, ox);
        int i = 0;
        __m256 bv = _mm256_set1_ps(bias);
        for (; i + VW <= ow; i += VW) _mm256_storeu_ps(yr + i, _mm256_add_ps(_mm256_loadu_ps(yr + i), bv));
        for (; i < ow; i++) yr[i] += bias;
        oc_act_avx2(d->act, yr, (size_t)ow);
        if (res) {
            const float *rr = res + (size_t)oy * ow;
            for (i = 0; i + VW <= ow; i += VW)
                _mm256_storeu_ps(yr + i, _mm256_add_ps(_mm256_loadu_ps(yr + i), _mm256_loadu_ps(rr + i)));
            for (; i < ow; i++) yr[i] += rr[i];
        }
    }
}

/* conv2d_avx512.c -- depthwise conv, one channel plane at a time: 16 output columns per zmm,
 * all taps accumulated in registers. Taps that fall in the padding are masked lanes of the
 * load (masked-out lanes are never read), so borders need no scalar code; stride 2
 * de-interleaves two loads with a two-source permute (a masked gather at the borders), other
 * strides gather. */
#include "conv_impl.h"
#define SIMD_VEC_AVX512
#include "simd_vec.h"

#include <immintrin.h>

#define VW 16

static inline __mmask16 lanes(int lo, int hi)
{
    if (lo < 0) lo = 0;
    if (hi > 16) hi = 16;
    if (hi <= lo) return 0;
    return (__mmask16)(((1u << (hi - lo)) - 1u) << lo);
}

void oc_dw_plane_avx512(const oc_conv2d_desc *d, const float *x, int h, int w,
                        const float *wt, float bias, float *y, int oh, int ow,
                        const float *res)
{
    int sw = d->stride_w, kw = d->kw, dw = d->dil_w;
    const __m512i even = _mm512_setr_epi32(0, 2, 4, 6, 8, 10, 12, 14, 16, 18, 20, 22, 24, 26,
                                           28, 30);
    const __m512i lane = _mm512_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15);
    const __m512 bv = _mm512_set1_ps(bias);
    for (int oy = 0; oy < oh; oy++) {
        float *yr = y + (size_t)oy * ow;
        const float *rr = res ? res + (size_t)oy * ow : NULL;
        for (int ox = 0; ox < ow; ox += VW) {
            int cnt = ow - ox < VW ? ow - ox : VW;
            __mmask16 m = lanes(0, cnt);
            int ix_first = ox * sw - d->pad_l;
            /* every tap of every lane inside the row: plain loads */
            int inside = cnt == VW && ix_first >= 0 &&
                         ix_first + (VW - 1) * sw + (kw - 1) * dw < w;
            __m512 acc = _mm512_setzero_ps();
            for (int ky = 0; ky < d->kh; ky++) {
                int iy = oy * d->stride_h - d->pad_t + ky * d->dil_h;
                if (iy < 0 || iy >= h) continue;
                const float *xr = x + (size_t)iy * w;
                const float *wk = wt + ky * kw;
                if (inside && sw == 1) {
                    const float *p = xr + ix_first;
                    for (int kx = 0; kx < kw; kx++)
                        acc = _mm512_fmadd_ps(_mm512_set1_ps(wk[kx]), _mm512_loadu_ps(p + kx * dw),
                                              acc);
                    continue;
                }
                for (int kx = 0; kx < kw; kx++) {
                    int ixs = ix_first + kx * dw; /* input of lane 0 */
                    /* lanes l with 0 <= ixs + l*sw < w */
                    int llo, lhi;
                    if (sw == 1) {
                        llo = -ixs;
                        lhi = w - ixs;
                    } else if (sw == 2) {
                        llo = ixs >= 0 ? 0 : (-ixs + 1) >> 1;
                        lhi = ixs >= w ? 0 : (w - ixs + 1) >> 1;
                    } else {
                        llo = ixs >= 0 ? 0 : (-ixs + sw - 1) / sw;
                        lhi = ixs >= w ? 0 : (w - ixs + sw - 1) / sw;
                    }
                    if (lhi > cnt) lhi = cnt;
                    __mmask16 lm = lanes(llo, lhi);
                    if (!lm) continue;
                    __m512 xv;
                    if (sw == 1) {
                        xv = _mm512_maskz_loadu_ps(lm, xr + ixs);
                    } else if (sw == 2 && lm == 0xFFFF) {
                        const float *p = xr + ixs;
                        xv = _mm512_permutex2var_ps(_mm512_loadu_ps(p), even,
                                                    _mm512_maskz_loadu_ps((__mmask16)0x7FFF, p + 16));
                    } else {
                        __m512i idx = _mm512_add_epi32(_mm512_mullo_epi32(lane, _mm512_set1_epi32(sw)),
                                                       _mm512_set1_epi32(ixs));
                        xv = _mm512_mask_i32gather_ps(_mm512_setzero_ps(), lm, idx, xr, 4);
                    }
                    acc = _mm512_fmadd_ps(_mm512_set1_ps(wk[kx]), xv, acc);
                }
            }
            /* fused epilogue: act(acc + bias) + residual */
            __m512 v = vf_act(d->act, _mm512_add_ps(acc, bv));
            if (rr) v = _mm512_add_ps(v, _mm512_maskz_loadu_ps(m, rr + ox));
            _mm512_mask_storeu_ps(yr + ox, m, v);
        }
    }
}

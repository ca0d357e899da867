/* pool_avx2.c -- separable max pooling with AVX2: per output row, the max over the window's
 * input rows (a contiguous, vectorised pass into a row buffer), then the max over each
 * window's columns (vectorised for stride 1). Max is exact, so the result equals the scalar
 * reference; NaN handling matches it too (a NaN in the window gives NaN). */
#include "row_kernels.h"

#include <immintrin.h>
#include <math.h>

/* m = (v > m || v is NaN) ? v : m, lane-wise (the scalar reference's rule) */
static inline __m256 nmax(__m256 m, __m256 v)
{
    __m256 take = _mm256_or_ps(_mm256_cmp_ps(v, m, _CMP_GT_OQ), _mm256_cmp_ps(v, v, _CMP_UNORD_Q));
    return _mm256_blendv_ps(m, v, take);
}

static inline float smax(float m, float v) { return (v > m || v != v) ? v : m; }

void oc_maxpool_plane_avx2(const oc_pool2d_desc *d, const float *xp, int h, int w, float *yp,
                              int oh, int ow, float *col)
{
    const int kw = d->kw, sw = d->stride_w, pl = d->pad_l;
    for (int i = 0; i < oh; i++) {
        int hs = i * d->stride_h - d->pad_t, he = hs + d->kh;
        if (hs < 0) hs = 0;
        if (he > h) he = h;
        /* vertical pass */
        int j = 0;
        if (he <= hs) {
            for (j = 0; j < w; j++) col[j] = -INFINITY;
        } else {
            const float *r0 = xp + (int64_t)hs * w;
            for (; j + 8 <= w; j += 8) {
                __m256 m = _mm256_loadu_ps(r0 + j);
                for (int r = hs + 1; r < he; r++) m = nmax(m, _mm256_loadu_ps(xp + (int64_t)r * w + j));
                _mm256_storeu_ps(col + j, m);
            }
            for (; j < w; j++) {
                float m = r0[j];
                for (int r = hs + 1; r < he; r++) m = smax(m, xp[(int64_t)r * w + j]);
                col[j] = m;
            }
        }
        /* horizontal pass */
        float *yr = yp + (int64_t)i * ow;
        int o = 0;
        if (sw == 1) {
            /* interior outputs: window [o - pl, o - pl + kw) inside [0, w) */
            int lo = pl, hi = w - kw + pl; /* o in [lo, hi] is interior */
            for (; o < ow && o < lo; o++) {
                int ws = o - pl, we = ws + kw;
                if (ws < 0) ws = 0;
                if (we > w) we = w;
                float m = -INFINITY;
                for (int s = ws; s < we; s++) m = smax(m, col[s]);
                yr[o] = m;
            }
            for (; o + 8 <= ow && o + 7 <= hi; o += 8) {
                const float *c0 = col + (o - pl);
                __m256 m = _mm256_loadu_ps(c0);
                for (int s = 1; s < kw; s++) m = nmax(m, _mm256_loadu_ps(c0 + s));
                _mm256_storeu_ps(yr + o, m);
            }
        }
        for (; o < ow; o++) {
            int ws = o * sw - pl, we = ws + kw;
            if (ws < 0) ws = 0;
            if (we > w) we = w;
            float m = -INFINITY;
            for (int s = ws; s < we; s++) m = smax(m, col[s]);
            yr[o] = m;
        }
    }
}

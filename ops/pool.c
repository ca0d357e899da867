/* pool.c -- max / average / adaptive-average 2-D pooling (NCHW), PyTorch semantics:
 * padding is never a candidate for max; ceil_mode drops a last window that would start in
 * the right padding; avg divides by the window clipped to input+padding (count_include_pad)
 * or to the input alone. */
#include "h4_simd.h"

#include <math.h>

#define OC_POOL_PAR_MIN 16384
#define OC_POOL_ROW 8192 /* widest input row for the separable SIMD path (stack buffer) */

static int pool_len(int in, int k, int s, int p0, int p1, int ceil_mode)
{
    int64_t num = (int64_t)in + p0 + p1 - (k - 1) - 1 + (ceil_mode ? s - 1 : 0);
    if (num < 0 || s <= 0 || k <= 0) return 0;
    int64_t out = num / s + 1;
    if (ceil_mode && (out - 1) * s >= (int64_t)in + p0) out--;
    return out < 0 ? 0 : (int)out;
}

void oc_pool2d_out_size(const oc_pool2d_desc *d, int h, int w, int *oh, int *ow)
{
    *oh = pool_len(h, d->kh, d->stride_h, d->pad_t, d->pad_b, d->ceil_mode);
    *ow = pool_len(w, d->kw, d->stride_w, d->pad_l, d->pad_r, d->ceil_mode);
}

void oc_maxpool2d(const oc_ctx *ctx, const oc_pool2d_desc *d, const float *x, int n, int c,
                  int h, int w, float *y)
{
    int oh, ow;
    oc_pool2d_out_size(d, h, w, &oh, &ow);
    const int nt = ctx->nthreads > 0 ? ctx->nthreads : 1;
    const int64_t planes = (int64_t)n * c;
    if (oh <= 0 || ow <= 0) return;
    if (ctx->isa >= OC_ISA_AVX2 && w <= OC_POOL_ROW && d->kh > 1) {
        /* separable: window rows first (vectorised), then columns (ops/pool_avx2.c) */
#pragma omp parallel num_threads(nt) if (nt > 1 && planes * oh * ow >= OC_POOL_PAR_MIN)
        {
            float col[OC_POOL_ROW];
#pragma omp for schedule(static)
            for (int64_t p = 0; p < planes; p++)
                oc_h4_maxpool_plane_avx2(d, x + p * h * w, h, w, y + p * oh * ow, oh, ow, col);
        }
        return;
    }
#pragma omp parallel for num_threads(nt) schedule(static) if (nt > 1 && planes * oh * ow >= OC_POOL_PAR_MIN)
    for (int64_t p = 0; p < planes; p++) {
        const float *xp = x + p * h * w;
        float *yp = y + p * oh * ow;
        for (int i = 0; i < oh; i++) {
            int hs = i * d->stride_h - d->pad_t, he = hs + d->kh;
            if (hs < 0) hs = 0;
            if (he > h) he = h;
            for (int j = 0; j < ow; j++) {
                int ws = j * d->stride_w - d->pad_l, we = ws + d->kw;
                if (ws < 0) ws = 0;
                if (we > w) we = w;
                float m = -INFINITY;
                for (int r = hs; r < he; r++) {
                    const float *row = xp + (int64_t)r * w;
                    for (int s = ws; s < we; s++) {
                        float v = row[s];
                        if (v > m || v != v) m = v;
                    }
                }
                yp[(int64_t)i * ow + j] = m;
            }
        }
    }
}

void oc_avgpool2d(const oc_ctx *ctx, const oc_pool2d_desc *d, const float *x, int n, int c,
                  int h, int w, float *y)
{
    int oh, ow;
    oc_pool2d_out_size(d, h, w, &oh, &ow);
    const int nt = ctx->nthreads > 0 ? ctx->nthreads : 1;
    const int64_t planes = (int64_t)n * c;
    if (oh <= 0 || ow <= 0) return;
#pragma omp parallel for num_threads(nt) schedule(static) if (nt > 1 && planes * oh * ow >= OC_POOL_PAR_MIN)
    for (int64_t p = 0; p < planes; p++) {
        const float *xp = x + p * h * w;
        float *yp = y + p * oh * ow;
        for (int i = 0; i < oh; i++) {
            int hs = i * d->stride_h - d->pad_t, he = hs + d->kh;
            if (he > h + d->pad_b) he = h + d->pad_b;
            int ph = he - hs;
            if (hs < 0) hs = 0;
            if (he > h) he = h;
            for (int j = 0; j < ow; j++) {
                int ws = j * d->stride_w - d->pad_l, we = ws + d->kw;
                if (we > w + d->pad_r) we = w + d->pad_r;
                int pw = we - ws;
                if (ws < 0) ws = 0;
                if (we > w) we = w;
                float s = 0;
                for (int r = hs; r < he; r++) {
                    const float *row = xp + (int64_t)r * w;
                    for (int q = ws; q < we; q++) s += row[q];
                }
                int cnt = d->count_include_pad ? ph * pw : (he - hs) * (we - ws);
                yp[(int64_t)i * ow + j] = cnt > 0 ? s / (float)cnt : 0.0f;
            }
        }
    }
}

void oc_adaptive_avgpool2d(const oc_ctx *ctx, const float *x, int n, int c, int h, int w, int oh,
                           int ow, float *y)
{
    const int nt = ctx->nthreads > 0 ? ctx->nthreads : 1;
    const int64_t planes = (int64_t)n * c;
    if (oh <= 0 || ow <= 0) return;
#pragma omp parallel for num_threads(nt) schedule(static) if (nt > 1 && planes * h * w >= OC_POOL_PAR_MIN)
    for (int64_t p = 0; p < planes; p++) {
        const float *xp = x + p * h * w;
        float *yp = y + p * oh * ow;
        for (int i = 0; i < oh; i++) {
            int hs = (int)(((int64_t)i * h) / oh);
            int he = (int)(((int64_t)(i + 1) * h + oh - 1) / oh);
            for (int j = 0; j < ow; j++) {
                int ws = (int)(((int64_t)j * w) / ow);
                int we = (int)(((int64_t)(j + 1) * w + ow - 1) / ow);
                float s = 0;
                for (int r = hs; r < he; r++)
                    for (int q = ws; q < we; q++) s += xp[(int64_t)r * w + q];
                yp[(int64_t)i * ow + j] = s / (float)((he - hs) * (we - ws));
            }
        }
    }
}

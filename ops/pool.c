/* pool.c -- max / average / adaptive-average 2-D pooling (NCHW), PyTorch semantics:
 * padding is never a candidate for max; ceil_mode drops a last window that would start in
 * the right padding; avg divides by the window clipped to input+padding (count_include_pad)
 * or to the input alone. */
#include "row_kernels.h"
#include "parallel.h"

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

typedef struct {
    const oc_pool2d_desc *d;
    const float *x;
    float *y;
    int h, w, oh, ow;
} pool_job;

static void maxpool_planes_sep(void *arg, int64_t p0, int64_t p1, int tid)
{
    (void)tid;
    const pool_job *j = arg;
    int h = j->h, w = j->w, oh = j->oh, ow = j->ow;
    float col[OC_POOL_ROW];
    for (int64_t p = p0; p < p1; p++)
        oc_maxpool_plane_avx2(j->d, j->x + p * h * w, h, w, j->y + p * oh * ow, oh, ow, col);
}

static void maxpool_planes(void *arg, int64_t p0, int64_t p1, int tid)
{
    (void)tid;
    const pool_job *j = arg;
    const oc_pool2d_desc *d = j->d;
    int h = j->h, w = j->w, oh = j->oh, ow = j->ow;
    for (int64_t p = p0; p < p1; p++) {
        const float *xp = j->x + p * h * w;
        float *yp = j->y + p * oh * ow;
        for (int i = 0; i < oh; i++) {
            int hs = i * d->stride_h - d->pad_t, he = hs + d->kh;
            if (hs < 0) hs = 0;
            if (he > h) he = h;
            for (int jj = 0; jj < ow; jj++) {
                int ws = jj * d->stride_w - d->pad_l, we = ws + d->kw;
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
                yp[(int64_t)i * ow + jj] = m;
            }
        }
    }
}

static void avgpool_planes(void *arg, int64_t p0, int64_t p1, int tid)
{
    (void)tid;
    const pool_job *j = arg;
    const oc_pool2d_desc *d = j->d;
    int h = j->h, w = j->w, oh = j->oh, ow = j->ow;
    for (int64_t p = p0; p < p1; p++) {
        const float *xp = j->x + p * h * w;
        float *yp = j->y + p * oh * ow;
        for (int i = 0; i < oh; i++) {
            int hs = i * d->stride_h - d->pad_t, he = hs + d->kh;
            if (he > h + d->pad_b) he = h + d->pad_b;
            int ph = he - hs;
            if (hs < 0) hs = 0;
            if (he > h) he = h;
            for (int jj = 0; jj < ow; jj++) {
                int ws = jj * d->stride_w - d->pad_l, we = ws + d->kw;
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
                yp[(int64_t)i * ow + jj] = cnt > 0 ? s / (float)cnt : 0.0f;
            }
        }
    }
}

static void adaptive_avgpool_planes(void *arg, int64_t p0, int64_t p1, int tid)
{
    (void)tid;
    const pool_job *j = arg;
    int h = j->h, w = j->w, oh = j->oh, ow = j->ow;
    for (int64_t p = p0; p < p1; p++) {
        const float *xp = j->x + p * h * w;
        float *yp = j->y + p * oh * ow;
        for (int i = 0; i < oh; i++) {
            int hs = (int)(((int64_t)i * h) / oh);
            int he = (int)(((int64_t)(i + 1) * h + oh - 1) / oh);
            for (int jj = 0; jj < ow; jj++) {
                int ws = (int)(((int64_t)jj * w) / ow);
                int we = (int)(((int64_t)(jj + 1) * w + ow - 1) / ow);
                float s = 0;
                for (int r = hs; r < he; r++)
                    for (int q = ws; q < we; q++) s += xp[(int64_t)r * w + q];
                yp[(int64_t)i * ow + jj] = s / (float)((he - hs) * (we - ws));
            }
        }
    }
}

void oc_maxpool2d(const oc_ctx *ctx, const oc_pool2d_desc *d, const float *x, int n, int c,
                  int h, int w, float *y)
{
    int oh, ow;
    oc_pool2d_out_size(d, h, w, &oh, &ow);
    const int nt = ctx->nthreads > 0 ? ctx->nthreads : 1;
    const int64_t planes = (int64_t)n * c;
    if (oh <= 0 || ow <= 0) return;
    pool_job j = {d, x, y, h, w, oh, ow};
    int par = nt > 1 && planes * oh * ow >= OC_POOL_PAR_MIN ? nt : 1;
    /* separable: window rows first (vectorised), then columns (ops/pool_avx2.c) */
    int sep = ctx->isa >= OC_ISA_AVX2 && w <= OC_POOL_ROW && d->kh > 1;
    oc_parallel_for(par, planes, 0, sep ? maxpool_planes_sep : maxpool_planes, &j);
}

void oc_avgpool2d(const oc_ctx *ctx, const oc_pool2d_desc *d, const float *x, int n, int c,
                  int h, int w, float *y)
{
    int oh, ow;
    oc_pool2d_out_size(d, h, w, &oh, &ow);
    const int nt = ctx->nthreads > 0 ? ctx->nthreads : 1;
    const int64_t planes = (int64_t)n * c;
    if (oh <= 0 || ow <= 0) return;
    pool_job j = {d, x, y, h, w, oh, ow};
    oc_parallel_for(nt > 1 && planes * oh * ow >= OC_POOL_PAR_MIN ? nt : 1, planes, 0,
                    avgpool_planes, &j);
}

void oc_adaptive_avgpool2d(const oc_ctx *ctx, const float *x, int n, int c, int h, int w, int oh,
                           int ow, float *y)
{
    const int nt = ctx->nthreads > 0 ? ctx->nthreads : 1;
    const int64_t planes = (int64_t)n * c;
    if (oh <= 0 || ow <= 0) return;
    pool_job j = {NULL, x, y, h, w, oh, ow};
    oc_parallel_for(nt > 1 && planes * h * w >= OC_POOL_PAR_MIN ? nt : 1, planes, 0,
                    adaptive_avgpool_planes, &j);
}

/* upsample.c -- nearest and bilinear resizing of NCHW maps with PyTorch's index rules
 * (computed in float like PyTorch's CPU kernels). */
#include "row_kernels.h"
#include "parallel.h"

#include <math.h>
#include <string.h>

#define OC_UP_PAR_MIN 16384
#define OC_UP_TAB 4096 /* widest output row served by the per-column tables (48 KB of stack) */

static inline int near_src(int dst, float scale, int in)
{
    int s = (int)floorf((float)dst * scale);
    return s < in - 1 ? s : in - 1;
}

typedef struct {
    oc_isa isa;
    const float *x;
    float *y;
    int h, w, oh, ow, align_corners;
    float sh, sw;
} up_job;

static void nearest_planes(void *arg, int64_t p0, int64_t p1, int tid)
{
    (void)tid;
    const up_job *jb = arg;
    const float *x = jb->x;
    float *y = jb->y;
    int h = jb->h, w = jb->w, oh = jb->oh, ow = jb->ow;
    const float sh = jb->sh, sw = jb->sw;
    const int x2 = (oh == 2 * h && ow == 2 * w);
    for (int64_t p = p0; p < p1; p++) {
        const float *xp = x + p * h * w;
        float *yp = y + p * oh * ow;
        if (x2) { /* exact factor 2 (YOLO's Upsample): each pixel twice, each row twice */
            for (int i = 0; i < h; i++) {
                const float *xr = xp + (int64_t)i * w;
                float *yr = yp + (int64_t)(2 * i) * ow;
                for (int j = 0; j < w; j++) yr[2 * j] = yr[2 * j + 1] = xr[j];
                memcpy(yr + ow, yr, (size_t)ow * sizeof(float));
            }
            continue;
        }
        int prev = -1;
        for (int i = 0; i < oh; i++) {
            int si = near_src(i, sh, h);
            float *yr = yp + (int64_t)i * ow;
            if (si == prev) {
                memcpy(yr, yr - ow, (size_t)ow * sizeof(float));
                continue;
            }
            prev = si;
            const float *xr = xp + (int64_t)si * w;
            for (int j = 0; j < ow; j++) yr[j] = xr[near_src(j, sw, w)];
        }
    }
}

void oc_upsample_nearest(const oc_ctx *ctx, const float *x, int n, int c, int h, int w, int oh,
                         int ow, float *y)
{
    const int nt = ctx->nthreads > 0 ? ctx->nthreads : 1;
    const int64_t planes = (int64_t)n * c;
    if (oh <= 0 || ow <= 0 || h <= 0 || w <= 0) return;
    up_job jb = {ctx->isa, x, y, h, w, oh, ow, 0, (float)h / (float)oh, (float)w / (float)ow};
    oc_parallel_for(nt > 1 && planes * oh * ow >= OC_UP_PAR_MIN ? nt : 1, planes, 0,
                    nearest_planes, &jb);
}

/* PyTorch linear source index: align_corners ? scale*dst : max(scale*(dst+0.5)-0.5, 0) */
static inline void lin_idx(int dst, float scale, int in, int align, int *i0, int *i1, float *l1)
{
    float src = align ? scale * (float)dst : scale * ((float)dst + 0.5f) - 0.5f;
    if (src < 0) src = 0;
    int i = (int)src;
    if (i > in - 1) i = in - 1;
    float lam = src - (float)i;
    if (lam < 0) lam = 0;
    if (lam > 1) lam = 1;
    *i0 = i;
    *i1 = i + (i < in - 1 ? 1 : 0);
    *l1 = lam;
}

static void bilinear_planes(void *arg, int64_t p0, int64_t p1, int tid)
{
    (void)tid;
    const up_job *jb = arg;
    const float *x = jb->x;
    float *y = jb->y;
    int h = jb->h, w = jb->w, oh = jb->oh, ow = jb->ow, align_corners = jb->align_corners;
    const float sh = jb->sh, sw = jb->sw;
    const oc_isa isa = jb->isa;
    {
        /* per-column source indices and weights, computed once per chunk of planes */
        int32_t cw0[OC_UP_TAB], cw1[OC_UP_TAB];
        float cl[OC_UP_TAB];
        const int tab = ow <= OC_UP_TAB;
        if (tab)
            for (int j = 0; j < ow; j++) {
                int a0, a1;
                lin_idx(j, sw, w, align_corners, &a0, &a1, &cl[j]);
                cw0[j] = a0;
                cw1[j] = a1;
            }
        for (int64_t p = p0; p < p1; p++) {
            const float *xp = x + p * h * w;
            float *yp = y + p * oh * ow;
            for (int i = 0; i < oh; i++) {
                int h0, h1;
                float lh;
                lin_idx(i, sh, h, align_corners, &h0, &h1, &lh);
                const float *r0 = xp + (int64_t)h0 * w, *r1 = xp + (int64_t)h1 * w;
                float *yr = yp + (int64_t)i * ow;
                const float wh0 = 1.0f - lh, wh1 = lh;
                if (tab && isa >= OC_ISA_AVX2) {
                    oc_bilinear_row_avx2(r0, r1, wh0, wh1, cw0, cw1, cl, yr, ow);
                } else if (tab) {
                    for (int j = 0; j < ow; j++) {
                        const float ww0 = 1.0f - cl[j], ww1 = cl[j];
                        yr[j] = wh0 * (ww0 * r0[cw0[j]] + ww1 * r0[cw1[j]]) +
                                wh1 * (ww0 * r1[cw0[j]] + ww1 * r1[cw1[j]]);
                    }
                } else {
                    for (int j = 0; j < ow; j++) {
                        int w0, w1;
                        float lw;
                        lin_idx(j, sw, w, align_corners, &w0, &w1, &lw);
                        const float ww0 = 1.0f - lw, ww1 = lw;
                        yr[j] = wh0 * (ww0 * r0[w0] + ww1 * r0[w1]) + wh1 * (ww0 * r1[w0] + ww1 * r1[w1]);
                    }
                }
            }
        }
    }
}

void oc_upsample_bilinear(const oc_ctx *ctx, const float *x, int n, int c, int h, int w, int oh,
                          int ow, int align_corners, float *y)
{
    const int nt = ctx->nthreads > 0 ? ctx->nthreads : 1;
    const int64_t planes = (int64_t)n * c;
    if (oh <= 0 || ow <= 0 || h <= 0 || w <= 0) return;
    float sh, sw;
    if (align_corners) {
        sh = oh > 1 ? (float)(h - 1) / (float)(oh - 1) : 0.0f;
        sw = ow > 1 ? (float)(w - 1) / (float)(ow - 1) : 0.0f;
    } else {
        sh = (float)h / (float)oh;
        sw = (float)w / (float)ow;
    }
    up_job jb = {ctx->isa, x, y, h, w, oh, ow, align_corners, sh, sw};
    oc_parallel_for(nt > 1 && planes * oh * ow >= OC_UP_PAR_MIN ? nt : 1, planes, 0,
                    bilinear_planes, &jb);
}

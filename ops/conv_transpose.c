/* conv_transpose.c -- torch.nn.functional.conv_transpose2d (no output_padding beyond what the
 * pads imply), weight [cin][cout/groups][kh][kw], optional bias, fused activation.
 *
 * Scalar path (the reference; also any isa given too little scratch): one output plane per
 * task (parallel over image x output channel): the plane starts at 0, every input sample
 * scatters weight * x into the outputs its taps reach
 *   oy = iy*stride_h - pad_t + ky*dil_h,  ox = ix*stride_w - pad_l + kx*dil_w,
 * then y = act(y + bias).
 * SIMD paths: per image and group one GEMM, col[(co,ky,kx)][iy*w+ix] = W_g^T x_g (oc_gemm:
 * our packed micro-kernels), then col2im adds each tap's plane into the output (tap order
 * fixed, so results do not depend on the thread count), then bias + activation. */
#include "conv_impl.h"
#include "internal.h"
#include "parallel.h"

static int tdim(int in, int s, int pa, int pb, int dil, int k)
{
    int64_t o = (int64_t)(in - 1) * s - pa - pb + (int64_t)dil * (k - 1) + 1;
    return o < 0 ? 0 : (int)o;
}

void oc_conv_transpose2d_out_size(const oc_conv2d_desc *d, int h, int w, int *oh, int *ow)
{
    *oh = tdim(h, d->stride_h, d->pad_t, d->pad_b, d->dil_h, d->kh);
    *ow = tdim(w, d->stride_w, d->pad_l, d->pad_r, d->dil_w, d->kw);
}

static int convt_valid(const oc_conv2d_desc *d)
{
    return d && d->groups >= 1 && d->cin >= 1 && d->cout >= 1 && d->cin % d->groups == 0 &&
           d->cout % d->groups == 0 && d->stride_h >= 1 && d->stride_w >= 1 && d->dil_h >= 1 &&
           d->dil_w >= 1 && d->kh >= 1 && d->kw >= 1 && d->pad_t >= 0 && d->pad_l >= 0 &&
           d->pad_b >= 0 && d->pad_r >= 0;
}

/* col buffer floats, rounded to 64 bytes */
static size_t col_floats(const oc_conv2d_desc *d, int h, int w)
{
    size_t mg = (size_t)(d->cout / d->groups) * d->kh * d->kw;
    return (mg * (size_t)h * (size_t)w + 15) / 16 * 16;
}

size_t oc_conv_transpose2d_scratch_bytes(const oc_conv2d_desc *d, int n, int h, int w,
                                         int nthreads)
{
    (void)n;
    if (!convt_valid(d) || h < 1 || w < 1) return 0;
    if ((int64_t)h * w > INT32_MAX) return 0;
    int mg = (d->cout / d->groups) * d->kh * d->kw;
    int cg = d->cin / d->groups;
    /* enough for whichever SIMD isa runs (the AVX-512 and AVX2 panels differ) */
    size_t g2 = oc_gemm_scratch_bytes(mg, h * w, cg, OC_ISA_AVX2, nthreads);
    size_t g5 = oc_gemm_scratch_bytes(mg, h * w, cg, OC_ISA_AVX512, nthreads);
    return col_floats(d, h, w) * sizeof(float) + (g2 > g5 ? g2 : g5);
}

typedef struct {
    const oc_conv2d_desc *d;
    const float *bias;
    const float *col;
    float *y;
    int img;
    int g;
    int og;
    int khw;
    int N;
    int h;
    int w;
    int oh;
    int ow;
    size_t plane;
} convt_col2im_job;

static void convt_col2im(void *arg, int64_t first, int64_t last, int tid)
{
    const convt_col2im_job *job = arg;
    const oc_conv2d_desc *d = job->d;
    const float *bias = job->bias;
    const float *col = job->col;
    float *y = job->y;
    int img = job->img;
    int g = job->g;
    int og = job->og;
    int khw = job->khw;
    int N = job->N;
    int h = job->h;
    int w = job->w;
    int oh = job->oh;
    int ow = job->ow;
    size_t plane = job->plane;
    (void)tid;
    for (int c = (int)first; c < last; c++) {
        int co = g * og + c;
        float *yp = y + ((size_t)img * d->cout + co) * plane;
        float b = bias ? bias[co] : 0.0f;
        for (size_t i = 0; i < plane; i++) yp[i] = 0.0f;
        for (int ky = 0; ky < d->kh; ky++)
            for (int kx = 0; kx < d->kw; kx++) {
                const float *cp = col + ((size_t)c * khw + ky * d->kw + kx) * N;
                int offx = -d->pad_l + kx * d->dil_w;
                int ix0 = offx >= 0 ? 0 : (-offx + d->stride_w - 1) / d->stride_w;
                int ix1 = ow - 1 - offx < 0 ? -1 : (ow - 1 - offx) / d->stride_w;
                if (ix1 > w - 1) ix1 = w - 1;
                for (int iy = 0; iy < h; iy++) {
                    int oy = iy * d->stride_h - d->pad_t + ky * d->dil_h;
                    if (oy < 0 || oy >= oh) continue;
                    const float *cr = cp + (size_t)iy * w;
                    float *yr = yp + (size_t)oy * ow + offx;
                    if (d->stride_w == 1)
                        for (int ix = ix0; ix <= ix1; ix++) yr[ix] += cr[ix];
                    else
                        for (int ix = ix0; ix <= ix1; ix++) yr[ix * d->stride_w] += cr[ix];
                }
            }
        for (size_t i = 0; i < plane; i++) yp[i] = oc_act_scalar(d->act, yp[i] + b);
    }
}

static void convt_gemm(const oc_ctx *ctx, const oc_conv2d_desc *d, const float *weight,
                       const float *bias, const float *x, int n, int h, int w, float *y, int oh,
                       int ow)
{
    int G = d->groups, cg = d->cin / G, og = d->cout / G, khw = d->kh * d->kw;
    int mg = og * khw, N = h * w;
    int nth = ctx->nthreads < 1 ? 1 : ctx->nthreads;
    float *col = ctx->scratch;
    size_t cbytes = col_floats(d, h, w) * sizeof(float);
    oc_ctx gctx = *ctx;
    gctx.scratch = (char *)ctx->scratch + cbytes;
    gctx.scratch_bytes = ctx->scratch_bytes - cbytes;
    size_t plane = (size_t)oh * ow;
    for (int img = 0; img < n; img++)
        for (int g = 0; g < G; g++) {
            const float *wg = weight + (size_t)g * cg * mg;     /* [cg][mg] */
            const float *xg = x + ((size_t)img * d->cin + (size_t)g * cg) * N;
            /* col[mg][N] = wg^T * xg */
            oc_gemm(&gctx, 1, 0, mg, N, cg, 1.0f, wg, mg, xg, N, 0.0f, col, N);
            convt_col2im_job job = {d, bias, col, y, img, g, og, khw, N, h, w, oh, ow, plane};
            oc_parallel_for(nth, og, 0, convt_col2im, &job);
        }
}

typedef struct {
    const oc_conv2d_desc *d;
    const float *weight;
    const float *bias;
    const float *x;
    float *y;
    int cg;
    int og;
    int h;
    int w;
    int oh;
    int ow;
    size_t plane;
    size_t iplane;
} convt_planes_job;

static void convt_planes(void *arg, int64_t first, int64_t last, int tid)
{
    const convt_planes_job *job = arg;
    const oc_conv2d_desc *d = job->d;
    const float *weight = job->weight;
    const float *bias = job->bias;
    const float *x = job->x;
    float *y = job->y;
    int cg = job->cg;
    int og = job->og;
    int h = job->h;
    int w = job->w;
    int oh = job->oh;
    int ow = job->ow;
    size_t plane = job->plane;
    size_t iplane = job->iplane;
    (void)tid;
    for (int64_t t = first; t < last; t++) {
        int img = (int)(t / d->cout), co = (int)(t % d->cout);
        int g = co / og, col = co % og;
        float *yp = y + (size_t)t * plane;
        for (size_t i = 0; i < plane; i++) yp[i] = 0.0f;
        for (int c = 0; c < cg; c++) {
            int ci = g * cg + c;
            const float *xp = x + ((size_t)img * d->cin + ci) * iplane;
            const float *wp = weight + (((size_t)ci * og + col) * d->kh) * d->kw;
            for (int ky = 0; ky < d->kh; ky++) {
                for (int kx = 0; kx < d->kw; kx++) {
                    float wv = wp[ky * d->kw + kx];
                    int offx = -d->pad_l + kx * d->dil_w;
                    /* ix range with 0 <= ix*sw + offx < ow */
                    int ix0 = offx >= 0 ? 0 : (-offx + d->stride_w - 1) / d->stride_w;
                    int ix1 = ow - 1 - offx < 0 ? -1 : (ow - 1 - offx) / d->stride_w;
                    if (ix1 > w - 1) ix1 = w - 1;
                    for (int iy = 0; iy < h; iy++) {
                        int oy = iy * d->stride_h - d->pad_t + ky * d->dil_h;
                        if (oy < 0 || oy >= oh) continue;
                        const float *xr = xp + (size_t)iy * w;
                        float *yr = yp + (size_t)oy * ow + offx;
                        for (int ix = ix0; ix <= ix1; ix++) yr[ix * d->stride_w] += wv * xr[ix];
                    }
                }
            }
        }
        float b = bias ? bias[co] : 0.0f;
        for (size_t i = 0; i < plane; i++) yp[i] = oc_act_scalar(d->act, yp[i] + b);
    }
}

void oc_conv_transpose2d(const oc_ctx *ctx, const oc_conv2d_desc *d, const float *weight,
                         const float *bias, const float *x, int n, int h, int w, float *y)
{
    if (!ctx || !d || !weight || !x || !y || n < 1 || h < 1 || w < 1) return;
    if (!convt_valid(d)) return;
    int oh, ow;
    oc_conv_transpose2d_out_size(d, h, w, &oh, &ow);
    if (oh < 1 || ow < 1) return;
    if (ctx->isa != OC_ISA_SCALAR && ctx->scratch && ((uintptr_t)ctx->scratch % 64) == 0 &&
        ctx->scratch_bytes >= oc_conv_transpose2d_scratch_bytes(d, n, h, w, ctx->nthreads) &&
        oc_conv_transpose2d_scratch_bytes(d, n, h, w, ctx->nthreads) > 0) {
        convt_gemm(ctx, d, weight, bias, x, n, h, w, y, oh, ow);
        return;
    }
    int cg = d->cin / d->groups, og = d->cout / d->groups;
    size_t plane = (size_t)oh * ow, iplane = (size_t)h * w;
    int64_t total = (int64_t)n * d->cout;
    int nth = ctx->nthreads < 1 ? 1 : ctx->nthreads;
    convt_planes_job job = {d, weight, bias, x, y, cg, og, h, w, oh, ow, plane, iplane};
    oc_parallel_for(nth, total, 1, convt_planes, &job);
}

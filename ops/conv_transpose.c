/* conv_transpose.c -- torch.nn.functional.conv_transpose2d (no output_padding beyond what the
 * pads imply), weight [cin][cout/groups][kh][kw], optional bias, fused activation.
 *
 * One output plane per task (parallel over image x output channel): the plane starts at 0,
 * every input sample scatters weight * x into the outputs its taps reach
 *   oy = iy*stride_h - pad_t + ky*dil_h,  ox = ix*stride_w - pad_l + kx*dil_w,
 * then y = act(y + bias). Needs no scratch; the inner loop over ix is a strided axpy. */
#include "conv_impl.h"
#include "internal.h"

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

size_t oc_conv_transpose2d_scratch_bytes(const oc_conv2d_desc *d, int n, int h, int w,
                                         int nthreads)
{
    (void)d;
    (void)n;
    (void)h;
    (void)w;
    (void)nthreads;
    return 0;
}

void oc_conv_transpose2d(const oc_ctx *ctx, const oc_conv2d_desc *d, const float *weight,
                         const float *bias, const float *x, int n, int h, int w, float *y)
{
    if (!ctx || !d || !weight || !x || !y || n < 1 || h < 1 || w < 1) return;
    if (d->groups < 1 || d->cin % d->groups || d->cout % d->groups || d->stride_h < 1 ||
        d->stride_w < 1 || d->dil_h < 1 || d->dil_w < 1 || d->kh < 1 || d->kw < 1)
        return;
    int oh, ow;
    oc_conv_transpose2d_out_size(d, h, w, &oh, &ow);
    if (oh < 1 || ow < 1) return;
    int cg = d->cin / d->groups, og = d->cout / d->groups;
    size_t plane = (size_t)oh * ow, iplane = (size_t)h * w;
    int64_t total = (int64_t)n * d->cout;
    int nth = ctx->nthreads < 1 ? 1 : ctx->nthreads;
#pragma omp parallel for num_threads(nth) schedule(dynamic, 1)
    for (int64_t t = 0; t < total; t++) {
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

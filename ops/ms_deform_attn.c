/* ms_deform_attn.c -- multi-scale deformable attention core (Deformable DETR's
 * MSDeformAttnFunction, as RT-DETR / RF-DETR compute it with grid_sample): scalar reference
 * and dispatch to the SIMD row kernels (ms_deform_attn_avx2.c, ms_deform_attn_avx512.c). */
#include "ms_deform_attn_impl.h"
#include "ops.h"

#include <string.h>

#define OC_MSDA_MAX_LEVELS 16

static void msda_row_scalar(const float *value, const int64_t *level_hw, const int64_t *lstart,
                            int nlevels, int heads, int dh, const float *loc, const float *attw,
                            int npoints, float *out)
{
    const int64_t vstride = (int64_t)heads * dh; /* between pixels */
    memset(out, 0, (size_t)heads * dh * sizeof(float));
    for (int h = 0; h < heads; h++) {
        float *o = out + (int64_t)h * dh;
        for (int l = 0; l < nlevels; l++) {
            const float *vl = value + lstart[l] * vstride + (int64_t)h * dh;
            for (int p = 0; p < npoints; p++) {
                int64_t k = ((int64_t)h * nlevels + l) * npoints + p;
                int64_t pix[4];
                float wt[4];
                int nc = oc_msda_corners(loc[2 * k], loc[2 * k + 1], level_hw[2 * l],
                                         level_hw[2 * l + 1], attw[k], pix, wt);
                for (int c = 0; c < nc; c++) {
                    const float *v = vl + pix[c] * vstride;
                    for (int j = 0; j < dh; j++) o[j] += wt[c] * v[j];
                }
            }
        }
    }
}

void oc_ms_deform_attn(const oc_ctx *ctx, const float *value, const int64_t *level_hw,
                       int nlevels, int n, int heads, int dh, const float *loc, const float *attw,
                       int lq, int npoints, float *out)
{
    if (n <= 0 || lq <= 0 || heads <= 0 || dh <= 0) return;
    if (nlevels <= 0 || nlevels > OC_MSDA_MAX_LEVELS || npoints <= 0) {
        memset(out, 0, (size_t)n * lq * heads * dh * sizeof(float));
        return;
    }
    int64_t lstart[OC_MSDA_MAX_LEVELS], s = 0;
    for (int l = 0; l < nlevels; l++) {
        lstart[l] = s;
        s += level_hw[2 * l] * level_hw[2 * l + 1];
    }
    const int nt = ctx->nthreads > 0 ? ctx->nthreads : 1;
    const int64_t rows = (int64_t)n * lq;
    const int64_t per_row = (int64_t)heads * nlevels * npoints; /* samples per query */
    void (*row)(const float *, const int64_t *, const int64_t *, int, int, int, const float *,
                const float *, int, float *) = msda_row_scalar;
    if (ctx->isa >= OC_ISA_AVX512 && dh % 16 == 0)
        row = oc_msda_row_avx512;
    else if (ctx->isa >= OC_ISA_AVX2 && dh % 8 == 0)
        row = oc_msda_row_avx2;
#pragma omp parallel for num_threads(nt) schedule(static) if (nt > 1 && rows * per_row * dh >= 32768)
    for (int64_t r = 0; r < rows; r++) {
        int64_t b = r / lq;
        row(value + b * s * heads * dh, level_hw, lstart, nlevels, heads, dh,
            loc + r * per_row * 2, attw + r * per_row, npoints, out + r * heads * dh);
    }
}

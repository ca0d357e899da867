/* ms_deform_attn.c -- multi-scale deformable attention core (Deformable DETR's
 * MSDeformAttnFunction, as RT-DETR / RF-DETR compute it with grid_sample): scalar reference
 * and dispatch to the SIMD row kernels (ms_deform_attn_avx2.c, ms_deform_attn_avx512.c). */
#include "ms_deform_attn_impl.h"
#include "ops.h"
#include "parallel.h"

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

typedef void (*msda_row_fn)(const float *, const int64_t *, const int64_t *, int, int, int,
                            const float *, const float *, int, float *);

typedef struct {
    msda_row_fn row;
    const float *value;
    const int64_t *level_hw, *lstart;
    const float *loc, *attw;
    float *out;
    int64_t lq, s, per_row;
    int nlevels, heads, dh, npoints;
} msda_job;

static void msda_rows(void *arg, int64_t r0, int64_t r1, int tid)
{
    (void)tid;
    const msda_job *j = arg;
    for (int64_t r = r0; r < r1; r++) {
        int64_t b = r / j->lq;
        j->row(j->value + b * j->s * j->heads * j->dh, j->level_hw, j->lstart, j->nlevels,
               j->heads, j->dh, j->loc + r * j->per_row * 2, j->attw + r * j->per_row, j->npoints,
               j->out + r * j->heads * j->dh);
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
    msda_row_fn row = msda_row_scalar;
    if (ctx->isa >= OC_ISA_AVX512 && dh % 16 == 0)
        row = oc_msda_row_avx512;
    else if (ctx->isa >= OC_ISA_AVX2 && dh % 8 == 0)
        row = oc_msda_row_avx2;
    msda_job job = {row, value, level_hw, lstart, loc, attw, out, lq, s, per_row, nlevels, heads,
                    dh, npoints};
    oc_parallel_for(nt > 1 && rows * per_row * dh >= 32768 ? nt : 1, rows, 0, msda_rows, &job);
}

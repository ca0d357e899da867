/* norm.c -- softmax over a middle axis, layer norm over the last dim, and LayerNorm2d
 * (over channels of NCHW). Scalar reference here; AVX2 / AVX-512 row kernels live in
 * eltwise_avx2.c / eltwise_avx512.c (eltwise_tmpl.h). */
#include "row_kernels.h"
#include "parallel.h"

#include <math.h>

#define OC_NORM_PAR_MIN 16384
#define OC_NORM_CHUNK 64 /* inner positions handled together on the strided paths */

static void softmax_row_scalar(const float *x, float *y, int64_t n)
{
    float mx = -INFINITY;
    for (int64_t i = 0; i < n; i++) mx = x[i] > mx ? x[i] : mx;
    float s = 0;
    for (int64_t i = 0; i < n; i++) {
        y[i] = expf(x[i] - mx);
        s += y[i];
    }
    for (int64_t i = 0; i < n; i++) y[i] /= s;
}

typedef struct {
    oc_isa isa;
    const float *x;
    float *y;
    int64_t axis;
} softmax_rows_job;

static void softmax_rows(void *arg, int64_t first, int64_t last, int tid)
{
    const softmax_rows_job *job = arg;
    oc_isa isa = job->isa;
    const float *x = job->x;
    float *y = job->y;
    int64_t axis = job->axis;
    (void)tid;
    for (int64_t o = first; o < last; o++) {
        if (isa >= OC_ISA_AVX512)
            oc_softmax_row_avx512(x + o * axis, y + o * axis, axis);
        else if (isa == OC_ISA_AVX2)
            oc_softmax_row_avx2(x + o * axis, y + o * axis, axis);
        else
            softmax_row_scalar(x + o * axis, y + o * axis, axis);
    }
}

typedef struct {
    oc_isa isa;
    const float *x;
    float *y;
    int64_t axis;
    int64_t inner;
    int64_t nch;
} softmax_strided_job;

static void softmax_strided(void *arg, int64_t first, int64_t last, int tid)
{
    const softmax_strided_job *job = arg;
    oc_isa isa = job->isa;
    const float *x = job->x;
    float *y = job->y;
    int64_t axis = job->axis;
    int64_t inner = job->inner;
    int64_t nch = job->nch;
    (void)tid;
    for (int64_t u = first; u < last; u++) {
        int64_t o = u / nch, r0 = (u % nch) * OC_NORM_CHUNK;
        int64_t r1 = r0 + OC_NORM_CHUNK < inner ? r0 + OC_NORM_CHUNK : inner;
        int m = (int)(r1 - r0);
        float mx[OC_NORM_CHUNK], sm[OC_NORM_CHUNK];
        const float *xb = x + o * axis * inner + r0;
        float *yb = y + o * axis * inner + r0;
        for (int j = 0; j < m; j++) {
            mx[j] = -INFINITY;
            sm[j] = 0;
        }
        for (int64_t a = 0; a < axis; a++) {
            if (isa >= OC_ISA_AVX512) {
                oc_max_acc_avx512(xb + a * inner, mx, m);
            } else if (isa == OC_ISA_AVX2) {
                oc_max_acc_avx2(xb + a * inner, mx, m);
            } else {
                for (int j = 0; j < m; j++) {
                    float v = xb[a * inner + j];
                    mx[j] = v > mx[j] ? v : mx[j];
                }
            }
        }
        for (int64_t a = 0; a < axis; a++) {
            if (isa >= OC_ISA_AVX512) {
                oc_exp_sub_acc_avx512(xb + a * inner, mx, yb + a * inner, sm, m);
            } else if (isa == OC_ISA_AVX2) {
                oc_exp_sub_acc_avx2(xb + a * inner, mx, yb + a * inner, sm, m);
            } else {
                for (int j = 0; j < m; j++) {
                    float e = expf(xb[a * inner + j] - mx[j]);
                    yb[a * inner + j] = e;
                    sm[j] += e;
                }
            }
        }
        for (int64_t a = 0; a < axis; a++) {
            if (isa >= OC_ISA_AVX512)
                oc_div_by_avx512(yb + a * inner, sm, m);
            else if (isa == OC_ISA_AVX2)
                oc_div_by_avx2(yb + a * inner, sm, m);
            else
                for (int j = 0; j < m; j++) yb[a * inner + j] /= sm[j];
        }
    }
}

void oc_softmax(const oc_ctx *ctx, const float *x, float *y, int64_t outer, int64_t axis,
                int64_t inner)
{
    const int nt = ctx->nthreads > 0 ? ctx->nthreads : 1;
    const oc_isa isa = ctx->isa;
    if (outer <= 0 || axis <= 0 || inner <= 0) return;
    if (inner == 1) {
        softmax_rows_job job = {isa, x, y, axis};
        oc_parallel_for(nt > 1 && outer * axis >= OC_NORM_PAR_MIN ? nt : 1, outer, 0, softmax_rows,
                        &job);
        return;
    }
    /* strided: chunks of up to 64 inner positions, each reduced along the axis */
    const int64_t nch = (inner + OC_NORM_CHUNK - 1) / OC_NORM_CHUNK;
    const int64_t units = outer * nch;
    softmax_strided_job job = {isa, x, y, axis, inner, nch};
    oc_parallel_for(nt > 1 && outer * axis * inner >= OC_NORM_PAR_MIN ? nt : 1, units, 0,
                    softmax_strided, &job);
}

static void layernorm_row_scalar(const float *x, float *y, int n, const float *g, const float *b,
                                 float eps)
{
    float s = 0;
    for (int i = 0; i < n; i++) s += x[i];
    float mean = s / (float)n;
    float ss = 0;
    for (int i = 0; i < n; i++) ss += (x[i] - mean) * (x[i] - mean);
    float rstd = 1.0f / sqrtf(ss / (float)n + eps);
    for (int i = 0; i < n; i++) {
        float v = (x[i] - mean) * rstd;
        if (g) v *= g[i];
        if (b) v += b[i];
        y[i] = v;
    }
}

typedef struct {
    oc_isa isa;
    const float *x;
    float *y;
    int dim;
    const float *gamma;
    const float *beta;
    float eps;
} layernorm_rows_job;

static void layernorm_rows(void *arg, int64_t first, int64_t last, int tid)
{
    const layernorm_rows_job *job = arg;
    oc_isa isa = job->isa;
    const float *x = job->x;
    float *y = job->y;
    int dim = job->dim;
    const float *gamma = job->gamma;
    const float *beta = job->beta;
    float eps = job->eps;
    (void)tid;
    for (int64_t r = first; r < last; r++) {
        const float *xr = x + r * dim;
        float *yr = y + r * dim;
        if (isa >= OC_ISA_AVX512)
            oc_layernorm_row_avx512(xr, yr, dim, gamma, beta, eps);
        else if (isa == OC_ISA_AVX2)
            oc_layernorm_row_avx2(xr, yr, dim, gamma, beta, eps);
        else
            layernorm_row_scalar(xr, yr, dim, gamma, beta, eps);
    }
}

void oc_layernorm(const oc_ctx *ctx, const float *x, float *y, int64_t rows, int dim,
                  const float *gamma, const float *beta, float eps)
{
    const int nt = ctx->nthreads > 0 ? ctx->nthreads : 1;
    const oc_isa isa = ctx->isa;
    if (rows <= 0 || dim <= 0) return;
    layernorm_rows_job job = {isa, x, y, dim, gamma, beta, eps};
    oc_parallel_for(nt > 1 && rows * dim >= OC_NORM_PAR_MIN ? nt : 1, rows, 0, layernorm_rows,
                    &job);
}

typedef struct {
    oc_isa isa;
    const float *x;
    float *y;
    int c;
    int64_t hw;
    int64_t nch;
    const float *gamma;
    const float *beta;
    float eps;
} layernorm_nchw_units_job;

static void layernorm_nchw_units(void *arg, int64_t first, int64_t last, int tid)
{
    const layernorm_nchw_units_job *job = arg;
    oc_isa isa = job->isa;
    const float *x = job->x;
    float *y = job->y;
    int c = job->c;
    int64_t hw = job->hw;
    int64_t nch = job->nch;
    const float *gamma = job->gamma;
    const float *beta = job->beta;
    float eps = job->eps;
    (void)tid;
    for (int64_t u = first; u < last; u++) {
        int64_t b = u / nch, p0 = (u % nch) * OC_NORM_CHUNK;
        int64_t p1 = p0 + OC_NORM_CHUNK < hw ? p0 + OC_NORM_CHUNK : hw;
        int m = (int)(p1 - p0);
        if (isa >= OC_ISA_AVX512) {
            oc_layernorm_nchw_avx512(x + b * c * hw, y + b * c * hw, c, hw, p0, p1, gamma, beta, eps);
            continue;
        }
        if (isa == OC_ISA_AVX2) {
            oc_layernorm_nchw_avx2(x + b * c * hw, y + b * c * hw, c, hw, p0, p1, gamma, beta, eps);
            continue;
        }
        float mean[OC_NORM_CHUNK], var[OC_NORM_CHUNK];
        const float *xb = x + b * c * hw + p0;
        float *yb = y + b * c * hw + p0;
        for (int j = 0; j < m; j++) mean[j] = var[j] = 0;
        for (int ch = 0; ch < c; ch++)
            for (int j = 0; j < m; j++) mean[j] += xb[ch * hw + j];
        for (int j = 0; j < m; j++) mean[j] /= (float)c;
        for (int ch = 0; ch < c; ch++)
            for (int j = 0; j < m; j++) {
                float d = xb[ch * hw + j] - mean[j];
                var[j] += d * d;
            }
        for (int j = 0; j < m; j++) var[j] = 1.0f / sqrtf(var[j] / (float)c + eps);
        for (int ch = 0; ch < c; ch++) {
            float g = gamma ? gamma[ch] : 1.0f, bb = beta ? beta[ch] : 0.0f;
            for (int j = 0; j < m; j++) yb[ch * hw + j] = (xb[ch * hw + j] - mean[j]) * var[j] * g + bb;
        }
    }
}

void oc_layernorm_nchw(const oc_ctx *ctx, const float *x, float *y, int n, int c, int64_t hw,
                       const float *gamma, const float *beta, float eps)
{
    const int nt = ctx->nthreads > 0 ? ctx->nthreads : 1;
    const oc_isa isa = ctx->isa;
    if (n <= 0 || c <= 0 || hw <= 0) return;
    const int64_t nch = (hw + OC_NORM_CHUNK - 1) / OC_NORM_CHUNK;
    const int64_t units = (int64_t)n * nch;
    /* chunks of 64 pixels; SIMD paths: one vector of pixels at a time, channels in the loop */
    layernorm_nchw_units_job job = {isa, x, y, c, hw, nch, gamma, beta, eps};
    oc_parallel_for(nt > 1 && (int64_t)n * c * hw >= OC_NORM_PAR_MIN ? nt : 1, units, 0,
                    layernorm_nchw_units, &job);
}

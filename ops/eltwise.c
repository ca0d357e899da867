/* eltwise.c -- binary ops with numpy broadcasting, activations, clamp, per-channel affine.
 * Scalar reference here; AVX2 / AVX-512 row kernels in eltwise_avx2.c / eltwise_avx512.c,
 * chosen from ctx->isa. */
#include "row_kernels.h"
#include "parallel.h"

#include <math.h>
#include <string.h>

#define OC_BIN_MAXD 16
/* work below this many elements runs on one thread */
#define OC_PAR_MIN 32768

static inline float bin_apply(oc_binop op, float a, float b)
{
    switch (op) {
    case OC_BIN_ADD: return a + b;
    case OC_BIN_SUB: return a - b;
    case OC_BIN_MUL: return a * b;
    default: return a / b;
    }
}

static void bin_row_scalar(oc_binop op, const float *a, int sa, const float *b, int sb, float *y,
                           int64_t n)
{
    for (int64_t i = 0; i < n; i++) y[i] = bin_apply(op, a[i * sa], b[i * sb]);
}

static void bin_row(oc_isa isa, oc_binop op, const float *a, int sa, const float *b, int sb,
                    float *y, int64_t n)
{
    if (isa >= OC_ISA_AVX512)
        oc_bin_row_avx512(op, a, sa, b, sb, y, n);
    else if (isa == OC_ISA_AVX2)
        oc_bin_row_avx2(op, a, sa, b, sb, y, n);
    else
        bin_row_scalar(op, a, sa, b, sb, y, n);
}

typedef struct {
    oc_isa isa;
    oc_binop op;
    const float *a, *b;
    float *y;
    int sa, sb, nd;
    int64_t inner, chunk;
    const int64_t *dims, *sta, *stb;
} bin_job;

/* one long row split in chunks */
static void bin_chunks(void *arg, int64_t c0, int64_t c1, int tid)
{
    (void)tid;
    const bin_job *j = arg;
    for (int64_t c = c0; c < c1; c++) {
        int64_t s = c * j->chunk, e = s + j->chunk < j->inner ? s + j->chunk : j->inner;
        bin_row(j->isa, j->op, j->a + s * j->sa, j->sa, j->b + s * j->sb, j->sb, j->y + s, e - s);
    }
}

static void bin_rows(void *arg, int64_t r0, int64_t r1, int tid)
{
    (void)tid;
    const bin_job *j = arg;
    int nd = j->nd;
    int64_t inner = j->inner;
    for (int64_t r = r0; r < r1; r++) {
        int64_t oa = 0, ob = 0, rem = r;
        for (int i = nd - 2; i >= 0; i--) {
            int64_t q = rem % j->dims[i];
            rem /= j->dims[i];
            oa += q * j->sta[i];
            ob += q * j->stb[i];
        }
        if (j->sa >= 0) {
            bin_row(j->isa, j->op, j->a + oa, j->sa, j->b + ob, j->sb, j->y + r * inner, inner);
        } else {
            for (int64_t k = 0; k < inner; k++)
                j->y[r * inner + k] = bin_apply(j->op, j->a[oa + k * j->sta[nd - 1]],
                                                j->b[ob + k * j->stb[nd - 1]]);
        }
    }
}

void oc_binary(const oc_ctx *ctx, oc_binop op, const float *a, const int64_t *ashape,
               const float *b, const int64_t *bshape, int ndim, float *y, const int64_t *yshape)
{
    /* strides of a and b in y's index space (0 on broadcast dims), then merge dims */
    int64_t dims[OC_BIN_MAXD], sta[OC_BIN_MAXD], stb[OC_BIN_MAXD];
    int nd = 0;
    int64_t total = 1;
    if (ndim > OC_BIN_MAXD) return;
    {
        int64_t ta[OC_BIN_MAXD], tb[OC_BIN_MAXD];
        int64_t ra = 1, rb = 1;
        for (int i = ndim - 1; i >= 0; i--) {
            ta[i] = (ashape[i] == 1) ? 0 : ra;
            tb[i] = (bshape[i] == 1) ? 0 : rb;
            ra *= ashape[i];
            rb *= bshape[i];
            total *= yshape[i];
        }
        if (total <= 0) return;
        for (int i = 0; i < ndim; i++) {
            if (yshape[i] == 1) continue; /* drop size-1 dims */
            if (nd > 0 && sta[nd - 1] == ta[i] * yshape[i] && stb[nd - 1] == tb[i] * yshape[i]) {
                dims[nd - 1] *= yshape[i];
                sta[nd - 1] = ta[i];
                stb[nd - 1] = tb[i];
            } else {
                dims[nd] = yshape[i];
                sta[nd] = ta[i];
                stb[nd] = tb[i];
                nd++;
            }
        }
        if (nd == 0) {
            dims[0] = 1;
            sta[0] = stb[0] = 0;
            nd = 1;
        }
    }
    const oc_isa isa = ctx->isa;
    const int nt = ctx->nthreads > 0 ? ctx->nthreads : 1;
    int64_t inner = dims[nd - 1];
    int sa = (int)sta[nd - 1], sb = (int)stb[nd - 1];
    if (sa > 1 || sb > 1) { /* innermost dim strided (cannot happen after merging, but be safe) */
        sa = sb = -1;
    }
    int64_t rows = total / inner;
    int par = nt > 1 && total >= OC_PAR_MIN ? nt : 1;
    bin_job j = {isa, op, a, b, y, sa, sb, nd, inner, 4096, dims, sta, stb};
    if (sa >= 0 && rows == 1) {
        /* one long row: split it */
        oc_parallel_for(par, (inner + j.chunk - 1) / j.chunk, 0, bin_chunks, &j);
        return;
    }
    oc_parallel_for(par, rows, 0, bin_rows, &j);
}

/* ---- activations ---- */
static inline float sigmoid_s(float x)
{
    if (x >= 0) return 1.0f / (1.0f + expf(-x));
    float e = expf(x);
    return e / (1.0f + e);
}

static void act_scalar(oc_act act, const float *x, float *y, size_t n)
{
    switch (act) {
    case OC_ACT_NONE:
        if (x != y) memmove(y, x, n * sizeof(float));
        break;
    case OC_ACT_RELU:
        for (size_t i = 0; i < n; i++) y[i] = x[i] > 0 ? x[i] : 0.0f;
        break;
    case OC_ACT_SILU:
        for (size_t i = 0; i < n; i++) y[i] = x[i] * sigmoid_s(x[i]);
        break;
    case OC_ACT_SIGMOID:
        for (size_t i = 0; i < n; i++) y[i] = sigmoid_s(x[i]);
        break;
    case OC_ACT_TANH:
        for (size_t i = 0; i < n; i++) y[i] = tanhf(x[i]);
        break;
    case OC_ACT_GELU:
        for (size_t i = 0; i < n; i++) y[i] = 0.5f * x[i] * (1.0f + erff(x[i] * (float)M_SQRT1_2));
        break;
    case OC_ACT_GELU_TANH:
        for (size_t i = 0; i < n; i++) {
            float v = x[i];
            float u = 0.7978845608028654f * (v + 0.044715f * v * v * v);
            y[i] = 0.5f * v * (1.0f + tanhf(u));
        }
        break;
    case OC_ACT_HARDSWISH:
        for (size_t i = 0; i < n; i++) {
            float v = x[i] + 3.0f;
            v = v < 0 ? 0 : (v > 6 ? 6 : v);
            y[i] = x[i] * v / 6.0f;
        }
        break;
    default:
        break;
    }
}

static void act_chunk(oc_isa isa, oc_act act, const float *x, float *y, size_t n)
{
    if (isa >= OC_ISA_AVX512)
        oc_eltwise_act_avx512(act, x, y, n);
    else if (isa == OC_ISA_AVX2)
        oc_eltwise_act_avx2(act, x, y, n);
    else
        act_scalar(act, x, y, n);
}

typedef struct {
    oc_isa isa;
    oc_act act;
    const float *x;
    float *y;
    size_t n;
    float lo, hi;
} act_job;

#define OC_ACT_CHUNK 8192

static void act_chunks(void *arg, int64_t c0, int64_t c1, int tid)
{
    (void)tid;
    const act_job *j = arg;
    size_t s = (size_t)c0 * OC_ACT_CHUNK, e = (size_t)c1 * OC_ACT_CHUNK;
    if (e > j->n) e = j->n;
    act_chunk(j->isa, j->act, j->x + s, j->y + s, e - s);
}

void oc_activation(const oc_ctx *ctx, oc_act act, const float *x, float *y, size_t n)
{
    if (act == OC_ACT_NONE) {
        if (x != y) memmove(y, x, n * sizeof(float));
        return;
    }
    const int nt = ctx->nthreads > 0 ? ctx->nthreads : 1;
    act_job j = {ctx->isa, act, x, y, n, 0.0f, 0.0f};
    const int64_t nchunks = (int64_t)((n + OC_ACT_CHUNK - 1) / OC_ACT_CHUNK);
    oc_parallel_for(nt > 1 && n >= OC_PAR_MIN ? nt : 1, nchunks, 0, act_chunks, &j);
}

static void clamp_chunks(void *arg, int64_t c0, int64_t c1, int tid)
{
    (void)tid;
    const act_job *j = arg;
    size_t s = (size_t)c0 * OC_ACT_CHUNK, e = (size_t)c1 * OC_ACT_CHUNK;
    if (e > j->n) e = j->n;
    const float *x = j->x;
    float *y = j->y;
    float lo = j->lo, hi = j->hi;
    if (j->isa >= OC_ISA_AVX512) {
        oc_clamp_avx512(x + s, y + s, e - s, lo, hi);
    } else if (j->isa == OC_ISA_AVX2) {
        oc_clamp_avx2(x + s, y + s, e - s, lo, hi);
    } else {
        /* torch.clamp: min(max(x, lo), hi); NaN propagates */
        for (size_t i = s; i < e; i++) {
            float v = x[i];
            if (v < lo) v = lo;
            if (v > hi) v = hi;
            y[i] = v;
        }
    }
}

void oc_clamp(const oc_ctx *ctx, const float *x, float *y, size_t n, float lo, float hi)
{
    const int nt = ctx->nthreads > 0 ? ctx->nthreads : 1;
    act_job j = {ctx->isa, OC_ACT_NONE, x, y, n, lo, hi};
    const int64_t nchunks = (int64_t)((n + OC_ACT_CHUNK - 1) / OC_ACT_CHUNK);
    oc_parallel_for(nt > 1 && n >= OC_PAR_MIN ? nt : 1, nchunks, 0, clamp_chunks, &j);
}

typedef struct {
    oc_isa isa;
    const float *x, *scale, *shift;
    float *y;
    int c;
    int64_t hw;
} affine_job;

static void affine_rows(void *arg, int64_t r0, int64_t r1, int tid)
{
    (void)tid;
    const affine_job *j = arg;
    int64_t hw = j->hw;
    for (int64_t r = r0; r < r1; r++) {
        int ch = (int)(r % j->c);
        float s = j->scale ? j->scale[ch] : 1.0f, t = j->shift ? j->shift[ch] : 0.0f;
        const float *xr = j->x + r * hw;
        float *yr = j->y + r * hw;
        if (j->isa >= OC_ISA_AVX512)
            oc_affine_avx512(xr, s, t, yr, hw);
        else if (j->isa == OC_ISA_AVX2)
            oc_affine_avx2(xr, s, t, yr, hw);
        else
            for (int64_t i = 0; i < hw; i++) yr[i] = xr[i] * s + t;
    }
}

void oc_channel_affine(const oc_ctx *ctx, const float *x, int n, int c, int64_t hw,
                       const float *scale, const float *shift, float *y)
{
    const int nt = ctx->nthreads > 0 ? ctx->nthreads : 1;
    const int64_t rows = (int64_t)n * c;
    affine_job j = {ctx->isa, x, scale, shift, y, c, hw};
    oc_parallel_for(nt > 1 && rows * hw >= OC_PAR_MIN ? nt : 1, rows, 0, affine_rows, &j);
}

/* gemm.c -- GEMM, batched GEMM and nn.Linear (PyTorch / BLAS semantics), plus the packed
 * GEMM driver shared with conv2d.
 *
 * Paths:
 *  - scalar: the reference (direct loops, one dot product per output element).
 *  - avx2 / avx512 with enough scratch (oc_gemm_scratch_bytes): our packed micro-kernels
 *    (ops/gemm_avx2.c 6x16, ops/gemm_avx512.c 8x48): op(A)*alpha packed into MR-row panels,
 *    op(B) packed per KC x NC block into NR-column panels, epilogue fused.
 *  - avx2 / avx512 without enough scratch: OpenBLAS cblas_sgemm (it allocates internally;
 *    the caller gave us no memory to work in). */
#include "conv_impl.h"
#include "internal.h"
#include "parallel.h"

#include <cblas.h>
#include <pthread.h>
#include <string.h>
#ifdef _OPENMP
#endif

/* ---- packed driver ---------------------------------------------------------------------- */

size_t oc_gemm_thread_scratch_floats(void) { return (size_t)OC_GEMM_KC * OC_GEMM_NC; }

void oc_pack_a(const float *a, int64_t rs, int64_t cs, int m, int k, float alpha, int mr,
               float *dst)
{
    int panels = (m + mr - 1) / mr;
    for (int p = 0; p < panels; p++) {
        float *d = dst + (size_t)p * k * mr;
        for (int r = 0; r < mr; r++) {
            int i = p * mr + r;
            if (i < m) {
                const float *src = a + (int64_t)i * rs;
                for (int kk = 0; kk < k; kk++) d[(size_t)kk * mr + r] = alpha * src[kk * cs];
            } else {
                for (int kk = 0; kk < k; kk++) d[(size_t)kk * mr + r] = 0.0f;
            }
        }
    }
}

void oc_gemm_job_block(const oc_gemm_job *jb, int m0, int m1, int n0, int n1, float *bbuf)
{
    int mr = oc_isa_mr(jb->isa), nr = oc_isa_nr(jb->isa);
    oc_ukr_fn ukr = oc_isa_ukr(jb->isa);
    int K = jb->k;
    int nkb = (K + OC_GEMM_KC - 1) / OC_GEMM_KC;
    if (nkb < 1) nkb = 1;
    int kcs = (K + nkb - 1) / nkb; /* depends on K only: same sums whatever the split */
    for (int j0 = n0; j0 < n1; j0 += OC_GEMM_NC) {
        int nc = n1 - j0 < OC_GEMM_NC ? n1 - j0 : OC_GEMM_NC;
        for (int k0 = 0; k0 < K; k0 += kcs) {
            int kc = K - k0 < kcs ? K - k0 : kcs;
            jb->pack_b(jb->pctx, k0, kc, j0, nc, nr, bbuf);
            int last = k0 + kc == K;
            float beta = k0 == 0 ? jb->beta : 1.0f;
            /* B micro-panel (kc x NR) stays in L1 while the A panels of the row range
             * stream from L2 */
            for (int jj = 0; jj < nc; jj += nr) {
                int nrv = nc - jj < nr ? nc - jj : nr;
                const float *b = bbuf + (size_t)(jj / nr) * kc * nr;
                for (int i = m0; i < m1; i += mr) {
                    const float *a = jb->ap + (size_t)(i / mr) * K * mr + (size_t)k0 * mr;
                    int mrv = m1 - i < mr ? m1 - i : mr;
                    float *c = jb->c + (int64_t)i * jb->ldc + j0 + jj;
                    if (last) {
                        oc_epi e = {jb->bias ? jb->bias + i : NULL,
                                    jb->bias_col ? jb->bias_col + j0 + jj : NULL,
                                    jb->res ? jb->res + (int64_t)i * jb->ldr + j0 + jj : NULL,
                                    jb->ldr, jb->act};
                        ukr(kc, a, b, c, jb->ldc, mrv, nrv, beta, &e);
                    } else {
                        ukr(kc, a, b, c, jb->ldc, mrv, nrv, beta, NULL);
                    }
                }
            }
        }
    }
}

/* B(kk, j) = b[kk*rs + j*cs] */
typedef struct {
    const float *b;
    int64_t rs, cs;
} mat_pack_ctx;

static void mat_pack_b(const void *pctx, int k0, int kc, int j0, int nc, int nr, float *dst)
{
    const mat_pack_ctx *p = pctx;
    int npanel = (nc + nr - 1) / nr;
    for (int pi = 0; pi < npanel; pi++) {
        int cnt = nc - pi * nr < nr ? nc - pi * nr : nr;
        float *d = dst + (size_t)pi * kc * nr;
        if (p->cs == 1) {
            for (int kk = 0; kk < kc; kk++) {
                const float *src = p->b + (int64_t)(k0 + kk) * p->rs + j0 + pi * nr;
                float *dd = d + (size_t)kk * nr;
                memcpy(dd, src, (size_t)cnt * sizeof(float));
                for (int t = cnt; t < nr; t++) dd[t] = 0.0f;
            }
        } else {
            /* transposed B: read each column contiguously (rs == 1 typically) */
            for (int t = 0; t < cnt; t++) {
                const float *src = p->b + (int64_t)(j0 + pi * nr + t) * p->cs +
                                   (int64_t)k0 * p->rs;
                for (int kk = 0; kk < kc; kk++) d[(size_t)kk * nr + t] = src[kk * p->rs];
            }
            for (int kk = 0; kk < kc; kk++)
                for (int t = cnt; t < nr; t++) d[(size_t)kk * nr + t] = 0.0f;
        }
    }
}

static size_t packed_a_floats(int m, int k, oc_isa isa)
{
    int mr = oc_isa_mr(isa);
    return (size_t)((m + mr - 1) / mr) * mr * (size_t)k;
}

size_t oc_gemm_scratch_bytes(int m, int n, int k, oc_isa isa, int nthreads)
{
    (void)n;
    if (isa == OC_ISA_SCALAR || m < 1 || k < 1) return 0;
    if (nthreads < 1) nthreads = 1;
    size_t per = packed_a_floats(m, k, isa) + oc_gemm_thread_scratch_floats();
    per = (per + 15) / 16 * 16; /* keep each thread's block 64-byte aligned */
    return (size_t)nthreads * per * sizeof(float);
}

static size_t linear_rows_need(int in, oc_isa isa, int nth);
static void linear_rows(int nth, oc_isa isa, const float *x, int64_t rows, int K, int N,
                        const float *wp, const float *w, const float *bias, oc_act act, float *y,
                        float *bufs);
static size_t lin_buf_floats(int K, oc_isa isa);

size_t oc_linear_scratch_bytes(int64_t rows, int in, int out, oc_isa isa, int nthreads)
{
    (void)out;
    if (isa == OC_ISA_SCALAR || rows < 1 || in < 1) return 0;
    return linear_rows_need(in, isa, nthreads < 1 ? 1 : nthreads);
}

/* ---- scalar reference ------------------------------------------------------------------ */
typedef struct {
    int ta, tb, n, k;
    float alpha, beta;
    const float *a, *b, *bias_col;
    float *c;
    int64_t lda, ldb, ldc;
    oc_act act;
} gemm_ref_job;

static void gemm_ref_rows(void *arg, int64_t i0, int64_t i1, int tid)
{
    (void)tid;
    const gemm_ref_job *g = arg;
    for (int64_t i = i0; i < i1; i++) {
        for (int j = 0; j < g->n; j++) {
            float s = 0.0f;
            for (int kk = 0; kk < g->k; kk++) {
                float av = g->ta ? g->a[(int64_t)kk * g->lda + i] : g->a[i * g->lda + kk];
                float bv = g->tb ? g->b[(int64_t)j * g->ldb + kk] : g->b[(int64_t)kk * g->ldb + j];
                s += av * bv;
            }
            float v = g->alpha * s;
            if (g->beta != 0.0f) v += g->beta * g->c[i * g->ldc + j];
            if (g->bias_col) v += g->bias_col[j];
            g->c[i * g->ldc + j] = oc_act_scalar(g->act, v);
        }
    }
}

static void gemm_ref(int nth, int ta, int tb, int m, int n, int k, float alpha, const float *a,
                     int64_t lda, const float *b, int64_t ldb, float beta, float *c, int64_t ldc,
                     const float *bias_col, oc_act act)
{
    gemm_ref_job job = {ta, tb, n, k, alpha, beta, a, b, bias_col, c, lda, ldb, ldc, act};
    oc_parallel_for(nth, m, 0, gemm_ref_rows, &job);
}

/* ---- our packed path, one matrix, all threads ------------------------------------------ */
typedef struct {
    const float *a;
    int64_t ars, acs;
    int m, k, mr;
    float alpha;
    float *ap;
} pack_a_job;

static void pack_a_panels(void *arg, int64_t p0, int64_t p1, int tid)
{
    (void)tid;
    const pack_a_job *j = arg;
    int mr = j->mr;
    for (int64_t p = p0; p < p1; p++) {
        int rows = j->m - (int)p * mr < mr ? j->m - (int)p * mr : mr;
        oc_pack_a(j->a + p * mr * j->ars, j->ars, j->acs, rows, j->k, j->alpha, mr,
                  j->ap + (size_t)p * mr * j->k);
    }
}

typedef struct {
    const oc_gemm_job *jb;
    float *bufs;
    int m, n, mr, mchunks, ppc, bsz;
} packed_items_job;

static void packed_items(void *arg, int64_t i0, int64_t i1, int tid)
{
    const packed_items_job *j = arg;
    float *bbuf = j->bufs + (size_t)tid * oc_gemm_thread_scratch_floats();
    for (int64_t it = i0; it < i1; it++) {
        int mc = (int)(it % j->mchunks), cb = (int)(it / j->mchunks);
        int m0 = mc * j->ppc * j->mr, m1 = m0 + j->ppc * j->mr;
        if (m1 > j->m) m1 = j->m;
        int n0 = cb * j->bsz, n1 = n0 + j->bsz;
        if (n1 > j->n) n1 = j->n;
        oc_gemm_job_block(j->jb, m0, m1, n0, n1, bbuf);
    }
}

static void gemm_packed(const oc_ctx *ctx, int nth, int ta, int tb, int m, int n, int k,
                        float alpha, const float *a, int64_t lda, const float *b, int64_t ldb,
                        float beta, float *c, int64_t ldc, const float *bias_col, oc_act act,
                        float *scratch)
{
    oc_isa isa = ctx->isa;
    int mr = oc_isa_mr(isa), nr = oc_isa_nr(isa);
    float *ap = scratch;
    size_t apn = packed_a_floats(m, k, isa);
    float *bufs = ap + (apn + 15) / 16 * 16;
    int mpanels = (m + mr - 1) / mr;
    int nb = (n + OC_GEMM_NC - 1) / OC_GEMM_NC;
    int bsz = (n + nb - 1) / nb;
    bsz = (bsz + nr - 1) / nr * nr;
    nb = (n + bsz - 1) / bsz;
    int mchunks = 1;
    if (nb < 4 * nth) {
        mchunks = (4 * nth + nb - 1) / nb;
        if (mchunks > mpanels) mchunks = mpanels;
    }
    int ppc = (mpanels + mchunks - 1) / mchunks;
    mchunks = (mpanels + ppc - 1) / ppc;
    int items = nb * mchunks;
    mat_pack_ctx pc = {b, tb ? 1 : ldb, tb ? ldb : 1};
    oc_gemm_job jb = {isa, m, n, k, ap, mat_pack_b, &pc, c, ldc, beta, NULL, bias_col, NULL, 0,
                      act};
    pack_a_job pa = {a, ta ? 1 : lda, ta ? lda : 1, m, k, mr, alpha, ap};
    oc_parallel_for(nth, mpanels, 0, pack_a_panels, &pa);
    packed_items_job pi = {&jb, bufs, m, n, mr, mchunks, ppc, bsz};
    oc_parallel_for(nth, items, 1, packed_items, &pi);
}

typedef struct {
    int n;
    float *c;
    int64_t ldc;
    const float *bias_col;
    oc_act act;
} bias_act_job;

static void bias_act_rows(void *arg, int64_t i0, int64_t i1, int tid)
{
    (void)tid;
    const bias_act_job *j = arg;
    for (int64_t i = i0; i < i1; i++) {
        float *row = j->c + i * j->ldc;
        for (int k = 0; k < j->n; k++) {
            float v = row[k] + (j->bias_col ? j->bias_col[k] : 0.0f);
            row[k] = oc_act_scalar(j->act, v);
        }
    }
}

static void apply_bias_act(int nth, int m, int n, float *c, int64_t ldc, const float *bias_col,
                           oc_act act)
{
    if (!bias_col && act == OC_ACT_NONE) return;
    bias_act_job job = {n, c, ldc, bias_col, act};
    oc_parallel_for(nth, m, 0, bias_act_rows, &job);
}

/* OpenBLAS runs single-threaded inside our pool, one block of C rows per item: its own
 * thread server would spin-wait on a shared machine (as libgomp's does; see parallel.h). */
typedef struct {
    int ta, tb, m, n, k, rows;
    float alpha, beta;
    const float *a, *b;
    float *c;
    int64_t lda, ldb, ldc;
} blas_job;

static void blas_row_blocks(void *arg, int64_t r0, int64_t r1, int tid)
{
    (void)tid;
    const blas_job *j = arg;
    for (int64_t r = r0; r < r1; r++) {
        int i0 = (int)r * j->rows, mi = j->m - i0 < j->rows ? j->m - i0 : j->rows;
        const float *ai = j->a + (j->ta ? (int64_t)i0 : (int64_t)i0 * j->lda);
        cblas_sgemm(CblasRowMajor, j->ta ? CblasTrans : CblasNoTrans,
                    j->tb ? CblasTrans : CblasNoTrans, mi, j->n, j->k, j->alpha, ai,
                    (blasint)j->lda, j->b, (blasint)j->ldb, j->beta, j->c + (int64_t)i0 * j->ldc,
                    (blasint)j->ldc);
    }
}

static pthread_once_t g_blas_once = PTHREAD_ONCE_INIT;
static void blas_single_thread(void) { openblas_set_num_threads(1); }

static void gemm_blas(int nth, int ta, int tb, int m, int n, int k, float alpha, const float *a,
                      int64_t lda, const float *b, int64_t ldb, float beta, float *c,
                      int64_t ldc)
{
    pthread_once(&g_blas_once, blas_single_thread);
    int rows = (m + nth - 1) / nth;
    blas_job job = {ta, tb, m, n, k, rows, alpha, beta, a, b, c, lda, ldb, ldc};
    oc_parallel_for(nth, (m + rows - 1) / rows, 1, blas_row_blocks, &job);
}

/* gemm_packed with nth threads needs packed A once plus nth B blocks */
static size_t packed_need(int m, int k, oc_isa isa, int nth)
{
    size_t apn = (packed_a_floats(m, k, isa) + 15) / 16 * 16;
    return (apn + (size_t)nth * oc_gemm_thread_scratch_floats()) * sizeof(float);
}

/* leading dimensions as BLAS wants them (>= 1 and >= the row length) */
static int ld_ok(int ta, int tb, int m, int n, int k, int64_t lda, int64_t ldb, int64_t ldc)
{
    int64_t amin = ta ? m : k, bmin = tb ? k : n;
    return lda >= (amin > 1 ? amin : 1) && ldb >= (bmin > 1 ? bmin : 1) &&
           ldc >= (n > 1 ? n : 1) && lda <= INT32_MAX && ldb <= INT32_MAX && ldc <= INT32_MAX;
}

static void gemm_any(const oc_ctx *ctx, int nth, int ta, int tb, int m, int n, int k,
                     float alpha, const float *a, int64_t lda, const float *b, int64_t ldb,
                     float beta, float *c, int64_t ldc, const float *bias_col, oc_act act,
                     float *scratch, size_t scratch_bytes)
{
    if (m < 1 || n < 1) return;
    if (k < 1 || alpha == 0.0f) {
        for (int i = 0; i < m; i++)
            for (int j = 0; j < n; j++) {
                float *p = c + (int64_t)i * ldc + j;
                float v = beta == 0.0f ? 0.0f : beta * *p;
                if (bias_col) v += bias_col[j];
                *p = oc_act_scalar(act, v);
            }
        return;
    }
    if (ctx->isa == OC_ISA_SCALAR) {
        gemm_ref(nth, ta, tb, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc, bias_col, act);
        return;
    }
    if (scratch && scratch_bytes >= packed_need(m, k, ctx->isa, nth) &&
        ((uintptr_t)scratch % 64) == 0) {
        gemm_packed(ctx, nth, ta, tb, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc, bias_col,
                    act, scratch);
        return;
    }
    if (ld_ok(ta, tb, m, n, k, lda, ldb, ldc)) {
        gemm_blas(nth, ta, tb, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc);
        apply_bias_act(nth, m, n, c, ldc, bias_col, act);
    } else {
        gemm_ref(nth, ta, tb, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc, bias_col, act);
    }
}

void oc_gemm(const oc_ctx *ctx, int trans_a, int trans_b, int m, int n, int k, float alpha,
             const float *a, int64_t lda, const float *b, int64_t ldb, float beta, float *c,
             int64_t ldc)
{
    if (!ctx || !c || m < 1 || n < 1) return;
    int nth = ctx->nthreads < 1 ? 1 : ctx->nthreads;
    gemm_any(ctx, nth, trans_a, trans_b, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc, NULL,
             OC_ACT_NONE, ctx->scratch, ctx->scratch_bytes);
}

typedef struct {
    const oc_ctx *ctx;
    int ta, tb, m, n, k;
    float alpha, beta;
    const float *a, *b;
    float *c;
    int64_t lda, ldb, ldc, stride_a, stride_b, stride_c;
    size_t per; /* scratch bytes per thread, 0: none */
} batched_job;

/* one matrix per item on one thread, with that thread's scratch slice */
static void batched_items(void *arg, int64_t b0, int64_t b1, int tid)
{
    const batched_job *j = arg;
    oc_ctx c1 = *j->ctx;
    c1.nthreads = 1;
    float *sc = j->per ? (float *)((char *)j->ctx->scratch + j->per * (size_t)tid) : NULL;
    for (int64_t bi = b0; bi < b1; bi++)
        gemm_any(&c1, 1, j->ta, j->tb, j->m, j->n, j->k, j->alpha, j->a + bi * j->stride_a,
                 j->lda, j->b + bi * j->stride_b, j->ldb, j->beta, j->c + bi * j->stride_c,
                 j->ldc, NULL, OC_ACT_NONE, sc, j->per);
}

void oc_gemm_batched(const oc_ctx *ctx, int batch, int trans_a, int trans_b, int m, int n,
                     int k, float alpha, const float *a, int64_t lda, int64_t stride_a,
                     const float *b, int64_t ldb, int64_t stride_b, float beta, float *c,
                     int64_t ldc, int64_t stride_c)
{
    if (!ctx || !c || batch < 1 || m < 1 || n < 1) return;
    int nth = ctx->nthreads < 1 ? 1 : ctx->nthreads;
    double work = 2.0 * m * n * (double)(k > 0 ? k : 1);
    size_t per = ctx->isa == OC_ISA_SCALAR || k < 1 ? 0 : packed_need(m, k, ctx->isa, 1);
    per = (per + 63) / 64 * 64;
    int have = ctx->scratch && per && ctx->scratch_bytes >= per * (size_t)nth;
    /* many small products: one thread per matrix, each with its own scratch slice (SIMD
     * isas without scratch go one matrix at a time through OpenBLAS instead) */
    if (batch >= nth && nth > 1 && work < 4e7 && (have || ctx->isa == OC_ISA_SCALAR)) {
        batched_job job = {ctx, trans_a, trans_b, m, n, k, alpha, beta, a, b, c,
                           lda, ldb, ldc, stride_a, stride_b, stride_c, have ? per : 0};
        oc_parallel_for(nth, batch, 1, batched_items, &job);
        return;
    }
    for (int bi = 0; bi < batch; bi++)
        oc_gemm(ctx, trans_a, trans_b, m, n, k, alpha, a + bi * stride_a, lda,
                b + bi * stride_b, ldb, beta, c + bi * stride_c, ldc);
}

static size_t linear_rows_need(int in, oc_isa isa, int nth)
{
    return (size_t)nth * lin_buf_floats(in, isa) * sizeof(float);
}

void oc_linear(const oc_ctx *ctx, const float *x, int64_t rows, int in, const float *w,
               const float *bias, int out, oc_act act, float *y)
{
    if (!ctx || !x || !w || !y || rows < 1 || in < 1 || out < 1) return;
    int nth = ctx->nthreads < 1 ? 1 : ctx->nthreads;
    /* SIMD with scratch: the linear driver, W^T packed per (row block, column block), the
     * input rows read in place (no packed copy of x) */
    if (ctx->isa != OC_ISA_SCALAR && ctx->scratch && ((uintptr_t)ctx->scratch % 64) == 0 &&
        ctx->scratch_bytes >= linear_rows_need(in, ctx->isa, nth)) {
        linear_rows(nth, ctx->isa, x, rows, in, out, NULL, w, bias, act, y, ctx->scratch);
        return;
    }
    /* split very tall inputs so m fits an int */
    const int64_t chunk = 1 << 30;
    for (int64_t r0 = 0; r0 < rows; r0 += chunk) {
        int m = (int)(rows - r0 < chunk ? rows - r0 : chunk);
        gemm_any(ctx, nth, 0, 1, m, out, in, 1.0f, x + r0 * in, in, w, in, 0.0f,
                 y + r0 * out, out, bias, act, ctx->scratch, ctx->scratch_bytes);
    }
}

/* ---- prepacked nn.Linear --------------------------------------------------------------
 * W^T is packed once into the NR-column panels the micro-kernel reads ([in][NR] per panel of
 * NR output features, zero-padded), so a call packs nothing: A (the input rows) is read in
 * place by oc_ukr_rows_*. Work items are (row block, column block) pairs, so a few rows
 * still spread over the threads by columns. */
struct oc_linear_weights {
    oc_isa isa;
    int in, out;
    float *w;    /* scalar: [out][in] as given; SIMD: ceil(out/NR) panels of [in][NR] */
    float *bias; /* [out] or NULL */
    size_t bytes;
};

oc_status oc_linear_prepack(oc_isa isa, const float *w, const float *bias, int in, int out,
                            oc_linear_weights **res)
{
    if (!res) return oc_error(OC_ERR_INVALID_ARG, "linear_prepack: NULL output");
    *res = NULL;
    if (!w) return oc_error(OC_ERR_INVALID_ARG, "linear_prepack: NULL weight");
    if (in < 1 || out < 1)
        return oc_error(OC_ERR_INVALID_ARG, "linear_prepack: bad sizes in %d out %d", in, out);
    if ((int)isa < 0 || (int)isa > (int)OC_ISA_AVX512)
        return oc_error(OC_ERR_INVALID_ARG, "linear_prepack: unknown isa %d", (int)isa);
    if (isa > oc_cpu_best_isa())
        return oc_error(OC_ERR_UNSUPPORTED, "linear_prepack: the CPU lacks %s",
                        oc_isa_name(isa));
    int nr = isa == OC_ISA_SCALAR ? 1 : oc_isa_nr(isa);
    size_t panels = ((size_t)out + (size_t)nr - 1) / (size_t)nr;
    if (panels > SIZE_MAX / sizeof(float) / (size_t)nr / (size_t)in)
        return oc_error(OC_ERR_INVALID_ARG, "linear_prepack: in %d x out %d is too large", in,
                        out);
    size_t wn = panels * (size_t)nr * (size_t)in;
    oc_linear_weights *lw = oc_calloc(1, sizeof *lw);
    if (!lw) return oc_error(OC_ERR_NOMEM, "linear_prepack: out of memory");
    lw->isa = isa;
    lw->in = in;
    lw->out = out;
    lw->w = oc_malloc(wn * sizeof(float));
    lw->bias = bias ? oc_malloc((size_t)out * sizeof(float)) : NULL;
    if (!lw->w || (bias && !lw->bias)) {
        oc_linear_weights_free(lw);
        return oc_error(OC_ERR_NOMEM, "linear_prepack: out of memory for %zu floats", wn);
    }
    lw->bytes = sizeof *lw + wn * sizeof(float) + (bias ? (size_t)out * sizeof(float) : 0);
    if (bias) memcpy(lw->bias, bias, (size_t)out * sizeof(float));
    if (isa == OC_ISA_SCALAR) {
        memcpy(lw->w, w, wn * sizeof(float));
    } else {
        for (size_t p = 0; p < panels; p++) {
            float *d = lw->w + p * (size_t)in * nr;
            int cnt = out - (int)p * nr < nr ? out - (int)p * nr : nr;
            for (int t = 0; t < cnt; t++) {
                const float *src = w + (p * (size_t)nr + (size_t)t) * (size_t)in;
                for (int k = 0; k < in; k++) d[(size_t)k * nr + t] = src[k];
            }
            for (int k = 0; k < in; k++)
                for (int t = cnt; t < nr; t++) d[(size_t)k * nr + t] = 0.0f;
        }
    }
    *res = lw;
    return OC_OK;
}

void oc_linear_weights_free(oc_linear_weights *lw)
{
    if (!lw) return;
    oc_free(lw->w);
    oc_free(lw->bias);
    oc_free(lw);
}

size_t oc_linear_weights_bytes(const oc_linear_weights *lw) { return lw ? lw->bytes : 0; }
oc_isa oc_linear_weights_isa(const oc_linear_weights *lw) { return lw ? lw->isa : OC_ISA_SCALAR; }
int oc_linear_weights_in(const oc_linear_weights *lw) { return lw ? lw->in : 0; }
int oc_linear_weights_out(const oc_linear_weights *lw) { return lw ? lw->out : 0; }

/* ---- the linear driver, for prepacked W and for W packed per call ----
 * Work items are (row block, column block) pairs. Per item and k block: the column block of
 * W^T (kcs x ncb: L2) is either read from the prepacked panels or packed into the thread's
 * buffer first; then each row tile's kc x MR inputs (read in place, kept in L1) meet every
 * column panel of the block. The k blocks split as in oc_gemm (kcs depends on K only), so
 * every element gets the same FMA sequence whichever mode, blocking or thread count. */
typedef struct {
    const float *x;
    float *y;
    const float *wp;   /* prepacked panels [ceil(N/NR)][K][NR], or NULL: */
    const float *w;    /* W [N][K], packed per item into bufs */
    const float *bias; /* [N] or NULL */
    float *bufs;       /* per thread: buf_floats */
    size_t buf_floats;
    int64_t rows, mcb; /* rows per row block (a multiple of MR) */
    int K, N, mr, nr, kcs, ncb, nnb; /* ncb: columns per column block (a multiple of NR) */
    oc_ukr_rows_fn ukr;
    oc_act act;
} lin_job;

/* L2-sized blocks: a row block's inputs (rows x K) and a column block of W^T (kcs x cols) */
#define OC_LIN_A_BLOCK_BYTES (256 * 1024)
#define OC_LIN_B_BLOCK_BYTES (512 * 1024)
/* below this many flops a call runs on one thread: waking the other costs more */
#define OC_LIN_MIN_PARALLEL_FLOPS 3e6

static int lin_kcs(int K)
{
    int nkb = (K + OC_GEMM_KC - 1) / OC_GEMM_KC;
    return (K + nkb - 1) / nkb;
}

/* floats of one thread's W^T block buffer (the largest column block lin_plan makes) */
static size_t lin_buf_floats(int K, oc_isa isa)
{
    int kcs = lin_kcs(K), nr = oc_isa_nr(isa);
    int ppb = OC_LIN_B_BLOCK_BYTES / (kcs * 4) / nr;
    if (ppb < 1) ppb = 1;
    return ((size_t)ppb * nr * kcs + 15) / 16 * 16;
}

/* blocking and item count for nth threads; returns the number of items */
static int64_t lin_plan(lin_job *j, oc_isa isa, int nth)
{
    j->mr = oc_isa_mr(isa);
    j->nr = oc_isa_nr(isa);
    j->ukr = isa == OC_ISA_AVX512 ? oc_ukr_rows_avx512 : oc_ukr_rows_avx2;
    j->kcs = lin_kcs(j->K);
    int64_t mcb = OC_LIN_A_BLOCK_BYTES / ((int64_t)j->K * 4) / j->mr * j->mr;
    if (mcb < j->mr) mcb = j->mr;
    int64_t mtiles = (j->rows + j->mr - 1) / j->mr;
    int panels = (j->N + j->nr - 1) / j->nr;
    int ppb = OC_LIN_B_BLOCK_BYTES / (j->kcs * 4) / j->nr; /* panels per column block */
    if (ppb < 1) ppb = 1;
    if (ppb > panels) ppb = panels;
    int64_t nmb = (j->rows + mcb - 1) / mcb;
    int64_t nnb = (panels + ppb - 1) / ppb;
    /* too few items for the threads: cut rows finer first (down to one tile), then columns */
    if (nth > 1 && nmb * nnb < 4 * nth) {
        int64_t want_m = (4 * nth + nnb - 1) / nnb;
        if (want_m > mtiles) want_m = mtiles;
        if (want_m > nmb) {
            mcb = (mtiles + want_m - 1) / want_m * j->mr;
            nmb = (j->rows + mcb - 1) / mcb;
        }
        if (nmb * nnb < 4 * nth) {
            int64_t want_n = (4 * nth + nmb - 1) / nmb;
            if (want_n > panels) want_n = panels;
            ppb = (int)((panels + want_n - 1) / want_n);
            nnb = (panels + ppb - 1) / ppb;
        }
    }
    j->mcb = mcb;
    j->ncb = ppb * j->nr;
    j->nnb = (int)nnb;
    return nmb * nnb;
}

static void linear_items(void *arg, int64_t i0, int64_t i1, int tid)
{
    const lin_job *j = arg;
    const int K = j->K, N = j->N, mr = j->mr, nr = j->nr;
    float *buf = j->wp ? NULL : j->bufs + (size_t)tid * j->buf_floats;
    mat_pack_ctx pc = {j->w, 1, K}; /* B(k, n) = W[n][k] */
    for (int64_t it = i0; it < i1; it++) {
        int64_t r0 = it / j->nnb * j->mcb, r1 = r0 + j->mcb < j->rows ? r0 + j->mcb : j->rows;
        int c0 = (int)(it % j->nnb) * j->ncb, c1 = c0 + j->ncb < N ? c0 + j->ncb : N;
        for (int k0 = 0; k0 < K; k0 += j->kcs) {
            int kc = K - k0 < j->kcs ? K - k0 : j->kcs;
            int last = k0 + kc == K;
            float beta = k0 == 0 ? 0.0f : 1.0f;
            if (buf) mat_pack_b(&pc, k0, kc, c0, c1 - c0, nr, buf);
            for (int64_t i = r0; i < r1; i += mr) {
                int mrv = r1 - i < mr ? (int)(r1 - i) : mr;
                const float *a = j->x + i * K + k0;
                for (int jj = c0; jj < c1; jj += nr) {
                    int nrv = c1 - jj < nr ? c1 - jj : nr;
                    const float *b = buf ? buf + (size_t)((jj - c0) / nr) * kc * nr
                                         : j->wp + (size_t)(jj / nr) * K * nr + (size_t)k0 * nr;
                    float *c = j->y + i * N + jj;
                    if (last) {
                        oc_epi e = {NULL, j->bias ? j->bias + jj : NULL, NULL, 0, j->act};
                        j->ukr(kc, a, K, b, c, N, mrv, nrv, beta, &e);
                    } else {
                        j->ukr(kc, a, K, b, c, N, mrv, nrv, beta, NULL);
                    }
                }
            }
        }
    }
}

static void linear_rows(int nth, oc_isa isa, const float *x, int64_t rows, int K, int N,
                        const float *wp, const float *w, const float *bias, oc_act act, float *y,
                        float *bufs)
{
    if (2.0 * (double)rows * K * N < OC_LIN_MIN_PARALLEL_FLOPS) nth = 1;
    lin_job j;
    memset(&j, 0, sizeof j);
    j.x = x;
    j.y = y;
    j.wp = wp;
    j.w = w;
    j.bias = bias;
    j.bufs = bufs;
    j.buf_floats = lin_buf_floats(K, isa);
    j.rows = rows;
    j.K = K;
    j.N = N;
    j.act = act;
    int64_t items = lin_plan(&j, isa, nth);
    oc_parallel_for(nth, items, 1, linear_items, &j);
}

void oc_linear_packed(const oc_ctx *ctx, const float *x, int64_t rows,
                      const oc_linear_weights *lw, oc_act act, float *y)
{
    if (!ctx || !x || !lw || !y || rows < 1) return;
    int nth = ctx->nthreads < 1 ? 1 : ctx->nthreads;
    const int K = lw->in, N = lw->out;
    if (lw->isa == OC_ISA_SCALAR) {
        if (2.0 * (double)rows * K * N < OC_LIN_MIN_PARALLEL_FLOPS) nth = 1;
        const int64_t chunk = 1 << 30;
        for (int64_t r0 = 0; r0 < rows; r0 += chunk) {
            int m = (int)(rows - r0 < chunk ? rows - r0 : chunk);
            gemm_ref(nth, 0, 1, m, N, K, 1.0f, x + r0 * K, K, lw->w, K, 0.0f, y + r0 * N, N,
                     lw->bias, act);
        }
        return;
    }
    linear_rows(nth, lw->isa, x, rows, K, N, lw->w, NULL, lw->bias, act, y, NULL);
}

#define OC_PEAK_MAX_THREADS 256

typedef struct {
    oc_isa isa;
    double seconds;
    double flops[OC_PEAK_MAX_THREADS];
} peak_job;

static void peak_threads(void *arg, int64_t t0, int64_t t1, int tid)
{
    (void)tid;
    peak_job *j = arg;
    for (int64_t t = t0; t < t1; t++)
        j->flops[t] = j->isa == OC_ISA_AVX512 ? oc_peak_loop_avx512(j->seconds)
                                              : oc_peak_loop_avx2(j->seconds);
}

double oc_fma_peak_gflops(oc_isa isa, int nthreads, double seconds)
{
    if (isa == OC_ISA_SCALAR || isa > oc_cpu_best_isa()) return 0.0;
    if (nthreads < 1) nthreads = 1;
    peak_job job = {isa, seconds, {0}};
    if (nthreads > OC_PEAK_MAX_THREADS) nthreads = OC_PEAK_MAX_THREADS;
    oc_parallel_for(nthreads, nthreads, 1, peak_threads, &job);
    double total = 0.0;
    for (int t = 0; t < nthreads; t++) total += job.flops[t];
    return total * 1e-9;
}

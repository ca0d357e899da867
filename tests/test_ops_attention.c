/* Attention (ops/attention*.c): o = softmax(scale q k^T + bias) v, online softmax, strided.
 * - scalar reference vs PyTorch (fixture, with and without bias);
 * - scalar reference vs a naive double-precision full-matrix computation in this file on
 *   awkward shapes and layouts (token-major, feature-major, broadcast bias, masks);
 * - every SIMD path vs the scalar reference, 1 and 2 threads, and run-to-run identity. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "internal.h"
#include "ops.h"
#include "safetensors.h"
#include "testutil.h"

#define FIXTURE "tests/fixtures/ops/ops.safetensors"

/* the widest path to test: what the CPU has, capped by OCELLUS_ISA (valgrind runs force
 * avx2 because it cannot execute AVX-512) */
static oc_isa max_isa(void)
{
    oc_isa a = oc_cpu_best_isa(), b = oc_get_isa();
    return b < a ? b : a;
}


static float *fx(oc_st_file *f, const char *name, size_t numel)
{
    const oc_st_tensor *t = oc_st_find(f, name);
    if (!t) fprintf(stderr, "fixture tensor %s missing\n", name);
    assert_non_null(t);
    assert_int_equal(t->numel, numel);
    float *p = malloc(numel * sizeof(float) + 1);
    assert_int_equal(oc_st_to_f32(f, t, p), OC_OK);
    return p;
}

static void run_attn(oc_isa isa, int nt, const oc_attn_desc *d, const float *q, const float *k,
                     const float *v, float *o)
{
    oc_ctx ctx = {isa, nt, NULL, 0};
    ctx.scratch_bytes = oc_attention_scratch_bytes(d, isa, nt);
    ctx.scratch = oc_malloc(ctx.scratch_bytes);
    assert_non_null(ctx.scratch);
    oc_attention(&ctx, d, q, k, v, o);
    oc_free(ctx.scratch);
}

/* max |a-b| over the dv x lq output addressed through o's strides, relative to max |b| */
static double out_err(const oc_attn_desc *d, const float *a, const float *b, double *maxref)
{
    double e = 0, m = 0;
    for (int bb = 0; bb < d->batch; bb++)
        for (int h = 0; h < d->heads; h++)
            for (int i = 0; i < d->lq; i++)
                for (int c = 0; c < d->dv; c++) {
                    int64_t off = bb * d->o_sb + h * d->o_sh + (int64_t)i * d->o_st + c * d->o_sd;
                    double df = fabs((double)a[off] - b[off]);
                    if (!(df <= e)) e = df; /* NaN propagates into e */
                    if (fabs(b[off]) > m) m = fabs(b[off]);
                }
    if (maxref) *maxref = m;
    return e;
}

static void naive_attn(const oc_attn_desc *d, const float *q, const float *k, const float *v,
                       float *o)
{
    double *s = malloc(sizeof(double) * (size_t)d->lk);
    for (int b = 0; b < d->batch; b++)
        for (int h = 0; h < d->heads; h++)
            for (int i = 0; i < d->lq; i++) {
                double mx = -INFINITY, sum = 0;
                for (int t = 0; t < d->lk; t++) {
                    double acc = 0;
                    for (int j = 0; j < d->d; j++)
                        acc += (double)q[b * d->q_sb + h * d->q_sh + (int64_t)i * d->q_st + j * d->q_sd] *
                               k[b * d->k_sb + h * d->k_sh + (int64_t)t * d->k_st + j * d->k_sd];
                    acc *= d->scale;
                    if (d->bias)
                        acc += d->bias[b * d->bias_sb + h * d->bias_sh + (int64_t)i * d->bias_sq + t * d->bias_sk];
                    s[t] = acc;
                    if (acc > mx) mx = acc;
                }
                for (int t = 0; t < d->lk; t++) {
                    s[t] = exp(s[t] - mx);
                    sum += s[t];
                }
                for (int c = 0; c < d->dv; c++) {
                    double acc = 0;
                    for (int t = 0; t < d->lk; t++)
                        acc += s[t] * v[b * d->v_sb + h * d->v_sh + (int64_t)t * d->v_st + c * d->v_sd];
                    o[b * d->o_sb + h * d->o_sh + (int64_t)i * d->o_st + c * d->o_sd] = (float)(acc / sum);
                }
            }
    free(s);
}

static void test_attention_fixture(void **state)
{
    (void)state;
    oc_st_file *f = NULL;
    assert_int_equal(oc_st_open(FIXTURE, &f), OC_OK);
    const int B = 2, H = 3, LQ = 9, LK = 13, D = 8, DV = 6;
    float *q = fx(f, "attn.q", B * H * LQ * D), *k = fx(f, "attn.k", B * H * LK * D);
    float *v = fx(f, "attn.v", B * H * LK * DV), *bias = fx(f, "attn.bias", B * H * LQ * LK);
    float *ref = fx(f, "attn.o", B * H * LQ * DV), *refb = fx(f, "attn.o_bias", B * H * LQ * DV);
    float o[2 * 3 * 9 * 6];
    oc_attn_desc d = {0};
    d.batch = B; d.heads = H; d.lq = LQ; d.lk = LK; d.d = D; d.dv = DV;
    d.scale = 1.0f / sqrtf((float)D);
    oc_attn_desc_contiguous(&d);
    for (int isa = 0; isa <= (int)max_isa(); isa++) {
        d.bias = NULL;
        run_attn((oc_isa)isa, 1, &d, q, k, v, o);
        /* outputs are O(1) averages of 13 values; float32 sums of <= 13 terms: 2e-6 */
        assert_true(out_err(&d, o, ref, NULL) < 2e-6);
        d.bias = bias;
        d.bias_sb = (int64_t)H * LQ * LK; d.bias_sh = (int64_t)LQ * LK; d.bias_sq = LK; d.bias_sk = 1;
        run_attn((oc_isa)isa, 2, &d, q, k, v, o);
        assert_true(out_err(&d, o, refb, NULL) < 2e-6);
    }
    free(q); free(k); free(v); free(bias); free(ref); free(refb);
    oc_st_close(f);
}

typedef struct {
    int b, h, lq, lk, d, dv;
    int feature_major; /* q/k/v/o laid out [B][H][D][L] */
    int bias;          /* 0 none, 1 full [B][H][LQ][LK], 2 broadcast over b,h ([LQ][LK]), 3 per-key mask */
    float qscale;      /* magnitude of q (large -> large logits) */
} acase;

static void setup(const acase *c, oc_attn_desc *d, float **q, float **k, float **v, float **bias,
                  uint32_t seed)
{
    memset(d, 0, sizeof *d);
    d->batch = c->b; d->heads = c->h; d->lq = c->lq; d->lk = c->lk; d->d = c->d; d->dv = c->dv;
    d->scale = 1.0f / sqrtf((float)c->d);
    oc_attn_desc_contiguous(d);
    if (c->feature_major) {
        d->q_st = 1; d->q_sd = c->lq;
        d->k_st = 1; d->k_sd = c->lk;
        d->v_st = 1; d->v_sd = c->lk;
        d->o_st = 1; d->o_sd = c->lq;
    }
    size_t nq = (size_t)c->b * c->h * c->lq * c->d, nk = (size_t)c->b * c->h * c->lk * c->d;
    size_t nv = (size_t)c->b * c->h * c->lk * c->dv;
    *q = malloc(nq * 4); *k = malloc(nk * 4); *v = malloc(nv * 4);
    tu_fill_uniform(*q, nq, seed, -c->qscale, c->qscale);
    tu_fill_uniform(*k, nk, seed + 1, -1, 1);
    tu_fill_uniform(*v, nv, seed + 2, -1, 1);
    *bias = NULL;
    if (c->bias) {
        size_t nb = (size_t)c->b * c->h * c->lq * c->lk;
        *bias = malloc(nb * 4);
        tu_fill_uniform(*bias, nb, seed + 3, -2, 2);
        d->bias = *bias;
        d->bias_sq = c->lk; d->bias_sk = 1;
        if (c->bias == 1) {
            d->bias_sh = (int64_t)c->lq * c->lk;
            d->bias_sb = d->bias_sh * c->h;
        } else if (c->bias == 2) {
            d->bias_sh = d->bias_sb = 0;
        } else { /* mask: every third key -inf, same for all queries (bias_sq = 0) */
            for (int t = 0; t < c->lk; t++) (*bias)[t] = (t % 3 == 1) ? -INFINITY : 0.0f;
            d->bias_sb = d->bias_sh = d->bias_sq = 0;
        }
    }
}

static const acase CASES[] = {
    {1, 1, 1, 1, 1, 1, 0, 0, 1.0f},
    {2, 3, 7, 130, 5, 3, 0, 1, 1.0f},
    {1, 2, 100, 67, 64, 64, 0, 0, 1.0f},   /* lq > query block, lk > key block */
    {1, 1, 97, 129, 17, 33, 0, 2, 1.0f},   /* dv tail, d odd */
    {1, 2, 50, 50, 32, 32, 1, 0, 1.0f},    /* feature-major (C2PSA) */
    {2, 1, 13, 200, 16, 24, 1, 3, 1.0f},   /* feature-major + -inf mask */
    {1, 2, 40, 300, 16, 16, 0, 1, 40.0f},  /* large logits: online max matters */
    {1, 1, 5, 7, 80, 8, 0, 0, 1.0f},       /* d > 64 */
    {1, 3, 193, 65, 8, 100, 0, 0, 1.0f},   /* lq = 2 blocks + 1, dv = 6*16+4 */
    {1, 1, 1000, 1030, 64, 64, 0, 1, 3.0f}, /* long: many online rescalings (skipped under valgrind) */
};
#define NCASES_VG 9 /* cases run under valgrind */

static void test_attention_scalar_vs_naive(void **state)
{
    (void)state;
    for (size_t ci = 0; ci < sizeof CASES / sizeof CASES[0]; ci++) {
        if (tu_under_valgrind() && ci >= NCASES_VG) break;
        const acase *c = &CASES[ci];
        oc_attn_desc d;
        float *q, *k, *v, *bias;
        setup(c, &d, &q, &k, &v, &bias, 100 + (uint32_t)ci);
        size_t no = (size_t)c->b * c->h * c->lq * c->dv;
        float *o = malloc(no * 4), *ref = malloc(no * 4);
        naive_attn(&d, q, k, v, ref);
        run_attn(OC_ISA_SCALAR, 2, &d, q, k, v, o);
        double mref, e = out_err(&d, o, ref, &mref);
        /* float32 dot products of d terms and sums over lk probabilities vs double: the
         * logits carry ~d*eps*|q||k| error (grows with qscale), the weighted sums ~eps each;
         * measured 1e-7 .. 3e-6 (qscale 40): 2e-6 x (max|o| + 1) x max(1, qscale) */
        double tol = 2e-6 * (mref + 1) * (c->qscale > 1 ? c->qscale : 1);
        if (!(e <= tol)) fprintf(stderr, "case %zu: scalar vs naive err %g tol %g\n", ci, e, tol);
        assert_true(e <= tol);
        free(q); free(k); free(v); free(bias); free(o); free(ref);
    }
}

static void test_attention_simd_vs_scalar(void **state)
{
    (void)state;
    for (size_t ci = 0; ci < sizeof CASES / sizeof CASES[0]; ci++) {
        if (tu_under_valgrind() && ci >= NCASES_VG) break;
        const acase *c = &CASES[ci];
        oc_attn_desc d;
        float *q, *k, *v, *bias;
        setup(c, &d, &q, &k, &v, &bias, 200 + (uint32_t)ci);
        size_t no = (size_t)c->b * c->h * c->lq * c->dv;
        float *o = malloc(no * 4), *ref = malloc(no * 4), *o2 = malloc(no * 4);
        run_attn(OC_ISA_SCALAR, 1, &d, q, k, v, ref);
        for (int isa = 1; isa <= (int)max_isa(); isa++)
            for (int nt = 1; nt <= 2; nt++) {
                memset(o, 0xff, no * 4);
                run_attn((oc_isa)isa, nt, &d, q, k, v, o);
                double mref, e = out_err(&d, o, ref, &mref);
                /* different summation order (blocked dots, scale folded into q, FMA, own
                 * exp): measured <= 2e-6; same bound as above */
                double tol = 2e-6 * (mref + 1) * (c->qscale > 1 ? c->qscale : 1);
                if (!(e <= tol))
                    fprintf(stderr, "case %zu isa %d nt %d: err %g tol %g\n", ci, isa, nt, e, tol);
                assert_true(e <= tol);
                /* identical run to run */
                run_attn((oc_isa)isa, nt, &d, q, k, v, o2);
                assert_memory_equal(o, o2, no * 4);
            }
        free(q); free(k); free(v); free(bias); free(o); free(ref); free(o2);
    }
}

static void test_attention_scratch_is_bounded(void **state)
{
    (void)state;
    /* O(tile): scratch does not grow with the sequence length */
    oc_attn_desc a = {0}, b = {0};
    a.batch = b.batch = 1; a.heads = b.heads = 4; a.d = b.d = a.dv = b.dv = 64;
    a.lq = a.lk = 256;
    b.lq = b.lk = 16384;
    for (int isa = 0; isa <= (int)max_isa(); isa++) {
        size_t sa = oc_attention_scratch_bytes(&a, (oc_isa)isa, 2);
        size_t sb = oc_attention_scratch_bytes(&b, (oc_isa)isa, 2);
        assert_int_equal(sa, sb);
        assert_true(sb < 1u << 20);
    }
}

static void test_attention_without_scratch(void **state)
{
    (void)state;
    /* too little scratch for the tiled SIMD path: falls back to the reference, same result */
    const acase c = {1, 2, 30, 70, 16, 16, 0, 1, 1.0f};
    oc_attn_desc d;
    float *q, *k, *v, *bias;
    setup(&c, &d, &q, &k, &v, &bias, 77);
    size_t no = (size_t)c.b * c.h * c.lq * c.dv;
    float *o = malloc(no * 4), *ref = malloc(no * 4);
    run_attn(OC_ISA_SCALAR, 1, &d, q, k, v, ref);
    for (int isa = 0; isa <= (int)max_isa(); isa++) {
        oc_ctx ctx = {(oc_isa)isa, 2, NULL, 0};
        memset(o, 0xff, no * 4);
        oc_attention(&ctx, &d, q, k, v, o);
        assert_memory_equal(o, ref, no * 4);
    }
    free(q); free(k); free(v); free(bias); free(o); free(ref);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_attention_fixture),
        cmocka_unit_test(test_attention_scalar_vs_naive),
        cmocka_unit_test(test_attention_simd_vs_scalar),
        cmocka_unit_test(test_attention_scratch_is_bounded),
        cmocka_unit_test(test_attention_without_scratch),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}

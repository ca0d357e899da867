/* Elementwise kernels (ops/eltwise*.c): binary with broadcasting, activations, clamp,
 * per-channel affine.
 * - scalar reference vs PyTorch (tests/fixtures/ops/ops.safetensors, made by
 *   tools/fixtures/gen_op_fixtures.py with torch 1.13);
 * - scalar reference vs an independent naive index computation (broadcasting);
 * - every SIMD path the CPU has vs the scalar reference, awkward sizes, 1 and 2 threads. */
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


static oc_ctx mkctx(oc_isa isa, int nt)
{
    oc_ctx c = {isa, nt, NULL, 0};
    return c;
}

static oc_st_file *open_fx(void)
{
    oc_st_file *f = NULL;
    oc_status st = oc_st_open(FIXTURE, &f);
    if (st != OC_OK) fprintf(stderr, "cannot open %s: %s\n", FIXTURE, oc_last_error());
    assert_int_equal(st, OC_OK);
    return f;
}

/* a fixture tensor as a fresh float array; checks its element count */
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

/* |a-b| <= atol + rtol*|b| everywhere (NaN must match NaN); reports the worst element */
static void check_close(const char *what, const float *a, const float *b, size_t n, float atol,
                        float rtol)
{
    size_t bad = (size_t)-1;
    double worst = 0;
    for (size_t i = 0; i < n; i++) {
        if (isnan(b[i]) || isnan(a[i])) {
            if (!(isnan(a[i]) && isnan(b[i]))) { bad = i; break; }
            continue;
        }
        if (isinf(b[i]) || isinf(a[i])) {
            if (a[i] != b[i]) { bad = i; break; }
            continue;
        }
        double e = fabs((double)a[i] - b[i]) - (atol + rtol * fabs((double)b[i]));
        if (e > worst) { worst = e; bad = i; }
    }
    if (bad != (size_t)-1) {
        fprintf(stderr, "%s: element %zu: got %.9g want %.9g (atol %g rtol %g)\n", what, bad,
                a[bad], b[bad], atol, rtol);
        fail();
    }
}

/* ---- binary ---- */
static void naive_binary(oc_binop op, const float *a, const int64_t *as, const float *b,
                         const int64_t *bs, int nd, float *y, const int64_t *ys)
{
    int64_t tot = 1;
    for (int i = 0; i < nd; i++) tot *= ys[i];
    for (int64_t e = 0; e < tot; e++) {
        int64_t rem = e, ia = 0, ib = 0, ma = 1, mb = 1;
        for (int i = nd - 1; i >= 0; i--) {
            int64_t c = rem % ys[i];
            rem /= ys[i];
            ia += (as[i] == 1 ? 0 : c) * ma;
            ib += (bs[i] == 1 ? 0 : c) * mb;
            ma *= as[i];
            mb *= bs[i];
        }
        float x = a[ia], z = b[ib];
        y[e] = op == OC_BIN_ADD ? x + z : op == OC_BIN_SUB ? x - z : op == OC_BIN_MUL ? x * z : x / z;
    }
}

static void test_binary_fixture(void **state)
{
    (void)state;
    oc_st_file *f = open_fx();
    const char *names[4] = {"add", "sub", "mul", "div"};
    const int64_t ash[4][4] = {{2, 3, 4, 5}, {2, 3, 4, 5}, {2, 3, 4, 5}, {1, 3, 1, 5}};
    const int64_t bsh[4][4] = {{1, 3, 1, 1}, {2, 3, 4, 5}, {1, 1, 1, 5}, {2, 1, 4, 1}};
    const int64_t ysh[4] = {2, 3, 4, 5};
    for (int c = 0; c < 4; c++) {
        char nm[64];
        size_t na = 1, nb = 1;
        for (int i = 0; i < 4; i++) { na *= ash[c][i]; nb *= bsh[c][i]; }
        snprintf(nm, sizeof nm, "bin.%s.a", names[c]);
        float *a = fx(f, nm, na);
        snprintf(nm, sizeof nm, "bin.%s.b", names[c]);
        float *b = fx(f, nm, nb);
        snprintf(nm, sizeof nm, "bin.%s.y", names[c]);
        float *ref = fx(f, nm, 120);
        for (int isa = 0; isa <= (int)max_isa(); isa++) {
            float y[120];
            oc_ctx ctx = mkctx((oc_isa)isa, 1);
            oc_binary(&ctx, (oc_binop)c, a, ash[c], b, bsh[c], 4, y, ysh);
            /* one IEEE operation per element: bit-exact with torch */
            check_close(names[c], y, ref, 120, 0, 0);
        }
        free(a); free(b); free(ref);
    }
    oc_st_close(f);
}

static void test_binary_broadcast_patterns(void **state)
{
    (void)state;
    /* shapes chosen so inner runs are 1, odd, and not multiples of 8/16 */
    static const int64_t pats[][3][4] = {
        {{2, 5, 7, 19}, {2, 5, 7, 19}, {2, 5, 7, 19}},   /* same shape */
        {{2, 5, 7, 19}, {1, 5, 1, 1}, {2, 5, 7, 19}},    /* per channel */
        {{2, 5, 7, 19}, {1, 1, 1, 1}, {2, 5, 7, 19}},    /* scalar */
        {{1, 1, 1, 1}, {2, 5, 7, 19}, {2, 5, 7, 19}},    /* scalar on the left */
        {{2, 5, 7, 19}, {1, 1, 1, 19}, {2, 5, 7, 19}},   /* last-dim row */
        {{2, 1, 7, 1}, {1, 5, 1, 19}, {2, 5, 7, 19}},    /* both broadcast */
        {{2, 5, 1, 19}, {2, 1, 7, 1}, {2, 5, 7, 19}},    /* strided inner merge */
        {{1, 1, 1, 1}, {1, 1, 1, 1}, {1, 1, 1, 1}},      /* size 1 */
        {{3, 1, 1, 333}, {3, 1, 1, 333}, {3, 1, 1, 333}},
        {{1, 64, 1, 1}, {1, 64, 40, 41}, {1, 64, 40, 41}}, /* big, threads */
        {{1, 1, 1, 70001}, {1, 1, 1, 1}, {1, 1, 1, 70001}},  /* one long row split */
    };
    const int np = (int)(sizeof pats / sizeof pats[0]);
    for (int p = 0; p < np; p++) {
        const int64_t *as = pats[p][0], *bs = pats[p][1], *ys = pats[p][2];
        size_t na = 1, nb = 1, ny = 1;
        for (int i = 0; i < 4; i++) { na *= as[i]; nb *= bs[i]; ny *= ys[i]; }
        float *a = malloc(na * 4), *b = malloc(nb * 4), *ref = malloc(ny * 4), *y = malloc(ny * 4);
        tu_fill_uniform(a, na, 11 + p, -3, 3);
        tu_fill_uniform(b, nb, 97 + p, 0.5f, 2.5f);
        for (int op = 0; op < 4; op++) {
            naive_binary((oc_binop)op, a, as, b, bs, 4, ref, ys);
            for (int isa = 0; isa <= (int)max_isa(); isa++)
                for (int nt = 1; nt <= 2; nt++) {
                    oc_ctx ctx = mkctx((oc_isa)isa, nt);
                    memset(y, 0xff, ny * 4);
                    oc_binary(&ctx, (oc_binop)op, a, as, b, bs, 4, y, ys);
                    char what[96];
                    snprintf(what, sizeof what, "binary pattern %d op %d isa %d nt %d", p, op, isa, nt);
                    check_close(what, y, ref, ny, 0, 0);
                }
        }
        free(a); free(b); free(ref); free(y);
    }
}

static void test_binary_inplace(void **state)
{
    (void)state;
    const int64_t as[3] = {3, 17, 29}, bs[3] = {1, 17, 1};
    size_t n = 3 * 17 * 29;
    float *a = malloc(n * 4), *a2 = malloc(n * 4), *ref = malloc(n * 4), b[17];
    tu_fill_uniform(a, n, 5, -1, 1);
    tu_fill_uniform(b, 17, 6, -1, 1);
    naive_binary(OC_BIN_MUL, a, as, b, bs, 3, ref, as);
    for (int isa = 0; isa <= (int)max_isa(); isa++) {
        memcpy(a2, a, n * 4);
        oc_ctx ctx = mkctx((oc_isa)isa, 2);
        oc_binary(&ctx, OC_BIN_MUL, a2, as, b, bs, 3, a2, as);
        check_close("in-place mul", a2, ref, n, 0, 0);
    }
    free(a); free(a2); free(ref);
}

/* ---- activations ---- */
static const oc_act ACTS[] = {OC_ACT_RELU, OC_ACT_SILU, OC_ACT_SIGMOID, OC_ACT_TANH,
                              OC_ACT_GELU, OC_ACT_GELU_TANH, OC_ACT_HARDSWISH};
static const char *ACT_FX[] = {"act.relu", "act.silu", "act.sigmoid", "act.tanh", "act.gelu",
                               "act.gelu_tanh", "act.hardswish"};
#define NACT 7
#define ACT_N 252

static void test_activation_fixture(void **state)
{
    (void)state;
    oc_st_file *f = open_fx();
    float *x = fx(f, "act.x", ACT_N);
    float y[ACT_N];
    oc_ctx ctx = mkctx(OC_ISA_SCALAR, 1);
    for (int a = 0; a < NACT; a++) {
        float *ref = fx(f, ACT_FX[a], ACT_N);
        oc_activation(&ctx, ACTS[a], x, y, ACT_N);
        /* libm vs torch's own (vectorised) expf/tanhf/erff: a few ulp. atol 1e-6 covers
         * gelu_tanh's cancellation in 1 + tanh(u) for negative x, which torch has too. */
        check_close(ACT_FX[a], y, ref, ACT_N, 1e-6f, 3e-6f);
        free(ref);
    }
    float *ref = fx(f, "act.clamp", ACT_N);
    oc_clamp(&ctx, x, y, ACT_N, -2.5f, 4.0f);
    check_close("clamp", y, ref, ACT_N, 0, 0);
    free(ref);
    free(x);
    oc_st_close(f);
}

static void test_activation_simd(void **state)
{
    (void)state;
    const size_t sizes[] = {1, 7, 15, 16, 17, 33, 1000, 100003};
    size_t nmax = 100003;
    float *x = malloc(nmax * 4), *ref = malloc(nmax * 4), *y = malloc(nmax * 4);
    tu_fill_uniform(x, nmax, 77, -20, 20);
    /* special values, spread over lanes and tails */
    const float sp[] = {-100, 100, -88, 88, -87.5f, 87.5f, 0, -0.0f, 1e-6f, -1e-6f, 0.624f, 0.626f,
                        -0.626f, 9.5f, -9.5f, 3, -3, 1e-30f, -1e-30f, 40, -40};
    for (size_t i = 0; i < sizeof sp / sizeof sp[0]; i++) x[i * 3] = sp[i];
    for (int a = 0; a < NACT; a++) {
        oc_ctx sc = mkctx(OC_ISA_SCALAR, 1);
        oc_activation(&sc, ACTS[a], x, ref, nmax);
        for (int isa = 1; isa <= (int)max_isa(); isa++)
            for (int nt = 1; nt <= 2; nt++)
                for (size_t s = 0; s < sizeof sizes / sizeof sizes[0]; s++) {
                    size_t n = sizes[s];
                    oc_ctx ctx = mkctx((oc_isa)isa, nt);
                    y[n < nmax ? n : 0] = 12345.0f;
                    oc_activation(&ctx, ACTS[a], x, y, n);
                    char what[96];
                    snprintf(what, sizeof what, "%s isa %d nt %d n %zu", ACT_FX[a], isa, nt, n);
                    /* own polynomials: ~1e-6 relative (exp 1.5e-7, erfc form 1.2e-7 plus
                     * float evaluation); atol for results near 0 */
                    check_close(what, y, ref, n, 1e-7f, 2e-6f);
                    if (n < nmax) assert_true(y[n] == 12345.0f); /* no write past the end */
                }
    }
    /* large |x| never gives NaN / inf for sigmoid and SiLU; exact saturation values */
    float big[4] = {-100, 100, -1000, 1000}, o[4];
    for (int isa = 0; isa <= (int)max_isa(); isa++) {
        oc_ctx ctx = mkctx((oc_isa)isa, 1);
        oc_activation(&ctx, OC_ACT_SIGMOID, big, o, 4);
        assert_true(o[0] >= 0 && o[0] < 1e-30f && o[1] == 1.0f && o[2] >= 0 && o[2] < 1e-30f && o[3] == 1.0f);
        oc_activation(&ctx, OC_ACT_SILU, big, o, 4);
        assert_true(isfinite(o[0]) && fabsf(o[0]) < 1e-25f && o[1] == 100.0f);
        assert_true(isfinite(o[2]) && fabsf(o[2]) < 1e-25f && o[3] == 1000.0f);
        oc_activation(&ctx, OC_ACT_TANH, big, o, 4);
        assert_true(o[0] == -1.0f && o[1] == 1.0f);
        oc_activation(&ctx, OC_ACT_GELU, big, o, 4);
        assert_true(o[0] == 0.0f && o[1] == 100.0f);
    }
    free(x); free(ref); free(y);
}

static void test_activation_inplace_and_clamp(void **state)
{
    (void)state;
    const size_t n = 1037;
    float *x = malloc(n * 4), *ref = malloc(n * 4), *y = malloc(n * 4);
    tu_fill_uniform(x, n, 3, -8, 8);
    x[5] = NAN;
    for (int isa = 0; isa <= (int)max_isa(); isa++) {
        oc_ctx ctx = mkctx((oc_isa)isa, 2);
        oc_ctx sc = mkctx(OC_ISA_SCALAR, 1);
        oc_activation(&sc, OC_ACT_HARDSWISH, x, ref, n);
        memcpy(y, x, n * 4);
        oc_activation(&ctx, OC_ACT_HARDSWISH, y, y, n);
        check_close("hardswish in place", y, ref, n, 1e-7f, 1e-6f);
        oc_clamp(&ctx, x, y, n, -1.5f, 2.0f);
        for (size_t i = 0; i < n; i++) {
            if (i == 5) { assert_true(isnan(y[i])); continue; } /* NaN propagates like torch */
            float w = x[i] < -1.5f ? -1.5f : (x[i] > 2.0f ? 2.0f : x[i]);
            assert_true(y[i] == w);
        }
    }
    free(x); free(ref); free(y);
}

static void test_channel_affine(void **state)
{
    (void)state;
    const int n = 2, c = 5;
    const int64_t hw = 37;
    size_t tot = (size_t)n * c * hw;
    float *x = malloc(tot * 4), *y = malloc(tot * 4), sc[5], sh[5];
    tu_fill_uniform(x, tot, 8, -4, 4);
    tu_fill_uniform(sc, 5, 9, -2, 2);
    tu_fill_uniform(sh, 5, 10, -1, 1);
    for (int isa = 0; isa <= (int)max_isa(); isa++)
        for (int nt = 1; nt <= 2; nt++) {
            oc_ctx ctx = mkctx((oc_isa)isa, nt);
            oc_channel_affine(&ctx, x, n, c, hw, sc, sh, y);
            for (size_t i = 0; i < tot; i++) {
                int ch = (int)((i / hw) % c);
                double w = (double)x[i] * sc[ch] + sh[ch];
                /* the SIMD paths fuse multiply-add: within one rounding of the exact value */
                assert_true(fabs(y[i] - w) <= 1e-6 * (fabs(w) + fabs((double)x[i] * sc[ch])) + 1e-7);
            }
        }
    free(x); free(y);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_binary_fixture),
        cmocka_unit_test(test_binary_broadcast_patterns),
        cmocka_unit_test(test_binary_inplace),
        cmocka_unit_test(test_activation_fixture),
        cmocka_unit_test(test_activation_simd),
        cmocka_unit_test(test_activation_inplace_and_clamp),
        cmocka_unit_test(test_channel_affine),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}

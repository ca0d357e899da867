/* Pooling, upsampling, normalisation, data movement and grid_sample (ops/pool.c, upsample.c,
 * norm.c, tensor.c, grid_sample.c):
 * - scalar reference vs PyTorch (tests/fixtures/ops/ops.safetensors, from
 *   tools/fixtures/gen_op_fixtures.py);
 * - SIMD paths (softmax, layernorm) vs scalar on awkward sizes, large logits, 1 and 2 threads;
 * - data movement vs naive index arithmetic on random shapes / permutations. */
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


static oc_st_file *g_fx;

static int setup_fx(void **state)
{
    (void)state;
    oc_status st = oc_st_open(FIXTURE, &g_fx);
    if (st != OC_OK) fprintf(stderr, "cannot open %s: %s\n", FIXTURE, oc_last_error());
    return st == OC_OK ? 0 : -1;
}

static int teardown_fx(void **state)
{
    (void)state;
    oc_st_close(g_fx);
    return 0;
}

static oc_ctx mkctx(oc_isa isa, int nt)
{
    oc_ctx c = {isa, nt, NULL, 0};
    return c;
}

static float *fx(const char *name, size_t numel)
{
    const oc_st_tensor *t = oc_st_find(g_fx, name);
    if (!t) fprintf(stderr, "fixture tensor %s missing\n", name);
    assert_non_null(t);
    assert_int_equal(t->numel, numel);
    float *p = malloc(numel * sizeof(float) + 1);
    assert_int_equal(oc_st_to_f32(g_fx, t, p), OC_OK);
    return p;
}

static void check_close(const char *what, const float *a, const float *b, size_t n, float atol,
                        float rtol)
{
    for (size_t i = 0; i < n; i++) {
        double e = fabs((double)a[i] - b[i]);
        if (!(e <= atol + rtol * fabs((double)b[i]))) {
            fprintf(stderr, "%s: element %zu: got %.9g want %.9g (atol %g rtol %g)\n", what, i,
                    a[i], b[i], atol, rtol);
            fail();
        }
    }
}

/* compare a kernel's output with a fixture tensor; threads 1 and 2 must agree bitwise */
#define MAXBUF 4096

/* ---- pooling ---- */
static void test_pool_fixture(void **state)
{
    (void)state;
    float *x = fx("pool.x", 2 * 9 * 11);
    struct {
        const char *name;
        int max, k, s, p, ceil, inc;
    } cs[] = {
        {"maxpool.k3s2p1c", 1, 3, 2, 1, 1, 0},
        {"maxpool.k5s1p2", 1, 5, 1, 2, 0, 0},
        {"maxpool.k2s2", 1, 2, 2, 0, 0, 0},
        {"avgpool.k3s2p1c_inc", 0, 3, 2, 1, 1, 1},
        {"avgpool.k3s2p1c_exc", 0, 3, 2, 1, 1, 0},
        {"avgpool.k2s2", 0, 2, 2, 0, 0, 1},
    };
    for (size_t i = 0; i < sizeof cs / sizeof cs[0]; i++) {
        oc_pool2d_desc d = {cs[i].k, cs[i].k, cs[i].s, cs[i].s, cs[i].p, cs[i].p, cs[i].p, cs[i].p,
                            cs[i].ceil, cs[i].inc};
        int oh, ow;
        oc_pool2d_out_size(&d, 9, 11, &oh, &ow);
        const oc_st_tensor *t = oc_st_find(g_fx, cs[i].name);
        assert_non_null(t);
        assert_int_equal(t->shape[2], oh);
        assert_int_equal(t->shape[3], ow);
        size_t n = (size_t)2 * oh * ow;
        float *ref = fx(cs[i].name, n), y[MAXBUF], y2[MAXBUF];
        for (int nt = 1; nt <= 2; nt++) {
            oc_ctx ctx = mkctx(max_isa(), nt);
            if (cs[i].max)
                oc_maxpool2d(&ctx, &d, x, 1, 2, 9, 11, nt == 1 ? y : y2);
            else
                oc_avgpool2d(&ctx, &d, x, 1, 2, 9, 11, nt == 1 ? y : y2);
        }
        /* max is exact; avg sums <= 9 values in a different order than torch: 1e-6 */
        check_close(cs[i].name, y, ref, n, cs[i].max ? 0.0f : 1e-6f, 0);
        assert_memory_equal(y, y2, n * 4);
        free(ref);
    }
    float y[MAXBUF];
    oc_ctx ctx = mkctx(OC_ISA_SCALAR, 1);
    float *ref = fx("adaptive.3x4", 2 * 3 * 4);
    oc_adaptive_avgpool2d(&ctx, x, 1, 2, 9, 11, 3, 4, y);
    check_close("adaptive 3x4", y, ref, 24, 1e-6f, 0);
    free(ref);
    ref = fx("adaptive.1x1", 2);
    oc_adaptive_avgpool2d(&ctx, x, 1, 2, 9, 11, 1, 1, y);
    check_close("adaptive 1x1", y, ref, 2, 1e-6f, 0);
    free(ref);
    free(x);
}

static void test_maxpool_simd_vs_scalar(void **state)
{
    (void)state;
    /* kernel 1..5, stride 1..3, asymmetric pads, ceil mode, widths around the 8-lane edge */
    const int hs[] = {1, 5, 20}, ws[] = {1, 7, 8, 9, 23, 40};
    uint32_t seed = 1;
    for (int k = 1; k <= 5; k++)
        for (int st = 1; st <= 3; st++)
            for (size_t hi = 0; hi < 3; hi++)
                for (size_t wi = 0; wi < 6; wi++) {
                    int h = hs[hi], w = ws[wi], pad = (k - 1) / 2;
                    if (k > h + 2 * pad || k > w + 2 * pad) continue;
                    oc_pool2d_desc d = {k, k, st, st, pad, pad, pad > 0 ? pad - 1 : 0, pad,
                                        (int)(seed & 1), 0};
                    int oh, ow;
                    oc_pool2d_out_size(&d, h, w, &oh, &ow);
                    if (oh <= 0 || ow <= 0) continue;
                    const int c = 3;
                    size_t nx = (size_t)c * h * w, ny = (size_t)c * oh * ow;
                    float *x = malloc(nx * 4), *ref = malloc(ny * 4), *y = malloc(ny * 4);
                    tu_fill_uniform(x, nx, seed++, -5, 5);
                    if (nx > 10) { x[3] = NAN; x[nx - 2] = INFINITY; x[nx / 2] = -INFINITY; }
                    oc_ctx sc = mkctx(OC_ISA_SCALAR, 1);
                    oc_maxpool2d(&sc, &d, x, 1, c, h, w, ref);
                    for (int isa = 1; isa <= (int)max_isa(); isa++)
                        for (int nt = 1; nt <= 2; nt++) {
                            oc_ctx ctx = mkctx((oc_isa)isa, nt);
                            oc_maxpool2d(&ctx, &d, x, 1, c, h, w, y);
                            for (size_t i = 0; i < ny; i++) {
                                if (isnan(ref[i])) { assert_true(isnan(y[i])); continue; }
                                if (y[i] != ref[i])
                                    fprintf(stderr, "maxpool k%d s%d %dx%d isa %d: %zu: %g vs %g\n",
                                            k, st, h, w, isa, i, y[i], ref[i]);
                                assert_true(y[i] == ref[i]); /* max is exact */
                            }
                        }
                    free(x); free(ref); free(y);
                }
}

static void test_pool_out_size_rules(void **state)
{
    (void)state;
    /* ceil_mode: the last window may not start inside the right padding */
    oc_pool2d_desc d = {2, 2, 2, 2, 1, 1, 1, 1, 1, 0};
    int oh, ow;
    oc_pool2d_out_size(&d, 4, 5, &oh, &ow);
    /* torch: (4+2-2+1)/2+1 = 3, (3-1)*2 = 4 >= 4+1? no -> 3; w: (5+2-2+1)/2+1 = 4, 6 >= 6 -> 3 */
    assert_int_equal(oh, 3);
    assert_int_equal(ow, 3);
    oc_pool2d_desc e = {3, 3, 1, 1, 0, 0, 0, 0, 0, 0};
    oc_pool2d_out_size(&e, 2, 3, &oh, &ow); /* window larger than input */
    assert_int_equal(oh, 0);
    assert_int_equal(ow, 1);
}

/* ---- upsampling ---- */
static void test_upsample_fixture(void **state)
{
    (void)state;
    float *x = fx("up.x", 2 * 3 * 5);
    struct {
        const char *name;
        int bil, ac, oh, ow;
    } cs[] = {
        {"up.nearest.7x11", 0, 0, 7, 11},   {"up.nearest.x2", 0, 0, 6, 10},
        {"up.nearest.2x3", 0, 0, 2, 3},     {"up.bilinear.7x11", 1, 0, 7, 11},
        {"up.bilinear.7x11ac", 1, 1, 7, 11}, {"up.bilinear.2x3", 1, 0, 2, 3},
        {"up.bilinear.1x1ac", 1, 1, 1, 1},
    };
    for (size_t i = 0; i < sizeof cs / sizeof cs[0]; i++) {
        size_t n = (size_t)2 * cs[i].oh * cs[i].ow;
        float *ref = fx(cs[i].name, n), y[MAXBUF], y2[MAXBUF];
        for (int nt = 1; nt <= 2; nt++) {
            oc_ctx ctx = mkctx(max_isa(), nt);
            if (cs[i].bil)
                oc_upsample_bilinear(&ctx, x, 1, 2, 3, 5, cs[i].oh, cs[i].ow, cs[i].ac, nt == 1 ? y : y2);
            else
                oc_upsample_nearest(&ctx, x, 1, 2, 3, 5, cs[i].oh, cs[i].ow, nt == 1 ? y : y2);
        }
        /* nearest copies (exact); bilinear: same float index/weight rules as torch, 4 products */
        check_close(cs[i].name, y, ref, n, cs[i].bil ? 1e-6f : 0.0f, 0);
        assert_memory_equal(y, y2, n * 4);
        free(ref);
    }
    free(x);
}

static void test_upsample_large_factor2(void **state)
{
    (void)state;
    /* the exact-x2 fast path vs the generic rule on a map big enough for threads */
    const int c = 16, h = 21, w = 37;
    size_t nx = (size_t)c * h * w, ny = nx * 4;
    float *x = malloc(nx * 4), *y = malloc(ny * 4);
    tu_fill_uniform(x, nx, 4, -1, 1);
    oc_ctx ctx = mkctx(OC_ISA_SCALAR, 2);
    oc_upsample_nearest(&ctx, x, 1, c, h, w, 2 * h, 2 * w, y);
    for (int ch = 0; ch < c; ch++)
        for (int i = 0; i < 2 * h; i++)
            for (int j = 0; j < 2 * w; j++)
                assert_true(y[((size_t)ch * 2 * h + i) * 2 * w + j] == x[((size_t)ch * h + i / 2) * w + j / 2]);
    free(x);
    free(y);
}

static void test_bilinear_simd_vs_scalar(void **state)
{
    (void)state;
    /* up, down, odd sizes, a row wider than the per-column tables (4096) */
    const int cs[][4] = {{5, 7, 23, 41}, {17, 13, 8, 5}, {3, 9, 2, 4101}, {64, 64, 256, 256}};
    for (size_t ci = 0; ci < sizeof cs / sizeof cs[0]; ci++) {
        const int c = 3, h = cs[ci][0], w = cs[ci][1], oh = cs[ci][2], ow = cs[ci][3];
        size_t nx = (size_t)c * h * w, ny = (size_t)c * oh * ow;
        float *x = malloc(nx * 4), *ref = malloc(ny * 4), *y = malloc(ny * 4);
        tu_fill_uniform(x, nx, 9 + (uint32_t)ci, -3, 3);
        for (int ac = 0; ac <= 1; ac++) {
            oc_ctx sc = mkctx(OC_ISA_SCALAR, 1);
            oc_upsample_bilinear(&sc, x, 1, c, h, w, oh, ow, ac, ref);
            /* values stay within the input range (convex combination) */
            for (size_t i = 0; i < ny; i++) assert_true(ref[i] >= -3.0001f && ref[i] <= 3.0001f);
            for (int isa = 1; isa <= (int)max_isa(); isa++)
                for (int nt = 1; nt <= 2; nt++) {
                    oc_ctx ctx = mkctx((oc_isa)isa, nt);
                    oc_upsample_bilinear(&ctx, x, 1, c, h, w, oh, ow, ac, y);
                    assert_memory_equal(y, ref, ny * 4); /* same operation order: exact */
                }
        }
        free(x); free(ref); free(y);
    }
}

/* ---- normalisation ---- */
static void test_norm_fixture(void **state)
{
    (void)state;
    float y[MAXBUF];
    for (int isa = 0; isa <= (int)max_isa(); isa++) {
        oc_ctx ctx = mkctx((oc_isa)isa, 1);
        float *x = fx("softmax.x", 70), *r1 = fx("softmax.dim1", 70), *r2 = fx("softmax.dim2", 70);
        /* logits up to +-30: probabilities carry a few ulp from exp and the sum */
        oc_softmax(&ctx, x, y, 2, 5, 7);
        check_close("softmax dim1", y, r1, 70, 1e-7f, 3e-6f);
        oc_softmax(&ctx, x, y, 10, 7, 1);
        check_close("softmax dim2", y, r2, 70, 1e-7f, 3e-6f);
        free(x); free(r1); free(r2);
        x = fx("ln.x", 120);
        float *g = fx("ln.g", 20), *b = fx("ln.b", 20), *r = fx("ln.y", 120);
        float *rn = fx("ln.y_noaffine", 120);
        /* normalised values are O(1); mean/var over 20 floats: 2e-6 */
        oc_layernorm(&ctx, x, y, 6, 20, g, b, 1e-5f);
        check_close("layernorm", y, r, 120, 2e-6f, 2e-6f);
        oc_layernorm(&ctx, x, y, 6, 20, NULL, NULL, 1e-6f);
        check_close("layernorm no affine", y, rn, 120, 2e-6f, 2e-6f);
        free(x); free(g); free(b); free(r); free(rn);
        x = fx("ln2d.x", 240);
        g = fx("ln2d.g", 8);
        b = fx("ln2d.b", 8);
        r = fx("ln2d.y", 240);
        oc_layernorm_nchw(&ctx, x, y, 2, 8, 15, g, b, 1e-6f);
        check_close("layernorm2d", y, r, 240, 2e-6f, 2e-6f);
        free(x); free(g); free(b); free(r);
    }
}

static void test_softmax_simd(void **state)
{
    (void)state;
    const int64_t lens[] = {1, 7, 15, 16, 17, 100, 1001};
    const int64_t inners[] = {1, 3, 70};
    for (size_t li = 0; li < sizeof lens / sizeof lens[0]; li++)
        for (size_t ii = 0; ii < sizeof inners / sizeof inners[0]; ii++) {
            int64_t outer = 5, axis = lens[li], inner = inners[ii];
            size_t n = (size_t)(outer * axis * inner);
            float *x = malloc(n * 4), *ref = malloc(n * 4), *y = malloc(n * 4);
            tu_fill_uniform(x, n, (uint32_t)(li * 7 + ii), -1000, 1000); /* large logits */
            oc_ctx sc = mkctx(OC_ISA_SCALAR, 1);
            oc_softmax(&sc, x, ref, outer, axis, inner);
            /* each slice sums to 1 and has no NaN */
            for (int64_t o = 0; o < outer; o++)
                for (int64_t r = 0; r < inner; r++) {
                    double s = 0;
                    for (int64_t a = 0; a < axis; a++) {
                        float v = ref[(o * axis + a) * inner + r];
                        assert_false(isnan(v));
                        s += v;
                    }
                    assert_true(fabs(s - 1.0) < 1e-5);
                }
            for (int isa = 1; isa <= (int)max_isa(); isa++)
                for (int nt = 1; nt <= 2; nt++) {
                    oc_ctx ctx = mkctx((oc_isa)isa, nt);
                    memcpy(y, x, n * 4);
                    oc_softmax(&ctx, y, y, outer, axis, inner); /* in place */
                    /* own exp (1.5e-7) and reciprocal-multiply vs division: 2e-6 relative */
                    check_close("softmax simd", y, ref, n, 1e-9f, 2e-6f);
                }
            free(x); free(ref); free(y);
        }
}

static void test_layernorm_simd(void **state)
{
    (void)state;
    const int dims[] = {1, 7, 16, 17, 64, 100, 257};
    for (size_t di = 0; di < sizeof dims / sizeof dims[0]; di++) {
        int dim = dims[di];
        int64_t rows = 37;
        size_t n = (size_t)rows * dim;
        float *x = malloc(n * 4), *ref = malloc(n * 4), *y = malloc(n * 4);
        float *g = malloc(dim * 4), *b = malloc(dim * 4);
        tu_fill_uniform(x, n, 3 + (uint32_t)di, -5, 9);
        tu_fill_uniform(g, dim, 4, 0.5f, 1.5f);
        tu_fill_uniform(b, dim, 5, -1, 1);
        oc_ctx sc = mkctx(OC_ISA_SCALAR, 1);
        oc_layernorm(&sc, x, ref, rows, dim, g, b, 1e-5f);
        for (int isa = 1; isa <= (int)max_isa(); isa++)
            for (int nt = 1; nt <= 2; nt++) {
                oc_ctx ctx = mkctx((oc_isa)isa, nt);
                oc_layernorm(&ctx, x, y, rows, dim, g, b, 1e-5f);
                /* blocked sums of up to 257 values vs sequential: a few 1e-6 */
                check_close("layernorm simd", y, ref, n, 1e-5f, 1e-5f);
            }
        free(x); free(ref); free(y); free(g); free(b);
    }
}

static void test_layernorm_nchw_simd(void **state)
{
    (void)state;
    const int cs[] = {1, 3, 8, 33};
    const int64_t hws[] = {1, 7, 16, 17, 100, 333};
    for (size_t ci = 0; ci < 4; ci++)
        for (size_t hi = 0; hi < 6; hi++) {
            const int n = 2, c = cs[ci];
            const int64_t hw = hws[hi];
            size_t tot = (size_t)n * c * hw;
            float *x = malloc(tot * 4), *ref = malloc(tot * 4), *y = malloc(tot * 4);
            float *g = malloc(c * 4), *b = malloc(c * 4);
            tu_fill_uniform(x, tot, 40 + (uint32_t)(ci * 6 + hi), -3, 7);
            tu_fill_uniform(g, c, 41, 0.5f, 1.5f);
            tu_fill_uniform(b, c, 42, -1, 1);
            for (int aff = 0; aff <= 1; aff++) {
                oc_ctx sc = mkctx(OC_ISA_SCALAR, 1);
                oc_layernorm_nchw(&sc, x, ref, n, c, hw, aff ? g : NULL, aff ? b : NULL, 1e-6f);
                for (int isa = 1; isa <= (int)max_isa(); isa++)
                    for (int nt = 1; nt <= 2; nt++) {
                        oc_ctx ctx = mkctx((oc_isa)isa, nt);
                        memset(y, 0xff, tot * 4);
                        oc_layernorm_nchw(&ctx, x, y, n, c, hw, aff ? g : NULL, aff ? b : NULL, 1e-6f);
                        /* same two-pass formula; FMA in the variance sum: 1e-5 */
                        check_close("layernorm_nchw simd", y, ref, tot, 1e-5f, 1e-5f);
                    }
            }
            free(x); free(ref); free(y); free(g); free(b);
        }
}

/* ---- grid_sample ---- */
static void test_grid_sample_fixture(void **state)
{
    (void)state;
    float *x = fx("gs.x", 2 * 3 * 5 * 6), *g = fx("gs.grid", 2 * 4 * 7 * 2);
    float *ref = fx("gs.y", 2 * 3 * 4 * 7), y[168], y2[168];
    oc_ctx c1 = mkctx(OC_ISA_SCALAR, 1), c2 = mkctx(max_isa(), 2);
    oc_grid_sample(&c1, x, 2, 3, 5, 6, g, 4, 7, y);
    oc_grid_sample(&c2, x, 2, 3, 5, 6, g, 4, 7, y2);
    /* grid points up to +-1.2 fall outside: zero padding is exercised */
    check_close("grid_sample", y, ref, 168, 1e-6f, 1e-6f);
    assert_memory_equal(y, y2, sizeof y);
    free(x); free(g); free(ref);
}

/* ---- data movement ---- */
static void test_tensor_fixture(void **state)
{
    (void)state;
    float *x = fx("tensor.x", 120), y[MAXBUF];
    const int64_t sh[4] = {2, 3, 4, 5};
    oc_ctx ctx = mkctx(max_isa(), 2);
    float *r = fx("permute.0231", 120);
    const int p1[4] = {0, 2, 3, 1}, p2[4] = {3, 1, 0, 2};
    oc_permute(&ctx, x, sh, 4, p1, y);
    check_close("permute 0231", y, r, 120, 0, 0);
    free(r);
    r = fx("permute.3102", 120);
    oc_permute(&ctx, x, sh, 4, p2, y);
    check_close("permute 3102", y, r, 120, 0, 0);
    free(r);
    /* pad (w:(1,2) h:(0,3) c:(2,0)) -> [2,5,7,8] */
    const int64_t bef[4] = {0, 2, 0, 1}, aft[4] = {0, 0, 3, 2};
    r = fx("pad.y", 2 * 5 * 7 * 8);
    oc_pad(&ctx, x, sh, 4, bef, aft, -7.0f, y);
    check_close("pad", y, r, 560, 0, 0);
    free(r);
    /* slice x[:, 1:3, 0:4:2, 1:5:3] -> [2,2,2,2] */
    const int64_t st[4] = {0, 1, 0, 1}, sp[4] = {1, 1, 2, 3}, ysh[4] = {2, 2, 2, 2};
    r = fx("slice.y", 16);
    oc_slice(&ctx, x, sh, 4, st, sp, ysh, y);
    check_close("slice", y, r, 16, 0, 0);
    free(r);
    /* cat([x, 2*x[:, :2]], dim=1): outer 2, lens 60 and 40 */
    float x2[80];
    for (int b = 0; b < 2; b++)
        for (int i = 0; i < 40; i++) x2[b * 40 + i] = 2 * x[b * 60 + i];
    const float *xs[2] = {x, x2};
    const int64_t lens[2] = {60, 40};
    r = fx("concat.y", 200);
    oc_concat(&ctx, xs, lens, 2, 2, y);
    check_close("concat", y, r, 200, 0, 0);
    free(r);
    free(x);
    /* topk: values as torch.topk, ties in index order (stable sort) */
    float *t = fx("topk.x", 12), *tv = fx("topk.v", 6), *ti = fx("topk.i", 6), vals[6];
    int64_t idx[6];
    oc_topk(t, 12, 6, vals, idx);
    for (int i = 0; i < 6; i++) {
        assert_true(vals[i] == tv[i]);
        assert_int_equal(idx[i], (int64_t)ti[i]);
    }
    free(t); free(tv); free(ti);
}

static void test_permute_random(void **state)
{
    (void)state;
    uint32_t s = 12345;
    for (int iter = 0; iter < 60; iter++) {
        int nd = 1 + iter % 5;
        int64_t sh[5], st[5], tot = 1;
        for (int i = 0; i < nd; i++) {
            s = s * 1103515245u + 12345u;
            sh[i] = 1 + (s >> 16) % 7;
            if (iter % 7 == 3 && i == nd - 1) sh[i] = 40; /* large enough for the blocked path */
            tot *= sh[i];
        }
        for (int i = nd - 1, m = 1; i >= 0; i--) { st[i] = m; m *= (int)sh[i]; }
        int perm[5];
        for (int i = 0; i < nd; i++) perm[i] = i;
        for (int i = nd - 1; i > 0; i--) {
            s = s * 1103515245u + 12345u;
            int j = (int)((s >> 16) % (uint32_t)(i + 1));
            int tmp = perm[i]; perm[i] = perm[j]; perm[j] = tmp;
        }
        float *x = malloc(tot * 4), *y = malloc(tot * 4);
        for (int64_t i = 0; i < tot; i++) x[i] = (float)i;
        for (int isa = 0; isa <= (int)max_isa(); isa++) {
            oc_ctx ctx = mkctx((oc_isa)isa, 1 + (iter + isa) % 2);
            memset(y, 0xff, tot * 4);
            oc_permute(&ctx, x, sh, nd, perm, y);
            /* y index e -> coordinates in y's shape -> source offset */
            for (int64_t e = 0; e < tot; e++) {
                int64_t rem = e, off = 0;
                for (int i = nd - 1; i >= 0; i--) {
                    int64_t c = rem % sh[perm[i]];
                    rem /= sh[perm[i]];
                    off += c * st[perm[i]];
                }
                assert_true(y[e] == x[off]);
            }
        }
        free(x);
        free(y);
    }
}

static void test_transpose_shapes(void **state)
{
    (void)state;
    /* batched 2-D transposes (the permute fast path) on sizes around the 8x8 / 32x32 tiles */
    const int64_t dims[][3] = {{1, 1, 1}, {1, 8, 8}, {2, 7, 9}, {3, 33, 17}, {1, 64, 40}, {2, 40, 64}, {1, 100, 3}};
    const int perm[3] = {0, 2, 1};
    for (size_t di = 0; di < sizeof dims / sizeof dims[0]; di++) {
        const int64_t *sh = dims[di];
        int64_t tot = sh[0] * sh[1] * sh[2];
        float *x = malloc(tot * 4), *y = malloc(tot * 4);
        for (int64_t i = 0; i < tot; i++) x[i] = (float)i;
        for (int isa = 0; isa <= (int)max_isa(); isa++) {
            oc_ctx ctx = mkctx((oc_isa)isa, 2);
            oc_permute(&ctx, x, sh, 3, perm, y);
            for (int64_t b = 0; b < sh[0]; b++)
                for (int64_t i = 0; i < sh[2]; i++)
                    for (int64_t j = 0; j < sh[1]; j++)
                        assert_true(y[(b * sh[2] + i) * sh[1] + j] == x[(b * sh[1] + j) * sh[2] + i]);
        }
        free(x);
        free(y);
    }
}

static void test_gather_and_topk_random(void **state)
{
    (void)state;
    /* gather rows 4, 0, -1 (python index), 4 from [3][5][7] */
    float x[105], y[3 * 4 * 7];
    for (int i = 0; i < 105; i++) x[i] = (float)i;
    const int64_t idx[4] = {4, 0, -1, 4};
    oc_ctx ctx = mkctx(OC_ISA_SCALAR, 2);
    oc_gather(&ctx, x, 3, 5, 7, idx, 4, y);
    for (int o = 0; o < 3; o++)
        for (int i = 0; i < 4; i++)
            for (int r = 0; r < 7; r++) {
                int k = idx[i] < 0 ? (int)idx[i] + 5 : (int)idx[i];
                assert_true(y[(o * 4 + i) * 7 + r] == x[(o * 5 + k) * 7 + r]);
            }
    /* topk on many values with duplicates vs a selection by counting */
    const int64_t n = 5000, k = 300;
    float *v = malloc(n * 4), vals[300];
    int64_t ix[300];
    for (int64_t i = 0; i < n; i++) v[i] = (float)((i * 7919) % 1013) * 0.5f; /* many ties */
    oc_topk(v, n, k, vals, ix);
    for (int64_t i = 0; i < k; i++) {
        assert_true(v[ix[i]] == vals[i]);
        if (i > 0) {
            assert_true(vals[i] <= vals[i - 1]);
            if (vals[i] == vals[i - 1]) assert_true(ix[i] > ix[i - 1]);
        }
    }
    /* everything not selected is <= the last value, and ties with it have a larger index */
    int64_t cnt_gt = 0;
    for (int64_t i = 0; i < n; i++) {
        if (v[i] > vals[k - 1]) cnt_gt++;
        if (v[i] == vals[k - 1]) {
            int sel = 0;
            for (int64_t j = 0; j < k; j++) sel |= ix[j] == i;
            if (!sel) assert_true(i > ix[k - 1]);
        }
    }
    int64_t sel_gt = 0;
    for (int64_t j = 0; j < k; j++) sel_gt += vals[j] > vals[k - 1];
    assert_int_equal(cnt_gt, sel_gt);
    free(v);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_pool_fixture),
        cmocka_unit_test(test_maxpool_simd_vs_scalar),
        cmocka_unit_test(test_pool_out_size_rules),
        cmocka_unit_test(test_upsample_fixture),
        cmocka_unit_test(test_upsample_large_factor2),
        cmocka_unit_test(test_bilinear_simd_vs_scalar),
        cmocka_unit_test(test_norm_fixture),
        cmocka_unit_test(test_softmax_simd),
        cmocka_unit_test(test_layernorm_simd),
        cmocka_unit_test(test_layernorm_nchw_simd),
        cmocka_unit_test(test_grid_sample_fixture),
        cmocka_unit_test(test_tensor_fixture),
        cmocka_unit_test(test_permute_random),
        cmocka_unit_test(test_transpose_shapes),
        cmocka_unit_test(test_gather_and_topk_random),
    };
    return cmocka_run_group_tests(tests, setup_fx, teardown_fx);
}

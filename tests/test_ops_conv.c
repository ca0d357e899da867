/* conv2d / conv_transpose2d: every path (scalar, avx2, avx512 when the CPU has it) at 1 and 2
 * threads against a double-precision reference written here, on awkward shapes; the
 * reference semantics against PyTorch-made fixtures (tests/fixtures/ops/conv.safetensors).
 *
 * Tolerance: a float32 sum of K products, accumulated in any order, differs from the exact
 * sum by at most (K-1)*u*S with u = 2^-24 and S = sum |products| (recursive summation
 * bound); rounding errors of different orders behave like a random walk, so in practice the
 * error is ~sqrt(K)*u*S (~2e-6*S for K = 864, the largest here). We allow 1e-5 * S (plus
 * |bias| and |residual| in S) + 2e-6 absolute for the activation approximations (vector exp
 * rel. error ~1e-7, erf abs. error 1.5e-7; every activation has slope <= 1.5). A wrong tap,
 * a wrong pad side or a missing bias moves an output by O(1), far above this. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "internal.h"
#include "conv_impl.h"
#include "ops.h"
#include "safetensors.h"
#include "testutil.h"

typedef struct {
    int cin, cout, kh, kw, groups, sh, sw, pt, pl, pb, pr, dh, dw;
    oc_act act;
    int bias, residual, n, h, w;
} ccase;

static double act_d(oc_act a, double v)
{
    switch (a) {
    case OC_ACT_NONE: return v;
    case OC_ACT_RELU: return v > 0 ? v : 0;
    case OC_ACT_SILU: return v / (1 + exp(-v));
    case OC_ACT_SIGMOID: return 1 / (1 + exp(-v));
    case OC_ACT_TANH: return tanh(v);
    case OC_ACT_GELU: return 0.5 * v * (1 + erf(v / sqrt(2.0)));
    case OC_ACT_GELU_TANH: return 0.5 * v * (1 + tanh(sqrt(2 / M_PI) * (v + 0.044715 * v * v * v)));
    case OC_ACT_HARDSWISH: {
        double t = v + 3;
        t = t < 0 ? 0 : (t > 6 ? 6 : t);
        return v * t / 6;
    }
    }
    return v;
}

static void desc_of(const ccase *c, oc_conv2d_desc *d)
{
    memset(d, 0, sizeof *d);
    d->cin = c->cin;
    d->cout = c->cout;
    d->kh = c->kh;
    d->kw = c->kw;
    d->groups = c->groups;
    d->stride_h = c->sh;
    d->stride_w = c->sw;
    d->pad_t = c->pt;
    d->pad_l = c->pl;
    d->pad_b = c->pb;
    d->pad_r = c->pr;
    d->dil_h = c->dh;
    d->dil_w = c->dw;
    d->act = c->act;
}

/* exact reference (double) + per-output tolerance */
static void conv_ref(const oc_conv2d_desc *d, const float *x, int n, int h, int w,
                     const float *wt, const float *b, const float *res, double *y, double *tol)
{
    int oh, ow;
    oc_conv2d_out_size(d, h, w, &oh, &ow);
    int cg = d->cin / d->groups, og = d->cout / d->groups;
    for (int i = 0; i < n; i++)
        for (int co = 0; co < d->cout; co++) {
            int g = co / og;
            for (int oy = 0; oy < oh; oy++)
                for (int ox = 0; ox < ow; ox++) {
                    double s = 0, sa = 0;
                    for (int c = 0; c < cg; c++)
                        for (int ky = 0; ky < d->kh; ky++)
                            for (int kx = 0; kx < d->kw; kx++) {
                                int iy = oy * d->stride_h - d->pad_t + ky * d->dil_h;
                                int ix = ox * d->stride_w - d->pad_l + kx * d->dil_w;
                                if (iy < 0 || iy >= h || ix < 0 || ix >= w) continue;
                                double p = (double)wt[(((size_t)co * cg + c) * d->kh + ky) * d->kw + kx] *
                                           x[(((size_t)i * d->cin + g * cg + c) * h + iy) * w + ix];
                                s += p;
                                sa += fabs(p);
                            }
                    size_t o = (((size_t)i * d->cout + co) * oh + oy) * ow + ox;
                    double bb = b ? b[co] : 0;
                    double v = act_d(d->act, s + bb);
                    sa += fabs(bb);
                    if (res) {
                        v += res[o];
                        sa += fabs(res[o]);
                    }
                    y[o] = v;
                    tol[o] = 1e-5 * sa + 2e-6;
                }
        }
}

static int run_case_isa(const ccase *c, oc_isa isa, int nth, const float *x, const float *wt,
                        const float *b, const float *res, const double *ref, const double *tol,
                        size_t ysz, int use_scratch)
{
    oc_conv2d_desc d;
    desc_of(c, &d);
    oc_conv2d_weights *pw = NULL;
    assert_int_equal(oc_conv2d_prepack(&d, wt, b, isa, &pw), OC_OK);
    assert_true(oc_conv2d_weights_bytes(pw) > 0);
    size_t sb = oc_conv2d_scratch_bytes(&d, c->n, c->h, c->w, isa, nth);
    void *scratch = sb ? oc_malloc(sb) : NULL;
    oc_ctx ctx = {isa, nth, use_scratch ? scratch : NULL, use_scratch ? sb : 0};
    float *y = malloc(ysz * sizeof(float));
    float *y2 = malloc(ysz * sizeof(float));
    for (size_t i = 0; i < ysz; i++) y[i] = y2[i] = NAN; /* every output must be written */
    oc_conv2d(&ctx, &d, pw, x, c->n, c->h, c->w, y, res);
    oc_conv2d(&ctx, &d, pw, x, c->n, c->h, c->w, y2, res);
    int bad = 0;
    for (size_t i = 0; i < ysz; i++) {
        double e = fabs((double)y[i] - ref[i]);
        if (!(e <= tol[i])) {
            if (bad < 5)
                fprintf(stderr,
                        "conv %dx%d cin=%d cout=%d g=%d s=%d,%d p=%d,%d,%d,%d d=%d,%d act=%d n=%d "
                        "hw=%dx%d isa=%s nth=%d scratch=%d: y[%zu]=%.7g ref=%.7g tol=%.3g\n",
                        c->kh, c->kw, c->cin, c->cout, c->groups, c->sh, c->sw, c->pt, c->pl,
                        c->pb, c->pr, c->dh, c->dw, (int)c->act, c->n, c->h, c->w,
                        oc_isa_name(isa), nth, use_scratch, i, y[i], ref[i], tol[i]);
            bad++;
        }
    }
    /* identical run to run for a given (isa, nthreads) */
    if (memcmp(y, y2, ysz * sizeof(float)) != 0) {
        fprintf(stderr, "conv: two runs differ (isa=%s nth=%d)\n", oc_isa_name(isa), nth);
        bad++;
    }
    free(y);
    free(y2);
    oc_free(scratch);
    oc_conv2d_weights_free(pw);
    return bad;
}

static void run_case(const ccase *c)
{
    oc_conv2d_desc d;
    desc_of(c, &d);
    int oh, ow;
    oc_conv2d_out_size(&d, c->h, c->w, &oh, &ow);
    assert_true(oh > 0 && ow > 0);
    size_t xsz = (size_t)c->n * c->cin * c->h * c->w;
    size_t wsz = (size_t)c->cout * (c->cin / c->groups) * c->kh * c->kw;
    size_t ysz = (size_t)c->n * c->cout * oh * ow;
    float *x = malloc(xsz * sizeof(float)), *wt = malloc(wsz * sizeof(float));
    float *b = malloc((size_t)c->cout * sizeof(float)), *res = malloc(ysz * sizeof(float));
    uint32_t seed = (uint32_t)(c->cin * 131 + c->cout * 7 + c->kh * 3 + c->h);
    tu_fill_uniform(x, xsz, seed + 1, -1.0f, 1.0f);
    tu_fill_uniform(wt, wsz, seed + 2, -0.5f, 0.5f);
    tu_fill_uniform(b, (size_t)c->cout, seed + 3, -1.0f, 1.0f);
    tu_fill_uniform(res, ysz, seed + 4, -1.0f, 1.0f);
    double *ref = malloc(ysz * sizeof(double)), *tol = malloc(ysz * sizeof(double));
    conv_ref(&d, x, c->n, c->h, c->w, wt, c->bias ? b : NULL, c->residual ? res : NULL, ref,
             tol);
    int bad = 0;
    oc_isa best = oc_cpu_best_isa();
    for (int isa = 0; isa <= (int)best; isa++)
        for (int nth = 1; nth <= 2; nth++)
            bad += run_case_isa(c, (oc_isa)isa, nth, x, wt, c->bias ? b : NULL,
                                c->residual ? res : NULL, ref, tol, ysz, 1);
    /* the im2col-packing path (1x1 convs and very large images) on every conv shape */
    if (best > OC_ISA_SCALAR) {
        oc_conv2d_test_force_packed = 1;
        for (int isa = 1; isa <= (int)best; isa++)
            bad += run_case_isa(c, (oc_isa)isa, 2, x, wt, c->bias ? b : NULL,
                                c->residual ? res : NULL, ref, tol, ysz, 1);
        oc_conv2d_test_force_packed = 0;
    }
    /* without scratch the SIMD GEMM path must still be right (it falls back) */
    if (best > OC_ISA_SCALAR)
        bad += run_case_isa(c, best, 2, x, wt, c->bias ? b : NULL, c->residual ? res : NULL,
                            ref, tol, ysz, 0);
    free(x);
    free(wt);
    free(b);
    free(res);
    free(ref);
    free(tol);
    assert_int_equal(bad, 0);
}

#define A(x) OC_ACT_##x
static const ccase g_cases[] = {
    /* cin cout kh kw g  sh sw pt pl pb pr dh dw act       bias res n  h   w */
    {1, 1, 1, 1, 1, 1, 1, 0, 0, 0, 0, 1, 1, A(NONE), 0, 0, 1, 1, 1},          /* 1x1, 1 ch */
    {3, 5, 3, 3, 1, 1, 1, 1, 1, 1, 1, 1, 1, A(SILU), 1, 0, 1, 7, 9},          /* odd ch */
    {17, 33, 3, 3, 1, 2, 2, 1, 1, 1, 1, 1, 1, A(RELU), 1, 1, 1, 13, 11},      /* stride 2 */
    {4, 6, 1, 5, 1, 1, 1, 0, 2, 1, 0, 1, 1, A(NONE), 1, 0, 1, 1, 23},         /* 1xN, asym */
    {8, 12, 3, 3, 2, 1, 1, 2, 2, 2, 2, 2, 2, A(GELU), 1, 0, 1, 9, 10},        /* dil 2, g 2 */
    {19, 19, 3, 3, 19, 1, 1, 1, 1, 1, 1, 1, 1, A(HARDSWISH), 1, 1, 1, 20, 37}, /* dw */
    {16, 16, 3, 3, 16, 2, 2, 1, 1, 1, 1, 1, 1, A(GELU), 1, 0, 1, 33, 45},     /* dw s2 */
    {7, 7, 5, 5, 7, 1, 1, 2, 2, 2, 2, 1, 1, A(TANH), 0, 0, 2, 18, 40},        /* dw 5x5 */
    {5, 5, 3, 3, 5, 1, 2, 0, 3, 1, 0, 2, 1, A(SIGMOID), 1, 1, 1, 12, 50},     /* dw asym */
    {64, 40, 1, 1, 1, 1, 1, 0, 0, 0, 0, 1, 1, A(GELU_TANH), 1, 1, 2, 10, 10}, /* 1x1 batch */
    {32, 70, 3, 3, 1, 1, 1, 1, 1, 1, 1, 1, 1, A(SIGMOID), 1, 0, 2, 24, 26},   /* 2 k blocks */
    {3, 16, 7, 7, 1, 2, 2, 3, 3, 3, 3, 1, 1, A(SILU), 1, 0, 1, 31, 29},       /* stem */
    {2, 3, 3, 3, 1, 1, 1, 1, 1, 1, 1, 1, 1, A(RELU), 1, 1, 1, 1, 1},          /* 1x1 input */
    {8, 8, 3, 3, 4, 1, 1, 1, 0, 1, 2, 1, 1, A(NONE), 1, 1, 1, 6, 7},          /* groups 4 */
    {96, 9, 3, 3, 1, 1, 1, 1, 1, 1, 1, 1, 1, A(SILU), 1, 1, 1, 6, 6},         /* K = 864 */
    {24, 20, 1, 1, 1, 2, 2, 0, 0, 0, 0, 1, 1, A(NONE), 0, 0, 1, 15, 17},      /* 1x1 s2 */
    {6, 10, 2, 2, 2, 2, 2, 0, 0, 0, 0, 1, 1, A(RELU), 1, 0, 1, 16, 16},       /* 2x2 s2 g2 */
    {16, 24, 3, 3, 1, 1, 1, 1, 1, 1, 1, 1, 1, A(SILU), 1, 1, 1, 40, 41},      /* > NC cols */
};

static void test_conv_cases(void **state)
{
    (void)state;
    size_t n = sizeof g_cases / sizeof g_cases[0];
    for (size_t i = 0; i < n; i++) run_case(&g_cases[i]);
}

static void test_conv_each_activation(void **state)
{
    (void)state;
    for (int a = 0; a <= (int)OC_ACT_HARDSWISH; a++) {
        /* generic GEMM path (groups 1, odd sizes) and depthwise, with residual */
        ccase c = {5, 13, 3, 3, 1, 1, 1, 1, 1, 1, 1, 1, 1, (oc_act)a, 1, 1, 1, 9, 19};
        run_case(&c);
        ccase dw = {6, 6, 3, 3, 6, 1, 1, 1, 1, 1, 1, 1, 1, (oc_act)a, 1, 1, 1, 5, 40};
        run_case(&dw);
    }
}

/* Fused and unfused give the same bits: conv with the activation in its epilogue equals the
 * same conv without it followed by oc_activation, on every SIMD path and every activation
 * (both go through simd_vec.h's vf_act; a second math library would differ in the last bits).
 * 3x3 (implicit GEMM), 1x1 (packed GEMM) and depthwise convs. */
static void test_conv_fused_act_bits(void **state)
{
    (void)state;
    const oc_act acts[] = {OC_ACT_RELU, OC_ACT_SILU, OC_ACT_SIGMOID, OC_ACT_TANH,
                           OC_ACT_GELU, OC_ACT_GELU_TANH, OC_ACT_HARDSWISH};
    const int shapes[3][3] = {{8, 20, 3}, {16, 24, 1}, {12, 12, 3}}; /* cin, cout, k */
    const int h = 13, w = 17;
    for (int isa = OC_ISA_AVX2; isa <= (int)oc_cpu_best_isa(); isa++)
        for (int sh = 0; sh < 3; sh++)
            for (size_t a = 0; a < sizeof(acts) / sizeof(*acts); a++) {
                int cin = shapes[sh][0], cout = shapes[sh][1], k = shapes[sh][2];
                int groups = sh == 2 ? cin : 1;
                oc_conv2d_desc d = {cin, cout, k, k, groups, 1, 1, k / 2, k / 2, k / 2, k / 2,
                                    1, 1, acts[a]};
                oc_conv2d_desc d0 = d;
                d0.act = OC_ACT_NONE;
                size_t nw = (size_t)cout * (cin / groups) * k * k, nx = (size_t)cin * h * w;
                size_t ny = (size_t)cout * h * w;
                float *wt = malloc(nw * sizeof(float)), *b = malloc(cout * sizeof(float));
                float *x = malloc(nx * sizeof(float)), *y1 = malloc(ny * sizeof(float));
                float *y2 = malloc(ny * sizeof(float));
                uint32_t seed = 99u + (uint32_t)(sh * 16 + a);
                tu_fill_uniform(wt, nw, seed, -0.6f, 0.6f);
                tu_fill_uniform(b, (size_t)cout, seed + 1, -1.0f, 1.0f);
                tu_fill_uniform(x, nx, seed + 2, -3.0f, 3.0f);
                oc_conv2d_weights *pf = NULL, *pu = NULL;
                assert_int_equal(oc_conv2d_prepack(&d, wt, b, (oc_isa)isa, &pf), OC_OK);
                assert_int_equal(oc_conv2d_prepack(&d0, wt, b, (oc_isa)isa, &pu), OC_OK);
                size_t sb = oc_conv2d_scratch_bytes(&d, 1, h, w, (oc_isa)isa, 1);
                void *scr = sb ? oc_malloc(sb) : NULL;
                oc_ctx ctx = {(oc_isa)isa, 1, scr, sb};
                oc_conv2d(&ctx, &d, pf, x, 1, h, w, y1, NULL);
                oc_conv2d(&ctx, &d0, pu, x, 1, h, w, y2, NULL);
                oc_activation(&ctx, acts[a], y2, y2, ny);
                assert_memory_equal(y1, y2, ny * sizeof(float));
                oc_conv2d_weights_free(pf);
                oc_conv2d_weights_free(pu);
                oc_free(scr);
                free(wt), free(b), free(x), free(y1), free(y2);
            }
}

static void test_conv_bad_args(void **state)
{
    (void)state;
    float w[16] = {0};
    oc_conv2d_weights *pw = (oc_conv2d_weights *)1;
    oc_conv2d_desc d = {4, 6, 1, 1, 4, 1, 1, 0, 0, 0, 0, 1, 1, OC_ACT_NONE}; /* 6 % 4 */
    assert_int_equal(oc_conv2d_prepack(&d, w, NULL, OC_ISA_SCALAR, &pw), OC_ERR_INVALID_ARG);
    assert_null(pw);
    assert_non_null(strstr(oc_last_error(), "groups"));
    oc_conv2d_desc d2 = {1, 1, 1, 1, 1, 0, 1, 0, 0, 0, 0, 1, 1, OC_ACT_NONE}; /* stride 0 */
    assert_int_equal(oc_conv2d_prepack(&d2, w, NULL, OC_ISA_SCALAR, &pw), OC_ERR_INVALID_ARG);
    oc_conv2d_desc d3 = {1, 1, 1, 1, 1, 1, 1, -1, 0, 0, 0, 1, 1, OC_ACT_NONE}; /* pad < 0 */
    assert_int_equal(oc_conv2d_prepack(&d3, w, NULL, OC_ISA_SCALAR, &pw), OC_ERR_INVALID_ARG);
    oc_conv2d_desc d4 = {1, 1, 1, 1, 1, 1, 1, 0, 0, 0, 0, 1, 1, (oc_act)99};
    assert_int_equal(oc_conv2d_prepack(&d4, w, NULL, OC_ISA_SCALAR, &pw), OC_ERR_INVALID_ARG);
    assert_int_equal(oc_conv2d_prepack(&d4, NULL, NULL, OC_ISA_SCALAR, &pw), OC_ERR_INVALID_ARG);
    oc_conv2d_weights_free(NULL);
}

static void test_conv_sizes_and_flops(void **state)
{
    (void)state;
    oc_conv2d_desc d = {3, 32, 3, 3, 1, 2, 2, 1, 1, 1, 1, 1, 1, OC_ACT_SILU};
    int oh, ow;
    oc_conv2d_out_size(&d, 640, 640, &oh, &ow);
    assert_int_equal(oh, 320);
    assert_int_equal(ow, 320);
    assert_true(fabs(oc_conv2d_flops(&d, 1, oh, ow) - 2.0 * 32 * 320 * 320 * 27) < 1);
    oc_conv2d_desc e = {4, 4, 3, 3, 1, 1, 1, 0, 0, 0, 0, 2, 2, OC_ACT_NONE};
    oc_conv2d_out_size(&e, 4, 9, &oh, &ow); /* span 5 > 4: no rows */
    assert_int_equal(oh, 0);
    assert_int_equal(ow, 5);
    oc_conv_transpose2d_out_size(&(oc_conv2d_desc){4, 4, 2, 2, 1, 2, 2, 0, 0, 0, 0, 1, 1, 0}, 5,
                                 7, &oh, &ow);
    assert_int_equal(oh, 10);
    assert_int_equal(ow, 14);
}

/* ---- conv_transpose2d ---- */
static void convt_ref(const oc_conv2d_desc *d, const float *x, int n, int h, int w,
                      const float *wt, const float *b, double *y, double *tol, int oh, int ow)
{
    int cg = d->cin / d->groups, og = d->cout / d->groups;
    size_t ysz = (size_t)n * d->cout * oh * ow;
    double *sa = calloc(ysz, sizeof(double));
    for (size_t i = 0; i < ysz; i++) y[i] = 0;
    for (int i = 0; i < n; i++)
        for (int ci = 0; ci < d->cin; ci++) {
            int g = ci / cg;
            for (int iy = 0; iy < h; iy++)
                for (int ix = 0; ix < w; ix++)
                    for (int c = 0; c < og; c++)
                        for (int ky = 0; ky < d->kh; ky++)
                            for (int kx = 0; kx < d->kw; kx++) {
                                int oy = iy * d->stride_h - d->pad_t + ky * d->dil_h;
                                int ox = ix * d->stride_w - d->pad_l + kx * d->dil_w;
                                if (oy < 0 || oy >= oh || ox < 0 || ox >= ow) continue;
                                int co = g * og + c;
                                double p = (double)x[(((size_t)i * d->cin + ci) * h + iy) * w + ix] *
                                           wt[(((size_t)ci * og + c) * d->kh + ky) * d->kw + kx];
                                size_t o = (((size_t)i * d->cout + co) * oh + oy) * ow + ox;
                                y[o] += p;
                                sa[o] += fabs(p);
                            }
        }
    for (int i = 0; i < n; i++)
        for (int co = 0; co < d->cout; co++)
            for (int p = 0; p < oh * ow; p++) {
                size_t o = ((size_t)i * d->cout + co) * oh * ow + p;
                double bb = b ? b[co] : 0;
                y[o] = act_d(d->act, y[o] + bb);
                tol[o] = 1e-5 * (sa[o] + fabs(bb)) + 2e-6;
            }
    free(sa);
}

static void test_conv_transpose(void **state)
{
    (void)state;
    static const ccase cases[] = {
        {8, 6, 2, 2, 1, 2, 2, 0, 0, 0, 0, 1, 1, A(NONE), 1, 0, 1, 5, 7},  /* SAM2 upscale */
        {6, 4, 3, 3, 2, 2, 1, 1, 0, 0, 1, 1, 2, A(GELU), 1, 0, 2, 4, 6},  /* groups, asym */
        {3, 5, 4, 4, 1, 2, 2, 1, 1, 1, 1, 1, 1, A(RELU), 0, 0, 1, 3, 3},
        {1, 1, 1, 1, 1, 1, 1, 0, 0, 0, 0, 1, 1, A(SILU), 1, 0, 1, 1, 1},
        {64, 32, 2, 2, 1, 2, 2, 0, 0, 0, 0, 1, 1, A(GELU), 1, 0, 1, 9, 11},   /* GEMM tails */
        {40, 24, 3, 3, 2, 2, 2, 1, 1, 1, 1, 1, 1, A(NONE), 1, 0, 2, 7, 9},    /* overlap */
    };
    for (size_t ci = 0; ci < sizeof cases / sizeof cases[0]; ci++) {
        const ccase *c = &cases[ci];
        oc_conv2d_desc d;
        desc_of(c, &d);
        int oh, ow;
        oc_conv_transpose2d_out_size(&d, c->h, c->w, &oh, &ow);
        size_t xsz = (size_t)c->n * c->cin * c->h * c->w;
        size_t wsz = (size_t)c->cin * (c->cout / c->groups) * c->kh * c->kw;
        size_t ysz = (size_t)c->n * c->cout * oh * ow;
        float *x = malloc(xsz * 4), *wt = malloc(wsz * 4), *b = malloc((size_t)c->cout * 4);
        float *y = malloc(ysz * 4);
        double *ref = malloc(ysz * 8), *tol = malloc(ysz * 8);
        tu_fill_uniform(x, xsz, 11 + (uint32_t)ci, -1, 1);
        tu_fill_uniform(wt, wsz, 21 + (uint32_t)ci, -1, 1);
        tu_fill_uniform(b, (size_t)c->cout, 31 + (uint32_t)ci, -1, 1);
        convt_ref(&d, x, c->n, c->h, c->w, wt, c->bias ? b : NULL, ref, tol, oh, ow);
        for (int isa = 0; isa <= (int)oc_cpu_best_isa(); isa++)
            for (int nth = 1; nth <= 2; nth++) {
                /* nth 1: no scratch (the reference loops on every isa); nth 2: GEMM path */
                size_t sb = nth == 2 ? oc_conv_transpose2d_scratch_bytes(&d, c->n, c->h, c->w, nth) : 0;
                void *s = sb ? oc_malloc(sb) : NULL;
                oc_ctx ctx = {(oc_isa)isa, nth, s, sb};
                for (size_t i = 0; i < ysz; i++) y[i] = NAN;
                oc_conv_transpose2d(&ctx, &d, wt, c->bias ? b : NULL, x, c->n, c->h, c->w, y);
                for (size_t i = 0; i < ysz; i++) {
                    if (!(fabs(y[i] - ref[i]) <= tol[i]))
                        fail_msg("convT case %zu isa %d nth %d: y[%zu]=%g ref=%g", ci, isa, nth,
                                 i, y[i], ref[i]);
                }
                oc_free(s);
            }
        free(x);
        free(wt);
        free(b);
        free(y);
        free(ref);
        free(tol);
    }
}

/* ---- PyTorch fixtures: the reference semantics ---- */
static void test_conv_torch_fixtures(void **state)
{
    (void)state;
    const char *path = "tests/fixtures/ops/conv.safetensors";
    FILE *f = fopen(path, "rb");
    if (!f) {
        fprintf(stderr, "SKIP: %s missing (run tools/fixtures/gen_conv_fixtures.py)\n", path);
        skip();
    }
    fclose(f);
    oc_st_file *sf = NULL;
    assert_int_equal(oc_st_open(path, &sf), OC_OK);
    const char *ncase_s = oc_st_meta(sf, "cases");
    assert_non_null(ncase_s);
    int ncase = atoi(ncase_s);
    assert_true(ncase > 0);
    int checked = 0;
    for (int ci = 0; ci < ncase; ci++) {
        char key[64], name[64];
        snprintf(key, sizeof key, "case%d", ci);
        const char *spec = oc_st_meta(sf, key);
        assert_non_null(spec);
        /* spec: kind cin cout kh kw groups sh sw pt pl pb pr dh dw act n h w bias residual */
        char kind[8];
        int v[19];
        int got = sscanf(spec, "%7s %d %d %d %d %d %d %d %d %d %d %d %d %d %d %d %d %d %d %d",
                         kind, &v[0], &v[1], &v[2], &v[3], &v[4], &v[5], &v[6], &v[7], &v[8],
                         &v[9], &v[10], &v[11], &v[12], &v[13], &v[14], &v[15], &v[16], &v[17],
                         &v[18]);
        assert_int_equal(got, 20);
        ccase c = {v[0], v[1], v[2], v[3], v[4], v[5], v[6], v[7], v[8], v[9], v[10], v[11],
                   v[12], (oc_act)v[13], v[17], v[18], v[14], v[15], v[16]};
        oc_conv2d_desc d;
        desc_of(&c, &d);
        int transposed = !strcmp(kind, "convt");
        int oh, ow;
        if (transposed) oc_conv_transpose2d_out_size(&d, c.h, c.w, &oh, &ow);
        else oc_conv2d_out_size(&d, c.h, c.w, &oh, &ow);
        float *x = NULL, *wt = NULL, *b = NULL, *res = NULL, *yexp = NULL;
        int64_t xs[4] = {c.n, c.cin, c.h, c.w};
        int64_t ws[4] = {transposed ? c.cin : c.cout,
                         transposed ? c.cout / c.groups : c.cin / c.groups, c.kh, c.kw};
        int64_t bs[1] = {c.cout};
        int64_t ys[4] = {c.n, c.cout, oh, ow};
        snprintf(name, sizeof name, "case%d.x", ci);
        assert_int_equal(oc_st_load_f32(sf, name, 4, xs, &x), OC_OK);
        snprintf(name, sizeof name, "case%d.w", ci);
        assert_int_equal(oc_st_load_f32(sf, name, 4, ws, &wt), OC_OK);
        if (c.bias) {
            snprintf(name, sizeof name, "case%d.b", ci);
            assert_int_equal(oc_st_load_f32(sf, name, 1, bs, &b), OC_OK);
        }
        if (c.residual) {
            snprintf(name, sizeof name, "case%d.r", ci);
            assert_int_equal(oc_st_load_f32(sf, name, 4, ys, &res), OC_OK);
        }
        snprintf(name, sizeof name, "case%d.y", ci);
        assert_int_equal(oc_st_load_f32(sf, name, 4, ys, &yexp), OC_OK);
        size_t ysz = (size_t)c.n * c.cout * oh * ow;
        double *ref = malloc(ysz * 8), *tol = malloc(ysz * 8);
        if (transposed) convt_ref(&d, x, c.n, c.h, c.w, wt, b, ref, tol, oh, ow);
        else conv_ref(&d, x, c.n, c.h, c.w, wt, b, res, ref, tol);
        /* 1) our double reference agrees with PyTorch (torch computed in float64) */
        for (size_t i = 0; i < ysz; i++)
            if (!(fabs(ref[i] - yexp[i]) <= tol[i]))
                fail_msg("fixture case %d (%s): reference y[%zu]=%.7g, torch %.7g", ci, spec,
                         i, ref[i], yexp[i]);
        /* 2) the library's scalar path and best SIMD path agree with PyTorch */
        oc_isa isas[2] = {OC_ISA_SCALAR, oc_cpu_best_isa()};
        float *y = malloc(ysz * 4);
        for (int k = 0; k < 2; k++) {
            oc_ctx ctx = {isas[k], 2, NULL, 0};
            void *s = NULL;
            if (transposed) {
                size_t sb = oc_conv_transpose2d_scratch_bytes(&d, c.n, c.h, c.w, 2);
                s = sb ? oc_malloc(sb) : NULL;
                ctx.scratch = s;
                ctx.scratch_bytes = sb;
                oc_conv_transpose2d(&ctx, &d, wt, b, x, c.n, c.h, c.w, y);
            } else {
                oc_conv2d_weights *pw = NULL;
                assert_int_equal(oc_conv2d_prepack(&d, wt, b, isas[k], &pw), OC_OK);
                size_t sb = oc_conv2d_scratch_bytes(&d, c.n, c.h, c.w, isas[k], 2);
                s = sb ? oc_malloc(sb) : NULL;
                ctx.scratch = s;
                ctx.scratch_bytes = sb;
                oc_conv2d(&ctx, &d, pw, x, c.n, c.h, c.w, y, res);
                oc_conv2d_weights_free(pw);
            }
            for (size_t i = 0; i < ysz; i++)
                if (!(fabs((double)y[i] - yexp[i]) <= tol[i]))
                    fail_msg("fixture case %d (%s) isa %s: y[%zu]=%.7g, torch %.7g", ci, spec,
                             oc_isa_name(isas[k]), i, y[i], yexp[i]);
            oc_free(s);
        }
        free(y);
        free(ref);
        free(tol);
        oc_free(x);
        oc_free(wt);
        oc_free(b);
        oc_free(res);
        oc_free(yexp);
        checked++;
    }
    oc_st_close(sf);
    assert_int_equal(checked, ncase);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_conv_cases),
        cmocka_unit_test(test_conv_each_activation),
        cmocka_unit_test(test_conv_fused_act_bits),
        cmocka_unit_test(test_conv_bad_args),
        cmocka_unit_test(test_conv_sizes_and_flops),
        cmocka_unit_test(test_conv_transpose),
        cmocka_unit_test(test_conv_torch_fixtures),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}

/* Multi-scale deformable attention core (ops/ms_deform_attn*.c, oc_g_ms_deform_attn):
 * - the scalar reference against a direct composition of grid_sample (ops/grid_sample.c,
 *   itself checked against PyTorch): per level, grid_sample of each head's value map at
 *   2*loc - 1, weighted by the attention weights and summed -- the way RT-DETR's and
 *   RF-DETR's reference code computes it -- on awkward shapes with samples outside the maps;
 * - hand-computed samples (edges, corners, zero padding);
 * - the SIMD paths against the scalar one, 1 vs 2 threads bitwise;
 * - the graph node against the kernel, and its shape checks. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "graph.h"
#include "internal.h"
#include "ops.h"
#include "testutil.h"

static oc_isa max_isa(void)
{
    oc_isa a = oc_cpu_best_isa(), b = oc_get_isa();
    return b < a ? b : a;
}

typedef struct {
    int n, heads, dh, nlevels, lq, npoints;
    int64_t hw[8];
} msda_case;

/* the reference's composition: value_l [n*heads][dh][H][W], grid [n*heads][lq][P][2] */
static void compose_ref(const msda_case *c, const float *value, const float *loc,
                        const float *attw, float *out)
{
    oc_ctx ctx = {OC_ISA_SCALAR, 1, NULL, 0};
    const int C = c->heads * c->dh;
    int64_t S = 0;
    for (int l = 0; l < c->nlevels; l++) S += c->hw[2 * l] * c->hw[2 * l + 1];
    memset(out, 0, sizeof(float) * c->n * c->lq * C);
    for (int l = 0, start = 0; l < c->nlevels; l++) {
        int H = (int)c->hw[2 * l], W = (int)c->hw[2 * l + 1];
        int nh = c->n * c->heads;
        float *vl = malloc(sizeof(float) * nh * c->dh * H * W);
        float *grid = malloc(sizeof(float) * nh * c->lq * c->npoints * 2);
        float *smp = malloc(sizeof(float) * nh * c->dh * c->lq * c->npoints);
        for (int b = 0; b < c->n; b++)
            for (int h = 0; h < c->heads; h++)
                for (int j = 0; j < c->dh; j++)
                    for (int p = 0; p < H * W; p++)
                        vl[(((int64_t)b * c->heads + h) * c->dh + j) * H * W + p] =
                            value[((int64_t)b * S + start + p) * C + h * c->dh + j];
        for (int b = 0; b < c->n; b++)
            for (int q = 0; q < c->lq; q++)
                for (int h = 0; h < c->heads; h++)
                    for (int p = 0; p < c->npoints; p++)
                        for (int e = 0; e < 2; e++) {
                            int64_t src = ((((int64_t)b * c->lq + q) * c->heads + h) * c->nlevels +
                                           l) * c->npoints + p;
                            int64_t dst = (((int64_t)b * c->heads + h) * c->lq + q) * c->npoints + p;
                            grid[2 * dst + e] = 2.0f * loc[2 * src + e] - 1.0f;
                        }
        oc_grid_sample(&ctx, vl, nh, c->dh, H, W, grid, c->lq, c->npoints, smp);
        for (int b = 0; b < c->n; b++)
            for (int q = 0; q < c->lq; q++)
                for (int h = 0; h < c->heads; h++)
                    for (int j = 0; j < c->dh; j++) {
                        double acc = 0;
                        for (int p = 0; p < c->npoints; p++) {
                            int64_t wi = ((((int64_t)b * c->lq + q) * c->heads + h) * c->nlevels +
                                          l) * c->npoints + p;
                            acc += (double)attw[wi] *
                                   smp[((((int64_t)b * c->heads + h) * c->dh + j) * c->lq + q) *
                                           c->npoints + p];
                        }
                        out[((int64_t)b * c->lq + q) * C + h * c->dh + j] += (float)acc;
                    }
        free(vl);
        free(grid);
        free(smp);
        start += H * W;
    }
}

static void make_inputs(const msda_case *c, uint32_t seed, float **value, float **loc,
                        float **attw, size_t *nv, size_t *nl, size_t *na, size_t *no)
{
    int64_t S = 0;
    for (int l = 0; l < c->nlevels; l++) S += c->hw[2 * l] * c->hw[2 * l + 1];
    *nv = (size_t)c->n * S * c->heads * c->dh;
    *na = (size_t)c->n * c->lq * c->heads * c->nlevels * c->npoints;
    *nl = 2 * *na;
    *no = (size_t)c->n * c->lq * c->heads * c->dh;
    *value = malloc(*nv * sizeof(float));
    *loc = malloc(*nl * sizeof(float));
    *attw = malloc(*na * sizeof(float));
    tu_fill_uniform(*value, *nv, seed, -2.0f, 2.0f);
    /* a quarter of the samples land outside [0,1]: partly or wholly in the zero padding */
    tu_fill_uniform(*loc, *nl, seed + 1, -0.25f, 1.25f);
    tu_fill_uniform(*attw, *na, seed + 2, 0.0f, 0.3f);
    /* exact edges and pixel centres */
    const float edges[] = {0.0f, 1.0f, 0.5f, -0.5f, 1.5f};
    for (size_t i = 0; i < 10 && i < *nl; i++) (*loc)[i] = edges[i % 5];
}

static void test_vs_grid_sample(void **state)
{
    (void)state;
    const msda_case cases[] = {
        {1, 1, 1, 1, 1, 1, {1, 1}},
        {2, 3, 5, 3, 7, 3, {5, 7, 3, 2, 1, 1}},
        {1, 8, 4, 3, 13, 4, {10, 10, 5, 5, 3, 3}},       /* RT-DETR fixture-like, dh 4 */
        {2, 2, 8, 4, 9, 2, {6, 9, 3, 5, 2, 3, 1, 2}},    /* dh 8: AVX2 path */
        {1, 3, 16, 2, 5, 4, {7, 4, 4, 2}},               /* dh 16: AVX-512 path */
        {2, 8, 32, 3, 11, 4, {8, 8, 4, 4, 2, 2}},        /* RT-DETR real, dh 32 */
        {1, 2, 24, 1, 3, 5, {4, 11}},                    /* dh 24: AVX2 yes, AVX-512 no */
    };
    for (size_t ci = 0; ci < sizeof cases / sizeof cases[0]; ci++) {
        const msda_case *c = &cases[ci];
        float *value, *loc, *attw;
        size_t nv, nl, na, no;
        make_inputs(c, 17 + (uint32_t)ci * 5, &value, &loc, &attw, &nv, &nl, &na, &no);
        float *ref = malloc(no * sizeof(float)), *y = malloc(no * sizeof(float)),
              *y2 = malloc(no * sizeof(float));
        compose_ref(c, value, loc, attw, ref);
        float tol = 1e-5f * (1.0f + tu_max_abs(ref, no));
        for (int isa = OC_ISA_SCALAR; isa <= (int)max_isa(); isa++) {
            oc_ctx c1 = {(oc_isa)isa, 1, NULL, 0}, c2 = {(oc_isa)isa, 2, NULL, 0};
            memset(y, 0xff, no * sizeof(float));
            oc_ms_deform_attn(&c1, value, c->hw, c->nlevels, c->n, c->heads, c->dh, loc, attw,
                              c->lq, c->npoints, y);
            oc_ms_deform_attn(&c2, value, c->hw, c->nlevels, c->n, c->heads, c->dh, loc, attw,
                              c->lq, c->npoints, y2);
            float e = tu_max_abs_diff(y, ref, no);
            if (!(e <= tol))
                fprintf(stderr, "case %zu isa %d: max diff %g > %g\n", ci, isa, e, tol);
            assert_true(e <= tol);
            assert_memory_equal(y, y2, no * sizeof(float));
        }
        /* the output depends on every input: a wrong layout would not survive this */
        if (no >= 16) assert_true(tu_max_abs(ref, no) > 0.1f);
        free(value);
        free(loc);
        free(attw);
        free(ref);
        free(y);
        free(y2);
    }
}

static void test_hand_values(void **state)
{
    (void)state;
    /* one level 2 (H) x 3 (W), one head, dh 1: value = pixel index + 1 */
    const int64_t hw[2] = {2, 3};
    const float value[6] = {1, 2, 3, 4, 5, 6};
    struct {
        float x, y, want;
    } cs[] = {
        {0.5f / 3, 0.25f, 1.0f},            /* centre of pixel (0,0) */
        {2.5f / 3, 0.75f, 6.0f},            /* centre of pixel (2,1) */
        {1.0f / 3, 0.25f, 1.5f},            /* between (0,0) and (1,0) */
        {0.0f, 0.25f, 0.5f},                /* left edge: half of pixel (0,0), half padding */
        {0.0f, 0.0f, 0.25f},                /* corner: a quarter of (0,0) */
        {1.0f, 1.0f, 0.25f * 6.0f},         /* opposite corner */
        {-0.2f, 0.5f, 0.0f},                /* wholly outside */
        {0.5f, 1.3f, 0.0f},
        {0.5f, 0.5f, 0.25f * (2 + 3 + 5 + 6) * 0.5f + 0.0f}, /* x = 1.0 px, y = 0.5 px */
    };
    /* (0.5, 0.5): ix = 1.0, iy = 0.5 -> column 1 exactly, rows 0 and 1 halves: (2+5)/2 */
    cs[8].want = 3.5f;
    oc_ctx ctx = {OC_ISA_SCALAR, 1, NULL, 0};
    for (size_t i = 0; i < sizeof cs / sizeof cs[0]; i++) {
        float loc[2] = {cs[i].x, cs[i].y}, w = 2.0f, y = -1;
        oc_ms_deform_attn(&ctx, value, hw, 1, 1, 1, 1, loc, &w, 1, 1, &y);
        if (fabsf(y - 2.0f * cs[i].want) > 1e-5f)
            fprintf(stderr, "sample %zu (%g, %g): got %g want %g\n", i, cs[i].x, cs[i].y, y,
                    2.0f * cs[i].want);
        assert_float_equal(y, 2.0f * cs[i].want, 1e-5f);
    }
}

static void test_graph_node(void **state)
{
    (void)state;
    const msda_case c = {2, 4, 8, 2, 6, 3, {5, 6, 2, 3}};
    float *value, *loc, *attw;
    size_t nv, nl, na, no;
    make_inputs(&c, 99, &value, &loc, &attw, &nv, &nl, &na, &no);
    oc_graph *g = oc_graph_new();
    oc_tid v = oc_g_input(g, "value", oc_shape3(2, 36, 32));
    oc_tid l = oc_g_input(g, "loc", oc_shape4(2, 6, 4, 12));
    oc_tid a = oc_g_input(g, "attw", oc_shape3(2, 6, 24));
    oc_tid y = oc_g_ms_deform_attn(g, v, l, a, c.hw, 2, 4, 3);
    oc_g_output(g, y, "out");
    assert_int_equal(oc_graph_status(g), OC_OK);
    oc_shape ys = oc_g_shape(g, y);
    assert_int_equal(ys.ndim, 3);
    assert_int_equal(ys.d[1], 6);
    assert_int_equal(ys.d[2], 32);
    assert_int_equal(oc_graph_plan(g, 0, OC_ISA_SCALAR, 1), OC_OK);
    void *ar = oc_malloc(oc_graph_arena_bytes(g));
    oc_ctx ctx = {OC_ISA_SCALAR, 1, NULL, 0};
    const float *ins[3] = {value, loc, attw};
    assert_int_equal(oc_graph_run(g, &ctx, ar, ins, 3, NULL), OC_OK);
    float *ref = malloc(no * sizeof(float));
    oc_ms_deform_attn(&ctx, value, c.hw, 2, 2, 4, 8, loc, attw, 6, 3, ref);
    assert_memory_equal(oc_graph_data(g, ar, y), ref, no * sizeof(float));
    oc_free(ar);
    oc_graph_free(g);

    /* shape checks: each names what is wrong and leaves the graph failed */
    struct {
        oc_shape v, l, a;
        int64_t hw0;
        int heads;
        const char *needle;
    } bad[] = {
        {oc_shape3(2, 35, 32), oc_shape4(2, 6, 4, 12), oc_shape3(2, 6, 24), 5, 4, "value"},
        {oc_shape3(2, 36, 30), oc_shape4(2, 6, 4, 12), oc_shape3(2, 6, 24), 5, 4, "value"},
        {oc_shape3(2, 36, 32), oc_shape4(2, 6, 4, 11), oc_shape3(2, 6, 24), 5, 4, "loc"},
        {oc_shape3(2, 36, 32), oc_shape4(1, 6, 4, 12), oc_shape3(2, 6, 24), 5, 4, "loc"},
        {oc_shape3(2, 36, 32), oc_shape4(2, 6, 4, 12), oc_shape3(2, 5, 24), 5, 4, "weights"},
        {oc_shape3(2, 36, 32), oc_shape4(2, 6, 4, 12), oc_shape3(2, 6, 24), 0, 4, "level"},
        {oc_shape3(2, 36, 32), oc_shape4(2, 6, 4, 12), oc_shape3(2, 6, 24), 5, 0, "heads"},
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        g = oc_graph_new();
        v = oc_g_input(g, "value", bad[i].v);
        l = oc_g_input(g, "loc", bad[i].l);
        a = oc_g_input(g, "attw", bad[i].a);
        int64_t hw[4] = {bad[i].hw0, 6, 2, 3};
        assert_int_equal(oc_g_ms_deform_attn(g, v, l, a, hw, 2, bad[i].heads, 3), OC_NONE);
        assert_int_not_equal(oc_graph_status(g), OC_OK);
        if (!strstr(oc_last_error(), bad[i].needle))
            fprintf(stderr, "case %zu: message '%s' lacks '%s'\n", i, oc_last_error(),
                    bad[i].needle);
        assert_non_null(strstr(oc_last_error(), bad[i].needle));
        oc_graph_free(g);
    }
    free(ref);
    free(value);
    free(loc);
    free(attw);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_vs_grid_sample),
        cmocka_unit_test(test_hand_values),
        cmocka_unit_test(test_graph_node),
    };
    return cmocka_run_group_tests_name("ops_ms_deform_attn", tests, NULL, NULL);
}

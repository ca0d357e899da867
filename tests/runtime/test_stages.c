/* Stages, named typed inputs and exported tensors, through the public API on a toy two-stage
 * architecture registered at run time:
 *
 *   stage "encode": image [1][C][H][W] f32
 *                   embed [1][C] = w[c] * mean over h, w of image[c]        (exported)
 *   stage "decode": point_coords [1][P][2] f32, point_labels [1][P] i32 (typed), embed
 *                   scores [1][P] = label_p * (x_p + 2 y_p) + sum_c embed[c]
 *                   coords_sum [1][2] = sum over p of (x_p, y_p)
 *
 * Checked: outputs against a direct computation; the encoder runs once for several decodes;
 * a new image re-runs the encoder without rebuilding the decoder; two sessions on one model
 * stay independent; integer labels of every dtype; inputs matched by name in any order;
 * errors naming what is missing; a same-shape decode allocates nothing. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#include <math.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "model.h"
#include "testutil.h"

#define TC 4

static atomic_int g_encodes;      /* runs of the encoder's node */
static atomic_int g_builds[2];    /* graph builds per stage */

static const char *const toy_stages[] = {"encode", "decode", NULL};

static oc_status toy2_load(struct oc_model *m)
{
    float *w;
    int64_t shape[1] = {TC};
    oc_status st = oc_st_load_f32(m->file, "enc.w", 1, shape, &w);
    if (st != OC_OK) return st;
    m->arch_data = w;
    return OC_OK;
}

static void toy2_free(struct oc_model *m)
{
    oc_free(m->arch_data);
    m->arch_data = NULL;
}

static void encode_fn(const oc_ctx *ctx, const void *params, const float *const *ins,
                      const oc_shape *is, int nin, float *out, const oc_shape *os)
{
    (void)ctx;
    (void)nin;
    (void)os;
    const float *w = *(const float *const *)params;
    int64_t c = is[0].d[1], hw = is[0].d[2] * is[0].d[3];
    for (int64_t k = 0; k < c; k++) {
        double s = 0;
        for (int64_t i = 0; i < hw; i++) s += ins[0][k * hw + i];
        out[k] = w[k] * (float)(s / (double)hw);
    }
    atomic_fetch_add(&g_encodes, 1);
}

static void decode_fn(const oc_ctx *ctx, const void *params, const float *const *ins,
                      const oc_shape *is, int nin, float *out, const oc_shape *os)
{
    (void)ctx;
    (void)params;
    (void)nin;
    (void)os;
    int64_t P = is[0].d[1], C = is[2].d[1];
    float e = 0;
    for (int64_t k = 0; k < C; k++) e += ins[2][k];
    for (int64_t p = 0; p < P; p++)
        out[p] = ins[1][p] * (ins[0][2 * p] + 2 * ins[0][2 * p + 1]) + e;
}

static void sum_fn(const oc_ctx *ctx, const void *params, const float *const *ins,
                   const oc_shape *is, int nin, float *out, const oc_shape *os)
{
    (void)ctx;
    (void)params;
    (void)nin;
    (void)os;
    out[0] = out[1] = 0;
    for (int64_t p = 0; p < is[0].d[1]; p++) {
        out[0] += ins[0][2 * p];
        out[1] += ins[0][2 * p + 1];
    }
}

static oc_status toy2_build(const struct oc_model *m, oc_graph *g, const char *stage,
                            const oc_io_desc *in, int n_in)
{
    const float *w = m->arch_data;
    if (!strcmp(stage, "encode")) {
        atomic_fetch_add(&g_builds[0], 1);
        const oc_io_desc *img = oc_io_find(in, n_in, "image");
        if (!img || img->ndim != 4 || img->dims[1] != TC)
            return oc_graph_fail(g, oc_error(OC_ERR_SHAPE, "toy2: encode takes image [1,%d,H,W]",
                                             TC));
        oc_tid x = oc_g_input(g, "image", oc_shape4(1, TC, img->dims[2], img->dims[3]));
        oc_tid e = oc_g_custom(g, "encode", &x, 1, oc_shape2(1, TC), encode_fn, &w, sizeof w, 0);
        oc_g_export(g, e, "embed");
        return oc_graph_status(g);
    }
    atomic_fetch_add(&g_builds[1], 1);
    const oc_io_desc *pc = oc_io_find(in, n_in, "point_coords");
    const oc_io_desc *pl = oc_io_find(in, n_in, "point_labels");
    const oc_io_desc *em = oc_io_find(in, n_in, "embed");
    if (!pc || pc->ndim != 3 || pc->dims[2] != 2)
        return oc_graph_fail(g, oc_error(OC_ERR_INVALID_ARG, "toy2: decode takes point_coords "
                                         "[1,P,2]"));
    int64_t P = pc->dims[1];
    oc_tid c = oc_g_input(g, "point_coords", oc_shape3(1, P, 2));
    oc_tid l = oc_g_input_typed(g, "point_labels", oc_shape2(1, P),
                                pl ? pl->dtype : OC_DTYPE_I32);
    oc_tid e = oc_g_input(g, "embed", oc_shape2(1, em ? em->dims[1] : TC));
    oc_tid ins[3] = {c, l, e};
    oc_tid y = oc_g_custom(g, "decode", ins, 3, oc_shape2(1, P), decode_fn, NULL, 0, 0);
    oc_g_output(g, y, "scores");
    oc_tid s = oc_g_custom(g, "sum", &c, 1, oc_shape2(1, 2), sum_fn, NULL, 0, 0);
    oc_g_output(g, s, "coords_sum");
    return oc_graph_status(g);
}

static const oc_arch toy2_arch = {.name = "toy2stage",
                                  .task = NULL,
                                  .stages = toy_stages,
                                  .load = toy2_load,
                                  .build = toy2_build,
                                  .free = toy2_free};

static const float W[TC] = {1.0f, -0.5f, 2.0f, 0.25f};

static const char *write_model(void)
{
    const char *path = tu_tmp_path(".safetensors");
    oc_st_writer *w = oc_st_writer_new();
    assert_non_null(w);
    int64_t s[1] = {TC};
    assert_int_equal(oc_st_writer_add(w, "enc.w", OC_DT_F32, 1, s, W), OC_OK);
    assert_int_equal(oc_st_writer_meta(w, "ocellus.arch", "toy2stage"), OC_OK);
    assert_int_equal(oc_st_writer_save(w, path), OC_OK);
    oc_st_writer_free(w);
    return path;
}

#define IH 6
#define IW 5

static void make_image(float *x, uint32_t seed) { tu_fill_uniform(x, TC * IH * IW, seed, -1, 1); }

static float embed_sum(const float *x)
{
    float e = 0;
    for (int k = 0; k < TC; k++) {
        double s = 0;
        for (int i = 0; i < IH * IW; i++) s += x[k * IH * IW + i];
        e += W[k] * (float)(s / (IH * IW));
    }
    return e;
}

static oc_status encode(oc_session *s, float *img)
{
    oc_tensor t = {.name = "image", .ndim = 4, .dims = {1, TC, IH, IW}, .data = img};
    return oc_session_run_stage(s, "encode", &t, 1);
}

/* decode P points; labels given as dtype; coords/labels passed in the order given */
static oc_status decode(oc_session *s, const float *xy, const int32_t *lab, int P, oc_dtype dt,
                        int labels_first)
{
    int64_t l64[16];
    uint8_t l8[16];
    void *lp = (void *)lab;
    if (dt == OC_DTYPE_I64) {
        for (int p = 0; p < P; p++) l64[p] = lab[p];
        lp = l64;
    } else if (dt == OC_DTYPE_U8) {
        for (int p = 0; p < P; p++) l8[p] = (uint8_t)lab[p];
        lp = l8;
    }
    oc_tensor c = {.name = "point_coords", .ndim = 3, .dims = {1, P, 2}, .data = (float *)xy};
    oc_tensor l = {.name = "point_labels", .ndim = 2, .dims = {1, P}, .data = lp, .dtype = dt};
    oc_tensor in[2];
    in[labels_first ? 1 : 0] = c;
    in[labels_first ? 0 : 1] = l;
    return oc_session_run_stage(s, "decode", in, 2);
}

static void check_scores(oc_session *s, const float *xy, const int32_t *lab, int P, float e)
{
    oc_tensor y;
    assert_int_equal(oc_session_tensor(s, "scores", &y), OC_OK);
    assert_int_equal(y.ndim, 2);
    assert_int_equal(y.dims[1], P);
    for (int p = 0; p < P; p++) {
        float want = (float)lab[p] * (xy[2 * p] + 2 * xy[2 * p + 1]) + e;
        assert_true(fabsf(y.data[p] - want) <= 1e-5f * (1 + fabsf(want)));
    }
    oc_tensor cs;
    assert_int_equal(oc_session_output(s, 1, &cs), OC_OK);
    assert_string_equal(cs.name, "coords_sum");
}

static int setup(void **state)
{
    (void)state;
    return oc_register_arch(&toy2_arch) == OC_OK ? 0 : -1;
}

static void test_encode_once_decode_many(void **state)
{
    (void)state;
    const char *path = write_model();
    oc_model *m;
    assert_int_equal(oc_model_load(path, &m), OC_OK);
    assert_int_equal(oc_model_num_stages(m), 2);
    assert_string_equal(oc_model_stage(m, 0), "encode");
    assert_string_equal(oc_model_stage(m, 1), "decode");
    assert_null(oc_model_stage(m, 2));
    oc_session *s;
    assert_int_equal(oc_session_create(m, &s), OC_OK);
    float img[TC * IH * IW];
    make_image(img, 11);
    int enc0 = atomic_load(&g_encodes), b0 = atomic_load(&g_builds[0]),
        b1 = atomic_load(&g_builds[1]);
    /* oc_session_run runs the first stage */
    oc_tensor t = {.name = "image", .ndim = 4, .dims = {1, TC, IH, IW}, .data = img};
    assert_int_equal(oc_session_run(s, &t, 1), OC_OK);
    assert_int_equal(oc_session_num_outputs(s), 1);
    oc_tensor e;
    assert_int_equal(oc_session_tensor(s, "embed", &e), OC_OK);
    assert_int_equal(e.dims[1], TC);

    const float xy[3][6] = {{1, 2, 3, 4, 5, 6}, {0.5f, -1, 7, 8, -2, 3}, {9, 9, 1, 1, 0, 0}};
    const int32_t lab[3][3] = {{1, 0, 1}, {-1, 2, 3}, {1, 1, 0}};
    for (int r = 0; r < 3; r++) {
        assert_int_equal(decode(s, xy[r], lab[r], 3, OC_DTYPE_I32, r == 1), OC_OK);
        check_scores(s, xy[r], lab[r], 3, embed_sum(img));
    }
    assert_int_equal(atomic_load(&g_encodes) - enc0, 1);
    assert_int_equal(atomic_load(&g_builds[0]) - b0, 1);
    assert_int_equal(atomic_load(&g_builds[1]) - b1, 1);
    /* the export stays readable after the decode stage ran */
    assert_int_equal(oc_session_tensor(s, "embed", &e), OC_OK);
    assert_true(fabsf(e.data[0] + e.data[1] + e.data[2] + e.data[3] - embed_sum(img)) < 1e-5f);

    /* a same-shape decode allocates nothing */
    oc_alloc_stats a0, a1;
    oc_get_alloc_stats(&a0);
    assert_int_equal(decode(s, xy[2], lab[2], 3, OC_DTYPE_I32, 0), OC_OK);
    oc_get_alloc_stats(&a1);
    assert_int_equal(a1.allocs, a0.allocs);

    /* a new image: the encoder runs again, the decoder is not rebuilt and sees the new
     * embedding */
    float img2[TC * IH * IW];
    make_image(img2, 12);
    assert_int_equal(encode(s, img2), OC_OK);
    assert_int_equal(decode(s, xy[0], lab[0], 3, OC_DTYPE_I32, 0), OC_OK);
    check_scores(s, xy[0], lab[0], 3, embed_sum(img2));
    assert_int_equal(atomic_load(&g_encodes) - enc0, 2);
    assert_int_equal(atomic_load(&g_builds[0]) - b0, 1);
    assert_int_equal(atomic_load(&g_builds[1]) - b1, 1);

    /* labels as i64 and u8 (a dtype change rebuilds the decoder) */
    const int32_t pos[3] = {1, 0, 3};
    assert_int_equal(decode(s, xy[1], pos, 3, OC_DTYPE_I64, 0), OC_OK);
    check_scores(s, xy[1], pos, 3, embed_sum(img2));
    assert_int_equal(decode(s, xy[1], pos, 3, OC_DTYPE_U8, 1), OC_OK);
    check_scores(s, xy[1], pos, 3, embed_sum(img2));
    /* a different number of points: rebuilt for the new shape */
    const float xy5[10] = {1, 1, 2, 2, 3, 3, 4, 4, 5, 5};
    const int32_t lab5[5] = {1, 1, 0, 1, 0};
    assert_int_equal(decode(s, xy5, lab5, 5, OC_DTYPE_I32, 0), OC_OK);
    check_scores(s, xy5, lab5, 5, embed_sum(img2));
    assert_int_equal(atomic_load(&g_encodes) - enc0, 2);

    oc_session_free(s);
    oc_model_free(m);
    unlink(path);
}

static void test_sessions_independent(void **state)
{
    (void)state;
    const char *path = write_model();
    oc_model *m;
    assert_int_equal(oc_model_load(path, &m), OC_OK);
    oc_session *s1, *s2;
    assert_int_equal(oc_session_create(m, &s1), OC_OK);
    assert_int_equal(oc_session_create(m, &s2), OC_OK);
    float a[TC * IH * IW], b[TC * IH * IW];
    make_image(a, 21);
    make_image(b, 22);
    assert_true(fabsf(embed_sum(a) - embed_sum(b)) > 1e-3f);
    assert_int_equal(encode(s1, a), OC_OK);
    /* s2 has encoded nothing: its decoder has no embedding */
    const float xy[4] = {1, 2, -3, 4};
    const int32_t lab[2] = {1, 0};
    assert_int_equal(decode(s2, xy, lab, 2, OC_DTYPE_I32, 0), OC_ERR_INVALID_ARG);
    assert_non_null(strstr(oc_last_error(), "embed"));
    assert_int_equal(encode(s2, b), OC_OK);
    assert_int_equal(decode(s1, xy, lab, 2, OC_DTYPE_I32, 0), OC_OK);
    assert_int_equal(decode(s2, xy, lab, 2, OC_DTYPE_I32, 0), OC_OK);
    check_scores(s1, xy, lab, 2, embed_sum(a));
    check_scores(s2, xy, lab, 2, embed_sum(b));
    oc_session_free(s1);
    oc_session_free(s2);
    oc_model_free(m);
    unlink(path);
}

static void test_stage_errors(void **state)
{
    (void)state;
    const char *path = write_model();
    oc_model *m;
    assert_int_equal(oc_model_load(path, &m), OC_OK);
    oc_session *s;
    assert_int_equal(oc_session_create(m, &s), OC_OK);
    float img[TC * IH * IW];
    make_image(img, 5);
    oc_tensor t = {.name = "image", .ndim = 4, .dims = {1, TC, IH, IW}, .data = img};
    assert_int_equal(oc_session_run_stage(s, "nosuch", &t, 1), OC_ERR_INVALID_ARG);
    assert_non_null(strstr(oc_last_error(), "'decode'"));
    assert_int_equal(encode(s, img), OC_OK);
    /* a missing input is named */
    oc_tensor c = {.name = "point_coords", .ndim = 3, .dims = {1, 2, 2}, .data = img};
    assert_int_equal(oc_session_run_stage(s, "decode", &c, 1), OC_ERR_INVALID_ARG);
    assert_non_null(strstr(oc_last_error(), "point_labels"));
    assert_int_equal(oc_session_output(s, 0, &t), OC_ERR_INVALID_ARG); /* failed run */
    /* a label shape that disagrees with the points */
    oc_tensor in[2] = {c, {.name = "point_labels", .ndim = 2, .dims = {1, 3}, .data = img,
                           .dtype = OC_DTYPE_I32}};
    assert_int_equal(oc_session_run_stage(s, "decode", in, 2), OC_ERR_SHAPE);
    assert_non_null(strstr(oc_last_error(), "point_labels"));
    /* the same name twice, an unknown dtype */
    in[1] = c;
    assert_int_equal(oc_session_run_stage(s, "decode", in, 2), OC_ERR_INVALID_ARG);
    in[1] = (oc_tensor){.name = "point_labels", .ndim = 2, .dims = {1, 2}, .data = img,
                        .dtype = (oc_dtype)42};
    assert_int_equal(oc_session_run_stage(s, "decode", in, 2), OC_ERR_INVALID_ARG);
    assert_string_equal(oc_dtype_name(OC_DTYPE_I64), "i64");
    oc_session_free(s);
    oc_model_free(m);
    unlink(path);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_encode_once_decode_many),
        cmocka_unit_test(test_sessions_independent),
        cmocka_unit_test(test_stage_errors),
    };
    return cmocka_run_group_tests(tests, setup, NULL);
}

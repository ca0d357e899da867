/* The detect_detr task: oc_detr_topk on known logits (order, ties, NaN, k), and oc_detect on a
 * toy DETR-style arch registered at run time (resize + mean/std from the metadata, sigmoid
 * top-k, threshold, max_det, boxes scaled and clipped, nameless COCO-91 gaps), plus the
 * antialiased resize and the dispatch errors of oc_detect. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "model.h"
#include "tasks/detr.h"
#include "tasks/tasks.h"
#include "testutil.h"

static float sigm(float x) { return 1.0f / (1.0f + expf(-x)); }

static void test_topk_order_ties_nan(void **state)
{
    (void)state;
    enum { Q = 4, C = 3 };
    const float logits[Q * C] = {0.5f, -5, -5, -1, 2, 0.3f, NAN, 0.3f, -3, 1, -2, 3};
    const float boxes[Q * 4] = {0.5f, 0.5f, 0.2f, 0.4f, 0.25f, 0.25f, 0.5f, 0.5f,
                                0.1f, 0.1f, 0.1f, 0.1f, 0.1f, 0.9f, 0.4f, 0.4f};
    int64_t lab[12];
    float bx[48], sc[12];
    oc_detr_topk(logits, boxes, Q, C, 12, 100, 50, lab, bx, sc);
    /* flat order: 11 (3.0), 4 (2.0), 9 (1.0), 0 (0.5), 5 (0.3) before 7 (0.3), 3, 10, 8, 1, 2,
     * NaN last */
    const int64_t want_q[12] = {3, 1, 3, 0, 1, 2, 1, 3, 2, 0, 0, 2};
    const int64_t want_c[12] = {2, 1, 0, 0, 2, 1, 0, 1, 2, 1, 2, 0};
    for (int j = 0; j < 12; j++) assert_int_equal(lab[j], want_c[j]);
    assert_true(fabsf(sc[0] - sigm(3)) < 1e-6f);
    assert_true(fabsf(sc[4] - sigm(0.3f)) < 1e-6f && sc[4] == sc[5]);
    assert_true(sc[11] == 0.0f); /* NaN ranks last, sigmoid(-inf) */
    for (int j = 0; j < 12; j++) {
        const float *b = boxes + want_q[j] * 4;
        assert_true(fabsf(bx[4 * j + 0] - (b[0] - b[2] / 2) * 100) < 1e-4f);
        assert_true(fabsf(bx[4 * j + 1] - (b[1] - b[3] / 2) * 50) < 1e-4f);
        assert_true(fabsf(bx[4 * j + 2] - (b[0] + b[2] / 2) * 100) < 1e-4f);
        assert_true(fabsf(bx[4 * j + 3] - (b[1] + b[3] / 2) * 50) < 1e-4f);
    }
    /* k smaller than Q*C: the same prefix */
    int64_t lab3[3];
    float bx3[12], sc3[3];
    oc_detr_topk(logits, boxes, Q, C, 3, 100, 50, lab3, bx3, sc3);
    for (int j = 0; j < 3; j++) {
        assert_int_equal(lab3[j], lab[j]);
        assert_true(sc3[j] == sc[j]);
    }
    /* many equal scores: lower flat index first */
    float flat[40];
    float fb[40];
    for (int i = 0; i < 40; i++) flat[i] = 1.0f;
    for (int i = 0; i < 40; i++) fb[i] = 0.5f;
    int64_t l5[5];
    float b5[20], s5[5];
    oc_detr_topk(flat, fb, 10, 4, 5, 1, 1, l5, b5, s5);
    for (int j = 0; j < 5; j++) assert_int_equal(l5[j], j % 4);
    assert_true(b5[16] == b5[0]);
}

/* ---- a toy DETR-style arch: pred_logits from a table except logit[0] = images[0] ---- */
enum { TQ = 4, TC = 3 };
static const float T_LOGITS[TQ * TC] = {0, -5, -5, -1, 2, 0.3f, NAN, 0.3f, -3, 1, -2, 3};
static const float T_BOXES[TQ * 4] = {0.5f, 0.5f, 0.2f, 0.4f, 0.25f, 0.25f, 0.5f, 0.5f,
                                      0.1f, 0.1f, 0.1f, 0.1f, 0.1f, 0.9f, 0.4f, 0.4f};
static int g_in_h, g_in_w;

static void logits_fn(const oc_ctx *ctx, const void *params, const float *const *ins,
                      const oc_shape *is, int nin, float *out, const oc_shape *os)
{
    (void)ctx;
    (void)params;
    (void)is;
    (void)nin;
    (void)os;
    memcpy(out, T_LOGITS, sizeof T_LOGITS);
    out[0] = ins[0][0];
}

static void boxes_fn(const oc_ctx *ctx, const void *params, const float *const *ins,
                     const oc_shape *is, int nin, float *out, const oc_shape *os)
{
    (void)ctx;
    (void)params;
    (void)ins;
    (void)is;
    (void)nin;
    (void)os;
    memcpy(out, T_BOXES, sizeof T_BOXES);
}

static oc_status toydetr_load(struct oc_model *m)
{
    (void)m;
    return OC_OK;
}

static oc_status toydetr_build(const struct oc_model *m, oc_graph *g, const char *stage,
                               const oc_io_desc *in, int n_in)
{
    (void)m;
    (void)stage;
    const oc_io_desc *img = oc_io_find_image(in, n_in, "images");
    if (!img || img->ndim != 4) return oc_graph_fail(g, oc_error(OC_ERR_SHAPE, "toydetr: images"));
    g_in_h = (int)img->dims[2];
    g_in_w = (int)img->dims[3];
    oc_tid x = oc_g_input(g, "images", oc_shape4(1, 3, img->dims[2], img->dims[3]));
    oc_tid l = oc_g_custom(g, "logits", &x, 1, oc_shape3(1, TQ, TC), logits_fn, NULL, 0, 0);
    oc_tid b = oc_g_custom(g, "boxes", &x, 1, oc_shape3(1, TQ, 4), boxes_fn, NULL, 0, 0);
    oc_g_output(g, l, "pred_logits");
    oc_g_output(g, b, "pred_boxes");
    return oc_graph_status(g);
}

static const oc_arch toydetr_arch = {
    .name = "toydetr", .task = "detect_detr", .load = toydetr_load, .build = toydetr_build};
static const oc_arch toyraw_arch = {.name = "toyraw", .load = toydetr_load,
                                    .build = toydetr_build};
static const oc_arch toysam_arch = {
    .name = "toysamlike", .task = "segment_sam", .load = toydetr_load, .build = toydetr_build};

static const char *write_model(const char *arch, int with_norm)
{
    const char *path = tu_tmp_path(".safetensors");
    oc_st_writer *w = oc_st_writer_new();
    assert_non_null(w);
    float v = 0;
    int64_t s1[1] = {1};
    assert_int_equal(oc_st_writer_add(w, "unused", OC_DT_F32, 1, s1, &v), OC_OK);
    assert_int_equal(oc_st_writer_meta(w, "ocellus.arch", arch), OC_OK);
    assert_int_equal(oc_st_writer_meta(w, "ocellus.input_size", "32x48"), OC_OK);
    assert_int_equal(oc_st_writer_meta(w, "ocellus.class_names", "[\"a\", \"\", \"c\"]"), OC_OK);
    if (with_norm) {
        assert_int_equal(oc_st_writer_meta(w, "ocellus.preprocess.mean", "[0.5, 0.25, 0]"), OC_OK);
        assert_int_equal(oc_st_writer_meta(w, "ocellus.preprocess.std", "[0.5, 0.5, 1]"), OC_OK);
    }
    assert_int_equal(oc_st_writer_save(w, path), OC_OK);
    oc_st_writer_free(w);
    return path;
}

static int setup(void **state)
{
    (void)state;
    if (oc_register_arch(&toydetr_arch) || oc_register_arch(&toyraw_arch) ||
        oc_register_arch(&toysam_arch))
        return -1;
    return 0;
}

static oc_image uniform_image(int w, int h, uint8_t r, uint8_t g, uint8_t b)
{
    oc_image img;
    assert_int_equal(oc_image_alloc(&img, w, h, 3), OC_OK);
    for (int i = 0; i < w * h; i++) {
        img.data[3 * i] = r;
        img.data[3 * i + 1] = g;
        img.data[3 * i + 2] = b;
    }
    return img;
}

static void test_detect_detr_toy(void **state)
{
    (void)state;
    const char *path = write_model("toydetr", 1);
    oc_model *m;
    assert_int_equal(oc_model_load(path, &m), OC_OK);
    oc_session *s;
    assert_int_equal(oc_session_create(m, &s), OC_OK);
    oc_image img = uniform_image(100, 50, 200, 100, 50);
    oc_detect_options o;
    oc_detect_options_default(&o);
    o.conf_threshold = 0.5f;
    oc_detections d;
    assert_int_equal(oc_detect(s, &img, &o, &d), OC_OK);
    assert_int_equal(g_in_h, 32); /* the model's input size, no letterbox */
    assert_int_equal(g_in_w, 48);
    /* logit[0] = (200/255 - 0.5) / 0.5 after mean/std */
    float l0 = (200.0f / 255.0f - 0.5f) / 0.5f;
    /* above 0.5: q3c2 3.0, q1c1 2.0, q3c0 1.0, q0c0 l0 0.569, q1c2 0.3, q2c1 0.3 */
    assert_int_equal(d.count, 6);
    const int want_c[6] = {2, 1, 0, 0, 2, 1};
    const float want_s[6] = {3, 2, 1, l0, 0.3f, 0.3f};
    for (int i = 0; i < 6; i++) {
        assert_int_equal(d.items[i].class_id, want_c[i]);
        assert_true(fabsf(d.items[i].score - sigm(want_s[i])) < 1e-5f);
    }
    assert_string_equal(d.items[0].class_name, "c");
    assert_null(d.items[1].class_name); /* "" in the names: no name */
    /* q3's box (0.1, 0.9, 0.4, 0.4) * (100, 50) = (-10, 35, 30, 55), clipped */
    assert_true(fabsf(d.items[0].x1 - 0) < 1e-4f && fabsf(d.items[0].y1 - 35) < 1e-4f);
    assert_true(fabsf(d.items[0].x2 - 30) < 1e-4f && fabsf(d.items[0].y2 - 50) < 1e-4f);
    /* q0's box (0.5, 0.5, 0.2, 0.4) -> (40, 15, 60, 35) */
    assert_true(fabsf(d.items[3].x1 - 40) < 1e-4f && fabsf(d.items[3].y1 - 15) < 1e-4f);
    assert_true(fabsf(d.items[3].x2 - 60) < 1e-4f && fabsf(d.items[3].y2 - 35) < 1e-4f);
    oc_detections_free(&d);
    /* max_det keeps the best k */
    o.max_det = 2;
    assert_int_equal(oc_detect(s, &img, &o, &d), OC_OK);
    assert_int_equal(d.count, 2);
    assert_int_equal(d.items[1].class_id, 1);
    oc_detections_free(&d);
    oc_image_free(&img);
    oc_session_free(s);
    oc_model_free(m);
    unlink(path);

    /* without mean/std the input is RGB / 255 */
    path = write_model("toydetr", 0);
    assert_int_equal(oc_model_load(path, &m), OC_OK);
    assert_int_equal(oc_session_create(m, &s), OC_OK);
    img = uniform_image(40, 40, 51, 0, 0);
    o.conf_threshold = 0.0f;
    o.max_det = 12;
    assert_int_equal(oc_detect(s, &img, &o, &d), OC_OK);
    int found = 0;
    for (int i = 0; i < d.count; i++)
        if (d.items[i].class_id == 0 && fabsf(d.items[i].score - sigm(0.2f)) < 1e-5f) found = 1;
    assert_true(found);
    oc_detections_free(&d);
    oc_image_free(&img);
    oc_session_free(s);
    oc_model_free(m);
    unlink(path);
}

/* a second same-shape oc_detect allocates only its result (the resize and the top-k run in
 * the session's work buffer, the mean/std are parsed once per session) and finds the same */
static void test_detect_same_shape_allocates_only_result(void **state)
{
    (void)state;
    const char *path = write_model("toydetr", 1);
    oc_model *m;
    assert_int_equal(oc_model_load(path, &m), OC_OK);
    oc_session *s;
    assert_int_equal(oc_session_create(m, &s), OC_OK);
    oc_image img = uniform_image(100, 50, 200, 100, 50);
    oc_detect_options o;
    oc_detect_options_default(&o);
    o.conf_threshold = 0.1f;
    oc_detections d1, d2, d3;
    assert_int_equal(oc_detect(s, &img, &o, &d1), OC_OK);
    assert_true(d1.count >= 6);
    oc_alloc_stats a0, a1;
    oc_get_alloc_stats(&a0);
    assert_int_equal(oc_detect(s, &img, &o, &d2), OC_OK);
    oc_get_alloc_stats(&a1);
    assert_int_equal(a1.allocs - a0.allocs, 1); /* d2.items */
    assert_int_equal(a1.frees - a0.frees, 0);
    assert_int_equal(d1.count, d2.count);
    for (int i = 0; i < d1.count; i++) {
        assert_true(d1.items[i].score == d2.items[i].score);
        assert_int_equal(d1.items[i].class_id, d2.items[i].class_id);
        assert_true(d1.items[i].x1 == d2.items[i].x1 && d1.items[i].y2 == d2.items[i].y2);
    }
    /* a smaller image and fewer detections reuse the buffer as well; nothing kept: still one
     * result allocation */
    oc_image small = uniform_image(20, 10, 200, 100, 50);
    o.conf_threshold = 1.0f;
    oc_get_alloc_stats(&a0);
    assert_int_equal(oc_detect(s, &small, &o, &d3), OC_OK);
    oc_get_alloc_stats(&a1);
    assert_int_equal(d3.count, 0);
    assert_int_equal(a1.allocs - a0.allocs, 1);
    oc_detections_free(&d1);
    oc_detections_free(&d2);
    oc_detections_free(&d3);
    oc_image_free(&small);
    oc_image_free(&img);
    oc_session_free(s);
    oc_model_free(m);
    unlink(path);
}

/* The same on the real families, from their generators: RT-DETR r18vd at 160 and RF-DETR
 * nano at 64 (small inputs keep it fast; the weights are the variant's). */
static void detect_twice_counting(const char *arch, const char *scale, int imgsz)
{
    const oc_arch *a = oc_find_arch(arch);
    assert_non_null(a);
    assert_non_null(a->generate);
    oc_gen_options go = {.scale = scale, .imgsz = imgsz, .seed = 3};
    oc_st_writer *w = oc_st_writer_new();
    assert_non_null(w);
    oc_status st = a->generate(&go, w);
    if (st) fprintf(stderr, "%s %s: %s\n", arch, scale, oc_last_error());
    assert_int_equal(st, OC_OK);
    char path[512];
    snprintf(path, sizeof path, "%s", tu_tmp_path(".safetensors"));
    assert_int_equal(oc_st_writer_save(w, path), OC_OK);
    oc_st_writer_free(w);
    oc_model *m;
    assert_int_equal(oc_model_load(path, &m), OC_OK);
    oc_session *s;
    assert_int_equal(oc_session_create(m, &s), OC_OK);
    oc_image img;
    assert_int_equal(oc_image_alloc(&img, 97, 61, 3), OC_OK);
    for (int i = 0; i < 97 * 61 * 3; i++) img.data[i] = (uint8_t)((i * 13) ^ (i / 97));
    oc_detect_options o;
    oc_detect_options_default(&o);
    o.conf_threshold = 0.0f; /* synthetic weights: keep whatever comes out */
    o.max_det = 50;
    oc_detections d1, d2;
    assert_int_equal(oc_detect(s, &img, &o, &d1), OC_OK);
    assert_int_equal(d1.count, 50);
    oc_alloc_stats a0, a1;
    oc_get_alloc_stats(&a0);
    assert_int_equal(oc_detect(s, &img, &o, &d2), OC_OK);
    oc_get_alloc_stats(&a1);
    if (a1.allocs - a0.allocs != 1)
        fprintf(stderr, "%s: %llu allocations in a same-shape oc_detect\n", arch,
                (unsigned long long)(a1.allocs - a0.allocs));
    assert_int_equal(a1.allocs - a0.allocs, 1); /* d2.items */
    assert_int_equal(a1.frees - a0.frees, 0);
    assert_int_equal(d1.count, d2.count);
    for (int i = 0; i < d1.count; i++) {
        assert_true(d1.items[i].score == d2.items[i].score);
        assert_int_equal(d1.items[i].class_id, d2.items[i].class_id);
        assert_true(d1.items[i].x1 == d2.items[i].x1 && d1.items[i].y2 == d2.items[i].y2);
    }
    oc_detections_free(&d1);
    oc_detections_free(&d2);
    oc_image_free(&img);
    oc_session_free(s);
    oc_model_free(m);
    unlink(path);
}

static void test_detect_families_allocate_only_result(void **state)
{
    (void)state;
    detect_twice_counting("rtdetr", "r18vd", 160);
    detect_twice_counting("rfdetr", "nano", 64);
}

/* the allocation-free resize is the allocating one, and refuses what it cannot do */
static void test_resize_work(void **state)
{
    (void)state;
    oc_image img = uniform_image(37, 23, 0, 0, 0);
    for (int i = 0; i < 37 * 23 * 3; i++) img.data[i] = (uint8_t)(i * 7 + i / 5);
    const float mean[3] = {0.5f, 0.4f, 0.3f}, std[3] = {0.2f, 0.3f, 0.4f};
    const int sizes[3][2] = {{16, 12}, {64, 48}, {37, 23}};
    for (int k = 0; k < 3; k++) {
        int w = sizes[k][0], h = sizes[k][1];
        float *a = malloc(sizeof(float) * 3 * (size_t)w * h), *b = malloc(sizeof(float) * 3 * (size_t)w * h);
        size_t bytes = oc_resize_work_bytes(37, 23, w, h);
        assert_true(bytes > 0);
        void *work = malloc(bytes);
        assert_int_equal(oc_resize_chw(&img, w, h, mean, std, a), OC_OK);
        memset(work, 0xff, bytes); /* garbage in the buffer must not matter */
        assert_int_equal(oc_resize_chw_work(&img, w, h, mean, std, b, work), OC_OK);
        assert_memory_equal(a, b, sizeof(float) * 3 * (size_t)w * h);
        free(a);
        free(b);
        free(work);
    }
    assert_int_equal(oc_resize_work_bytes(0, 23, 16, 16), 0);
    assert_int_equal(oc_resize_work_bytes(37, 23, 16, 70000), 0);
    float out[3];
    assert_int_equal(oc_resize_chw_work(&img, 1, 1, NULL, NULL, out, NULL), OC_ERR_INVALID_ARG);
    oc_image_free(&img);
}

static void test_detect_dispatch_errors(void **state)
{
    (void)state;
    const char *path = write_model("toyraw", 0);
    oc_model *m;
    assert_int_equal(oc_model_load(path, &m), OC_OK);
    oc_session *s;
    assert_int_equal(oc_session_create(m, &s), OC_OK);
    oc_image img = uniform_image(8, 8, 1, 2, 3);
    oc_detections d;
    assert_int_equal(oc_detect(s, &img, NULL, &d), OC_ERR_UNSUPPORTED);
    assert_non_null(strstr(oc_last_error(), "not a detector"));
    oc_session_free(s);
    oc_model_free(m);
    unlink(path);
    path = write_model("toysamlike", 0);
    assert_int_equal(oc_model_load(path, &m), OC_OK);
    assert_int_equal(oc_session_create(m, &s), OC_OK);
    assert_int_equal(oc_detect(s, &img, NULL, &d), OC_ERR_UNSUPPORTED);
    assert_non_null(strstr(oc_last_error(), "oc_segment"));
    oc_session_free(s);
    oc_model_free(m);
    unlink(path);
    oc_image_free(&img);
}

static void test_resize_antialias(void **state)
{
    (void)state;
    /* 8x1 ramp -> 4x1: each output is (.25 a + .75 b + .75 c + .25 d) / 2 over 4 taps around
     * its centre, renormalised at the edges */
    oc_image img;
    assert_int_equal(oc_image_alloc(&img, 8, 1, 1), OC_OK);
    const uint8_t v[8] = {0, 10, 20, 40, 80, 120, 200, 250};
    memcpy(img.data, v, 8);
    float out[3 * 4];
    assert_int_equal(oc_resize_chw(&img, 4, 1, NULL, NULL, out), OC_OK);
    for (int i = 0; i < 4; i++) {
        const float w[4] = {0.25f, 0.75f, 0.75f, 0.25f};
        double acc = 0, tot = 0;
        for (int t = 0; t < 4; t++) {
            int j = 2 * i - 1 + t;
            if (j < 0 || j >= 8) continue;
            acc += w[t] * v[j];
            tot += w[t];
        }
        float want = (float)(acc / tot / 255.0);
        assert_true(fabsf(out[i] - want) < 1e-6f);
        assert_true(out[4 + i] == out[i] && out[8 + i] == out[i]); /* gray replicated */
    }
    /* enlarging is plain bilinear with half-pixel centres: 2 -> 4 */
    oc_image two;
    assert_int_equal(oc_image_alloc(&two, 2, 1, 1), OC_OK);
    two.data[0] = 0;
    two.data[1] = 255;
    float up[12];
    assert_int_equal(oc_resize_chw(&two, 4, 1, NULL, NULL, up), OC_OK);
    const float want_up[4] = {0, 0.25f, 0.75f, 1};
    for (int i = 0; i < 4; i++) assert_true(fabsf(up[i] - want_up[i]) < 1e-6f);
    oc_image_free(&two);
    oc_image_free(&img);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_topk_order_ties_nan),
        cmocka_unit_test(test_detect_detr_toy),
        cmocka_unit_test(test_detect_same_shape_allocates_only_result),
        cmocka_unit_test(test_resize_work),
        cmocka_unit_test(test_detect_families_allocate_only_result),
        cmocka_unit_test(test_detect_dispatch_errors),
        cmocka_unit_test(test_resize_antialias),
    };
    return cmocka_run_group_tests(tests, setup, NULL);
}

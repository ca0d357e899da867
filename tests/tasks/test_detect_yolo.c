/* Detection post-processing on synthetic output0 tensors: decode, thresholds, per-class and
 * agnostic NMS, max_det, the letterbox inverse mapping, and the JSON (escaping). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#include <cjson/cJSON.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tasks/detect.h"
#include "image.h"
#include "models/yolo/yolo_common.h"
#include "testutil.h"

#include <unistd.h>

/* a synthetic output0 [4+nc][A] */
typedef struct {
    int nc, A;
    float *v;
} out0;

static out0 out_new(int nc, int A)
{
    out0 o = {nc, A, calloc((size_t)(4 + nc) * (size_t)A, sizeof(float))};
    return o;
}

/* anchor a: box (cx, cy, w, h), score for class c (others stay 0 unless set) */
static void out_set(out0 *o, int a, float cx, float cy, float w, float h, int c, float s)
{
    o->v[0 * o->A + a] = cx;
    o->v[1 * o->A + a] = cy;
    o->v[2 * o->A + a] = w;
    o->v[3 * o->A + a] = h;
    o->v[(4 + c) * o->A + a] = s;
}

static void test_candidates_decode_and_threshold(void **state)
{
    (void)state;
    out0 o = out_new(3, 6);
    out_set(&o, 0, 100, 50, 20, 10, 1, 0.9f);
    o.v[(4 + 0) * o.A + 0] = 0.5f; /* lower score of another class: ignored */
    o.v[(4 + 2) * o.A + 0] = 0.6f;
    out_set(&o, 1, 10, 10, 4, 4, 2, 0.25f);      /* exactly at the threshold: dropped */
    out_set(&o, 2, 20, 20, 4, 4, 0, 0.2501f);    /* just above: kept */
    out_set(&o, 3, 30, 30, 4, 4, 2, 0.95f);
    out_set(&o, 4, 40, 40, 4, 4, 1, NAN);        /* NaN never passes */
    out_set(&o, 5, 50, 50, 4, 4, 0, 0.1f);
    oc_det_box b[6];
    int n = oc_detect_candidates(o.v, o.nc, o.A, 0.25f, b, 6);
    assert_int_equal(n, 3);
    /* sorted by score */
    assert_true(b[0].score == 0.95f && b[0].cls == 2);
    assert_true(b[1].score == 0.9f && b[1].cls == 1);
    assert_true(b[2].score == 0.2501f && b[2].cls == 0);
    /* cx,cy,w,h -> x1,y1,x2,y2 */
    assert_true(b[1].x1 == 90 && b[1].y1 == 45 && b[1].x2 == 110 && b[1].y2 == 55);
    /* cap */
    assert_int_equal(oc_detect_candidates(o.v, o.nc, o.A, 0.25f, b, 2), 2);
    assert_true(b[0].score == 0.95f && b[1].score == 0.9f);
    /* conf 0: every anchor with a positive score */
    assert_int_equal(oc_detect_candidates(o.v, o.nc, o.A, 0.0f, b, 6), 5);
    free(o.v);
}

static oc_det_box box(float x1, float y1, float x2, float y2, float s, int c)
{
    oc_det_box b = {x1, y1, x2, y2, s, c};
    return b;
}

static void test_iou(void **state)
{
    (void)state;
    oc_det_box a = box(0, 0, 10, 10, 1, 0), b = box(5, 0, 15, 10, 1, 0);
    assert_float_equal(oc_box_iou(&a, &b), 50.0 / 150.0, 1e-6);
    b = box(10, 0, 20, 10, 1, 0); /* touching: 0 */
    assert_float_equal(oc_box_iou(&a, &b), 0, 0);
    b = box(2, 2, 4, 4, 1, 0); /* contained */
    assert_float_equal(oc_box_iou(&a, &b), 4.0 / 100.0, 1e-6);
    b = box(3, 3, 3, 3, 1, 0); /* empty */
    assert_float_equal(oc_box_iou(&a, &b), 0, 0);
}

static void test_nms_same_and_different_class(void **state)
{
    (void)state;
    oc_det_box b[6];
    b[0] = box(0, 0, 100, 100, 0.9f, 0);
    b[1] = box(5, 5, 100, 100, 0.8f, 0);     /* IoU 0.9025 with b0: suppressed */
    b[2] = box(5, 5, 100, 100, 0.7f, 1);     /* same place, other class: kept */
    b[3] = box(0, 0, 100, 70, 0.6f, 0);      /* IoU exactly 0.7 with b0: kept (strict >) */
    b[4] = box(200, 200, 300, 300, 0.5f, 0); /* far away: kept */
    b[5] = box(0, 0, 100, 71, 0.4f, 0);      /* IoU 0.71 with b0: suppressed */
    int n = oc_detect_nms(b, 6, 0.7f, 0, 300);
    assert_int_equal(n, 4);
    assert_true(b[0].score == 0.9f);
    assert_true(b[1].score == 0.7f && b[1].cls == 1);
    assert_true(b[2].score == 0.6f);
    assert_true(b[3].score == 0.5f);

    /* agnostic: the other-class box is suppressed too; b[3]-like box vs the class-1 box */
    b[0] = box(0, 0, 100, 100, 0.9f, 0);
    b[1] = box(5, 5, 100, 100, 0.7f, 1);
    b[2] = box(200, 200, 300, 300, 0.5f, 3);
    n = oc_detect_nms(b, 3, 0.7f, 1, 300);
    assert_int_equal(n, 2);
    assert_true(b[0].score == 0.9f && b[1].score == 0.5f);

    /* a suppressed box does not suppress others (greedy against kept boxes only) */
    b[0] = box(0, 0, 10, 10, 0.9f, 0);
    b[1] = box(2, 0, 12, 10, 0.8f, 0);  /* IoU 8/12 = 0.667 with b0: kept at 0.6? no: > 0.6 */
    b[2] = box(4, 0, 14, 10, 0.7f, 0);  /* IoU with b0 6/14 = 0.43, with b1 0.667 */
    n = oc_detect_nms(b, 3, 0.6f, 0, 300);
    assert_int_equal(n, 2); /* b1 suppressed by b0; b2 survives because b1 is gone */
    assert_true(b[0].score == 0.9f && b[1].score == 0.7f);
}

static void test_max_det(void **state)
{
    (void)state;
    oc_det_box b[10];
    for (int i = 0; i < 10; i++) b[i] = box(20.f * i, 0, 20.f * i + 10, 10, 1.0f - 0.05f * i, i % 3);
    int n = oc_detect_nms(b, 10, 0.7f, 0, 4);
    assert_int_equal(n, 4);
    for (int i = 0; i < 4; i++) assert_float_equal(b[i].score, 1.0f - 0.05f * i, 1e-6);
    assert_int_equal(oc_detect_nms(b, 10, 0.7f, 0, 0), 0);
}

static void test_postprocess_full(void **state)
{
    (void)state;
    /* 2 classes, 400 identical strong boxes in a grid: max_det 300 caps them */
    int A = 500;
    out0 o = out_new(2, A);
    for (int a = 0; a < A; a++)
        out_set(&o, a, 16.f * (a % 25) + 8, 16.f * (a / 25) + 8, 10, 10, a % 2,
                a < 400 ? 0.5f + a * 0.001f : 0.1f);
    oc_detect_options opt;
    oc_detect_options_default(&opt);
    assert_float_equal(opt.conf_threshold, 0.25, 1e-7);
    assert_float_equal(opt.iou_threshold, 0.7, 1e-7);
    assert_int_equal(opt.max_det, 300);
    assert_int_equal(opt.agnostic_nms, 0);
    oc_letterbox_info lb = {.scale = 0.5f, .pad_left = 8, .pad_top = 0, .new_w = 400,
                            .new_h = 320, .out_w = 416, .out_h = 320};
    const char *names[2] = {"zero", "one"};
    oc_detections d;
    assert_int_equal(oc_detect_postprocess(o.v, 2, A, &opt, &lb, 800, 640, names, 2, &d), OC_OK);
    assert_int_equal(d.count, 300);
    /* highest score first: anchor 399 (class 1) at grid (24, 15) */
    assert_float_equal(d.items[0].score, 0.5f + 399 * 0.001f, 1e-6);
    assert_int_equal(d.items[0].class_id, 1);
    assert_string_equal(d.items[0].class_name, "one");
    /* letterbox box (16*24+8 +- 5, 16*15+8 +- 5) -> ((x - 8) / 0.5, y / 0.5) */
    assert_float_equal(d.items[0].x1, (16 * 24 + 8 - 5 - 8) / 0.5, 1e-3);
    assert_float_equal(d.items[0].y1, (16 * 15 + 8 - 5) / 0.5, 1e-3);
    assert_float_equal(d.items[0].x2, (16 * 24 + 8 + 5 - 8) / 0.5, 1e-3);
    for (int i = 1; i < d.count; i++) assert_true(d.items[i].score <= d.items[i - 1].score);
    oc_detections_free(&d);
    assert_null(d.items);
    assert_int_equal(d.count, 0);
    /* nothing above the threshold: an empty, valid result */
    opt.conf_threshold = 0.99f;
    assert_int_equal(oc_detect_postprocess(o.v, 2, A, &opt, &lb, 800, 640, names, 2, &d), OC_OK);
    assert_int_equal(d.count, 0);
    oc_detections_free(&d);
    assert_int_equal(oc_detect_postprocess(NULL, 2, A, &opt, &lb, 800, 640, names, 2, &d),
                     OC_ERR_INVALID_ARG);
    free(o.v);
}

static void test_unletterbox_clip(void **state)
{
    (void)state;
    oc_letterbox_info lb = {.scale = 0.5f, .pad_left = 0, .pad_top = 80};
    oc_det_box b[2] = {box(-10, 70, 50, 120, 1, 0), box(600, 500, 700, 650, 1, 0)};
    oc_detect_unletterbox(b, 2, &lb, 1200, 900);
    assert_float_equal(b[0].x1, 0, 0);      /* clipped */
    assert_float_equal(b[0].y1, 0, 0);      /* (70-80)/0.5 < 0: clipped */
    assert_float_equal(b[0].x2, 100, 1e-4);
    assert_float_equal(b[0].y2, 80, 1e-4);
    assert_float_equal(b[1].x1, 1200, 0);   /* 1200 exactly */
    assert_float_equal(b[1].x2, 1200, 0);   /* 1400 clipped */
    assert_float_equal(b[1].y1, 840, 1e-4);
    assert_float_equal(b[1].y2, 900, 0);    /* 1140 clipped */
}

/* a white rectangle in a grey image, letterboxed with the library: its edges found in the
 * letterboxed tensor map back onto the original rectangle within a pixel */
static void check_letterbox_inverse(int iw, int ih, int rx1, int ry1, int rx2, int ry2)
{
    oc_image img;
    assert_int_equal(oc_image_alloc(&img, iw, ih, 3), OC_OK);
    memset(img.data, 60, (size_t)iw * ih * 3);
    for (int y = ry1; y < ry2; y++)
        for (int x = rx1; x < rx2; x++) memset(img.data + ((size_t)y * iw + x) * 3, 250, 3);
    const int S = 320;
    float *chw = malloc(sizeof(float) * 3 * S * S);
    oc_letterbox_info lb;
    assert_int_equal(oc_letterbox_chw(&img, S, S, 114, chw, &lb), OC_OK);
    /* bright pixels in the first plane (> midway between 60 and 250) */
    int bx1 = S, by1 = S, bx2 = -1, by2 = -1;
    for (int y = 0; y < S; y++)
        for (int x = 0; x < S; x++)
            if (chw[y * S + x] * 255 > 155) {
                if (x < bx1) bx1 = x;
                if (y < by1) by1 = y;
                if (x > bx2) bx2 = x;
                if (y > by2) by2 = y;
            }
    assert_true(bx2 >= 0);
    oc_det_box b = box((float)bx1, (float)by1, (float)(bx2 + 1), (float)(by2 + 1), 1, 0);
    oc_detect_unletterbox(&b, 1, &lb, iw, ih);
    float tol = 1.0f / lb.scale + 1.0f; /* one letterbox pixel */
    assert_float_equal(b.x1, rx1, tol);
    assert_float_equal(b.y1, ry1, tol);
    assert_float_equal(b.x2, rx2, tol);
    assert_float_equal(b.y2, ry2, tol);
    /* the padding is 114 grey */
    if (lb.pad_top > 0) assert_float_equal(chw[0], 114 / 255.0, 1e-6);
    if (lb.pad_left > 0) assert_float_equal(chw[(S / 2) * S], 114 / 255.0, 1e-6);
    free(chw);
    oc_image_free(&img);
}

static void test_letterbox_inverse(void **state)
{
    (void)state;
    check_letterbox_inverse(810, 1080, 100, 400, 300, 900);  /* tall: pad left/right */
    check_letterbox_inverse(773, 512, 131, 87, 600, 447);    /* wide: pad top/bottom */
    check_letterbox_inverse(160, 160, 40, 20, 120, 150);     /* upscaled, no padding */
}

static void test_json_escaping(void **state)
{
    (void)state;
    oc_detection it[2] = {
        {1.04f, 2.0f, 30.56f, 40.0f, 0.87654f, 3, "tricky \"name\" \\ with\nnewline\ttab \x01"},
        {0, 0, 5, 5, 0.5f, 7, NULL},
    };
    oc_detections d = {it, 2, 1.5, 20.25, 0.125};
    char *js = oc_detections_json("dir/\"quoted\".jpg", 810, 1080, "m.safetensors", 3.25, &d, 0);
    assert_non_null(js);
    /* raw text: escapes present, no raw control characters */
    assert_non_null(strstr(js, "tricky \\\"name\\\" \\\\ with\\nnewline\\ttab \\u0001"));
    for (const char *p = js; *p; p++) assert_true((unsigned char)*p >= 0x20);
    cJSON *r = cJSON_Parse(js);
    assert_non_null(r);
    cJSON *im = cJSON_GetObjectItemCaseSensitive(r, "image");
    assert_string_equal(cJSON_GetObjectItem(im, "path")->valuestring, "dir/\"quoted\".jpg");
    assert_int_equal(cJSON_GetObjectItem(im, "width")->valueint, 810);
    assert_int_equal(cJSON_GetObjectItem(im, "height")->valueint, 1080);
    assert_string_equal(cJSON_GetObjectItem(r, "model")->valuestring, "m.safetensors");
    cJSON *t = cJSON_GetObjectItem(r, "timing_ms");
    assert_float_equal(cJSON_GetObjectItem(t, "decode")->valuedouble, 3.25, 1e-9);
    assert_float_equal(cJSON_GetObjectItem(t, "preprocess")->valuedouble, 1.5, 1e-9);
    assert_float_equal(cJSON_GetObjectItem(t, "inference")->valuedouble, 20.25, 1e-9);
    assert_float_equal(cJSON_GetObjectItem(t, "postprocess")->valuedouble, 0.125, 1e-9);
    cJSON *dets = cJSON_GetObjectItem(r, "detections");
    assert_int_equal(cJSON_GetArraySize(dets), 2);
    cJSON *e = cJSON_GetArrayItem(dets, 0);
    assert_int_equal(cJSON_GetObjectItem(e, "class_id")->valueint, 3);
    assert_string_equal(cJSON_GetObjectItem(e, "class_name")->valuestring, it[0].class_name);
    assert_float_equal(cJSON_GetObjectItem(e, "score")->valuedouble, 0.8765, 1e-9);
    cJSON *bx = cJSON_GetObjectItem(e, "box_xyxy");
    assert_int_equal(cJSON_GetArraySize(bx), 4);
    assert_float_equal(cJSON_GetArrayItem(bx, 0)->valuedouble, 1.0, 1e-9);
    assert_float_equal(cJSON_GetArrayItem(bx, 2)->valuedouble, 30.6, 1e-9);
    /* no class name: a generic one */
    e = cJSON_GetArrayItem(dets, 1);
    assert_string_equal(cJSON_GetObjectItem(e, "class_name")->valuestring, "class7");
    cJSON_Delete(r);
    oc_free(js);
}

static void test_detect_bad_args(void **state)
{
    (void)state;
    oc_detections d = {(oc_detection *)(uintptr_t)1, 5, 1, 1, 1};
    oc_image img = {0};
    assert_int_equal(oc_detect(NULL, &img, NULL, &d), OC_ERR_INVALID_ARG);
    assert_null(d.items);
    assert_int_equal(d.count, 0);
    oc_detections_free(NULL);
}

/* oc_detect letterboxes into the session's input slot and keeps its work buffers in the
 * session: a second call of the same shape allocates only the result's items, and gives the
 * same detections as a fresh session */
static void test_detect_same_shape_allocates_only_result(void **state)
{
    (void)state;
    const char *path = tu_tmp_path(".safetensors");
    assert_int_equal(oc_yolo_generate("yolo11", "n", 80, 64, 5, path), OC_OK);
    oc_model *m;
    assert_int_equal(oc_model_load(path, &m), OC_OK);
    oc_session *s;
    assert_int_equal(oc_session_create(m, &s), OC_OK);
    oc_image img;
    assert_int_equal(oc_image_alloc(&img, 100, 50, 3), OC_OK); /* resized and padded */
    for (int i = 0; i < 100 * 50 * 3; i++) img.data[i] = (uint8_t)(i * 37 + (i >> 7));
    oc_detect_options o;
    oc_detect_options_default(&o);
    o.conf_threshold = 0.0f; /* synthetic weights: keep whatever comes out */
    oc_detections d1, d2;
    assert_int_equal(oc_detect(s, &img, &o, &d1), OC_OK);
    oc_alloc_stats a0, a1;
    oc_get_alloc_stats(&a0);
    assert_int_equal(oc_detect(s, &img, &o, &d2), OC_OK);
    oc_get_alloc_stats(&a1);
    assert_int_equal(a1.allocs - a0.allocs, 1); /* d2.items */
    assert_int_equal(a1.frees - a0.frees, 0);
    assert_int_equal(d1.count, d2.count);
    for (int i = 0; i < d1.count; i++) {
        assert_true(d1.items[i].score == d2.items[i].score);
        assert_true(d1.items[i].x1 == d2.items[i].x1 && d1.items[i].y2 == d2.items[i].y2);
    }
    oc_detections_free(&d1);
    oc_detections_free(&d2);
    oc_image_free(&img);
    oc_session_free(s);
    oc_model_free(m);
    unlink(path);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_candidates_decode_and_threshold),
        cmocka_unit_test(test_iou),
        cmocka_unit_test(test_nms_same_and_different_class),
        cmocka_unit_test(test_max_det),
        cmocka_unit_test(test_postprocess_full),
        cmocka_unit_test(test_unletterbox_clip),
        cmocka_unit_test(test_letterbox_inverse),
        cmocka_unit_test(test_json_escaping),
        cmocka_unit_test(test_detect_bad_args),
        cmocka_unit_test(test_detect_same_shape_allocates_only_result),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}

/* Real COCO weights: convert ../shared/models/{yolo11n,yolov8n}_coco.onnx, detect on every
 * image of ../shared/expected/<model>.json and compare with the reference detections; the CLI
 * on bad input (non-image, truncated JPEG, a model file of another arch, missing or
 * mis-shaped tensors) exits 1 with a message. Skipped when ../shared is absent. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#include <cjson/cJSON.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "convert.h"
#include "tasks/detect.h"
#include "safetensors.h"
#include "testutil.h"

#define IOU_MIN 0.9f
#define SCORE_TOL 0.03f
#define EXTRA_MAX 0.3f

static char g_conv[2][512]; /* converted yolo11n, yolov8n ("" when not made) */
static const char *k_models[2] = {"yolo11n_coco", "yolov8n_coco"};

static char *read_text(const char *path)
{
    FILE *f = fopen(path, "rb");
    if (!f) return NULL;
    fseek(f, 0, SEEK_END);
    long n = ftell(f);
    fseek(f, 0, SEEK_SET);
    char *b = malloc((size_t)n + 1);
    if (b && fread(b, 1, (size_t)n, f) != (size_t)n) {
        free(b);
        b = NULL;
    }
    if (b) b[n] = '\0';
    fclose(f);
    return b;
}

static int convert_one(int i)
{
    char rel[128];
    snprintf(rel, sizeof rel, "models/%s.onnx", k_models[i]);
    if (!tu_shared_has(rel)) return 0;
    snprintf(g_conv[i], sizeof g_conv[i], "%s", tu_tmp_path(".safetensors"));
    double t0 = oc_now_ms();
    oc_status st = oc_convert_onnx(tu_shared_path(rel), g_conv[i], NULL, NULL);
    if (st) {
        fprintf(stderr, "convert %s: %s\n", rel, oc_last_error());
        g_conv[i][0] = '\0';
        return -1;
    }
    fprintf(stderr, "converted %s in %.0f ms\n", rel, oc_now_ms() - t0);
    return 0;
}

static int setup(void **state)
{
    (void)state;
    for (int i = 0; i < 2; i++) convert_one(i);
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    for (int i = 0; i < 2; i++)
        if (g_conv[i][0]) unlink(g_conv[i]);
    return 0;
}

static float iou4(const float *a, const oc_detection *b)
{
    oc_det_box x = {a[0], a[1], a[2], a[3], 0, 0}, y = {b->x1, b->y1, b->x2, b->y2, 0, 0};
    return oc_box_iou(&x, &y);
}

/* compare one model on every image of its expected file; returns the number of problems */
static void check_model(int mi)
{
    char rel[128];
    snprintf(rel, sizeof rel, "models/%s.onnx", k_models[mi]);
    TU_REQUIRE_SHARED(rel);
    snprintf(rel, sizeof rel, "expected/%s.json", k_models[mi]);
    TU_REQUIRE_SHARED(rel);
    assert_true(g_conv[mi][0] != '\0'); /* the conversion in setup worked */
    char *txt = read_text(tu_shared_path(rel));
    assert_non_null(txt);
    cJSON *exp = cJSON_Parse(txt);
    free(txt);
    assert_non_null(exp);
    cJSON *images = cJSON_GetObjectItem(exp, "images");
    assert_true(cJSON_IsObject(images));

    oc_model *m;
    oc_status st = oc_model_load(g_conv[mi], &m);
    if (st) fprintf(stderr, "%s\n", oc_last_error());
    assert_int_equal(st, OC_OK);
    oc_session *s;
    assert_int_equal(oc_session_create(m, &s), OC_OK);
    int problems = 0, n_images = 0, n_paired = 0;
    float worst_iou = 1, worst_dscore = 0;
    for (cJSON *im = images->child; im; im = im->next) {
        char irel[256];
        snprintf(irel, sizeof irel, "images/%s", im->string);
        if (!tu_shared_has(irel)) {
            fprintf(stderr, "SKIP image %s (absent)\n", irel);
            continue;
        }
        n_images++;
        oc_image img;
        assert_int_equal(oc_image_load(tu_shared_path(irel), &img), OC_OK);
        cJSON *size = cJSON_GetObjectItem(im, "size");
        assert_int_equal(cJSON_GetArrayItem(size, 0)->valueint, img.width);
        assert_int_equal(cJSON_GetArrayItem(size, 1)->valueint, img.height);
        oc_detections d;
        st = oc_detect(s, &img, NULL, &d);
        if (st) fprintf(stderr, "%s\n", oc_last_error());
        assert_int_equal(st, OC_OK);
        fprintf(stderr, "%s on %s: %d detections (pre %.1f ms, inference %.1f ms, post %.2f ms)\n",
                k_models[mi], im->string, d.count, d.ms_preprocess, d.ms_inference,
                d.ms_postprocess);
        cJSON *ed = cJSON_GetObjectItem(im, "detections");
        int ne = cJSON_GetArraySize(ed);
        char *used = calloc((size_t)d.count + 1, 1);
        for (int k = 0; k < ne; k++) {
            cJSON *e = cJSON_GetArrayItem(ed, k);
            int cls = cJSON_GetObjectItem(e, "class_id")->valueint;
            float sc = (float)cJSON_GetObjectItem(e, "score")->valuedouble;
            cJSON *bx = cJSON_GetObjectItem(e, "box_xyxy");
            float b[4];
            for (int q = 0; q < 4; q++) b[q] = (float)cJSON_GetArrayItem(bx, q)->valuedouble;
            int best = -1;
            float best_iou = 0;
            for (int j = 0; j < d.count; j++) {
                if (used[j] || d.items[j].class_id != cls) continue;
                float v = iou4(b, &d.items[j]);
                if (v > best_iou) {
                    best_iou = v;
                    best = j;
                }
            }
            int ok = best >= 0 && best_iou >= IOU_MIN &&
                     fabsf(d.items[best].score - sc) <= SCORE_TOL;
            if (ok) {
                used[best] = 1;
                n_paired++;
                if (best_iou < worst_iou) worst_iou = best_iou;
                if (fabsf(d.items[best].score - sc) > worst_dscore)
                    worst_dscore = fabsf(d.items[best].score - sc);
                assert_string_equal(d.items[best].class_name,
                                    cJSON_GetObjectItem(e, "class_name")->valuestring);
            } else if (sc < 0.25f + SCORE_TOL) {
                /* within the score tolerance of the threshold: may fall either side */
                fprintf(stderr, "  note: borderline expected %s %.3f not paired\n",
                        cJSON_GetObjectItem(e, "class_name")->valuestring, (double)sc);
            } else {
                problems++;
                fprintf(stderr, "  MISMATCH %s: expected class %d score %.4f box [%.1f %.1f %.1f "
                        "%.1f]; best same-class IoU %.3f%s", im->string, cls, (double)sc,
                        (double)b[0], (double)b[1], (double)b[2], (double)b[3], (double)best_iou,
                        best >= 0 ? "" : " (none)\n");
                if (best >= 0)
                    fprintf(stderr, " with score %.4f box [%.1f %.1f %.1f %.1f]\n",
                            (double)d.items[best].score, (double)d.items[best].x1,
                            (double)d.items[best].y1, (double)d.items[best].x2,
                            (double)d.items[best].y2);
            }
        }
        for (int j = 0; j < d.count; j++) {
            if (used[j] || d.items[j].score <= EXTRA_MAX) continue;
            problems++;
            fprintf(stderr, "  EXTRA %s: %s %.4f [%.1f %.1f %.1f %.1f]\n", im->string,
                    d.items[j].class_name, (double)d.items[j].score, (double)d.items[j].x1,
                    (double)d.items[j].y1, (double)d.items[j].x2, (double)d.items[j].y2);
        }
        free(used);
        oc_detections_free(&d);
        oc_image_free(&img);
    }
    fprintf(stderr, "%s: %d images, %d reference boxes paired (lowest IoU %.4f, largest score "
            "difference %.4f), %d problems\n", k_models[mi], n_images, n_paired,
            (double)worst_iou, (double)worst_dscore, problems);
    assert_true(n_images > 0);
    assert_true(n_paired > 0);
    assert_int_equal(problems, 0);
    oc_session_free(s);
    oc_model_free(m);
    cJSON_Delete(exp);
}

static void test_yolo11n_matches_reference(void **state)
{
    (void)state;
    if (tu_under_valgrind()) { /* one 640x640 inference takes many minutes under memcheck */
        fprintf(stderr, "SKIP: real-weights inference under valgrind (the conversion in setup "
                        "and the native CLI runs still happen)\n");
        skip();
    }
    check_model(0);
}

static void test_yolov8n_matches_reference(void **state)
{
    (void)state;
    if (tu_under_valgrind()) {
        fprintf(stderr, "SKIP: real-weights inference under valgrind\n");
        skip();
    }
    check_model(1);
}

/* the bus and the people in it (DESIGN.md section 8), with the converted metadata */
static void test_bus_has_bus_and_people(void **state)
{
    (void)state;
    TU_REQUIRE_SHARED("images/bus.jpg");
    TU_REQUIRE_SHARED("models/yolo11n_coco.onnx");
    if (tu_under_valgrind()) {
        fprintf(stderr, "SKIP: four more inferences are too slow under valgrind\n");
        skip();
    }
    assert_true(g_conv[0][0] != '\0');
    oc_model *m;
    assert_int_equal(oc_model_load(g_conv[0], &m), OC_OK);
    assert_string_equal(oc_model_arch(m), "yolo11");
    assert_string_equal(oc_model_scale(m), "n");
    assert_int_equal(oc_model_num_classes(m), 80);
    assert_string_equal(oc_model_class_name(m, 5), "bus");
    oc_session *s;
    assert_int_equal(oc_session_create(m, &s), OC_OK);
    oc_image img;
    assert_int_equal(oc_image_load(tu_shared_path("images/bus.jpg"), &img), OC_OK);
    oc_detect_options o;
    oc_detect_options_default(&o);
    oc_detections d;
    assert_int_equal(oc_detect(s, &img, &o, &d), OC_OK);
    int bus = 0, people = 0;
    for (int i = 0; i < d.count; i++) {
        if (!strcmp(d.items[i].class_name, "bus")) bus++;
        if (!strcmp(d.items[i].class_name, "person") && d.items[i].score > 0.5f) people++;
        assert_true(d.items[i].x1 >= 0 && d.items[i].x2 <= img.width);
        assert_true(d.items[i].y1 >= 0 && d.items[i].y2 <= img.height);
        assert_true(d.items[i].x1 <= d.items[i].x2 && d.items[i].y1 <= d.items[i].y2);
    }
    assert_int_equal(bus, 1);
    assert_true(people >= 4);
    oc_detections_free(&d);
    /* max_det and a higher threshold */
    o.max_det = 2;
    assert_int_equal(oc_detect(s, &img, &o, &d), OC_OK);
    assert_int_equal(d.count, 2);
    oc_detections_free(&d);
    o.max_det = 300;
    o.conf_threshold = 0.95f;
    assert_int_equal(oc_detect(s, &img, &o, &d), OC_OK);
    assert_int_equal(d.count, 0);
    oc_detections_free(&d);
    o.conf_threshold = 1.5f;
    assert_int_equal(oc_detect(s, &img, &o, &d), OC_ERR_INVALID_ARG);
    oc_image_free(&img);
    oc_session_free(s);
    oc_model_free(m);
}

/* ---- the CLI ---- */
static const char *cli_path(void)
{
    static char p[512];
    const char *b = getenv("BUILD");
    snprintf(p, sizeof p, "%s/ocellus", b && *b ? b : "build");
    return p;
}

/* run the CLI with args; returns the exit code and the stderr text in err */
static int run_cli(const char *args, char *err, size_t errcap)
{
    const char *ef = tu_tmp_path(".err");
    char cmd[4096];
    snprintf(cmd, sizeof cmd, "%s %s >/dev/null 2>%s", cli_path(), args, ef);
    int rc = system(cmd);
    char *t = read_text(ef);
    snprintf(err, errcap, "%s", t ? t : "");
    free(t);
    unlink(ef);
    if (rc == -1 || !WIFEXITED(rc)) return -1; /* a crash is never an exit code */
    return WEXITSTATUS(rc);
}

/* write a copy of the converted yolo11n file with arch/tensors altered */
static void write_variant(const char *src, const char *dst, const char *arch, const char *drop,
                          const char *reshape)
{
    oc_st_file *f;
    assert_int_equal(oc_st_open(src, &f), OC_OK);
    oc_st_writer *w = oc_st_writer_new();
    for (size_t i = 0; i < oc_st_num_meta(f); i++) {
        const char *k, *v;
        oc_st_meta_at(f, i, &k, &v);
        if (arch && !strcmp(k, "ocellus.arch")) v = arch;
        assert_int_equal(oc_st_writer_meta(w, k, v), OC_OK);
    }
    for (size_t i = 0; i < oc_st_num_tensors(f); i++) {
        const oc_st_tensor *t = oc_st_tensor_at(f, i);
        if (drop && !strcmp(t->name, drop)) continue;
        int64_t shape[OC_ST_MAX_DIMS];
        memcpy(shape, t->shape, sizeof shape);
        int nd = t->ndim;
        if (reshape && !strcmp(t->name, reshape)) { /* same bytes, transposed dims */
            int64_t x = shape[0];
            shape[0] = shape[1];
            shape[1] = x;
        }
        assert_int_equal(oc_st_writer_add(w, t->name, t->dtype, nd, shape, t->data), OC_OK);
    }
    assert_int_equal(oc_st_writer_save(w, dst), OC_OK);
    oc_st_writer_free(w);
    oc_st_close(f);
}

static void test_cli(void **state)
{
    (void)state;
    TU_REQUIRE_SHARED("images/bus.jpg");
    TU_REQUIRE_SHARED("models/yolo11n_coco.onnx");
    if (access(cli_path(), X_OK) != 0) {
        fprintf(stderr, "SKIP: %s not built\n", cli_path());
        skip();
    }
    assert_true(g_conv[0][0] != '\0');
    char err[8192], args[4096];
    const char *model = g_conv[0];
    const char *bus = tu_shared_path("images/bus.jpg");

    /* success: JSON and annotated PNG */
    const char *js = tu_tmp_path(".json"), *png = tu_tmp_path(".png");
    snprintf(args, sizeof args, "detect --model %s --image %s --json %s --out %s --threads 2",
             model, bus, js, png);
    assert_int_equal(run_cli(args, err, sizeof err), 0);
    char *txt = read_text(js);
    assert_non_null(txt);
    cJSON *r = cJSON_Parse(txt);
    free(txt);
    assert_non_null(r);
    cJSON *im = cJSON_GetObjectItem(r, "image");
    assert_int_equal(cJSON_GetObjectItem(im, "width")->valueint, 810);
    assert_int_equal(cJSON_GetObjectItem(im, "height")->valueint, 1080);
    cJSON *dets = cJSON_GetObjectItem(r, "detections");
    assert_true(cJSON_GetArraySize(dets) >= 5);
    assert_string_equal(cJSON_GetObjectItem(cJSON_GetArrayItem(dets, 0), "class_name")->valuestring,
                        "person");
    assert_non_null(cJSON_GetObjectItem(cJSON_GetObjectItem(r, "timing_ms"), "inference"));
    cJSON_Delete(r);
    oc_image out, in;
    assert_int_equal(oc_image_load(png, &out), OC_OK);
    assert_int_equal(oc_image_load(bus, &in), OC_OK);
    assert_int_equal(out.width, in.width);
    assert_int_equal(out.height, in.height);
    /* the annotation changed pixels */
    size_t diff = 0;
    for (size_t i = 0; i < (size_t)in.width * in.height * 3; i++) diff += out.data[i] != in.data[i];
    assert_true(diff > 1000);
    oc_image_free(&out);
    unlink(js);
    unlink(png);

    /* a directory plus a repeated --image (at 320 to keep it quick): a JSON array, one PNG
     * per image in the --out directory */
    const char *dir = tu_tmp_path(".d");
    char images_dir[512];
    snprintf(images_dir, sizeof images_dir, "%s", tu_shared_path("images"));
    snprintf(args, sizeof args, "detect --model %s --image %s --image %s --imgsz 320 --json %s "
             "--out %s", model, images_dir, bus, js, dir);
    assert_int_equal(run_cli(args, err, sizeof err), 0);
    txt = read_text(js);
    assert_non_null(txt);
    r = cJSON_Parse(txt);
    free(txt);
    assert_true(cJSON_IsArray(r));
    int n_img = cJSON_GetArraySize(r);
    assert_true(n_img >= 2);
    /* the last entry is bus.jpg given by name; the first is from the directory, sorted */
    assert_string_equal(cJSON_GetObjectItem(cJSON_GetObjectItem(cJSON_GetArrayItem(r, n_img - 1),
                                                                "image"), "path")->valuestring,
                        bus);
    cJSON_Delete(r);
    char p2[600];
    snprintf(p2, sizeof p2, "%s/bus.png", dir);
    assert_int_equal(access(p2, R_OK), 0);
    snprintf(args, sizeof args, "rm -rf '%s'", dir);
    assert_int_equal(system(args), 0);
    unlink(js);

    /* a non-image */
    const char *notimg = tu_tmp_path(".jpg");
    assert_int_equal(tu_write_file(notimg, "this is not an image\n", 21), 0);
    snprintf(args, sizeof args, "detect --model %s --image %s", model, notimg);
    assert_int_equal(run_cli(args, err, sizeof err), 1);
    assert_non_null(strstr(err, notimg));
    unlink(notimg);

    /* a truncated JPEG (first 40% of bus.jpg) */
    char *jpg = read_text(bus);
    FILE *f = fopen(bus, "rb");
    fseek(f, 0, SEEK_END);
    long n = ftell(f);
    fclose(f);
    const char *trunc = tu_tmp_path(".jpg");
    assert_int_equal(tu_write_file(trunc, jpg, (size_t)(n * 2 / 5)), 0);
    free(jpg);
    snprintf(args, sizeof args, "detect --model %s --image %s", model, trunc);
    assert_int_equal(run_cli(args, err, sizeof err), 1);
    assert_non_null(strstr(err, trunc));
    unlink(trunc);

    /* a model file that says another architecture */
    const char *v = tu_tmp_path(".safetensors");
    write_variant(model, v, "yolov8", NULL, NULL);
    snprintf(args, sizeof args, "detect --model %s --image %s", v, bus);
    assert_int_equal(run_cli(args, err, sizeof err), 1);
    assert_non_null(strstr(err, "model."));  /* names the offending tensor */
    write_variant(model, v, "rtdetr", NULL, NULL);
    assert_int_equal(run_cli(args, err, sizeof err), 1);
    assert_non_null(strstr(err, "rtdetr"));
    /* a missing tensor */
    write_variant(model, v, NULL, "model.13.cv1.conv.weight", NULL);
    assert_int_equal(run_cli(args, err, sizeof err), 1);
    assert_non_null(strstr(err, "model.13.cv1.conv"));
    /* a mis-shaped tensor */
    write_variant(model, v, NULL, NULL, "model.4.cv2.conv.weight");
    assert_int_equal(run_cli(args, err, sizeof err), 1);
    assert_non_null(strstr(err, "model.4.cv2.conv"));
    unlink(v);

    /* convert: wrong arch forced, and a file that is not ONNX */
    snprintf(args, sizeof args, "convert --input %s -o %s --arch yolov8",
             tu_shared_path("models/yolo11n_coco.onnx"), v);
    assert_int_equal(run_cli(args, err, sizeof err), 1);
    assert_non_null(strstr(err, "does not load"));
    assert_int_equal(access(v, F_OK), -1);
    snprintf(args, sizeof args, "convert --input %s -o %s", bus, v);
    assert_int_equal(run_cli(args, err, sizeof err), 1);
    assert_true(strlen(err) > 10);
    assert_int_equal(access(v, F_OK), -1);
    /* usage errors: exit 2 */
    assert_int_equal(run_cli("detect --model", err, sizeof err), 2);
    snprintf(args, sizeof args, "detect --model %s --image %s --conf 7", model, bus);
    assert_int_equal(run_cli(args, err, sizeof err), 2);
    oc_image_free(&in);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_yolo11n_matches_reference),
        cmocka_unit_test(test_yolov8n_matches_reference),
        cmocka_unit_test(test_bus_has_bus_and_people),
        cmocka_unit_test(test_cli),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}

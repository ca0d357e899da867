/* YOLO11 / YOLOv8 builders: parity with the reference (ultralytics 8.3.228) on the fixtures in
 * ../shared/fixtures/{yolo11n,yolo11-ltiny}, on every ISA path the CPU has and 1 and 2
 * threads; bad model files; synthetic weights (oc_yolo_generate) for both families. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "internal.h"
#include "models/yolo/yolo_common.h"
#include "safetensors.h"
#include "parity.h"
#include "testutil.h"

/* parity cases via tu_parity_case (tests/util/parity.c): layers 0..22 of yolo11.yaml */
static void parity_all_paths(const char *fixture, int all640)
{
    char rel[256];
    snprintf(rel, sizeof rel, "fixtures/%s/model.safetensors", fixture);
    TU_REQUIRE_SHARED(rel);
    snprintf(rel, sizeof rel, "fixtures/%s/io.safetensors", fixture);
    TU_REQUIRE_SHARED(rel);
    /* every path up to the one in use (OCELLUS_ISA=avx2 caps it, e.g. under valgrind) */
    const oc_isa top = oc_get_isa();
    if (tu_under_valgrind()) {
        tu_parity_case(fixture, "yolo11", 23,
                       top >= OC_ISA_AVX2 ? OC_ISA_AVX2 : OC_ISA_SCALAR, 1, 0);
        return;
    }
    for (int isa = OC_ISA_SCALAR; isa <= (int)top; isa++) {
        tu_parity_case(fixture, "yolo11", 23, (oc_isa)isa, 1, 0);
        /* the 640 case once per path */
        tu_parity_case(fixture, "yolo11", 23, (oc_isa)isa, 2, all640 || isa == (int)top);
    }
}

static void test_parity_yolo11n(void **state)
{
    (void)state;
    parity_all_paths("yolo11n", 1);
}

static void test_parity_yolo11_ltiny(void **state)
{
    (void)state;
    if (tu_under_valgrind()) { /* same kernels as yolo11n; minutes under valgrind */
        fprintf(stderr, "SKIP: yolo11-ltiny parity under valgrind (yolo11n covers the kernels)\n");
        skip();
    }
    parity_all_paths("yolo11-ltiny", 0);
}

/* The same weights with BatchNorm folded by the test into conv.weight + conv.bias (the fused
 * export form) give the same outputs. */
static void test_fused_export_matches(void **state)
{
    (void)state;
    if (tu_under_valgrind()) {
        fprintf(stderr, "SKIP: fused-export parity under valgrind (a full 320 run)\n");
        skip();
    }
    TU_REQUIRE_SHARED("fixtures/yolo11n/model.safetensors");
    TU_REQUIRE_SHARED("fixtures/yolo11n/io.safetensors");
    oc_st_file *f = NULL;
    assert_int_equal(oc_st_open(tu_shared_path("fixtures/yolo11n/model.safetensors"), &f), OC_OK);
    oc_st_writer *w = oc_st_writer_new();
    assert_non_null(w);
    int fused = 0;
    for (size_t i = 0; i < oc_st_num_tensors(f); i++) {
        const oc_st_tensor *t = oc_st_tensor_at(f, i);
        const char *bn = strstr(t->name, ".bn.");
        if (bn) continue;
        const char *cw = strstr(t->name, ".conv.weight");
        int64_t any[4] = {-1, -1, -1, -1};
        if (cw && cw[12] == '\0') {
            char pre[256], nm[300];
            snprintf(pre, sizeof pre, "%.*s", (int)(cw - t->name), t->name);
            snprintf(nm, sizeof nm, "%s.bn.weight", pre);
            float *wt = NULL;
            assert_int_equal(oc_st_load_f32(f, t->name, 4, any, &wt), OC_OK);
            if (oc_st_find(f, nm)) {
                float *g, *b, *mu, *var;
                int64_t c1[1] = {t->shape[0]};
                assert_int_equal(oc_st_load_f32(f, nm, 1, c1, &g), OC_OK);
                snprintf(nm, sizeof nm, "%s.bn.bias", pre);
                assert_int_equal(oc_st_load_f32(f, nm, 1, c1, &b), OC_OK);
                snprintf(nm, sizeof nm, "%s.bn.running_mean", pre);
                assert_int_equal(oc_st_load_f32(f, nm, 1, c1, &mu), OC_OK);
                snprintf(nm, sizeof nm, "%s.bn.running_var", pre);
                assert_int_equal(oc_st_load_f32(f, nm, 1, c1, &var), OC_OK);
                size_t per = t->numel / (size_t)t->shape[0];
                for (int64_t o = 0; o < t->shape[0]; o++) {
                    float sc = g[o] / sqrtf(var[o] + 1e-3f);
                    for (size_t k = 0; k < per; k++) wt[o * per + k] *= sc;
                    b[o] -= mu[o] * sc;
                }
                snprintf(nm, sizeof nm, "%s.conv.bias", pre);
                assert_int_equal(oc_st_writer_add(w, nm, OC_DT_F32, 1, c1, b), OC_OK);
                oc_free(g);
                oc_free(b);
                oc_free(mu);
                oc_free(var);
                fused++;
            }
            assert_int_equal(oc_st_writer_add(w, t->name, OC_DT_F32, 4, t->shape, wt), OC_OK);
            oc_free(wt);
            continue;
        }
        /* plain tensors (Detect's last convs, dfl) as they are */
        float *p = NULL;
        int64_t anyn[OC_ST_MAX_DIMS];
        for (int k = 0; k < OC_ST_MAX_DIMS; k++) anyn[k] = -1;
        if (t->dtype != OC_DT_F32) continue;
        assert_int_equal(oc_st_load_f32(f, t->name, t->ndim, anyn, &p), OC_OK);
        assert_int_equal(oc_st_writer_add(w, t->name, OC_DT_F32, t->ndim, t->shape, p), OC_OK);
        oc_free(p);
    }
    assert_true(fused > 50);
    assert_int_equal(oc_st_writer_meta(w, "ocellus.format_version", "1"), OC_OK);
    assert_int_equal(oc_st_writer_meta(w, "ocellus.arch", "yolo11"), OC_OK);
    assert_int_equal(oc_st_writer_meta(w, "ocellus.scale", "n"), OC_OK);
    assert_int_equal(oc_st_writer_meta(w, "ocellus.num_classes", "80"), OC_OK);
    const char *path = tu_tmp_path(".safetensors");
    assert_int_equal(oc_st_writer_save(w, path), OC_OK);
    oc_st_writer_free(w);
    oc_st_close(f);

    oc_model *m = NULL;
    oc_status st = oc_model_load(path, &m);
    if (st) fprintf(stderr, "%s\n", oc_last_error());
    assert_int_equal(st, OC_OK);
    oc_st_file *io = NULL;
    assert_int_equal(oc_st_open(tu_shared_path("fixtures/yolo11n/io.safetensors"), &io), OC_OK);
    oc_session *s = NULL;
    assert_int_equal(oc_session_create(m, &s), OC_OK);
    double worst = 0;
    tu_run_input(s, io, "images_320");
    tu_expect_close(s, "output0", io, "output0_320", "yolo11n fused", &worst);
    oc_session_free(s);
    oc_st_close(io);
    oc_model_free(m);
    unlink(path);
}

/* ---- bad models ---- */
/* copy src to a new file, dropping `drop` and giving `reshape` the shape [rs0, rs1, 1, 1] */
static const char *rewrite(const char *src, const char *drop, const char *reshape, int64_t rs0,
                           int64_t rs1, const char *arch_override)
{
    oc_st_file *f = NULL;
    assert_int_equal(oc_st_open(src, &f), OC_OK);
    oc_st_writer *w = oc_st_writer_new();
    for (size_t i = 0; i < oc_st_num_tensors(f); i++) {
        const oc_st_tensor *t = oc_st_tensor_at(f, i);
        if (drop && !strcmp(t->name, drop)) continue;
        if (reshape && !strcmp(t->name, reshape)) {
            int64_t sh[4] = {rs0, rs1, 1, 1};
            float *z = calloc((size_t)(rs0 * rs1), sizeof(float));
            assert_int_equal(oc_st_writer_add(w, t->name, OC_DT_F32, 4, sh, z), OC_OK);
            free(z);
            continue;
        }
        assert_int_equal(oc_st_writer_add(w, t->name, t->dtype, t->ndim, t->shape, t->data),
                         OC_OK);
    }
    for (size_t i = 0; i < oc_st_num_meta(f); i++) {
        const char *k, *v;
        oc_st_meta_at(f, i, &k, &v);
        if (arch_override && !strcmp(k, "ocellus.arch")) v = arch_override;
        assert_int_equal(oc_st_writer_meta(w, k, v), OC_OK);
    }
    const char *out = tu_tmp_path(".safetensors");
    assert_int_equal(oc_st_writer_save(w, out), OC_OK);
    oc_st_writer_free(w);
    oc_st_close(f);
    return out;
}

static void expect_load_fails_naming(const char *path, const char *tensor)
{
    oc_model *m = NULL;
    oc_status st = oc_model_load(path, &m);
    assert_int_not_equal(st, OC_OK);
    assert_null(m);
    const char *msg = oc_last_error();
    if (!strstr(msg, tensor)) {
        fprintf(stderr, "message does not name '%s': %s\n", tensor, msg);
        fail();
    }
}

static void test_bad_models(void **state)
{
    (void)state;
    char src[512];
    snprintf(src, sizeof src, "%s", tu_tmp_path(".safetensors"));
    assert_int_equal(oc_yolo_generate("yolo11", "n", 80, 640, 7, src), OC_OK);

    /* a missing tensor */
    const char *p = rewrite(src, "model.10.m.0.attn.qkv.conv.weight", NULL, 0, 0, NULL);
    expect_load_fails_naming(p, "model.10.m.0.attn.qkv.conv.weight");
    unlink(p);
    /* a mis-shaped tensor */
    p = rewrite(src, NULL, "model.4.cv1.conv.weight", 64, 32, NULL);
    expect_load_fails_naming(p, "model.4.cv1.conv.weight");
    unlink(p);
    /* a missing fused bias (neither BatchNorm nor conv.bias) */
    p = rewrite(src, "model.9.cv2.conv.bias", NULL, 0, 0, NULL);
    expect_load_fails_naming(p, "model.9.cv2");
    unlink(p);
    /* another architecture's tensors: YOLO11 weights labelled yolov8 (C2f's bottleneck differs) */
    p = rewrite(src, NULL, NULL, 0, 0, "yolov8");
    expect_load_fails_naming(p, "model.2.m.0.cv1.conv.weight");
    unlink(p);
    unlink(src);
}

/* ---- synthetic weights ---- */
static void run_synthetic(const char *arch, const char *scale, int n, int h, int w, oc_model **mo,
                          oc_session **so, oc_tensor *out)
{
    const char *path = tu_tmp_path(".safetensors");
    oc_status st = oc_yolo_generate(arch, scale, 80, 640, 1, path);
    if (st) fprintf(stderr, "gen: %s\n", oc_last_error());
    assert_int_equal(st, OC_OK);
    oc_model *m = NULL;
    st = oc_model_load(path, &m);
    if (st) fprintf(stderr, "load: %s\n", oc_last_error());
    assert_int_equal(st, OC_OK);
    unlink(path);
    assert_string_equal(oc_model_arch(m), arch);
    assert_int_equal(oc_model_num_classes(m), 80);
    assert_string_equal(oc_model_class_name(m, 0), "person");
    oc_session *s = NULL;
    assert_int_equal(oc_session_create(m, &s), OC_OK);
    assert_int_equal(oc_session_set_keep_layers(s, 1), OC_OK);
    float *x = malloc((size_t)n * 3 * h * w * sizeof(float));
    tu_fill_uniform(x, (size_t)n * 3 * h * w, 5, 0.0f, 1.0f);
    oc_tensor in = {.name = "images", .ndim = 4, .dims = {n, 3, h, w}, .data = x};
    st = oc_session_run(s, &in, 1);
    if (st) fprintf(stderr, "run: %s\n", oc_last_error());
    free(x);
    assert_int_equal(st, OC_OK);
    assert_int_equal(oc_session_num_outputs(s), 1);
    assert_int_equal(oc_session_output(s, 0, out), OC_OK);
    *mo = m;
    *so = s;
}

/* activations O(1) through the net; boxes and scores well-formed */
static void check_synthetic_output(const oc_session *s, const oc_tensor *o, int nlayers)
{
    for (int i = 0; i < nlayers; i++) {
        char nm[32];
        oc_tensor t;
        snprintf(nm, sizeof nm, "layer%d", i);
        assert_int_equal(oc_session_tensor(s, nm, &t), OC_OK);
        float mx = tu_max_abs(t.data, tu_numel(&t));
        if (!(mx > 0.05f && mx < 100.0f)) {
            fprintf(stderr, "%s: max |x| = %g (not O(1))\n", nm, (double)mx);
            fail();
        }
    }
    const int64_t A = o->dims[2];
    int64_t passing = 0;
    for (int64_t a = 0; a < A; a++) {
        float bw = o->data[2 * A + a], bh = o->data[3 * A + a];
        assert_true(bw > 0 && bh > 0 && isfinite(bw) && isfinite(bh));
        for (int c = 0; c < 80; c++) {
            float sc = o->data[(4 + c) * A + a];
            assert_true(sc > 0.0f && sc < 1.0f);
            passing += sc > 0.25f;
        }
    }
    /* a few candidates, not a flood, pass a 0.25 threshold */
    assert_true(passing < A * 80 / 20);
}

static void test_yolov8_synthetic(void **state)
{
    (void)state;
    oc_model *m;
    oc_session *s;
    oc_tensor o;
    run_synthetic("yolov8", "n", 1, 320, 320, &m, &s, &o);
    assert_int_equal(o.ndim, 3);
    assert_int_equal(o.dims[0], 1);
    assert_int_equal(o.dims[1], 84);
    assert_int_equal(o.dims[2], 2100);
    check_synthetic_output(s, &o, 22);
    oc_session_free(s);
    oc_model_free(m);
}

static void test_yolo11_synthetic_batch(void **state)
{
    (void)state;
    oc_model *m;
    oc_session *s;
    oc_tensor o;
    /* batch 2 at a non-square size: each image must equal its own batch-1 run */
    const int H = tu_under_valgrind() ? 128 : 256, W = tu_under_valgrind() ? 160 : 320;
    run_synthetic("yolo11", "n", 2, H, W, &m, &s, &o);
    assert_int_equal(o.dims[0], 2);
    assert_int_equal(o.dims[1], 84);
    const int64_t A = (H / 8) * (W / 8) + (H / 16) * (W / 16) + (H / 32) * (W / 32);
    assert_int_equal(o.dims[2], A);
    size_t per = (size_t)84 * A;
    float *both = malloc(2 * per * sizeof(float));
    memcpy(both, o.data, 2 * per * sizeof(float));

    float *x = malloc((size_t)2 * 3 * H * W * sizeof(float));
    tu_fill_uniform(x, (size_t)2 * 3 * H * W, 5, 0.0f, 1.0f);
    for (int b = 0; b < 2; b++) {
        oc_tensor in = {.name = "images", .ndim = 4, .dims = {1, 3, H, W}, .data = x + (size_t)b * 3 * H * W};
        assert_int_equal(oc_session_run(s, &in, 1), OC_OK);
        oc_tensor o1;
        assert_int_equal(oc_session_output(s, 0, &o1), OC_OK);
        assert_int_equal(o1.dims[0], 1);
        float mx = tu_max_abs(o1.data, per);
        float d = tu_max_abs_diff(o1.data, both + (size_t)b * per, per);
        if (!(d <= 1e-4f * mx)) {
            fprintf(stderr, "batch item %d differs from its single run: %g (max %g)\n", b,
                    (double)d, (double)mx);
            fail();
        }
        if (b == 0) check_synthetic_output(s, &o1, 23);
    }
    /* an input that is not a multiple of 32 fails with a message */
    oc_tensor bad = {.name = "images", .ndim = 4, .dims = {1, 3, 100, W}, .data = x};
    assert_int_not_equal(oc_session_run(s, &bad, 1), OC_OK);
    assert_non_null(strstr(oc_last_error(), "multiple of 32"));
    free(x);
    free(both);
    oc_session_free(s);
    oc_model_free(m);
}

static void test_generate_deterministic(void **state)
{
    (void)state;
    char a[512], b[512], c[512];
    snprintf(a, sizeof a, "%s", tu_tmp_path(".safetensors"));
    snprintf(b, sizeof b, "%s", tu_tmp_path(".safetensors"));
    snprintf(c, sizeof c, "%s", tu_tmp_path(".safetensors"));
    assert_int_equal(oc_yolo_generate("yolov8", "n", 3, 320, 42, a), OC_OK);
    assert_int_equal(oc_yolo_generate("yolov8", "n", 3, 320, 42, b), OC_OK);
    assert_int_equal(oc_yolo_generate("yolov8", "n", 3, 320, 43, c), OC_OK);
    oc_st_file *fa, *fb, *fc;
    assert_int_equal(oc_st_open(a, &fa), OC_OK);
    assert_int_equal(oc_st_open(b, &fb), OC_OK);
    assert_int_equal(oc_st_open(c, &fc), OC_OK);
    assert_string_equal(oc_st_meta(fa, "ocellus.arch"), "yolov8");
    assert_string_equal(oc_st_meta(fa, "ocellus.num_classes"), "3");
    assert_string_equal(oc_st_meta(fa, "ocellus.format_version"), "1");
    assert_string_equal(oc_st_meta(fa, "ocellus.class_names"), "[\"class0\",\"class1\",\"class2\"]");
    assert_int_equal(oc_st_num_tensors(fa), oc_st_num_tensors(fb));
    const oc_st_tensor *ta = oc_st_find(fa, "model.22.cv3.0.2.weight");
    const oc_st_tensor *tb = oc_st_find(fb, "model.22.cv3.0.2.weight");
    const oc_st_tensor *tc = oc_st_find(fc, "model.22.cv3.0.2.weight");
    assert_non_null(ta);
    assert_int_equal(ta->shape[0], 3);
    assert_int_equal(memcmp(ta->data, tb->data, ta->end - ta->begin), 0);
    assert_int_not_equal(memcmp(ta->data, tc->data, ta->end - ta->begin), 0);
    oc_st_close(fa);
    oc_st_close(fb);
    oc_st_close(fc);
    unlink(a);
    unlink(b);
    unlink(c);

    /* parameter counts of the reference summaries (yolo11.yaml / yolov8.yaml comments, which
     * count the DFL conv too) against every tensor the generator writes */
    static const struct { const char *arch, *scale; uint64_t params; } ref[] = {
        {"yolo11", "n", 2624080}, {"yolov8", "n", 3157200}, {"yolo11", "s", 9458752},
        {"yolov8", "s", 11166560},
    };
    for (size_t i = 0; i < sizeof ref / sizeof ref[0]; i++) {
        if (tu_under_valgrind() && i > 1) break;
        assert_int_equal(oc_yolo_generate(ref[i].arch, ref[i].scale, 80, 640, 1, a), OC_OK);
        oc_st_file *f;
        assert_int_equal(oc_st_open(a, &f), OC_OK);
        uint64_t n = 0;
        for (size_t k = 0; k < oc_st_num_tensors(f); k++) {
            /* the file is fused (conv.weight + conv.bias); the reference counts BatchNorm's
             * weight and bias instead of a conv bias: one more parameter per channel */
            const oc_st_tensor *t = oc_st_tensor_at(f, k);
            size_t L = strlen(t->name);
            n += t->numel;
            if (L > 10 && !strcmp(t->name + L - 10, ".conv.bias")) n += t->numel;
        }
        oc_st_close(f);
        if (n != ref[i].params)
            fprintf(stderr, "%s%s: %llu parameters, reference %llu\n", ref[i].arch,
                    ref[i].scale, (unsigned long long)n, (unsigned long long)ref[i].params);
        assert_true(n == ref[i].params);
    }
    unlink(a);
    assert_int_not_equal(oc_yolo_generate("yolo11", "q", 80, 640, 1, a), OC_OK);
    assert_int_not_equal(oc_yolo_generate("resnet", "n", 80, 640, 1, a), OC_OK);
}

/* ---- the CLI: ocellus gen / ocellus run ---- */
static int run_cmd(const char *cmd, char *out, size_t cap)
{
    FILE *p = popen(cmd, "r");
    if (!p) return -1;
    size_t n = fread(out, 1, cap - 1, p);
    out[n] = 0;
    int rc = pclose(p);
    return WIFEXITED(rc) ? WEXITSTATUS(rc) : -1;
}

static void test_cli_gen_run(void **state)
{
    (void)state;
    const char *build = getenv("BUILD");
    char bin[512], cmd[4096], model[512], in[512], outp[512];
    static char out[1 << 16];
    snprintf(bin, sizeof bin, "%s/ocellus", build && *build ? build : "build");
    if (access(bin, X_OK) != 0) {
        fprintf(stderr, "SKIP: %s not built\n", bin);
        skip();
    }
    snprintf(model, sizeof model, "%s", tu_tmp_path(".safetensors"));
    snprintf(in, sizeof in, "%s", tu_tmp_path(".safetensors"));
    snprintf(outp, sizeof outp, "%s", tu_tmp_path(".safetensors"));
    /* usage errors: exit 2 */
    snprintf(cmd, sizeof cmd, "%s gen --arch yolov8 2>&1", bin);
    assert_int_equal(run_cmd(cmd, out, sizeof out), 2);
    snprintf(cmd, sizeof cmd, "%s gen --arch yolov8 --scale q -o %s 2>&1", bin, model);
    assert_int_equal(run_cmd(cmd, out, sizeof out), 2);
    assert_non_null(strstr(out, "unknown scale 'q'"));
    snprintf(cmd, sizeof cmd, "%s run --model %s 2>&1", bin, model);
    assert_int_equal(run_cmd(cmd, out, sizeof out), 2);
    snprintf(cmd, sizeof cmd, "%s gen --help", bin);
    assert_int_equal(run_cmd(cmd, out, sizeof out), 0);
    assert_non_null(strstr(out, "--scale"));
    /* gen: 5 classes */
    snprintf(cmd, sizeof cmd, "%s gen --arch yolov8 --scale n --classes 5 --seed 3 -o %s 2>&1",
             bin, model);
    assert_int_equal(run_cmd(cmd, out, sizeof out), 0);
    /* an input file: one 1x3x64x96 tensor (not named images: used by order) */
    float *x = malloc(3 * 64 * 96 * sizeof(float));
    tu_fill_uniform(x, 3 * 64 * 96, 11, 0.0f, 1.0f);
    oc_st_writer *w = oc_st_writer_new();
    const int64_t sh[4] = {1, 3, 64, 96};
    assert_int_equal(oc_st_writer_add(w, "pixels", OC_DT_F32, 4, sh, x), OC_OK);
    assert_int_equal(oc_st_writer_save(w, in), OC_OK);
    oc_st_writer_free(w);
    snprintf(cmd, sizeof cmd, "%s run --model %s --input %s --output %s --layers --threads 1 2>&1",
             bin, model, in, outp);
    int rc = run_cmd(cmd, out, sizeof out);
    if (rc) fprintf(stderr, "%s\n", out);
    assert_int_equal(rc, 0);
    /* the same through the API */
    oc_model *m = NULL;
    assert_int_equal(oc_model_load(model, &m), OC_OK);
    oc_session *s = NULL;
    assert_int_equal(oc_session_create(m, &s), OC_OK);
    assert_int_equal(oc_session_set_num_threads(s, 1), OC_OK);
    oc_tensor it = {.name = "images", .ndim = 4, .dims = {1, 3, 64, 96}, .data = x};
    assert_int_equal(oc_session_run(s, &it, 1), OC_OK);
    oc_tensor o;
    assert_int_equal(oc_session_output(s, 0, &o), OC_OK);
    oc_st_file *f = NULL;
    assert_int_equal(oc_st_open(outp, &f), OC_OK);
    const oc_st_tensor *t = oc_st_find(f, "output0");
    assert_non_null(t);
    const int64_t A = 8 * 12 + 4 * 6 + 2 * 3;
    assert_int_equal(t->ndim, 3);
    assert_int_equal(t->shape[1], 4 + 5);
    assert_int_equal(t->shape[2], A);
    float *got = NULL;
    int64_t any[3] = {-1, -1, -1};
    assert_int_equal(oc_st_load_f32(f, "output0", 3, any, &got), OC_OK);
    assert_true(tu_max_abs_diff(got, o.data, (size_t)(9 * A)) == 0.0f);
    oc_free(got);
    for (int i = 0; i <= 21; i++) {
        char nm[32];
        snprintf(nm, sizeof nm, "layer%d", i);
        assert_non_null(oc_st_find(f, nm));
    }
    assert_null(oc_st_find(f, "layer22"));
    oc_st_close(f);
    oc_session_free(s);
    oc_model_free(m);
    free(x);
    /* a bad model: exit 1 with the loader's message */
    snprintf(cmd, sizeof cmd, "%s run --model %s --input %s --output %s 2>&1", bin, in, in, outp);
    assert_int_equal(run_cmd(cmd, out, sizeof out), 1);
    unlink(model);
    unlink(in);
    unlink(outp);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_generate_deterministic),
        cmocka_unit_test(test_bad_models),
        cmocka_unit_test(test_yolov8_synthetic),
        cmocka_unit_test(test_yolo11_synthetic_batch),
        cmocka_unit_test(test_fused_export_matches),
        cmocka_unit_test(test_cli_gen_run),
        cmocka_unit_test(test_parity_yolo11n),
        cmocka_unit_test(test_parity_yolo11_ltiny),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}

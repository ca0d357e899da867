/* YOLO12 builder (src/models/yolo/yolo12.c): parity with the reference (ultralytics 8.3.228) on
 * ../shared/fixtures/yolo12n (n/s path: A2C2f with area attention) and yolo12-ltiny (l/x path:
 * residual A2C2f with gamma, mlp ratio 1.2), on every ISA path the CPU has and 1 and 2
 * threads; synthetic weights (oc_yolo_generate "yolo12"): parameter counts of the reference's
 * summaries, batch items equal to single runs, activations O(1); a missing gamma fails, a
 * [1][C][1][1] gamma (ONNX export form) works. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "internal.h"
#include "models/yolo/yolo_common.h"
#include "safetensors.h"
#include "parity.h"
#include "testutil.h"

/* the family's descriptor: the registry must hand out this very object */
extern const oc_arch oc_arch_yolo12;

/* parity cases via tu_parity_case (tests/util/parity.c): layers 0..20 of yolo12.yaml */
static void parity_all_paths(const char *fixture)
{
    char rel[256];
    snprintf(rel, sizeof rel, "fixtures/%s/model.safetensors", fixture);
    TU_REQUIRE_SHARED(rel);
    snprintf(rel, sizeof rel, "fixtures/%s/io.safetensors", fixture);
    TU_REQUIRE_SHARED(rel);
    if (tu_under_valgrind()) {
        tu_parity_case(fixture, "yolo12", 21,
                       oc_cpu_best_isa() >= OC_ISA_AVX2 ? OC_ISA_AVX2 : OC_ISA_SCALAR, 1, 0);
        return;
    }
    int did640 = 0;
    for (int isa = OC_ISA_SCALAR; isa <= (int)oc_cpu_best_isa(); isa++) {
        tu_parity_case(fixture, "yolo12", 21, (oc_isa)isa, 1, 0);
        /* 640 once (on the best path) to keep the suite short */
        int last = isa == (int)oc_cpu_best_isa();
        tu_parity_case(fixture, "yolo12", 21, (oc_isa)isa, 2, last && !did640);
        did640 |= last;
    }
}

static void test_parity_yolo12n(void **state)
{
    (void)state;
    parity_all_paths("yolo12n");
}

static void test_parity_yolo12_ltiny(void **state)
{
    (void)state;
    if (tu_under_valgrind()) {
        /* test_gamma_4d runs this fixture's output0 once; keep the valgrind suite short */
        fprintf(stderr, "SKIP under valgrind: yolo12-ltiny parity on every path\n");
        skip();
    }
    parity_all_paths("yolo12-ltiny");
}

/* ---- synthetic weights ---- */
static void test_registry(void **state)
{
    (void)state;
    assert_ptr_equal(oc_find_arch("yolo12"), &oc_arch_yolo12);
    assert_string_equal(oc_arch_yolo12.name, "yolo12");
    assert_string_equal(oc_arch_yolo12.task, "detect_yolo");
}

/* the reference's parameter counts (n: the yolo12n fixture's state_dict without BatchNorm
 * statistics; s: yolo12.yaml's summary) against every tensor the generator writes
 * (the fused file has conv.bias where the reference counts BatchNorm weight + bias) */
static void test_generate_param_counts(void **state)
{
    (void)state;
    static const struct { const char *scale; uint64_t params; } ref[] = {
        {"n", 2602288}, {"s", 9284096},
    };
    const char *path = tu_tmp_path(".safetensors");
    for (size_t i = 0; i < sizeof ref / sizeof ref[0]; i++) {
        if (tu_under_valgrind() && i > 0) break;
        oc_status st = oc_yolo_generate("yolo12", ref[i].scale, 80, 640, 1, path);
        if (st) fprintf(stderr, "gen: %s\n", oc_last_error());
        assert_int_equal(st, OC_OK);
        oc_st_file *f;
        assert_int_equal(oc_st_open(path, &f), OC_OK);
        assert_string_equal(oc_st_meta(f, "ocellus.arch"), "yolo12");
        uint64_t n = 0;
        for (size_t k = 0; k < oc_st_num_tensors(f); k++) {
            const oc_st_tensor *t = oc_st_tensor_at(f, k);
            size_t L = strlen(t->name);
            n += t->numel;
            if (L > 10 && !strcmp(t->name + L - 10, ".conv.bias")) n += t->numel;
        }
        /* n/s have no gamma (only l/x use the residual form) */
        assert_null(oc_st_find(f, "model.6.gamma"));
        assert_non_null(oc_st_find(f, "model.6.m.1.1.attn.pe.conv.weight"));
        oc_st_close(f);
        if (n != ref[i].params)
            fprintf(stderr, "yolo12%s: %llu parameters, reference %llu\n", ref[i].scale,
                    (unsigned long long)n, (unsigned long long)ref[i].params);
        assert_true(n == ref[i].params);
    }
    unlink(path);
}

static oc_model *gen_load(const char *scale)
{
    const char *path = tu_tmp_path(".safetensors");
    oc_status st = oc_yolo_generate("yolo12", scale, 80, 640, 7, path);
    if (st) fprintf(stderr, "gen: %s\n", oc_last_error());
    assert_int_equal(st, OC_OK);
    oc_model *m = NULL;
    st = oc_model_load(path, &m);
    if (st) fprintf(stderr, "load: %s\n", oc_last_error());
    unlink(path);
    assert_int_equal(st, OC_OK);
    assert_string_equal(oc_model_arch(m), "yolo12");
    return m;
}

/* batch 2 at a non-square size (area attention per image): each image equals its own run;
 * activations O(1); scores in (0, 1) */
static void test_synthetic_batch(void **state)
{
    (void)state;
    oc_model *m = gen_load("n");
    oc_session *s = NULL;
    assert_int_equal(oc_session_create(m, &s), OC_OK);
    assert_int_equal(oc_session_set_keep_layers(s, 1), OC_OK);
    const int H = tu_under_valgrind() ? 64 : 192, W = tu_under_valgrind() ? 96 : 256;
    size_t img = (size_t)3 * H * W;
    float *x = malloc(2 * img * sizeof(float));
    assert_non_null(x);
    tu_fill_uniform(x, img, 11, 0.0f, 1.0f);
    tu_fill_uniform(x + img, img, 12, 0.2f, 0.6f); /* a different, dimmer image */
    oc_tensor in = {.name = "images", .ndim = 4, .dims = {2, 3, H, W}, .data = x};
    oc_status st = oc_session_run(s, &in, 1);
    if (st) fprintf(stderr, "run: %s\n", oc_last_error());
    assert_int_equal(st, OC_OK);
    oc_tensor o;
    assert_int_equal(oc_session_output(s, 0, &o), OC_OK);
    const int64_t A = (H / 8) * (W / 8) + (H / 16) * (W / 16) + (H / 32) * (W / 32);
    assert_int_equal(o.dims[0], 2);
    assert_int_equal(o.dims[1], 84);
    assert_int_equal(o.dims[2], A);
    size_t per = (size_t)84 * A;
    float *both = malloc(2 * per * sizeof(float));
    assert_non_null(both);
    memcpy(both, o.data, 2 * per * sizeof(float));
    for (int b = 0; b < 2; b++) {
        oc_tensor in1 = {.name = "images", .ndim = 4, .dims = {1, 3, H, W}, .data = x + (size_t)b * img};
        assert_int_equal(oc_session_run(s, &in1, 1), OC_OK);
        oc_tensor o1;
        assert_int_equal(oc_session_output(s, 0, &o1), OC_OK);
        float mx = tu_max_abs(o1.data, per);
        float d = tu_max_abs_diff(o1.data, both + (size_t)b * per, per);
        if (!(d <= 1e-4f * mx)) {
            fprintf(stderr, "batch item %d differs from its single run: %g (max %g)\n", b,
                    (double)d, (double)mx);
            fail();
        }
        if (b == 1) {
            /* the two images give different outputs (the input matters) */
            /* the input matters: the class scores of the two images differ */
            float dd = tu_max_abs_diff(both + 4 * A, both + per + 4 * A, (size_t)80 * A);
            if (!(dd > 1e-3f)) {
                fprintf(stderr, "the two images give nearly the same scores (max diff %g)\n",
                        (double)dd);
                fail();
            }
            for (int i = 0; i <= 20; i++) {
                char nm[32];
                oc_tensor t;
                snprintf(nm, sizeof nm, "layer%d", i);
                assert_int_equal(oc_session_tensor(s, nm, &t), OC_OK);
                float a = tu_max_abs(t.data, tu_numel(&t));
                if (!(a > 0.05f && a < 100.0f)) {
                    fprintf(stderr, "%s: max |x| = %g (not O(1))\n", nm, (double)a);
                    fail();
                }
            }
            for (int64_t a = 0; a < A; a++) {
                assert_true(o1.data[2 * A + a] > 0 && o1.data[3 * A + a] > 0);
                for (int c = 0; c < 80; c++) {
                    float sc = o1.data[(4 + c) * A + a];
                    assert_true(sc > 0.0f && sc < 1.0f);
                }
            }
        }
    }
    free(x);
    free(both);
    oc_session_free(s);
    oc_model_free(m);
}

/* a copy of the yolo12-ltiny fixture without model.8.gamma (drop4 = 0) or with both gammas
 * in the [1][C][1][1] form of an ONNX export's folded Mul operand (drop4 = 1) */
static const char *rewrite_ltiny(int drop4)
{
    const char *rel = "fixtures/yolo12-ltiny/model.safetensors";
    oc_st_file *src;
    assert_int_equal(oc_st_open(tu_shared_path(rel), &src), OC_OK);
    oc_st_writer *w = oc_st_writer_new();
    assert_non_null(w);
    int n4 = 0;
    for (size_t k = 0; k < oc_st_num_tensors(src); k++) {
        const oc_st_tensor *t = oc_st_tensor_at(src, k);
        size_t L = strlen(t->name);
        int is_gamma = L > 6 && !strcmp(t->name + L - 6, ".gamma");
        if (is_gamma && !drop4 && !strcmp(t->name, "model.8.gamma")) continue;
        if (is_gamma && drop4) {
            int64_t s4[4] = {1, t->shape[0], 1, 1};
            assert_int_equal(t->ndim, 1);
            assert_int_equal(oc_st_writer_add(w, t->name, t->dtype, 4, s4, t->data), OC_OK);
            n4++;
            continue;
        }
        assert_int_equal(oc_st_writer_add(w, t->name, t->dtype, t->ndim, t->shape, t->data),
                         OC_OK);
    }
    if (drop4) assert_int_equal(n4, 2);
    static const char *keys[] = {"config", "scale", "depth_multiple", "width_multiple",
                                 "max_channels", "nc"};
    for (size_t i = 0; i < sizeof keys / sizeof keys[0]; i++)
        if (oc_st_meta(src, keys[i]))
            assert_int_equal(oc_st_writer_meta(w, keys[i], oc_st_meta(src, keys[i])), OC_OK);
    const char *path = tu_tmp_path(".safetensors");
    assert_int_equal(oc_st_writer_save(w, path), OC_OK);
    oc_st_writer_free(w);
    oc_st_close(src);
    return path;
}

/* the l/x residual form needs its gamma: a fixture without it fails naming the tensor */
static void test_missing_gamma(void **state)
{
    (void)state;
    TU_REQUIRE_SHARED("fixtures/yolo12-ltiny/model.safetensors");
    const char *path = rewrite_ltiny(0);
    oc_model *m = NULL;
    assert_int_not_equal(oc_model_load(path, &m), OC_OK);
    assert_null(m);
    if (!strstr(oc_last_error(), "model.8.gamma"))
        fprintf(stderr, "message does not name the tensor: %s\n", oc_last_error());
    assert_non_null(strstr(oc_last_error(), "model.8.gamma"));
    unlink(path);
}

/* gamma stored as [1][C][1][1] gives the reference's output too */
static void test_gamma_4d(void **state)
{
    (void)state;
    TU_REQUIRE_SHARED("fixtures/yolo12-ltiny/model.safetensors");
    TU_REQUIRE_SHARED("fixtures/yolo12-ltiny/io.safetensors");
    const char *path = rewrite_ltiny(1);
    oc_model *m = NULL;
    oc_status st = oc_model_load(path, &m);
    if (st) fprintf(stderr, "load: %s\n", oc_last_error());
    unlink(path);
    assert_int_equal(st, OC_OK);
    oc_st_file *io = NULL;
    assert_int_equal(oc_st_open(tu_shared_path("fixtures/yolo12-ltiny/io.safetensors"), &io),
                     OC_OK);
    oc_session *s = NULL;
    assert_int_equal(oc_session_create(m, &s), OC_OK);
    assert_int_equal(oc_session_set_num_threads(s, 1), OC_OK);
    double worst = 0;
    tu_run_input(s, io, "images_320");
    tu_expect_close(s, "output0", io, "output0_320", "yolo12-ltiny (4-d gamma)", &worst);
    oc_session_free(s);
    oc_st_close(io);
    oc_model_free(m);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_registry),
        cmocka_unit_test(test_generate_param_counts),
        cmocka_unit_test(test_synthetic_batch),
        cmocka_unit_test(test_missing_gamma),
        cmocka_unit_test(test_gamma_4d),
        cmocka_unit_test(test_parity_yolo12n),
        cmocka_unit_test(test_parity_yolo12_ltiny),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}

/* RT-DETR model files: the generator's tensors load and run (any batch, other sizes than
 * 640), the converter round-trips, and bad input is refused with a message naming what is
 * wrong: another family's state_dict, a missing or mis-shaped tensor, a variant that does not
 * match, a bad config, a bad input size. Uses a small custom configuration (no ../shared). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "internal.h"
#include "convert.h"
#include "model.h"
#include "models/rtdetr/rtdetr.h"
#include "parity.h"
#include "safetensors.h"
#include "testutil.h"

/* a reduced R18-like configuration (BasicBlock) or R50-like (BottleNeck, expansion 1) */
static rtdetr_hp small_hp(int bottleneck)
{
    rtdetr_hp hp;
    assert_true(rtdetr_variant_hp(bottleneck ? "r50vd" : "r18vd", &hp));
    hp.stem = 8;
    const int sc[4] = {8, 8, 16, 16};
    memcpy(hp.stage_ch, sc, sizeof sc);
    hp.back_out[0] = sc[1] * (bottleneck ? 4 : 1);
    hp.back_out[1] = sc[2] * (bottleneck ? 4 : 1);
    hp.back_out[2] = sc[3] * (bottleneck ? 4 : 1);
    hp.enc_hidden = 24; /* heads 8 -> dh 3: the scalar deformable path */
    hp.enc_ffn = 32;
    hp.dec_hidden = 16;
    hp.dec_ffn = 32;
    hp.num_classes = 5;
    hp.num_queries = 50;
    hp.num_top = 60;
    hp.eval_h = hp.eval_w = 128;
    snprintf(hp.variant, sizeof hp.variant, "custom");
    return hp;
}

/* write a model file from hp (synthetic tensors); drop: a tensor to leave out; reshape: a
 * tensor to write with one more element in dim 0; meta_over: extra/overriding metadata */
static const char *write_model(const rtdetr_hp *hp, const char *drop, const char *reshape,
                               const char *scale, const char *config_over)
{
    oc_st_writer *tmp = oc_st_writer_new();
    assert_int_equal(rtdetr_gen_tensors(hp, 7, tmp), OC_OK);
    const char *p1 = tu_tmp_path(".safetensors");
    char path1[512];
    snprintf(path1, sizeof path1, "%s", p1);
    assert_int_equal(oc_st_writer_save(tmp, path1), OC_OK);
    oc_st_writer_free(tmp);
    oc_st_file *f = NULL;
    assert_int_equal(oc_st_open(path1, &f), OC_OK);
    oc_st_writer *w = oc_st_writer_new();
    for (size_t i = 0; i < oc_st_num_tensors(f); i++) {
        const oc_st_tensor *t = oc_st_tensor_at(f, i);
        if (drop && !strcmp(t->name, drop)) continue;
        if (reshape && !strcmp(t->name, reshape)) {
            int64_t shp[8];
            memcpy(shp, t->shape, sizeof shp);
            shp[0] += 1;
            size_t n = t->numel / (size_t)t->shape[0] * (size_t)shp[0];
            float *z = calloc(n, sizeof(float));
            assert_int_equal(oc_st_writer_add(w, t->name, OC_DT_F32, t->ndim, shp, z), OC_OK);
            free(z);
            continue;
        }
        assert_int_equal(oc_st_writer_add(w, t->name, t->dtype, t->ndim, t->shape, t->data), OC_OK);
    }
    oc_st_close(f);
    remove(path1);
    char *js = rtdetr_hp_to_json(hp), nc[16];
    snprintf(nc, sizeof nc, "%d", hp->num_classes);
    assert_int_equal(oc_st_writer_meta(w, "ocellus.format_version", "1"), OC_OK);
    assert_int_equal(oc_st_writer_meta(w, "ocellus.arch", "rtdetr"), OC_OK);
    assert_int_equal(oc_st_writer_meta(w, "ocellus.scale", scale ? scale : "custom"), OC_OK);
    assert_int_equal(oc_st_writer_meta(w, "ocellus.num_classes", nc), OC_OK);
    assert_int_equal(oc_st_writer_meta(w, "ocellus.input_size", "128"), OC_OK);
    assert_int_equal(oc_st_writer_meta(w, "ocellus.rtdetr.config", config_over ? config_over : js),
                     OC_OK);
    oc_free(js);
    static char path[512];
    snprintf(path, sizeof path, "%s", tu_tmp_path(".safetensors"));
    assert_int_equal(oc_st_writer_save(w, path), OC_OK);
    oc_st_writer_free(w);
    return path;
}

static void expect_load_error(const char *path, const char *needle)
{
    oc_model *m = NULL;
    oc_status st = oc_model_load(path, &m);
    if (st == OC_OK || !strstr(oc_last_error(), needle))
        fprintf(stderr, "expected a load error with '%s', got %d: %s\n", needle, st,
                st ? oc_last_error() : "(loaded)");
    assert_int_not_equal(st, OC_OK);
    assert_null(m);
    assert_non_null(strstr(oc_last_error(), needle));
    remove(path);
}

static void run_model(const char *path, int n, int h, int w, int nq, int ntop, int nc)
{
    oc_model *m = NULL;
    oc_status st = oc_model_load(path, &m);
    if (st) fprintf(stderr, "%s\n", oc_last_error());
    assert_int_equal(st, OC_OK);
    oc_session *s = NULL;
    assert_int_equal(oc_session_create(m, &s), OC_OK);
    size_t numel = (size_t)n * 3 * h * w;
    float *x = malloc(numel * sizeof(float));
    tu_fill_uniform(x, numel, 3, 0.0f, 1.0f);
    oc_tensor in = {.name = "images", .ndim = 4, .dims = {n, 3, h, w}, .data = x, .dtype = OC_DTYPE_F32};
    st = oc_session_run(s, &in, 1);
    if (st) fprintf(stderr, "%s\n", oc_last_error());
    assert_int_equal(st, OC_OK);
    oc_tensor t;
    assert_int_equal(oc_session_tensor(s, "pred_logits", &t), OC_OK);
    assert_int_equal(t.dims[0], n);
    assert_int_equal(t.dims[1], nq);
    assert_int_equal(t.dims[2], nc);
    for (size_t i = 0; i < tu_numel(&t); i++) assert_true(isfinite(t.data[i]));
    assert_int_equal(oc_session_tensor(s, "boxes", &t), OC_OK);
    assert_int_equal(t.dims[1], ntop);
    assert_int_equal(oc_session_tensor(s, "scores", &t), OC_OK);
    for (int i = 1; i < ntop; i++) assert_true(t.data[i] <= t.data[i - 1]); /* descending */
    assert_int_equal(oc_session_tensor(s, "labels", &t), OC_OK);
    for (int i = 0; i < ntop; i++) assert_true(t.data[i] >= 0 && t.data[i] < nc);
    /* a size that is not a multiple of 32 is refused with a message */
    in.dims[2] = h + 16;
    float *y = malloc((size_t)n * 3 * (h + 16) * w * sizeof(float));
    memset(y, 0, (size_t)n * 3 * (h + 16) * w * sizeof(float));
    in.data = y;
    st = oc_session_run(s, &in, 1);
    assert_int_not_equal(st, OC_OK);
    assert_non_null(strstr(oc_last_error(), "multiples of 32"));
    free(y);
    free(x);
    oc_session_free(s);
    oc_model_free(m);
}

static void test_generated_runs(void **state)
{
    (void)state;
    for (int bn = 0; bn < 2; bn++) {
        rtdetr_hp hp = small_hp(bn);
        const char *p = write_model(&hp, NULL, NULL, NULL, NULL);
        run_model(p, 2, 128, 160, hp.num_queries, hp.num_top, hp.num_classes); /* not square */
        remove(p);
    }
}

static void test_convert_roundtrip_and_variant(void **state)
{
    (void)state;
    rtdetr_hp hp = small_hp(0);
    const char *p = write_model(&hp, NULL, NULL, NULL, NULL);
    char src[512];
    snprintf(src, sizeof src, "%s", p);
    char out[512];
    snprintf(out, sizeof out, "%s", tu_tmp_path(".safetensors"));
    /* the config in the metadata is enough; the structure is R18's */
    assert_int_equal(rtdetr_convert_file(src, NULL, out), OC_OK);
    oc_model *m = NULL;
    assert_int_equal(oc_model_load(out, &m), OC_OK);
    assert_string_equal(oc_model_scale(m), "r18vd");
    oc_model_free(m);
    remove(out);
    assert_int_equal(rtdetr_convert_file(src, "r18vd", out), OC_OK);
    remove(out);
    /* through the generic converter (the family told by the config in the metadata): the
     * same file, loaded back before it takes its name; an unwritable output names the
     * user's path, not a temporary one */
    assert_int_equal(oc_convert_state_dict(src, out, NULL, NULL, 0), OC_OK);
    m = NULL;
    assert_int_equal(oc_model_load(out, &m), OC_OK);
    assert_string_equal(oc_model_arch(m), "rtdetr");
    oc_model_free(m);
    remove(out);
    assert_int_equal(oc_convert_state_dict(src, "/nonexistent-dir/x.safetensors", NULL, NULL, 0),
                     OC_ERR_IO);
    assert_non_null(strstr(oc_last_error(), "/nonexistent-dir/x.safetensors: cannot write"));
    /* a variant that does not match the file */
    assert_int_not_equal(rtdetr_convert_file(src, "r50vd", out), OC_OK);
    assert_non_null(strstr(oc_last_error(), "does not match"));
    assert_int_not_equal(rtdetr_convert_file(src, "r99", out), OC_OK);
    assert_non_null(strstr(oc_last_error(), "unknown RT-DETR variant"));
    remove(src);
    /* a file whose metadata names a variant its config is not */
    p = write_model(&hp, NULL, NULL, "r50vd", NULL);
    expect_load_error(p, "names variant 'r50vd'");
}

static void test_bad_files(void **state)
{
    (void)state;
    rtdetr_hp hp = small_hp(1);
    expect_load_error(write_model(&hp, "decoder.decoder.layers.2.cross_attn.value_proj.weight",
                                  NULL, NULL, NULL),
                      "decoder.decoder.layers.2.cross_attn.value_proj.weight");
    expect_load_error(write_model(&hp, NULL, "backbone.res_layers.2.blocks.4.branch2b.norm.running_var",
                                  NULL, NULL),
                      "backbone.res_layers.2.blocks.4.branch2b.norm.running_var");
    expect_load_error(write_model(&hp, NULL, "encoder.encoder.0.layers.0.self_attn.in_proj_weight",
                                  NULL, NULL),
                      "in_proj_weight");
    expect_load_error(write_model(&hp, NULL, NULL, NULL, "{\"PResNet\": {}}"), "HybridEncoder");
    expect_load_error(write_model(&hp, NULL, NULL, NULL,
                                  "{\"PResNet\": {\"depth\": 50}, \"HybridEncoder\": {\"hidden_dim\""
                                  ": 30}, \"RTDETRTransformer\": {\"feat_channels\": [30, 30, 30]}}"),
                      "not a multiple of its 8 heads");
    expect_load_error(write_model(&hp, NULL, NULL, NULL, "not json"), "not a JSON object");
    /* another family's state_dict */
    oc_st_writer *w = oc_st_writer_new();
    const int64_t s[4] = {16, 3, 3, 3};
    float z[432] = {0};
    assert_int_equal(oc_st_writer_add(w, "model.0.conv.weight", OC_DT_F32, 4, s, z), OC_OK);
    char path[512];
    snprintf(path, sizeof path, "%s", tu_tmp_path(".safetensors"));
    assert_int_equal(oc_st_writer_save(w, path), OC_OK);
    oc_st_writer_free(w);
    char out[512];
    snprintf(out, sizeof out, "%s", tu_tmp_path(".safetensors"));
    assert_int_not_equal(rtdetr_convert_file(path, NULL, out), OC_OK);
    assert_non_null(strstr(oc_last_error(), "not an RT-DETR"));
    remove(path);
}

static void test_variants_table(void **state)
{
    (void)state;
    /* the paper's configurations (the rtdetr_rNNvd_6x_coco.yml configs) */
    struct {
        const char *v;
        int bottleneck, b2, enc, ffn, layers, out2;
        double exp;
    } want[] = {{"r18vd", 0, 2, 256, 1024, 3, 512, 0.5},
                {"r34vd", 0, 6, 256, 1024, 4, 512, 0.5},
                {"r50vd", 1, 6, 256, 1024, 6, 2048, 1.0},
                {"r101vd", 1, 23, 384, 2048, 6, 2048, 1.0}};
    for (int i = 0; i < 4; i++) {
        rtdetr_hp hp;
        assert_true(rtdetr_variant_hp(want[i].v, &hp));
        assert_int_equal(hp.bottleneck, want[i].bottleneck);
        assert_int_equal(hp.blocks[2], want[i].b2);
        assert_int_equal(hp.enc_hidden, want[i].enc);
        assert_int_equal(hp.enc_ffn, want[i].ffn);
        assert_int_equal(hp.dec_layers, want[i].layers);
        assert_int_equal(hp.back_out[2], want[i].out2);
        assert_true(hp.expansion == want[i].exp);
        assert_int_equal(hp.dec_hidden, 256);
        /* the JSON form reads back to the same hyper-parameters */
        char *js = rtdetr_hp_to_json(&hp);
        rtdetr_hp back;
        assert_int_equal(rtdetr_hp_from_json(js, "test", &back), OC_OK);
        assert_memory_equal(&back, &hp, sizeof hp);
        oc_free(js);
    }
    rtdetr_hp hp;
    assert_false(rtdetr_variant_hp("r152vd", &hp));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_variants_table),
        cmocka_unit_test(test_generated_runs),
        cmocka_unit_test(test_convert_roundtrip_and_variant),
        cmocka_unit_test(test_bad_files),
    };
    return cmocka_run_group_tests_name("rtdetr_load", tests, NULL, NULL);
}

/* test_sam2_decoder.c -- SAM2's "decode" stage (prompt encoder + mask decoder) against
 * ../shared/fixtures/sam2-*: for every prompt pN the sparse embedding, the dense embedding of
 * a mask prompt, the four IoUs, token 0's raw mask, the multimask and the single-mask outputs
 * (stability fallback included) and the object score, within 1e-3 of each tensor's largest
 * magnitude. The decoder graph is fed the fixture's image_embed / high_res_feats, so a
 * failure here is the decoder's. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#include <math.h>
#include <stdio.h>
#include <string.h>

#include "internal.h"
#include "models/sam2/sam2.h"
#include "models/sam2/sam2_attn.h"
#include "parity.h"
#include "testutil.h"

typedef struct {
    oc_graph *g;
    void *arena, *scratch;
    size_t scratch_bytes;
} dec_run;

static void dec_free(dec_run *r)
{
    oc_graph_free(r->g);
    oc_free(r->arena);
    oc_free(r->scratch);
    memset(r, 0, sizeof *r);
}

/* build + run the decoder for B=1 prompt set of P points; inputs from the fixture */
static oc_status dec_build_run(const oc_model *m, oc_st_file *io, const char *pfx, oc_isa isa,
                               int threads, dec_run *r, const float *coords, const float *labels,
                               int P, const float *mask)
{
    memset(r, 0, sizeof *r);
    r->g = oc_graph_new();
    oc_status st = sam2_build_decoder(m, r->g, 1, P, mask != NULL, 0, OC_DTYPE_F32);
    if (st != OC_OK) return st;
    st = oc_graph_plan(r->g, 1, isa, threads);
    if (st != OC_OK) return st;
    r->arena = oc_malloc(oc_graph_arena_bytes(r->g) + 64);
    r->scratch_bytes = oc_graph_scratch_bytes(r->g);
    r->scratch = oc_malloc(r->scratch_bytes + 64);
    float *emb = tu_load_ref(io, "image_embed", NULL);
    float *f0 = tu_load_ref(io, "high_res_feats_0", NULL);
    float *f1 = tu_load_ref(io, "high_res_feats_1", NULL);
    assert_true(emb && f0 && f1);
    const float *ins[6] = {emb, f0, f1, coords, labels, mask};
    oc_ctx ctx = {isa, threads, r->scratch, r->scratch_bytes};
    st = oc_graph_run(r->g, &ctx, r->arena, ins, mask ? 6 : 5, NULL);
    oc_free(emb);
    oc_free(f0);
    oc_free(f1);
    (void)pfx;
    return st;
}

static const float *tensor(const dec_run *r, const char *name, oc_shape *sh)
{
    oc_tid t = oc_graph_find(r->g, name);
    assert_true(t != OC_NONE);
    *sh = oc_g_shape(r->g, t);
    return oc_graph_data(r->g, r->arena, t);
}

/* ours (n floats, optionally strided: element i at ours[(i / inner) * ostride + off + i %
 * inner]) against the fixture tensor ref_name */
static void close_to(const float *ours, size_t n, oc_st_file *io, const char *ref_name,
                     const char *ctx, double *worst)
{
    oc_tensor ref;
    float *r = tu_load_ref(io, ref_name, &ref);
    if (!r) fprintf(stderr, "%s: fixture tensor %s missing\n", ctx, ref_name);
    assert_non_null(r);
    assert_int_equal(tu_numel(&ref), n);
    float mx = tu_max_abs(r, n), d = 0;
    for (size_t i = 0; i < n; i++) {
        float e = fabsf(ours[i] - r[i]);
        if (!(e <= d)) d = e;
    }
    double rel = mx > 0 ? d / mx : d;
    if (rel > *worst) *worst = rel;
    if (!(mx > 0) || !(d <= 1e-3f * mx)) {
        fprintf(stderr, "%s: %s: max |diff| %g > 1e-3 * max|ref| (%g)\n", ctx, ref_name,
                (double)d, (double)mx);
        oc_free(r);
        fail();
    }
    oc_free(r);
}

/* an int32 fixture tensor as floats (the graph computes in float32) */
static float *load_i32(oc_st_file *io, const char *name)
{
    const oc_st_tensor *t = oc_st_find(io, name);
    assert_non_null(t);
    assert_int_equal(t->dtype, OC_DT_I32);
    float *p = oc_malloc(t->numel * sizeof(float) + 4);
    for (uint64_t i = 0; i < t->numel; i++) {
        int32_t v;
        memcpy(&v, (const char *)t->data + i * 4, 4);
        p[i] = (float)v;
    }
    return p;
}

static void decoder_case(const char *fixture, oc_isa isa, int threads)
{
    char mpath[256], iopath[256], ctx[160];
    snprintf(mpath, sizeof mpath, "fixtures/%s/model.safetensors", fixture);
    snprintf(iopath, sizeof iopath, "fixtures/%s/io.safetensors", fixture);
    TU_REQUIRE_SHARED(mpath);
    oc_isa old = oc_get_isa();
    if (oc_set_isa(isa) != OC_OK) {
        fprintf(stderr, "SKIP: %s: the CPU lacks %s\n", fixture, oc_isa_name(isa));
        skip();
    }
    oc_model *m = NULL;
    oc_status st = oc_model_load(tu_shared_path(mpath), &m);
    oc_set_isa(old);
    if (st != OC_OK) fprintf(stderr, "%s: load: %s\n", fixture, oc_last_error());
    assert_int_equal(st, OC_OK);
    oc_st_file *io = NULL;
    assert_int_equal(oc_st_open(tu_shared_path(iopath), &io), OC_OK);

    int nprompts = 0;
    double worst = 0;
    for (int p = 0; p < 8; p++) {
        char nm[64];
        snprintf(nm, sizeof nm, "p%d_coords_model", p);
        if (!oc_st_find(io, nm)) continue;
        snprintf(ctx, sizeof ctx, "%s p%d [%s, %d thread(s)]", fixture, p, oc_isa_name(isa),
                 threads);
        oc_tensor ct;
        float *coords = tu_load_ref(io, nm, &ct);
        snprintf(nm, sizeof nm, "p%d_labels_model", p);
        float *labels = load_i32(io, nm);
        snprintf(nm, sizeof nm, "p%d_mask_input", p);
        float *mask = oc_st_find(io, nm) ? tu_load_ref(io, nm, NULL) : NULL;
        assert_true(coords && labels);
        int P = (int)ct.dims[1];
        dec_run r;
        st = dec_build_run(m, io, nm, isa, threads, &r, coords, labels, P, mask);
        if (st != OC_OK) fprintf(stderr, "%s: %s\n", ctx, oc_last_error());
        assert_int_equal(st, OC_OK);
        oc_shape sh;
        const float *x;
#define CHECK(ours, ref)                                                        \
    do {                                                                        \
        snprintf(nm, sizeof nm, "p%d_%s", p, ref);                              \
        if (oc_st_find(io, nm)) {                                               \
            x = tensor(&r, ours, &sh);                                          \
            close_to(x, (size_t)oc_shape_numel(&sh), io, nm, ctx, &worst);      \
        }                                                                       \
    } while (0)
        CHECK("sparse", "sparse");
        if (mask) CHECK("dense", "dense");
        CHECK("iou_all", "iou_all");
        CHECK("low_res_masks", "low_res_multi");
        CHECK("iou_predictions", "iou_multi");
        CHECK("low_res_masks_single", "low_res_single");
        CHECK("iou_predictions_single", "iou_single");
        CHECK("object_score_logits", "object_score_logits");
        snprintf(nm, sizeof nm, "p%d_low_res_token0", p);
        if (oc_st_find(io, nm)) {
            x = tensor(&r, "masks_all", &sh);
            close_to(x, (size_t)(sh.d[2] * sh.d[3]), io, nm, ctx, &worst);
        }
#undef CHECK
        dec_free(&r);
        oc_free(coords);
        oc_free(labels);
        oc_free(mask);
        nprompts++;
    }
    assert_true(nprompts >= 3);
    fprintf(stderr, "  %s [%s, %d thread(s)]: %d prompts within tolerance, worst %.2e of "
            "max|ref|\n", fixture, oc_isa_name(isa), threads, nprompts, worst);
    oc_st_close(io);
    oc_model_free(m);
}

/* the public path: encode once, then decode every prompt through the session's stages with
 * int32 labels as a caller passes them; the decode outputs match the fixture's */
static void test_stages_end_to_end(void **state)
{
    (void)state;
    TU_REQUIRE_SHARED("fixtures/sam2-t-r/model.safetensors");
    oc_model *m = NULL;
    oc_status st = oc_model_load(tu_shared_path("fixtures/sam2-t-r/model.safetensors"), &m);
    assert_int_equal(st, OC_OK);
    assert_int_equal(oc_model_num_stages(m), 2);
    assert_string_equal(oc_model_stage(m, 1), "decode");
    oc_st_file *io = NULL;
    assert_int_equal(oc_st_open(tu_shared_path("fixtures/sam2-t-r/io.safetensors"), &io), OC_OK);
    oc_session *s = NULL;
    assert_int_equal(oc_session_create(m, &s), OC_OK);
    assert_int_equal(oc_session_set_num_threads(s, 2), OC_OK);

    /* decode before any encode: a clear error */
    float c0[2] = {100, 100};
    int32_t l0[1] = {1};
    oc_tensor pin[3];
    memset(pin, 0, sizeof pin);
    pin[0].name = "point_coords";
    pin[0].ndim = 3;
    pin[0].dims[0] = 1;
    pin[0].dims[1] = 1;
    pin[0].dims[2] = 2;
    pin[0].data = c0;
    pin[1].name = "point_labels";
    pin[1].ndim = 2;
    pin[1].dims[0] = 1;
    pin[1].dims[1] = 1;
    pin[1].data = (float *)l0;
    pin[1].dtype = OC_DTYPE_I32;
    st = oc_session_run_stage(s, "decode", pin, 2);
    assert_int_not_equal(st, OC_OK);
    assert_non_null(strstr(oc_last_error(), "encode"));

    oc_tensor img;
    float *x = tu_load_ref(io, "image", &img);
    img.name = "image";
    st = oc_session_run_stage(s, "encode", &img, 1);
    if (st) fprintf(stderr, "encode: %s\n", oc_last_error());
    assert_int_equal(st, OC_OK);
    oc_free(x);
    double worst = 0;
    for (int p = 0; p < 4; p++) {
        char nm[64];
        snprintf(nm, sizeof nm, "p%d_coords_model", p);
        oc_tensor ct, mt;
        float *coords = tu_load_ref(io, nm, &ct);
        snprintf(nm, sizeof nm, "p%d_labels_model", p);
        const oc_st_tensor *lt = oc_st_find(io, nm);
        assert_non_null(lt);
        int32_t *labels = oc_malloc(lt->numel * 4 + 4);
        memcpy(labels, lt->data, lt->numel * 4);
        snprintf(nm, sizeof nm, "p%d_mask_input", p);
        float *mask = oc_st_find(io, nm) ? tu_load_ref(io, nm, &mt) : NULL;
        pin[0] = ct;
        pin[0].name = "point_coords";
        pin[1].dims[1] = ct.dims[1];
        pin[1].data = (float *)labels;
        int n = 2;
        if (mask) {
            pin[2] = mt;
            pin[2].name = "mask_input";
            n = 3;
        }
        st = oc_session_run_stage(s, "decode", pin, n);
        if (st) fprintf(stderr, "decode p%d: %s\n", p, oc_last_error());
        assert_int_equal(st, OC_OK);
        static const char *pairs[][2] = {{"low_res_masks", "low_res_multi"},
                                          {"iou_predictions", "iou_multi"},
                                          {"low_res_masks_single", "low_res_single"},
                                          {"iou_predictions_single", "iou_single"},
                                          {"object_score_logits", "object_score_logits"}};
        for (int k = 0; k < 5; k++) {
            oc_tensor got;
            assert_int_equal(oc_session_tensor(s, pairs[k][0], &got), OC_OK);
            snprintf(nm, sizeof nm, "p%d_%s", p, pairs[k][1]);
            close_to(got.data, tu_numel(&got), io, nm, "sam2-t-r session", &worst);
        }
        oc_free(coords);
        oc_free(labels);
        oc_free(mask);
    }
    fprintf(stderr, "  sam2-t-r encode + decode through the session: 4 prompts, worst %.2e\n",
            worst);
    oc_session_free(s);
    oc_st_close(io);
    oc_model_free(m);
}

static void test_tiny_avx512_t2(void **state)
{
    (void)state;
    decoder_case("sam2-t-r", OC_ISA_AVX512, 2);
}
static void test_tiny_avx2_t1(void **state)
{
    (void)state;
    decoder_case("sam2-t-r", OC_ISA_AVX2, 1);
}
static void test_tiny_scalar_t2(void **state)
{
    (void)state;
    decoder_case("sam2-t-r", OC_ISA_SCALAR, 2);
}
static void test_base_plus(void **state)
{
    (void)state;
    decoder_case("sam2-bp-r", oc_get_isa(), 2);
}
static void test_large(void **state)
{
    (void)state;
    decoder_case("sam2-l-r", oc_get_isa(), 1);
}

/* The few-keys attention kernels (image->token attention) against the general tiled
 * attention's scalar reference on the full-size shape (I 128, 8 heads of 16) and awkward
 * ones: query counts off the vector width, 1..32 keys, large logits. */
static void test_fewkeys_kernels(void **state)
{
    (void)state;
    const int shapes[][4] = {/* nq, lk, I, heads */
                             {64, 10, 128, 8}, {17, 1, 128, 8}, {5, 32, 16, 8},
                             {33, 7, 96, 3}, {64, 13, 256, 1}};
    const oc_isa best = oc_cpu_best_isa();
    for (size_t z = 0; z < sizeof shapes / sizeof shapes[0]; z++) {
        const int nq = shapes[z][0], lk = shapes[z][1], I = shapes[z][2], H = shapes[z][3];
        const int hd = I / H;
        float *q = oc_malloc(sizeof(float) * nq * I), *k = oc_malloc(sizeof(float) * lk * I);
        float *v = oc_malloc(sizeof(float) * lk * I), *ref = oc_malloc(sizeof(float) * nq * I);
        float *o = oc_malloc(sizeof(float) * nq * I);
        tu_fill_uniform(q, (size_t)nq * I, 100 + (uint32_t)z, -4.0f, 4.0f);
        tu_fill_uniform(k, (size_t)lk * I, 200 + (uint32_t)z, -4.0f, 4.0f);
        tu_fill_uniform(v, (size_t)lk * I, 300 + (uint32_t)z, -1.0f, 1.0f);
        oc_attn_desc d;
        memset(&d, 0, sizeof d);
        d.batch = 1, d.heads = H, d.lq = nq, d.lk = lk, d.d = d.dv = hd;
        d.scale = 1.0f / sqrtf((float)hd);
        d.q_st = d.k_st = d.v_st = d.o_st = I;
        d.q_sh = d.k_sh = d.v_sh = d.o_sh = hd;
        d.q_sd = d.k_sd = d.v_sd = d.o_sd = 1;
        d.q_sb = d.o_sb = (int64_t)nq * I;
        d.k_sb = d.v_sb = (int64_t)lk * I;
        char scratch[8192];
        oc_ctx ctx = {OC_ISA_SCALAR, 1, scratch, sizeof scratch};
        oc_attention(&ctx, &d, q, k, v, ref);
        for (int isa = OC_ISA_AVX2; isa <= (int)best; isa++) {
            memset(o, 0, sizeof(float) * nq * I);
            if (isa == OC_ISA_AVX2) sam2_attn_fewkeys_avx2(q, k, v, o, nq, lk, I, H, d.scale);
            else sam2_attn_fewkeys_avx512(q, k, v, o, nq, lk, I, H, d.scale);
            float worst = 0;
            for (int i = 0; i < nq * I; i++) {
                float e = fabsf(o[i] - ref[i]);
                if (!(e <= worst)) worst = e;
            }
            if (!(worst <= 1e-5f)) fprintf(stderr, "fewkeys nq %d lk %d I %d heads %d isa %d: "
                                           "max |diff| %g\n", nq, lk, I, H, isa, (double)worst);
            assert_true(worst <= 1e-5f);
        }
        oc_free(q), oc_free(k), oc_free(v), oc_free(ref), oc_free(o);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_fewkeys_kernels),
        cmocka_unit_test(test_stages_end_to_end),
        cmocka_unit_test(test_tiny_avx512_t2),
        cmocka_unit_test(test_tiny_avx2_t1),
        cmocka_unit_test(test_tiny_scalar_t2),
        cmocka_unit_test(test_base_plus),
        cmocka_unit_test(test_large),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}

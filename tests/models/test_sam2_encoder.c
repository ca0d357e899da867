/* test_sam2_encoder.c -- SAM2's "encode" stage against ../shared/fixtures/sam2-*: the
 * position embedding, every stored Hiera block, the FPN level 2, the two high-resolution
 * features and the image embedding, within 1e-3 of each tensor's largest magnitude.
 * Our trunk activations are token-major (NHWC); the references are NCHW. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#include <stdio.h>
#include <string.h>

#include "internal.h"
#include "models/sam2/sam2.h"
#include "parity.h"
#include "testutil.h"

/* |ours - ref| <= 1e-3 max|ref|; ours may be the NHWC form of an NCHW reference */
static void expect_close(const oc_session *s, const char *name, oc_st_file *io, int nhwc,
                         const char *ctx, double *worst)
{
    oc_tensor ref, got;
    float *r = tu_load_ref(io, name, &ref);
    assert_non_null(r);
    oc_status st = oc_session_tensor(s, name, &got);
    if (st != OC_OK) fprintf(stderr, "%s: %s: %s\n", ctx, name, oc_last_error());
    assert_int_equal(st, OC_OK);
    assert_int_equal(got.ndim, ref.ndim);
    assert_int_equal(ref.ndim, 4);
    int64_t N = ref.dims[0], C = ref.dims[1], H = ref.dims[2], W = ref.dims[3];
    if (nhwc) {
        assert_true(got.dims[0] == N && got.dims[1] == H && got.dims[2] == W && got.dims[3] == C);
    } else {
        for (int i = 0; i < 4; i++) assert_true(got.dims[i] == ref.dims[i]);
    }
    size_t n = tu_numel(&ref);
    float mx = tu_max_abs(r, n), d = 0;
    for (int64_t b = 0; b < N; b++)
        for (int64_t c = 0; c < C; c++)
            for (int64_t y = 0; y < H; y++)
                for (int64_t x = 0; x < W; x++) {
                    float rv = r[((b * C + c) * H + y) * W + x];
                    float ov = nhwc ? got.data[((b * H + y) * W + x) * C + c]
                                    : got.data[((b * C + c) * H + y) * W + x];
                    float e = ov > rv ? ov - rv : rv - ov;
                    if (!(e <= d)) d = e; /* NaN propagates */
                }
    double rel = mx > 0 ? d / mx : d;
    if (rel > *worst) *worst = rel;
    if (!(mx > 0) || !(d <= 1e-3f * mx)) {
        fprintf(stderr, "%s: %s: max |diff| %g > 1e-3 * max|ref| (%g)\n", ctx, name, (double)d,
                (double)mx);
        oc_free(r);
        fail();
    }
    oc_free(r);
}

static void encoder_case(const char *fixture, oc_isa isa, int threads)
{
    char mpath[256], iopath[256], ctx[160];
    snprintf(mpath, sizeof mpath, "fixtures/%s/model.safetensors", fixture);
    snprintf(iopath, sizeof iopath, "fixtures/%s/io.safetensors", fixture);
    TU_REQUIRE_SHARED(mpath);
    TU_REQUIRE_SHARED("fixtures/sam2-t-r/io.safetensors");
    snprintf(ctx, sizeof ctx, "%s [%s, %d thread(s)]", fixture, oc_isa_name(isa), threads);

    oc_isa old = oc_get_isa();
    if (oc_set_isa(isa) != OC_OK) {
        fprintf(stderr, "SKIP: %s: the CPU lacks %s\n", fixture, oc_isa_name(isa));
        skip();
    }
    oc_model *m = NULL;
    oc_status st = oc_model_load(tu_shared_path(mpath), &m);
    oc_set_isa(old);
    if (st != OC_OK) fprintf(stderr, "%s: load: %s\n", ctx, oc_last_error());
    assert_int_equal(st, OC_OK);
    assert_string_equal(oc_model_arch(m), "sam2");

    oc_st_file *io = NULL, *img = NULL;
    assert_int_equal(oc_st_open(tu_shared_path(iopath), &io), OC_OK);
    /* the preprocessed image is stored once, in sam2-t-r (the same image in all three) */
    assert_int_equal(oc_st_open(tu_shared_path("fixtures/sam2-t-r/io.safetensors"), &img), OC_OK);

    /* the interpolated + tiled position embedding (stored in sam2-t-r) */
    if (oc_st_find(io, "pos_embed")) {
        oc_tensor ref;
        float *r = tu_load_ref(io, "pos_embed", &ref);
        assert_non_null(r);
        int E = (int)ref.dims[1], gh = (int)ref.dims[2], gw = (int)ref.dims[3];
        const float *pe = sam2_pos_embed(m, gh, gw);
        assert_non_null(pe);
        float mx = tu_max_abs(r, tu_numel(&ref)), d = 0;
        for (int e = 0; e < E; e++)
            for (int y = 0; y < gh; y++)
                for (int x = 0; x < gw; x++) {
                    float a = pe[((size_t)y * gw + x) * E + e], b = r[((size_t)e * gh + y) * gw + x];
                    float df = a > b ? a - b : b - a;
                    if (!(df <= d)) d = df;
                }
        if (!(d <= 1e-4f * mx)) fprintf(stderr, "%s: pos_embed diff %g (max %g)\n", ctx, d, mx);
        assert_true(d <= 1e-4f * mx);
        oc_free(r);
    }

    oc_session *s = NULL;
    assert_int_equal(oc_session_create(m, &s), OC_OK);
    assert_int_equal(oc_session_set_num_threads(s, threads), OC_OK);
    assert_int_equal(oc_session_set_keep_layers(s, 1), OC_OK);
    oc_tensor in;
    float *x = tu_load_ref(img, "image", &in);
    assert_non_null(x);
    in.name = "image";
    st = oc_session_run(s, &in, 1);
    if (st != OC_OK) fprintf(stderr, "%s: run: %s\n", ctx, oc_last_error());
    assert_int_equal(st, OC_OK);
    oc_free(x);

    double worst = 0;
    int nblocks = 0;
    for (int i = 0; i < SAM2_MAX_BLOCKS; i++) {
        char nm[32];
        snprintf(nm, sizeof nm, "trunk_block%d", i);
        if (!oc_st_find(io, nm)) continue;
        expect_close(s, nm, io, 1, ctx, &worst);
        nblocks++;
    }
    assert_true(nblocks >= 3);
    if (oc_st_find(io, "backbone_fpn2")) expect_close(s, "backbone_fpn2", io, 1, ctx, &worst);
    expect_close(s, "high_res_feats_0", io, 0, ctx, &worst);
    expect_close(s, "high_res_feats_1", io, 0, ctx, &worst);
    expect_close(s, "image_embed", io, 0, ctx, &worst);
    fprintf(stderr, "  %s: %d trunk blocks, neck, high-res features and image_embed within "
            "tolerance, worst %.2e of max|ref|\n", ctx, nblocks, worst);
    oc_session_free(s);
    oc_st_close(img);
    oc_st_close(io);
    oc_model_free(m);
}

static void test_tiny_avx512_t2(void **state)
{
    (void)state;
    encoder_case("sam2-t-r", OC_ISA_AVX512, 2);
}
static void test_tiny_avx2_t1(void **state)
{
    (void)state;
    encoder_case("sam2-t-r", OC_ISA_AVX2, 1);
}
static void test_tiny_scalar_t2(void **state)
{
    (void)state;
    encoder_case("sam2-t-r", OC_ISA_SCALAR, 2);
}
static void test_base_plus(void **state)
{
    (void)state;
    encoder_case("sam2-bp-r", oc_get_isa(), 2);
}
static void test_large(void **state)
{
    (void)state;
    encoder_case("sam2-l-r", oc_get_isa(), 2);
}

/* configurations the loader must reject with a message rather than build */
static void test_bad_config(void **state)
{
    (void)state;
    sam2_hp hp;
    assert_true(sam2_variant_hp("tiny", &hp));
    assert_int_equal(sam2_hp_derive(&hp, "tiny"), OC_OK);
    assert_int_equal(hp.nblocks, 12);
    /* Tiny: q-pool blocks 1, 3, 10; global 5, 7, 9; stage ends 0, 2, 9, 11 */
    assert_true(hp.blk_qpool[1] && hp.blk_qpool[3] && hp.blk_qpool[10] && !hp.blk_qpool[2]);
    assert_int_equal(hp.blk_window[3], 4); /* previous stage's window on the q-pool block */
    assert_int_equal(hp.blk_window[10], 14);
    assert_int_equal(hp.blk_window[9], 0);
    assert_int_equal(hp.blk_dim_out[11], 768);
    assert_int_equal(hp.blk_heads[11], 8);
    assert_true(sam2_variant_hp("large", &hp));
    assert_int_equal(sam2_hp_derive(&hp, "large"), OC_OK);
    assert_int_equal(hp.nblocks, 48);
    assert_int_equal(hp.blk_dim_out[47], 1152);
    hp.backbone_channels[0] = 5;
    assert_int_equal(sam2_hp_derive(&hp, "bad"), OC_ERR_FORMAT);
    assert_true(strstr(oc_last_error(), "backbone_channel_list") != NULL);
    assert_true(sam2_variant_hp("small", &hp));
    hp.num_heads = 5; /* 96 / 5 */
    assert_true(sam2_hp_derive(&hp, "bad") != OC_OK);
    assert_false(sam2_variant_hp("huge", &hp));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_bad_config),
        cmocka_unit_test(test_tiny_avx512_t2),
        cmocka_unit_test(test_tiny_avx2_t1),
        cmocka_unit_test(test_tiny_scalar_t2),
        cmocka_unit_test(test_base_plus),
        cmocka_unit_test(test_large),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}

/* RT-DETR parity with the reference (../shared/fixtures/rtdetr-*, README-rtdetr.md): convert
 * each fixture's train-form state_dict, run its input, and compare every intermediate and
 * output with the tolerance 1e-3 * max|ref| per tensor. Rows of per-query tensors are paired
 * through the anchor each query was selected from (the selection's order has near-ties);
 * the final rows through (anchor, label). Also: batch 2 equals batch 1 per image, and ISA /
 * thread variants. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "internal.h"
#include "model.h"
#include "models/rtdetr/rtdetr.h"
#include "parity.h"
#include "safetensors.h"
#include "testutil.h"

static oc_isa max_isa(void)
{
    oc_isa a = oc_cpu_best_isa(), b = oc_get_isa();
    return b < a ? b : a;
}

typedef struct {
    const char *fx;
    int layers;
} fixture;

static const fixture FX[] = {
    {"rtdetr-r18vd-w4", 3},
    {"rtdetr-r50vd-w8", 6},
    {"rtdetr-r101vd-w8", 6},
};

/* convert the fixture's state_dict into a temporary model file; returns its path */
static const char *convert_fixture(const char *fx)
{
    char rel[256];
    snprintf(rel, sizeof rel, "fixtures/%s/model.safetensors", fx);
    const char *out = tu_tmp_path(".safetensors");
    static char path[512];
    snprintf(path, sizeof path, "%s", out);
    oc_status st = rtdetr_convert_file(tu_shared_path(rel), NULL, path);
    if (st) fprintf(stderr, "convert %s: %s\n", fx, oc_last_error());
    assert_int_equal(st, OC_OK);
    return path;
}

/* int64 tensor of the io file as int64 */
static int64_t *load_i64(oc_st_file *io, const char *name, size_t *n)
{
    const oc_st_tensor *t = oc_st_find(io, name);
    assert_non_null(t);
    assert_int_equal(t->dtype, OC_DT_I64);
    int64_t *p = malloc(t->numel * sizeof(int64_t) + 8);
    memcpy(p, t->data, t->numel * sizeof(int64_t));
    *n = t->numel;
    return p;
}

static float max_abs_finite(const float *x, size_t n)
{
    float m = 0;
    for (size_t i = 0; i < n; i++)
        if (isfinite(x[i]) && fabsf(x[i]) > m) m = fabsf(x[i]);
    return m;
}

typedef struct {
    const char *ctx;
    double worst;
    char worst_name[64];
    int ncompared;
} cmp_state;

static void note(cmp_state *c, const char *name, double rel)
{
    c->ncompared++;
    if (rel > c->worst) {
        c->worst = rel;
        snprintf(c->worst_name, sizeof c->worst_name, "%s", name);
    }
}

/* ours (batch item b of a batch of nb) vs the reference, element for element */
static void cmp_direct(cmp_state *c, const oc_session *s, oc_st_file *io, const char *name, int b)
{
    oc_tensor ref, got;
    float *r = tu_load_ref(io, name, &ref);
    assert_non_null(r);
    oc_status st = oc_session_tensor(s, name, &got);
    if (st) fprintf(stderr, "%s: %s\n", c->ctx, oc_last_error());
    assert_int_equal(st, OC_OK);
    size_t n = tu_numel(&ref);
    assert_int_equal(tu_numel(&got), n * (size_t)got.dims[0]);
    const float *g = got.data + (size_t)b * n;
    float mx = max_abs_finite(r, n);
    double worst = 0;
    for (size_t i = 0; i < n; i++) {
        if (!isfinite(r[i])) {
            if (!(g[i] == r[i])) {
                fprintf(stderr, "%s: %s[%zu]: got %g, want %g (non-finite must match)\n", c->ctx,
                        name, i, g[i], r[i]);
                fail();
            }
            continue;
        }
        double d = fabs((double)g[i] - r[i]);
        if (!(d <= 1e-3 * mx)) {
            fprintf(stderr, "%s: %s[%zu]: got %g, want %g (|diff| %g > 1e-3 * %g)\n", c->ctx, name,
                    i, g[i], r[i], d, mx);
            fail();
        }
        if (d > worst) worst = d;
    }
    assert_true(mx > 0);
    note(c, name, worst / mx);
    oc_free(r);
}

/* per-query tensor: reference row i pairs with our row whose selected anchor is the same */
static void cmp_rows(cmp_state *c, const oc_session *s, oc_st_file *io, const char *name,
                     const int *pair, int b)
{
    oc_tensor ref, got;
    float *r = tu_load_ref(io, name, &ref);
    assert_non_null(r);
    oc_status st = oc_session_tensor(s, name, &got);
    if (st) fprintf(stderr, "%s: %s\n", c->ctx, oc_last_error());
    assert_int_equal(st, OC_OK);
    const int64_t q = ref.dims[1], d = ref.dims[2];
    assert_int_equal(got.dims[1], q);
    assert_int_equal(got.dims[2], d);
    const float *g = got.data + (size_t)b * q * d;
    float mx = max_abs_finite(r, (size_t)(q * d));
    double worst = 0;
    for (int64_t i = 0; i < q; i++)
        for (int64_t j = 0; j < d; j++) {
            double e = fabs((double)g[pair[i] * d + j] - r[i * d + j]);
            if (!(e <= 1e-3 * mx)) {
                fprintf(stderr, "%s: %s row %lld (our row %d) col %lld: got %g, want %g (|diff| %g "
                        "> 1e-3 * %g)\n", c->ctx, name, (long long)i, pair[i], (long long)j,
                        g[pair[i] * d + j], r[i * d + j], e, mx);
                fail();
            }
            if (e > worst) worst = e;
        }
    note(c, name, worst / mx);
    oc_free(r);
}

static const float *ours(const oc_session *s, const char *name, oc_tensor *t)
{
    oc_status st = oc_session_tensor(s, name, t);
    if (st) fprintf(stderr, "%s\n", oc_last_error());
    assert_int_equal(st, OC_OK);
    return t->data;
}

/* every check of README-rtdetr.md for batch item b */
static void check_all(cmp_state *c, const oc_session *s, oc_st_file *io, int layers, int b)
{
    static const char *direct[] = {"backbone_out0", "backbone_out1", "backbone_out2",
                                   "encoder_input_proj2", "encoder_pos_embed2", "encoder_aifi_out",
                                   "encoder_fpn_out1", "encoder_out0", "encoder_out1",
                                   "encoder_out2", "decoder_memory", "decoder_anchors"};
    for (size_t i = 0; i < sizeof direct / sizeof direct[0]; i++) cmp_direct(c, s, io, direct[i], b);

    /* the selected anchors: equal sets; pair rows through them */
    size_t nq;
    int64_t *ref_idx = load_i64(io, "decoder_topk_index", &nq);
    oc_tensor t;
    const float *our_idx = ours(s, "decoder_topk_index", &t) + (size_t)b * nq;
    assert_int_equal(t.dims[1], (int64_t)nq);
    int *pair = malloc(nq * sizeof(int));
    for (size_t i = 0; i < nq; i++) {
        pair[i] = -1;
        for (size_t j = 0; j < nq; j++)
            if ((int64_t)our_idx[j] == ref_idx[i]) pair[i] = (int)j;
        if (pair[i] < 0) {
            fprintf(stderr, "%s: reference anchor %lld (row %zu) was not selected\n", c->ctx,
                    (long long)ref_idx[i], i);
            fail();
        }
    }
    static const char *rows[] = {"decoder_target", "decoder_enc_topk_logits",
                                 "decoder_enc_topk_boxes", "pred_logits", "pred_boxes"};
    for (size_t i = 0; i < sizeof rows / sizeof rows[0]; i++) cmp_rows(c, s, io, rows[i], pair, b);
    char nm[64];
    for (int l = 0; l < layers; l++) {
        snprintf(nm, sizeof nm, "decoder_layer%d_hidden", l);
        cmp_rows(c, s, io, nm, pair, b);
        snprintf(nm, sizeof nm, "decoder_layer%d_boxes", l);
        cmp_rows(c, s, io, nm, pair, b);
    }
    snprintf(nm, sizeof nm, "decoder_layer%d_logits", layers - 1);
    cmp_rows(c, s, io, nm, pair, b);

    /* final rows by (anchor, label) */
    size_t nk;
    int64_t *ref_post = load_i64(io, "post_topk_index", &nk);
    size_t nl;
    int64_t *ref_labels = load_i64(io, "labels", &nl);
    float *ref_boxes = tu_load_ref(io, "boxes", NULL), *ref_scores = tu_load_ref(io, "scores", NULL);
    oc_tensor tl, tb, ts, tp;
    const float *gl = ours(s, "labels", &tl) + (size_t)b * nk;
    const float *gb = ours(s, "boxes", &tb) + (size_t)b * nk * 4;
    const float *gs = ours(s, "scores", &ts) + (size_t)b * nk;
    const float *gp = ours(s, "post_topk_index", &tp) + (size_t)b * nk;
    oc_tensor rl;
    float *rlogits = tu_load_ref(io, "pred_logits", &rl);
    const int64_t C = rl.dims[2];
    float bmax = max_abs_finite(ref_boxes, nk * 4), smax = max_abs_finite(ref_scores, nk);
    double wb = 0, ws = 0;
    for (size_t i = 0; i < nk; i++) {
        int64_t anchor = ref_idx[ref_post[i] / C], label = ref_labels[i];
        assert_int_equal(ref_post[i] % C, label);
        int found = -1;
        for (size_t j = 0; j < nk && found < 0; j++) {
            int64_t oq = (int64_t)gp[j] / C;
            if ((int64_t)our_idx[oq] == anchor && (int64_t)gl[j] == label) found = (int)j;
        }
        if (found < 0) {
            fprintf(stderr, "%s: final row %zu (anchor %lld, label %lld, score %g) missing\n",
                    c->ctx, i, (long long)anchor, (long long)label, ref_scores[i]);
            fail();
        }
        for (int k = 0; k < 4; k++) {
            double e = fabs((double)gb[found * 4 + k] - ref_boxes[i * 4 + k]);
            if (!(e <= 1e-3 * bmax)) {
                fprintf(stderr, "%s: boxes row %zu: %g vs %g\n", c->ctx, i, gb[found * 4 + k],
                        ref_boxes[i * 4 + k]);
                fail();
            }
            if (e > wb) wb = e;
        }
        double e = fabs((double)gs[found] - ref_scores[i]);
        assert_true(e <= 1e-3 * smax);
        if (e > ws) ws = e;
        /* sorted scores compared directly too */
        assert_true(fabs((double)gs[i] - ref_scores[i]) <= 1e-3 * smax);
    }
    note(c, "boxes", wb / bmax);
    note(c, "scores", ws / smax);
    free(ref_idx);
    free(pair);
    free(ref_post);
    free(ref_labels);
    oc_free(ref_boxes);
    oc_free(ref_scores);
    oc_free(rlogits);
}

/* with_sizes: also pass the fixture's orig_target_sizes (int64 [1, 2]) */
static void run_case_sz(const fixture *f, oc_isa isa, int threads, int batch2, int with_sizes)
{
    /* one 640x640 run is minutes under memcheck: there only the first case runs */
    static int ran_once = 0;
    if (tu_under_valgrind() && ran_once++) {
        fprintf(stderr, "SKIP: under valgrind only the first RT-DETR parity case runs\n");
        skip();
    }
    char rel[256];
    snprintf(rel, sizeof rel, "fixtures/%s/io.safetensors", f->fx);
    TU_REQUIRE_SHARED(rel);
    const char *mpath = convert_fixture(f->fx);
    oc_st_file *io = NULL;
    assert_int_equal(oc_st_open(tu_shared_path(rel), &io), OC_OK);
    assert_int_equal(oc_set_isa(isa), OC_OK);
    oc_model *m = NULL;
    oc_status st = oc_model_load(mpath, &m);
    if (st) fprintf(stderr, "load %s: %s\n", f->fx, oc_last_error());
    assert_int_equal(st, OC_OK);
    assert_string_equal(oc_model_arch(m), "rtdetr");
    oc_session *s = NULL;
    assert_int_equal(oc_session_create(m, &s), OC_OK);
    assert_int_equal(oc_session_set_num_threads(s, threads), OC_OK);
    assert_int_equal(oc_session_set_keep_layers(s, 1), OC_OK);

    oc_tensor in;
    float *x = tu_load_ref(io, "images", &in);
    assert_non_null(x);
    float *xb = NULL;
    if (batch2) {
        /* image 0: the fixture's input; image 1: the same, mirrored left-right (a different
         * image whose results must not leak into image 0) */
        size_t n = tu_numel(&in), hw = (size_t)in.dims[3];
        xb = malloc(2 * n * sizeof(float));
        memcpy(xb, x, n * sizeof(float));
        for (size_t r = 0; r < n / hw; r++)
            for (size_t j = 0; j < hw; j++) xb[n + r * hw + j] = x[r * hw + hw - 1 - j];
        in.dims[0] = 2;
        in.data = xb;
    }
    in.name = "images";
    in.dtype = OC_DTYPE_F32;
    oc_tensor ins[2] = {in, {.name = "orig_target_sizes", .ndim = 2, .dims = {1, 2},
                             .dtype = OC_DTYPE_I64}};
    int64_t sizes[2];
    if (with_sizes) {
        const oc_st_tensor *ts = oc_st_find(io, "orig_target_sizes");
        assert_non_null(ts);
        assert_int_equal(ts->dtype, OC_DT_I64);
        memcpy(sizes, ts->data, sizeof sizes);
        ins[1].data = (float *)sizes;
    }
    st = oc_session_run(s, ins, with_sizes ? 2 : 1);
    if (st) fprintf(stderr, "run %s: %s\n", f->fx, oc_last_error());
    assert_int_equal(st, OC_OK);
    char ctx[128];
    snprintf(ctx, sizeof ctx, "%s %s t%d%s", f->fx, oc_isa_name(isa), threads,
             batch2 ? " batch2" : "");
    cmp_state c = {ctx, 0, "", 0};
    check_all(&c, s, io, f->layers, 0);
    fprintf(stderr, "  %s: %d tensors within tolerance, worst %.2e of max|ref| (%s)\n", ctx,
            c.ncompared, c.worst, c.worst_name);
    if (batch2) {
        /* image 1 alone must give what it gave in the batch */
        oc_tensor both[3];
        const char *outs[3] = {"pred_logits", "pred_boxes", "scores"};
        size_t per[3];
        float *keep[3];
        for (int i = 0; i < 3; i++) {
            assert_int_equal(oc_session_tensor(s, outs[i], &both[i]), OC_OK);
            per[i] = tu_numel(&both[i]) / 2;
            keep[i] = malloc(per[i] * sizeof(float));
            memcpy(keep[i], both[i].data + per[i], per[i] * sizeof(float));
        }
        in.dims[0] = 1;
        in.data = xb + tu_numel(&in);
        assert_int_equal(oc_session_run(s, &in, 1), OC_OK);
        for (int i = 0; i < 3; i++) {
            oc_tensor one;
            assert_int_equal(oc_session_tensor(s, outs[i], &one), OC_OK);
            float d = tu_max_abs_diff(one.data, keep[i], per[i]);
            if (d > 1e-5f * (1.0f + tu_max_abs(keep[i], per[i])))
                fprintf(stderr, "%s: batch item 1 differs from a batch of one: %s by %g\n", ctx,
                        outs[i], d);
            assert_true(d <= 1e-5f * (1.0f + tu_max_abs(keep[i], per[i])));
            free(keep[i]);
        }
    }
    free(xb);
    oc_free(x);
    oc_session_free(s);
    oc_model_free(m);
    oc_st_close(io);
    remove(mpath);
    oc_set_isa(oc_cpu_best_isa());
}

static void run_case(const fixture *f, oc_isa isa, int threads, int batch2)
{
    run_case_sz(f, isa, threads, batch2, 0);
}

static void test_r18_best(void **st) { (void)st; run_case(&FX[0], max_isa(), 2, 0); }
static void test_r50_best(void **st) { (void)st; run_case_sz(&FX[1], max_isa(), 2, 0, 1); }
static void test_r101_best(void **st) { (void)st; run_case(&FX[2], max_isa(), 2, 0); }
static void test_r18_scalar(void **st) { (void)st; run_case(&FX[0], OC_ISA_SCALAR, 1, 0); }
static void test_r50_avx2(void **st)
{
    (void)st;
    if (max_isa() < OC_ISA_AVX2) skip();
    run_case(&FX[1], OC_ISA_AVX2, 1, 0);
}
static void test_r18_batch2(void **st) { (void)st; run_case(&FX[0], max_isa(), 2, 1); }

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_r18_best),   cmocka_unit_test(test_r50_best),
        cmocka_unit_test(test_r101_best),  cmocka_unit_test(test_r18_scalar),
        cmocka_unit_test(test_r50_avx2),   cmocka_unit_test(test_r18_batch2),
    };
    return cmocka_run_group_tests_name("rtdetr_parity", tests, NULL, NULL);
}

/* test_sam2_segment.c -- the public promptable-segmentation path (oc_segment_set_image +
 * oc_segment) on a SAM2 fixture: from the original uint8 image and the prompts in image
 * pixels to the upsampled mask logits (pN_masks_single, pN_masks_multi), the scores and the
 * clamped low-res logits, within 1e-3 of each tensor's largest magnitude; the mask prompt
 * (p3 <- p0's low-res output); and bad prompts refused with a message. */
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

#include "internal.h"
#include "models/sam2/sam2.h"
#include "parity.h"
#include "safetensors.h"
#include "testutil.h"

static void close_to(const float *ours, size_t n, oc_st_file *io, const char *ref_name,
                     double *worst)
{
    oc_tensor ref;
    float *r = tu_load_ref(io, ref_name, &ref);
    assert_non_null(r);
    assert_int_equal(tu_numel(&ref), n);
    float mx = tu_max_abs(r, n), d = 0;
    for (size_t i = 0; i < n; i++) {
        float e = fabsf(ours[i] - r[i]);
        if (!(e <= d)) d = e;
    }
    if (mx > 0 && d / mx > *worst) *worst = d / mx;
    if (!(mx > 0) || !(d <= 1e-3f * mx)) {
        fprintf(stderr, "%s: max |diff| %g > 1e-3 * max|ref| (%g)\n", ref_name, (double)d,
                (double)mx);
        oc_free(r);
        fail();
    }
    oc_free(r);
}

static void load_image(oc_st_file *io, oc_image *img)
{
    const oc_st_tensor *t = oc_st_find(io, "image_orig");
    assert_non_null(t);
    assert_int_equal(t->ndim, 3);
    assert_int_equal(oc_image_alloc(img, (int)t->shape[1], (int)t->shape[0], 3), OC_OK);
    memcpy(img->data, t->data, t->numel);
}

static void test_fixture_prompts(void **state)
{
    (void)state;
    TU_REQUIRE_SHARED("fixtures/sam2-t-r/model.safetensors");
    oc_model *m = NULL;
    assert_int_equal(oc_model_load(tu_shared_path("fixtures/sam2-t-r/model.safetensors"), &m),
                     OC_OK);
    oc_st_file *io = NULL;
    assert_int_equal(oc_st_open(tu_shared_path("fixtures/sam2-t-r/io.safetensors"), &io), OC_OK);
    oc_session *s = NULL;
    assert_int_equal(oc_session_create(m, &s), OC_OK);
    oc_image img = {0};
    load_image(io, &img);

    /* before an image: refused */
    float pt[2] = {150, 100};
    int32_t lab[1] = {1};
    oc_segment_prompt p;
    memset(&p, 0, sizeof p);
    p.points = pt;
    p.labels = lab;
    p.n_points = 1;
    oc_segmentation r;
    assert_int_equal(oc_segment(s, &p, &r), OC_ERR_INVALID_ARG);
    assert_non_null(strstr(oc_last_error(), "oc_segment_set_image"));

    oc_status st = oc_segment_set_image(s, &img);
    if (st) fprintf(stderr, "set_image: %s\n", oc_last_error());
    assert_int_equal(st, OC_OK);

    double worst = 0;
    float p0_low[256 * 256];
    const float box[4] = {40, 30, 230, 200};
    for (int k = 0; k < 4; k++) {
        float pts[4];
        int32_t labs[2];
        memset(&p, 0, sizeof p);
        if (k == 0 || k == 1) {
            pts[0] = 150, pts[1] = 100, labs[0] = 1;
            pts[2] = 260, pts[3] = 190, labs[1] = 0;
            p.n_points = k + 1;
        }
        if (k >= 2) {
            p.has_box = 1;
            memcpy(p.box, box, sizeof box);
        }
        if (k == 3) {
            pts[0] = 120, pts[1] = 140, labs[0] = 1;
            p.n_points = 1;
            p.mask_input = p0_low;
        }
        p.points = p.n_points ? pts : NULL;
        p.labels = p.n_points ? labs : NULL;
        char nm[64];
        for (int multi = 0; multi < 2; multi++) {
            p.multimask = multi;
            p.return_logits = 1;
            snprintf(nm, sizeof nm, "p%d_masks_%s", k, multi ? "multi" : "single");
            if (multi && !oc_st_find(io, nm)) continue;
            st = oc_segment(s, &p, &r);
            if (st) fprintf(stderr, "p%d: %s\n", k, oc_last_error());
            assert_int_equal(st, OC_OK);
            assert_int_equal(r.n_masks, multi ? 3 : 1);
            assert_int_equal(r.width, img.width);
            close_to(r.logits, (size_t)r.n_masks * r.width * r.height, io, nm, &worst);
            snprintf(nm, sizeof nm, "p%d_iou_%s", k, multi ? "multi" : "single");
            close_to(r.scores, (size_t)r.n_masks, io, nm, &worst);
            snprintf(nm, sizeof nm, "p%d_low_res_%s", k, multi ? "multi" : "single");
            close_to(r.low_res, (size_t)r.n_masks * 256 * 256, io, nm, &worst);
            /* the binary mask, area and box agree with the logits */
            int64_t area = 0;
            for (size_t i = 0; i < (size_t)r.width * r.height; i++) {
                assert_int_equal(r.masks[i], r.logits[i] > 0);
                area += r.masks[i];
            }
            assert_int_equal(area, r.areas[0]);
            if (k == 0 && !multi) memcpy(p0_low, r.low_res, sizeof p0_low);
            oc_segmentation_free(&r);
        }
    }
    fprintf(stderr, "  sam2-t-r oc_segment: p0-p3 masks, scores, low-res within tolerance, worst "
            "%.2e\n", worst);

    /* bad prompts */
    memset(&p, 0, sizeof p);
    assert_int_equal(oc_segment(s, &p, &r), OC_ERR_INVALID_ARG); /* nothing */
    assert_non_null(strstr(oc_last_error(), "no point and no box"));
    assert_non_null(strstr(oc_last_error(), "prompt set 0"));
    float nanpt[2] = {NAN, 3};
    p.points = nanpt;
    p.labels = lab;
    p.n_points = 1;
    assert_int_equal(oc_segment(s, &p, &r), OC_ERR_INVALID_ARG);
    assert_non_null(strstr(oc_last_error(), "not finite"));
    int32_t badlab[1] = {2};
    p.points = pt;
    p.labels = badlab;
    assert_int_equal(oc_segment(s, &p, &r), OC_ERR_INVALID_ARG);
    assert_non_null(strstr(oc_last_error(), "label"));
    memset(&p, 0, sizeof p);
    p.has_box = 1;
    p.box[0] = 100, p.box[1] = 10, p.box[2] = 50, p.box[3] = 60;
    assert_int_equal(oc_segment(s, &p, &r), OC_ERR_INVALID_ARG);
    assert_non_null(strstr(oc_last_error(), "x2 < x1"));
    assert_int_equal(r.n_masks, 0);

    oc_image_free(&img);
    oc_session_free(s);
    oc_st_close(io);
    oc_model_free(m);
}

/* Several prompt sets in one call: each result equals the one-at-a-time result (logits within
 * 1e-4 of the largest magnitude; the sets of equal point count share one decoder batch, the
 * others run as further batches), masks without logits equal the thresholded logits exactly
 * (the upsampling skips only what cannot be inside), and a bad set is named by its index. */
static void test_batch(void **state)
{
    (void)state;
    TU_REQUIRE_SHARED("fixtures/sam2-t-r/model.safetensors");
    oc_model *m = NULL;
    assert_int_equal(oc_model_load(tu_shared_path("fixtures/sam2-t-r/model.safetensors"), &m),
                     OC_OK);
    oc_st_file *io = NULL;
    assert_int_equal(oc_st_open(tu_shared_path("fixtures/sam2-t-r/io.safetensors"), &io), OC_OK);
    oc_image img = {0};
    load_image(io, &img);
    oc_st_close(io);
    oc_session *s = NULL;
    assert_int_equal(oc_session_create(m, &s), OC_OK);
    assert_int_equal(oc_segment_set_image(s, &img), OC_OK);

    /* a low-res mask for the mask-prompt sets */
    float pt0[2] = {150, 100};
    int32_t one[1] = {1};
    oc_segment_prompt p0 = {.points = pt0, .labels = one, .n_points = 1};
    oc_segmentation r0;
    assert_int_equal(oc_segment(s, &p0, &r0), OC_OK);
    float low[256 * 256];
    memcpy(low, r0.low_res, sizeof low);
    oc_segmentation_free(&r0);

    enum { NSET = 9 };
    float pts[NSET][6] = {{150, 100},           {150, 100, 260, 190}, {0},
                          {120, 140},           {40, 200},            {300, 20, 10, 230, 161, 80},
                          {-20, 400},           {200, 60, 90, 150},   {75, 75}};
    int32_t labs[NSET][3] = {{1}, {1, 0}, {0}, {1}, {0}, {1, 0, 1}, {1}, {0, 1}, {1}};
    const int npts[NSET] = {1, 2, 0, 1, 1, 3, 1, 2, 1};
    const int boxed[NSET] = {0, 0, 1, 1, 0, 0, 0, 1, 1};
    const int masked[NSET] = {0, 0, 0, 1, 0, 0, 0, 0, 1};
    oc_segment_prompt ps[NSET];
    memset(ps, 0, sizeof ps);
    for (int i = 0; i < NSET; i++) {
        ps[i].points = npts[i] ? pts[i] : NULL;
        ps[i].labels = npts[i] ? labs[i] : NULL;
        ps[i].n_points = npts[i];
        ps[i].has_box = boxed[i];
        ps[i].box[0] = 40.0f + 3 * i, ps[i].box[1] = 30, ps[i].box[2] = 230, ps[i].box[3] = 200;
        ps[i].mask_input = masked[i] ? low : NULL;
        ps[i].multimask = i % 2;
        ps[i].return_logits = 1;
    }
    oc_segmentation one_at_a_time[NSET], batch[NSET];
    for (int i = 0; i < NSET; i++) assert_int_equal(oc_segment(s, &ps[i], &one_at_a_time[i]), OC_OK);
    oc_status st = oc_segment_batch(s, ps, NSET, batch);
    if (st) fprintf(stderr, "batch: %s\n", oc_last_error());
    assert_int_equal(st, OC_OK);
    double worst = 0;
    for (int i = 0; i < NSET; i++) {
        const oc_segmentation *a = &one_at_a_time[i], *b = &batch[i];
        assert_int_equal(a->n_masks, ps[i].multimask ? 3 : 1);
        assert_int_equal(b->n_masks, a->n_masks);
        const size_t n = (size_t)a->n_masks * a->width * a->height;
        float mx = tu_max_abs(a->logits, n), d = 0;
        for (size_t k = 0; k < n; k++) {
            float e = fabsf(a->logits[k] - b->logits[k]);
            if (!(e <= d)) d = e;
        }
        if (d / mx > worst) worst = d / mx;
        assert_true(d <= 1e-4f * mx);
        for (int j = 0; j < a->n_masks; j++) assert_true(fabsf(a->scores[j] - b->scores[j]) < 1e-4f);
        assert_true(fabsf(a->object_score - b->object_score) < 1e-4f);
        for (size_t k = 0; k < (size_t)a->n_masks * 256 * 256; k++)
            assert_true(fabsf(a->low_res[k] - b->low_res[k]) <= 1e-4f * 32);
    }
    fprintf(stderr, "  sam2-t-r oc_segment_batch: %d sets (point counts 1/2/3, boxes, mask "
            "prompts) vs one at a time: worst %.2e of max |logit|\n", NSET, worst);

    /* masks without logits: identical bitmap, area and box (the fast path is exact) */
    for (int i = 0; i < NSET; i++) ps[i].return_logits = 0;
    oc_segmentation fast[NSET];
    assert_int_equal(oc_segment_batch(s, ps, NSET, fast), OC_OK);
    for (int i = 0; i < NSET; i++) {
        const oc_segmentation *a = &batch[i], *f = &fast[i];
        assert_null(f->logits);
        const size_t plane = (size_t)a->width * a->height;
        for (int j = 0; j < a->n_masks; j++) {
            int64_t area = 0;
            for (size_t k = 0; k < plane; k++) {
                uint8_t want = a->logits[j * plane + k] > 0;
                assert_int_equal(f->masks[j * plane + k], want);
                area += want;
            }
            assert_int_equal(f->areas[j], area);
            assert_int_equal(f->areas[j], a->areas[j]);
            assert_memory_equal(f->boxes[j], a->boxes[j], sizeof f->boxes[j]);
        }
        oc_segmentation_free(&fast[i]);
        oc_segmentation_free(&batch[i]);
        oc_segmentation_free(&one_at_a_time[i]);
    }

    /* a bad set is named by its index and nothing is returned */
    float nanpt[2] = {NAN, 5};
    ps[4].points = nanpt;
    assert_int_equal(oc_segment_batch(s, ps, NSET, batch), OC_ERR_INVALID_ARG);
    assert_non_null(strstr(oc_last_error(), "prompt set 4"));
    for (int i = 0; i < NSET; i++) assert_null(batch[i].masks);
    ps[4].points = pts[4];
    ps[7].box[2] = 10;
    assert_int_equal(oc_segment_batch(s, ps, NSET, batch), OC_ERR_INVALID_ARG);
    assert_non_null(strstr(oc_last_error(), "prompt set 7"));
    assert_int_equal(oc_segment_batch(s, ps, 0, batch), OC_ERR_INVALID_ARG);

    /* other image sizes (smaller than the low-res masks, odd, wide): fast masks == logits > 0 */
    const int sizes[3][2] = {{97, 61}, {517, 301}, {1600, 400}};
    for (int z = 0; z < 3; z++) {
        oc_image im2 = {0};
        assert_int_equal(oc_image_alloc(&im2, sizes[z][0], sizes[z][1], 3), OC_OK);
        for (size_t k = 0; k < (size_t)im2.width * im2.height * 3; k++)
            im2.data[k] = img.data[(k * 7919) % ((size_t)img.width * img.height * 3)];
        assert_int_equal(oc_segment_set_image(s, &im2), OC_OK);
        float c[2] = {im2.width * 0.4f, im2.height * 0.6f};
        oc_segment_prompt q[2] = {{.points = c, .labels = one, .n_points = 1, .multimask = 1,
                                   .return_logits = 1},
                                  {.points = c, .labels = one, .n_points = 1, .multimask = 1}};
        oc_segmentation rr[2];
        assert_int_equal(oc_segment_batch(s, q, 2, rr), OC_OK);
        const size_t plane = (size_t)im2.width * im2.height;
        for (size_t k = 0; k < 3 * plane; k++)
            assert_int_equal(rr[1].masks[k], rr[0].logits[k] > 0);
        for (int j = 0; j < 3; j++) {
            assert_int_equal(rr[1].areas[j], rr[0].areas[j]);
            assert_memory_equal(rr[1].boxes[j], rr[0].boxes[j], sizeof rr[0].boxes[j]);
        }
        oc_segmentation_free(&rr[0]);
        oc_segmentation_free(&rr[1]);
        oc_image_free(&im2);
    }
    oc_image_free(&img);
    oc_session_free(s);
    oc_model_free(m);
}

/* 16-bit weights (bf16, f16) against float32: the thresholded masks of p0-p2 must overlap
 * with IoU >= 0.98 and the scores agree within 0.02. bf16 keeps 8 bits of mantissa (relative
 * error <= 2^-9 per weight); through ~20 layers the logits move by a few tenths at most, which
 * flips only pixels near the 0 threshold. */
static double mask_iou(const uint8_t *a, const uint8_t *b, size_t n)
{
    size_t i_ = 0, u = 0;
    for (size_t k = 0; k < n; k++) {
        i_ += a[k] && b[k];
        u += a[k] || b[k];
    }
    return u ? (double)i_ / (double)u : 1.0;
}

static void test_16bit_weights(void **state)
{
    (void)state;
    TU_REQUIRE_SHARED("fixtures/sam2-t-r/model.safetensors");
    oc_st_file *src = NULL, *io = NULL;
    assert_int_equal(oc_st_open(tu_shared_path("fixtures/sam2-t-r/model.safetensors"), &src),
                     OC_OK);
    assert_int_equal(oc_st_open(tu_shared_path("fixtures/sam2-t-r/io.safetensors"), &io), OC_OK);
    oc_image img = {0};
    load_image(io, &img);
    oc_st_close(io);
    const int dts[3] = {OC_DT_F32, OC_DT_BF16, OC_DT_F16};
    oc_segmentation ref[3];
    memset(ref, 0, sizeof ref);
    for (int d = 0; d < 3; d++) {
        const char *path = tu_tmp_path(".safetensors");
        oc_st_writer *w = oc_st_writer_new();
        assert_int_equal(sam2_convert(src, NULL, dts[d], w), OC_OK);
        assert_int_equal(oc_st_writer_save(w, path), OC_OK);
        oc_st_writer_free(w);
        oc_model *m = NULL;
        assert_int_equal(oc_model_load(path, &m), OC_OK);
        assert_string_equal(oc_model_arch(m), "sam2");
        oc_session *s = NULL;
        assert_int_equal(oc_session_create(m, &s), OC_OK);
        assert_int_equal(oc_segment_set_image(s, &img), OC_OK);
        for (int k = 0; k < 3; k++) {
            float pts[4] = {150, 100, 260, 190};
            int32_t labs[2] = {1, 0};
            oc_segment_prompt p;
            memset(&p, 0, sizeof p);
            if (k < 2) {
                p.points = pts;
                p.labels = labs;
                p.n_points = k + 1;
            } else {
                p.has_box = 1;
                p.box[0] = 40, p.box[1] = 30, p.box[2] = 230, p.box[3] = 200;
            }
            oc_segmentation r;
            assert_int_equal(oc_segment(s, &p, &r), OC_OK);
            if (d == 0) {
                ref[k] = r;
                continue;
            }
            double iou = mask_iou(r.masks, ref[k].masks, (size_t)r.width * r.height);
            fprintf(stderr, "  %s weights, p%d: mask IoU vs float32 %.4f, score %.4f vs %.4f\n",
                    d == 1 ? "bf16" : "f16", k, iou, (double)r.scores[0],
                    (double)ref[k].scores[0]);
            assert_true(iou >= 0.98);
            assert_true(fabsf(r.scores[0] - ref[k].scores[0]) <= 0.02f);
            oc_segmentation_free(&r);
        }
        oc_session_free(s);
        oc_model_free(m);
        remove(path);
    }
    for (int k = 0; k < 3; k++) oc_segmentation_free(&ref[k]);
    oc_image_free(&img);
    oc_st_close(src);
}

/* build/ocellus, two levels above this binary (build/tests/models/) */
static int cli_path(char *out, size_t n)
{
    char exe[900];
    ssize_t k = readlink("/proc/self/exe", exe, sizeof exe - 1);
    if (k <= 0) return -1;
    exe[k] = '\0';
    for (int up = 0; up < 3; up++) {
        char *sl = strrchr(exe, '/');
        if (!sl) return -1;
        *sl = '\0';
    }
    snprintf(out, n, "%s/ocellus", exe);
    return access(out, X_OK);
}

static char *slurp(const char *path)
{
    FILE *f = fopen(path, "rb");
    if (!f) return NULL;
    fseek(f, 0, SEEK_END);
    long n = ftell(f);
    fseek(f, 0, SEEK_SET);
    char *b = malloc((size_t)n + 1);
    if (b && fread(b, 1, (size_t)n, f) != (size_t)n) n = 0;
    if (b) b[n] = '\0';
    fclose(f);
    return b;
}

/* ocellus segment: JSON whose column-major RLE decodes to the mask PNG; usage errors exit 2 */
static void test_cli(void **state)
{
    (void)state;
    TU_REQUIRE_SHARED("fixtures/sam2-t-r/model.safetensors");
    char cli[1024], cmd[4096];
    if (cli_path(cli, sizeof cli) != 0) {
        fprintf(stderr, "SKIP: the ocellus binary is not built\n");
        skip();
    }
    oc_st_file *io = NULL;
    assert_int_equal(oc_st_open(tu_shared_path("fixtures/sam2-t-r/io.safetensors"), &io), OC_OK);
    oc_image img = {0};
    load_image(io, &img);
    oc_st_close(io);
    char png[512], json[512], ov[512], mk[512];
    snprintf(png, sizeof png, "%s", tu_tmp_path(".png"));
    snprintf(json, sizeof json, "%s", tu_tmp_path(".json"));
    snprintf(ov, sizeof ov, "%s", tu_tmp_path(".png"));
    snprintf(mk, sizeof mk, "%s", tu_tmp_path(".png"));
    assert_int_equal(oc_image_save_png(png, &img), OC_OK);
    const char *model = tu_shared_path("fixtures/sam2-t-r/model.safetensors");
    snprintf(cmd, sizeof cmd, "%s segment --model %s --image %s --point 150,100 --point "
             "260,190,0 --box 40,30,230,200 --json %s --out %s --mask-out %s >/dev/null", cli,
             model, png, json, ov, mk);
    assert_int_equal(system(cmd), 0);
    char *js = slurp(json);
    assert_non_null(js);
    cJSON *root = cJSON_Parse(js);
    assert_non_null(root);
    const cJSON *masks = cJSON_GetObjectItem(root, "masks");
    assert_int_equal(cJSON_GetArraySize(masks), 1);
    const cJSON *m0 = cJSON_GetArrayItem(masks, 0);
    const cJSON *seg = cJSON_GetObjectItem(m0, "segmentation");
    const cJSON *counts = cJSON_GetObjectItem(seg, "counts");
    const cJSON *size = cJSON_GetObjectItem(seg, "size");
    assert_int_equal(cJSON_GetArrayItem(size, 0)->valueint, img.height);
    assert_int_equal(cJSON_GetArrayItem(size, 1)->valueint, img.width);
    assert_non_null(cJSON_GetObjectItem(cJSON_GetObjectItem(root, "timing_ms"), "encode"));
    oc_image mimg = {0};
    assert_int_equal(oc_image_load(mk, &mimg), OC_OK);
    assert_int_equal(mimg.width, img.width);
    /* decode the RLE (column-major, starting with a run of zeros) against the mask PNG */
    int64_t pos = 0, ones = 0;
    int val = 0;
    const cJSON *c;
    cJSON_ArrayForEach(c, counts)
    {
        for (int64_t k = 0; k < (int64_t)c->valuedouble; k++, pos++) {
            int x = (int)(pos / img.height), y = (int)(pos % img.height);
            assert_true(x < img.width);
            assert_int_equal(mimg.data[((size_t)y * img.width + x) * 3] ? 1 : 0, val);
            ones += val;
        }
        val ^= 1;
    }
    assert_int_equal(pos, (int64_t)img.width * img.height);
    assert_int_equal(ones, (int64_t)cJSON_GetObjectItem(m0, "area")->valuedouble);
    assert_true(ones > 0);
    oc_image ovi = {0};
    assert_int_equal(oc_image_load(ov, &ovi), OC_OK);
    assert_int_equal(ovi.height, img.height);
    cJSON_Delete(root);
    free(js);
    oc_image_free(&ovi);
    oc_image_free(&mimg);
    oc_image_free(&img);
    /* several prompt sets: two boxes (two objects) and a click in a --set of its own */
    snprintf(cmd, sizeof cmd, "%s segment --model %s --image %s --box 40,30,230,200 --box "
             "10,10,120,90 --set --point 260,190 --json %s --mask-out %s >/dev/null", cli, model,
             png, json, mk);
    assert_int_equal(system(cmd), 0);
    js = slurp(json);
    assert_non_null(js);
    root = cJSON_Parse(js);
    assert_non_null(root);
    masks = cJSON_GetObjectItem(root, "masks");
    assert_int_equal(cJSON_GetArraySize(masks), 3);
    assert_int_equal(cJSON_GetArraySize(cJSON_GetObjectItem(root, "prompts")), 3);
    for (int k = 0; k < 3; k++)
        assert_int_equal(cJSON_GetObjectItem(cJSON_GetArrayItem(masks, k), "prompt")->valueint, k);
    assert_true(cJSON_IsNull(cJSON_GetObjectItem(
        cJSON_GetArrayItem(cJSON_GetObjectItem(root, "prompts"), 2), "box")));
    cJSON_Delete(root);
    free(js);
    /* usage errors */
    snprintf(cmd, sizeof cmd, "%s segment --model %s --image %s --point 1,2 --set 2>/dev/null",
             cli, model, png);
    assert_int_equal(WEXITSTATUS(system(cmd)), 2);
    snprintf(cmd, sizeof cmd, "%s segment --model %s --image %s 2>/dev/null", cli, model, png);
    int rc = system(cmd);
    assert_int_equal(WEXITSTATUS(rc), 2);
    snprintf(cmd, sizeof cmd, "%s segment --model %s --image %s --box 50,5,10,60 2>/dev/null", cli,
             model, png);
    rc = system(cmd);
    assert_int_equal(WEXITSTATUS(rc), 2);
    snprintf(cmd, sizeof cmd, "%s segment --model %s --image %s --point 1,2,7 2>/dev/null", cli,
             model, png);
    rc = system(cmd);
    assert_int_equal(WEXITSTATUS(rc), 2);
    remove(png);
    remove(json);
    remove(ov);
    remove(mk);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_fixture_prompts),
        cmocka_unit_test(test_batch),
        cmocka_unit_test(test_cli),
        cmocka_unit_test(test_16bit_weights),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}

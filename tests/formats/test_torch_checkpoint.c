/* test_torch_checkpoint.c -- PyTorch checkpoints (src/formats/torch_checkpoint.c): the small
 * files in tests/fixtures/pt/ written by Debian's torch (tools/fixtures/make_pt_fixtures.py),
 * the hostile ones beside them, corrupted archives, and the shared fixtures' state_dicts saved
 * as checkpoints, which must read and convert bit-identically to their safetensors files. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "convert.h"
#include "formats/torch_checkpoint.h"
#include "testutil.h"

#define DIR "tests/fixtures/pt/"

static uint8_t *read_all(const char *path, size_t *len)
{
    FILE *fp = fopen(path, "rb");
    if (!fp) return NULL;
    fseek(fp, 0, SEEK_END);
    long n = ftell(fp);
    fseek(fp, 0, SEEK_SET);
    uint8_t *b = malloc(n > 0 ? (size_t)n : 1);
    if (b && fread(b, 1, (size_t)n, fp) != (size_t)n) {
        free(b);
        b = NULL;
    }
    fclose(fp);
    *len = (size_t)n;
    return b;
}

static oc_pt_state_dict *load_sd(const char *path, const char *key, int dtype)
{
    oc_pt_options o = {key, dtype, 0};
    oc_pt_state_dict *sd = NULL;
    oc_status st = oc_pt_load_state_dict(path, &o, &sd);
    if (st) fprintf(stderr, "%s: %s\n", path, oc_last_error());
    assert_int_equal(st, OC_OK);
    return sd;
}

static const oc_st_tensor *get(const oc_pt_state_dict *sd, const char *name, oc_st_dtype dt,
                               int ndim, const int64_t *shape)
{
    const oc_st_tensor *t = oc_st_find(sd->st, name);
    assert_non_null(t);
    assert_int_equal(t->dtype, dt);
    assert_int_equal(t->ndim, ndim);
    for (int i = 0; i < ndim; i++) assert_int_equal(t->shape[i], shape[i]);
    return t;
}

static void expect_f32(const oc_pt_state_dict *sd, const oc_st_tensor *t, const float *want)
{
    float got[64];
    assert_true(t->numel <= 64);
    assert_int_equal(oc_st_to_f32(sd->st, t, got), OC_OK);
    for (uint64_t i = 0; i < t->numel; i++) {
        if (got[i] != want[i])
            fprintf(stderr, "%s[%llu] = %.9g, expected %.9g\n", t->name, (unsigned long long)i,
                    got[i], want[i]);
        assert_true(got[i] == want[i]);
    }
}

/* the state_dict of make_pt_fixtures.py's small_state_dict(), kept dtypes */
static void check_small(const char *file)
{
    oc_pt_state_dict *sd = load_sd(file, NULL, -1);
    assert_string_equal(sd->where, "model");
    assert_int_equal(oc_st_num_tensors(sd->st), 10);
    /* in the checkpoint's order */
    static const char *const order[] = {"w", "w_t", "row", "h", "bf", "d", "i", "p", "s", "e"};
    for (int i = 0; i < 10; i++) assert_string_equal(oc_st_tensor_at(sd->st, (size_t)i)->name, order[i]);
    float w[24], wt[12];
    for (int i = 0; i < 24; i++) w[i] = (float)i / 8 - 1;
    for (int r = 0; r < 4; r++) /* w[1].t(): [4,3] */
        for (int c = 0; c < 3; c++) wt[r * 3 + c] = w[12 + c * 4 + r];
    expect_f32(sd, get(sd, "w", OC_DT_F32, 3, (int64_t[]){2, 3, 4}), w);
    expect_f32(sd, get(sd, "w_t", OC_DT_F32, 2, (int64_t[]){4, 3}), wt);
    expect_f32(sd, get(sd, "row", OC_DT_F32, 2, (int64_t[]){2, 3}),
               (float[]){1.5f, -2, 3.25f, 1.5f, -2, 3.25f});
    /* torch's float16/bfloat16 bits equal our round-to-nearest-even of the same values */
    const oc_st_tensor *h = get(sd, "h", OC_DT_F16, 1, (int64_t[]){5});
    const float hv[5] = {0.5f, -2.0f, 65504.0f, 6e-8f, 1.0f / 3};
    for (int i = 0; i < 5; i++) {
        uint16_t bits;
        memcpy(&bits, (const uint8_t *)h->data + 2 * i, 2);
        assert_int_equal(bits, oc_f32_to_f16(hv[i]));
    }
    const oc_st_tensor *bf = get(sd, "bf", OC_DT_BF16, 1, (int64_t[]){4});
    const float bv[4] = {1.0f, -0.0078125f, 3.0e38f, 1.0f / 3};
    for (int i = 0; i < 4; i++) {
        uint16_t bits;
        memcpy(&bits, (const uint8_t *)bf->data + 2 * i, 2);
        assert_int_equal(bits, oc_f32_to_bf16(bv[i]));
    }
    const oc_st_tensor *d = get(sd, "d", OC_DT_F64, 1, (int64_t[]){2});
    double dv[2];
    memcpy(dv, d->data, sizeof dv);
    assert_true(dv[0] == 1.0 / 3 && dv[1] == -2.5);
    const oc_st_tensor *it = get(sd, "i", OC_DT_I64, 1, (int64_t[]){3});
    int64_t iv[3];
    memcpy(iv, it->data, sizeof iv);
    assert_true(iv[0] == -3 && iv[1] == ((int64_t)1 << 40) && iv[2] == 7);
    expect_f32(sd, get(sd, "p", OC_DT_F32, 2, (int64_t[]){2, 2}), (float[]){0.25f, 0.5f, 0.75f, 1});
    expect_f32(sd, get(sd, "s", OC_DT_F32, 0, NULL), (float[]){4.5f});
    assert_int_equal(get(sd, "e", OC_DT_F32, 2, (int64_t[]){0, 3})->numel, 0);
    /* the entries beside the state_dict, as metadata */
    assert_string_equal(oc_st_meta(sd->st, "checkpoint.state_dict"), "model");
    assert_string_equal(oc_st_meta(sd->st, "epoch"), "7");
    assert_string_equal(oc_st_meta(sd->st, "args"),
                        "{\"lr\":0.5,\"name\":\"tiny\",\"layers\":[1,2],\"flag\":true,"
                        "\"nothing\":null,\"device\":\"cpu\",\"pair\":[1,\"a\"],"
                        "\"best\":0.25,\"count\":-3,\"ok\":true,\"half\":1.5}");
    assert_string_equal(oc_st_meta(sd->st, "lr_scheduler"),
                        "{\"milestones\":{\"1000\":1},\"last_epoch\":3}");
    oc_pt_state_dict_free(sd);
}

static void test_small_zip(void **state) { (void)state; check_small(DIR "good.pt"); }
static void test_small_protocol4(void **state) { (void)state; check_small(DIR "good_p4.pt"); }
static void test_small_legacy(void **state) { (void)state; check_small(DIR "good_legacy.pt"); }

static void test_dtype_conversion(void **state)
{
    (void)state;
    oc_pt_state_dict *sd = load_sd(DIR "good.pt", NULL, OC_DT_F16);
    const oc_st_tensor *w = get(sd, "w_t", OC_DT_F16, 2, (int64_t[]){4, 3});
    for (int r = 0; r < 4; r++)
        for (int c = 0; c < 3; c++) {
            uint16_t bits;
            memcpy(&bits, (const uint8_t *)w->data + 2 * (r * 3 + c), 2);
            assert_int_equal(bits, oc_f32_to_f16((float)(12 + c * 4 + r) / 8 - 1));
        }
    const oc_st_tensor *d = get(sd, "d", OC_DT_F16, 1, (int64_t[]){2});
    uint16_t db[2];
    memcpy(db, d->data, sizeof db);
    assert_int_equal(db[0], oc_f32_to_f16((float)(1.0 / 3)));
    get(sd, "i", OC_DT_I64, 1, (int64_t[]){3}); /* integers are kept */
    get(sd, "bf", OC_DT_F16, 1, (int64_t[]){4});
    oc_pt_state_dict_free(sd);
    sd = load_sd(DIR "good.pt", NULL, OC_DT_F32);
    expect_f32(sd, get(sd, "h", OC_DT_F32, 1, (int64_t[]){5}),
               (float[]){0.5f, -2.0f, 65504.0f, oc_f16_to_f32(oc_f32_to_f16(6e-8f)),
                         oc_f16_to_f32(oc_f32_to_f16(1.0f / 3))});
    oc_pt_state_dict_free(sd);
}

static void test_nesting_and_keys(void **state)
{
    (void)state;
    oc_pt_state_dict *sd = load_sd(DIR "ema.pt", NULL, -1);
    assert_string_equal(sd->where, "ema.module"); /* preferred over "model" */
    assert_string_equal(oc_st_meta(sd->st, "updates"), "12");
    float w[24];
    assert_int_equal(oc_st_to_f32(sd->st, oc_st_find(sd->st, "w"), w), OC_OK);
    assert_true(w[0] == -1.0f && w[23] == 23.0f / 8 - 1);
    oc_pt_state_dict_free(sd);
    sd = load_sd(DIR "ema.pt", "model", -1);
    assert_int_equal(oc_st_to_f32(sd->st, oc_st_find(sd->st, "w"), w), OC_OK);
    assert_true(w[0] == 0.0f && w[23] == 0.0f);
    oc_pt_state_dict_free(sd);

    oc_pt_options o = {"nope.module", -1, 0};
    assert_int_equal(oc_pt_load_state_dict(DIR "ema.pt", &o, &sd), OC_ERR_FORMAT);
    assert_non_null(strstr(oc_last_error(), "no entry 'nope.module'"));
    o.key = "ema";
    assert_int_equal(oc_pt_load_state_dict(DIR "ema.pt", &o, &sd), OC_ERR_FORMAT);
    assert_non_null(strstr(oc_last_error(), "not a state_dict"));
    o.key = "args";
    assert_int_equal(oc_pt_load_state_dict(DIR "good.pt", &o, &sd), OC_ERR_FORMAT);
    assert_null(sd);
}

static void expect_bad(const char *file, oc_status want, const char *msg)
{
    oc_pt_state_dict *sd = NULL;
    oc_status st = oc_pt_load_state_dict(file, NULL, &sd);
    if (st != want || !strstr(oc_last_error(), msg))
        fprintf(stderr, "%s: %s '%s', wanted '%s'\n", file, oc_status_name(st), oc_last_error(),
                msg);
    assert_int_equal(st, want);
    assert_null(sd);
    assert_non_null(strstr(oc_last_error(), msg));
}

static void test_hostile_files(void **state)
{
    (void)state;
    expect_bad(DIR "global_os_system.pt", OC_ERR_FORMAT, "global 'posix.system' is not allowed");
    expect_bad(DIR "global_eval.pt", OC_ERR_FORMAT, "global '__builtin__.eval' is not allowed");
    expect_bad(DIR "storage_short.pt", OC_ERR_FORMAT, "(24 bytes) but its entry 'archive/data/0' holds 16");
    expect_bad(DIR "tensor_past_storage.pt", OC_ERR_FORMAT, "reaches element 7 but storage '0'");
    expect_bad(DIR "offset_past_storage.pt", OC_ERR_FORMAT, "at offset 3 reaches element 6");
    expect_bad(DIR "negative_size.pt", OC_ERR_FORMAT, "size[0] is negative (-1)");
    expect_bad(DIR "negative_stride.pt", OC_ERR_FORMAT, "stride[0] is negative (-3)");
    expect_bad(DIR "overflow_size.pt", OC_ERR_FORMAT, "overflows the element count");
    expect_bad(DIR "overflow_stride.pt", OC_ERR_FORMAT, "overflows the storage offset");
    expect_bad(DIR "huge_storage.pt", OC_ERR_FORMAT, "is too large");
    expect_bad(DIR "missing_storage.pt", OC_ERR_FORMAT, "has no entry 'archive/data/0'");
    expect_bad(DIR "does_not_exist.pt", OC_ERR_IO, "cannot open");
    /* not a checkpoint at all */
    expect_bad("tests/fixtures/ops/conv.safetensors", OC_ERR_FORMAT, "not a PyTorch checkpoint");
}

/* every cut of a good file fails with FORMAT (and never crashes); so do broken directories */
static void test_truncated_and_corrupt(void **state)
{
    (void)state;
    const char *files[] = {DIR "good.pt", DIR "good_legacy.pt"};
    for (int k = 0; k < 2; k++) {
        size_t len;
        uint8_t *b = read_all(files[k], &len);
        assert_non_null(b);
        for (size_t n = 0; n < len; n += (n < 64 ? 1 : 37)) {
            oc_pt_file *f = NULL;
            oc_status st = oc_pt_open_memory(b, n, "cut.pt", &f);
            if (st == OC_OK) { /* the legacy stream can end after the object's storages */
                oc_pt_state_dict *sd = NULL;
                st = oc_pt_state_dict_from(f, NULL, &sd);
                oc_pt_state_dict_free(sd);
                oc_pt_close(f);
            }
            if (st != OC_ERR_FORMAT) fprintf(stderr, "%s cut at %zu: %s\n", files[k], n, oc_status_name(st));
            assert_int_equal(st, OC_ERR_FORMAT);
        }
        free(b);
    }
    size_t len;
    uint8_t *b = read_all(DIR "good.pt", &len);
    assert_non_null(b);
    /* torch writes a zip64 end-of-central-directory record (found through its locator just
     * before the classic one), whose fields libzip uses: point them elsewhere */
    size_t eocd = len - 22, loc = eocd - 20;
    assert_true(!memcmp(b + eocd, "PK\5\6", 4) && !memcmp(b + loc, "PK\6\7", 4));
    uint64_t z64;
    memcpy(&z64, b + loc + 8, 8);
    assert_true(z64 < loc && !memcmp(b + z64, "PK\6\6", 4));
    uint8_t *c = malloc(len);
    static const struct { int field; uint64_t value; } bad[] = {
        {48, 0}, {48, 1}, {48, 0x7fffffff}, {48, ~(uint64_t)0}, /* directory offset */
        {40, 1}, {40, 0xffffff},                                /* directory size */
        {24, 3}, {32, 0xffff}, {24, 0},                         /* entry counts */
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        memcpy(c, b, len);
        memcpy(c + z64 + bad[i].field, &bad[i].value, 8);
        oc_pt_file *f = NULL;
        assert_int_equal(oc_pt_open_memory(c, len, "cdir.pt", &f), OC_ERR_FORMAT);
        assert_null(f);
        assert_non_null(strstr(oc_last_error(), "not a readable zip archive"));
    }
    uint64_t cd64;
    memcpy(&cd64, b + z64 + 48, 8);
    uint32_t cd = (uint32_t)cd64;
    assert_true(!memcmp(b + cd, "PK\1\2", 4));
    /* the directory's first entry signature broken */
    memcpy(c, b, len);
    c[cd] = 'X';
    oc_pt_file *f = NULL;
    assert_int_equal(oc_pt_open_memory(c, len, "cdir.pt", &f), OC_ERR_FORMAT);
    /* a byte of tensor data flipped: the CRC catches it when the storage is read */
    memcpy(c, b, len);
    /* the local header of "<prefix>/data/0": the first header whose name ends so */
    size_t data_at = 0;
    for (size_t hdr = 0; hdr + 30 < cd && !data_at; hdr++) {
        uint16_t nlen, xlen;
        if (memcmp(b + hdr, "PK\3\4", 4)) continue;
        memcpy(&nlen, b + hdr + 26, 2);
        memcpy(&xlen, b + hdr + 28, 2);
        if (nlen >= 7 && hdr + 30 + nlen <= cd && !memcmp(b + hdr + 30 + nlen - 7, "/data/0", 7))
            data_at = hdr + 30 + nlen + xlen;
    }
    assert_true(data_at > 0);
    c[data_at] ^= 0x40;
    assert_int_equal(oc_pt_open_memory(c, len, "crc.pt", &f), OC_OK);
    oc_pt_state_dict *sd = NULL;
    assert_int_equal(oc_pt_state_dict_from(f, NULL, &sd), OC_ERR_FORMAT);
    assert_non_null(strstr(oc_last_error(), "CRC"));
    oc_pt_close(f);
    free(c);
    free(b);
}

static void test_info_without_data(void **state)
{
    (void)state;
    oc_pt_options o = {NULL, -1, 1};
    oc_pt_state_dict *sd = NULL;
    assert_int_equal(oc_pt_load_state_dict(DIR "good.pt", &o, &sd), OC_OK);
    assert_int_equal(oc_st_num_tensors(sd->st), 10);
    float w[24];
    assert_int_equal(oc_st_to_f32(sd->st, oc_st_find(sd->st, "w"), w), OC_OK);
    assert_true(w[0] == 0.0f); /* names and shapes only */
    oc_pt_state_dict_free(sd);
}

/* ---- the shared fixtures, saved by torch (generated into build/pt-fixtures/) ---- */
static const char *gen_dir(void)
{
    const char *b = getenv("BUILD");
    static char dir[512];
    snprintf(dir, sizeof dir, "%s/pt-fixtures", b && *b ? b : "build");
    return dir;
}

/* make the checkpoints once when Debian's torch is there */
static int have_generated(void)
{
    static int state = -1;
    if (state >= 0) return state;
    char stamp[600];
    snprintf(stamp, sizeof stamp, "%s/yolo11n.pt", gen_dir());
    struct stat sb;
    if (stat(stamp, &sb) != 0) {
        if (!tu_shared_has("fixtures/yolo11n/model.safetensors") ||
            system("/usr/bin/python3 -c 'import torch' >/dev/null 2>&1") != 0) {
            state = 0;
            return state;
        }
        char cmd[2048];
        snprintf(cmd, sizeof cmd, "/usr/bin/python3 tools/fixtures/make_pt_fixtures.py shared "
                 "'%s' '%s' >&2", tu_shared_path("fixtures"), gen_dir());
        if (system(cmd) != 0) fprintf(stderr, "make_pt_fixtures.py failed\n");
    }
    state = stat(stamp, &sb) == 0;
    return state;
}

static void tensors_identical(const oc_st_file *a, const oc_st_file *b, const char *what)
{
    assert_int_equal(oc_st_num_tensors(a), oc_st_num_tensors(b));
    for (size_t i = 0; i < oc_st_num_tensors(a); i++) {
        const oc_st_tensor *x = oc_st_tensor_at(a, i);
        const oc_st_tensor *y = oc_st_find(b, x->name);
        if (!y) fprintf(stderr, "%s: '%s' missing\n", what, x->name);
        assert_non_null(y);
        assert_int_equal(x->dtype, y->dtype);
        assert_int_equal(x->ndim, y->ndim);
        for (int d = 0; d < x->ndim; d++) assert_int_equal(x->shape[d], y->shape[d]);
        assert_int_equal(x->end - x->begin, y->end - y->begin);
        if (memcmp(x->data, y->data, (size_t)(x->end - x->begin)))
            fprintf(stderr, "%s: '%s' differs\n", what, x->name);
        assert_memory_equal(x->data, y->data, (size_t)(x->end - x->begin));
    }
}

static const char *const k_fixtures[] = {
    "yolo11n", "yolo12n", "yolo11-ltiny", "yolo12-ltiny", "rtdetr-r18vd-w4", "rtdetr-r50vd-w8",
    "rtdetr-r101vd-w8", "rfdetr-nano-w2", "rfdetr-medium-w2-512", "sam2-t-r", "sam2-bp-r",
    "sam2-l-r",
};

static void test_shared_read(void **state)
{
    (void)state;
    TU_REQUIRE_SHARED("fixtures/yolo11n/model.safetensors");
    if (!have_generated()) {
        fprintf(stderr, "SKIP: %s/*.pt not found and /usr/bin/python3 with torch is not there "
                "to make them (tools/fixtures/make_pt_fixtures.py shared)\n", gen_dir());
        skip();
    }
    int n = 0;
    for (size_t i = 0; i < sizeof k_fixtures / sizeof k_fixtures[0]; i++) {
        char rel[256], pt[600], nest[600], where[64] = "";
        snprintf(rel, sizeof rel, "fixtures/%s/model.safetensors", k_fixtures[i]);
        snprintf(pt, sizeof pt, "%s/%s.pt", gen_dir(), k_fixtures[i]);
        snprintf(nest, sizeof nest, "%s/%s.nesting", gen_dir(), k_fixtures[i]);
        if (!tu_shared_has(rel) || access(pt, R_OK)) continue;
        FILE *fp = fopen(nest, "r");
        if (fp) {
            if (!fgets(where, sizeof where, fp)) where[0] = 0;
            where[strcspn(where, "\n")] = 0;
            fclose(fp);
        }
        oc_st_file *ref = NULL;
        assert_int_equal(oc_st_open(tu_shared_path(rel), &ref), OC_OK);
        oc_pt_state_dict *sd = load_sd(pt, NULL, -1);
        assert_string_equal(sd->where, where);
        tensors_identical(ref, sd->st, pt);
        oc_pt_state_dict_free(sd);
        oc_st_close(ref);
        n++;
    }
    fprintf(stderr, "read %d checkpoints, every tensor identical to its safetensors file\n", n);
    assert_true(n >= 4);
}

/* converting the checkpoint and the safetensors state_dict gives the same model file */
static void test_shared_convert(void **state)
{
    (void)state;
    TU_REQUIRE_SHARED("fixtures/yolo11n/model.safetensors");
    if (!have_generated()) {
        fprintf(stderr, "SKIP: %s/*.pt not found (tools/fixtures/make_pt_fixtures.py shared)\n",
                gen_dir());
        skip();
    }
    int n = 0;
    /* under valgrind: one zip and one legacy file */
    size_t count = tu_under_valgrind() ? 0 : sizeof k_fixtures / sizeof k_fixtures[0];
    for (size_t i = 0; i < (count ? count : 4); i++) {
        if (!count && i != 0 && i != 3) continue;
        char rel[256], pt[600];
        snprintf(rel, sizeof rel, "fixtures/%s/model.safetensors", k_fixtures[i]);
        snprintf(pt, sizeof pt, "%s/%s.pt", gen_dir(), k_fixtures[i]);
        if (!tu_shared_has(rel) || access(pt, R_OK)) continue;
        char out_st[600], out_pt[600];
        snprintf(out_st, sizeof out_st, "%s", tu_tmp_path(".from_st.safetensors"));
        snprintf(out_pt, sizeof out_pt, "%s", tu_tmp_path(".from_pt.safetensors"));
        oc_status st = oc_convert_state_dict(tu_shared_path(rel), out_st, NULL, NULL, 0);
        if (st) {
            fprintf(stderr, "SKIP (%s): its safetensors state_dict does not convert on this "
                    "build yet: %s\n", k_fixtures[i], oc_last_error());
            continue;
        }
        st = oc_convert_checkpoint(pt, out_pt, NULL, NULL, 0, NULL, -1);
        if (st) fprintf(stderr, "%s: %s\n", pt, oc_last_error());
        assert_int_equal(st, OC_OK);
        oc_st_file *a = NULL, *b = NULL;
        assert_int_equal(oc_st_open(out_st, &a), OC_OK);
        assert_int_equal(oc_st_open(out_pt, &b), OC_OK);
        tensors_identical(a, b, pt);
        /* and the same metadata, but for where it came from */
        assert_int_equal(oc_st_num_meta(a), oc_st_num_meta(b));
        for (size_t m = 0; m < oc_st_num_meta(a); m++) {
            const char *k, *v;
            oc_st_meta_at(a, m, &k, &v);
            if (!strcmp(k, "ocellus.source")) continue;
            assert_non_null(oc_st_meta(b, k));
            assert_string_equal(oc_st_meta(b, k), v);
        }
        oc_st_close(a);
        oc_st_close(b);
        unlink(out_st);
        unlink(out_pt);
        n++;
    }
    fprintf(stderr, "converted %d checkpoints bit-identically to their safetensors files\n", n);
    assert_true(n >= (count ? 4 : 2));
}

/* the family from tensor names, when nothing else says it */
static void test_family_from_names(void **state)
{
    (void)state;
    char out[600];
    snprintf(out, sizeof out, "%s", tu_tmp_path(".safetensors"));
    assert_int_equal(oc_convert_checkpoint(DIR "good.pt", out, NULL, NULL, 0, NULL, -1),
                     OC_ERR_INVALID_ARG);
    assert_non_null(strstr(oc_last_error(), "pass --arch"));
    assert_int_equal(access(out, F_OK), -1);
    TU_REQUIRE_SHARED("fixtures/sam2-t-r/model.safetensors");
    static const char *const want[][2] = {{"yolo11n", "yolo11"}, {"yolo12n", "yolo12"},
                                          {"rtdetr-r18vd-w4", "rtdetr"},
                                          {"rfdetr-nano-w2", "rfdetr"}, {"sam2-t-r", "sam2"}};
    for (int i = 0; i < 5; i++) {
        char rel[256], arch[32], scale[8];
        snprintf(rel, sizeof rel, "fixtures/%s/model.safetensors", want[i][0]);
        if (!tu_shared_has(rel)) continue;
        oc_st_file *f = NULL;
        assert_int_equal(oc_st_open(tu_shared_path(rel), &f), OC_OK);
        oc_convert_guess_family(f, arch, sizeof arch, scale);
        assert_string_equal(arch, want[i][1]);
        if (i < 2) assert_string_equal(scale, "n");
        oc_st_close(f);
    }
}

/* the CLI on a checkpoint: `ocellus info` lists it; `ocellus convert` of a hostile file says
 * why and exits 1 without writing anything */
static int run(char *out, size_t cap, const char *args)
{
    char exe[1000], cmd[2400];
    ssize_t n = readlink("/proc/self/exe", exe, sizeof exe - 1);
    if (n <= 0) return -1;
    exe[n] = 0;
    for (int up = 0; up < 2; up++) { /* build/tests/formats/x -> build */
        char *sl = strrchr(exe, '/');
        if (sl) *sl = 0;
    }
    char *sl = strrchr(exe, '/');
    if (sl) *sl = 0;
    snprintf(cmd, sizeof cmd, "%s/ocellus %s 2>&1", exe, args);
    FILE *p = popen(cmd, "r");
    if (!p) return -1;
    size_t got = fread(out, 1, cap - 1, p);
    out[got] = 0;
    int rc = pclose(p);
    return WIFEXITED(rc) ? WEXITSTATUS(rc) : -1;
}

static void test_cli(void **state)
{
    (void)state;
    char out[8192];
    int rc = run(out, sizeof out, "info --json --tensors " DIR "good_legacy.pt");
    if (rc) fprintf(stderr, "%s\n", out);
    assert_int_equal(rc, 0);
    assert_non_null(strstr(out, "\"tensors\": 10,"));
    assert_non_null(strstr(out, "\"elements\": 61,"));
    assert_non_null(strstr(out, "{\"name\": \"w_t\", \"dtype\": \"F32\", \"shape\": [4, 3]}"));
    assert_non_null(strstr(out, "\"checkpoint.state_dict\": \"model\""));
    char cmd[1200], target[600];
    snprintf(target, sizeof target, "%s", tu_tmp_path(".safetensors"));
    snprintf(cmd, sizeof cmd, "convert " DIR "global_os_system.pt -o %s", target);
    assert_int_equal(run(out, sizeof out, cmd), 1);
    assert_non_null(strstr(out, "global 'posix.system' is not allowed"));
    assert_int_equal(access(target, F_OK), -1);
    snprintf(cmd, sizeof cmd, "convert " DIR "good.pt -o %s --dtype f8", target);
    assert_int_equal(run(out, sizeof out, cmd), 2);
    snprintf(cmd, sizeof cmd, "convert " DIR "good.pt -o %s", target);
    assert_int_equal(run(out, sizeof out, cmd), 1);
    assert_non_null(strstr(out, "pass --arch"));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_small_zip),
        cmocka_unit_test(test_small_protocol4),
        cmocka_unit_test(test_small_legacy),
        cmocka_unit_test(test_dtype_conversion),
        cmocka_unit_test(test_nesting_and_keys),
        cmocka_unit_test(test_hostile_files),
        cmocka_unit_test(test_truncated_and_corrupt),
        cmocka_unit_test(test_info_without_data),
        cmocka_unit_test(test_family_from_names),
        cmocka_unit_test(test_cli),
        cmocka_unit_test(test_shared_read),
        cmocka_unit_test(test_shared_convert),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}

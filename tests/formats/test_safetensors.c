/* The model file: every validation rule of docs/FORMAT.md with a crafted bad file, the writer
 * round trip, half-precision conversions, the real fixture, and `ocellus info`. */
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

#include "safetensors.h"
#include "testutil.h"

/* ---- helpers ----------------------------------------------------------------------- */

/* file = u64 LE header length + header + data (hlen_override when != UINT64_MAX) */
static uint8_t *mk_raw(const char *hdr, size_t hdr_len, uint64_t hlen, const void *data,
                       size_t data_len, size_t *out_len)
{
    size_t n = 8 + hdr_len + data_len;
    uint8_t *b = malloc(n ? n : 1);
    assert_non_null(b);
    for (int i = 0; i < 8; i++) b[i] = (uint8_t)(hlen >> (8 * i));
    memcpy(b + 8, hdr, hdr_len);
    if (data_len) {
        if (data) memcpy(b + 8 + hdr_len, data, data_len);
        else memset(b + 8 + hdr_len, 0x3c, data_len);
    }
    *out_len = n;
    return b;
}

static uint8_t *mk(const char *hdr, size_t data_len, size_t *out_len)
{
    return mk_raw(hdr, strlen(hdr), strlen(hdr), NULL, data_len, out_len);
}

/* open hdr + data_len bytes of data in memory: expect status st and a message containing
 * every needle (NULL-terminated) and the file name */
static void expect_bad(const char *hdr, size_t data_len, oc_status want, ...)
{
    size_t n;
    uint8_t *b = mk(hdr, data_len, &n);
    oc_st_file *f = (oc_st_file *)0x1;
    oc_status st = oc_st_open_memory(b, n, "bad.safetensors", &f);
    const char *msg = oc_last_error();
    if (st != want) fprintf(stderr, "header %s -> %s: %s\n", hdr, oc_status_name(st), msg);
    assert_int_equal(st, want);
    assert_null(f);
    assert_non_null(strstr(msg, "bad.safetensors: "));
    va_list ap;
    va_start(ap, want);
    for (const char *needle; (needle = va_arg(ap, const char *));) {
        if (!strstr(msg, needle)) fprintf(stderr, "message '%s' lacks '%s'\n", msg, needle);
        assert_non_null(strstr(msg, needle));
    }
    va_end(ap);
    free(b);
}

static oc_st_file *open_ok(const char *hdr, size_t data_len, uint8_t **keep)
{
    size_t n;
    uint8_t *b = mk(hdr, data_len, &n);
    oc_st_file *f = NULL;
    oc_status st = oc_st_open_memory(b, n, "good.safetensors", &f);
    if (st) fprintf(stderr, "unexpected failure: %s\n", oc_last_error());
    assert_int_equal(st, OC_OK);
    assert_non_null(f);
    *keep = b;
    return f;
}

#define T1 "\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,8]"

/* ---- the rules, one crafted file each ---------------------------------------------- */

static void test_rule_file_too_short(void **state)
{
    (void)state;
    static const uint8_t five[5] = {1, 0, 0, 0, 0};
    oc_st_file *f = NULL;
    assert_int_equal(oc_st_open_memory(five, 5, "bad.safetensors", &f), OC_ERR_FORMAT);
    assert_non_null(strstr(oc_last_error(), "bad.safetensors: file is 5 bytes, shorter than"));
    assert_int_equal(oc_st_open_memory(NULL, 0, "bad.safetensors", &f), OC_ERR_FORMAT);
    assert_non_null(strstr(oc_last_error(), "file is 0 bytes"));
}

static void test_rule_header_length(void **state)
{
    (void)state;
    size_t n;
    oc_st_file *f = NULL;
    uint8_t *b = mk_raw("", 0, 0, NULL, 16, &n);
    assert_int_equal(oc_st_open_memory(b, n, "bad.safetensors", &f), OC_ERR_FORMAT);
    assert_non_null(strstr(oc_last_error(), "header length is 0"));
    free(b);
    b = mk_raw("{}", 2, 100ull * 1024 * 1024 + 1, NULL, 0, &n);
    assert_int_equal(oc_st_open_memory(b, n, "bad.safetensors", &f), OC_ERR_FORMAT);
    assert_non_null(strstr(oc_last_error(), "header length 104857601 exceeds the limit"));
    free(b);
    b = mk_raw("{}", 2, UINT64_MAX, NULL, 0, &n); /* no overflow in 8 + hlen */
    assert_int_equal(oc_st_open_memory(b, n, "bad.safetensors", &f), OC_ERR_FORMAT);
    assert_non_null(strstr(oc_last_error(), "exceeds the limit"));
    free(b);
    b = mk_raw("{}      ", 8, 9, NULL, 0, &n); /* one byte more than there is */
    assert_int_equal(oc_st_open_memory(b, n, "bad.safetensors", &f), OC_ERR_FORMAT);
    assert_non_null(strstr(oc_last_error(), "header length 9 runs past the end of the file (16 bytes)"));
    free(b);
    assert_null(f);
}

static void test_rule_header_start_and_json(void **state)
{
    (void)state;
    expect_bad(" {}", 0, OC_ERR_FORMAT, "header does not start with '{'", NULL);
    expect_bad("[1,2]", 0, OC_ERR_FORMAT, "does not start with '{' (byte 0x5b)", NULL);
    expect_bad("{\"a\":", 0, OC_ERR_FORMAT, "header is not valid JSON", NULL);
    expect_bad("{\"a\":{\"dtype\":\"F32\",}", 0, OC_ERR_FORMAT, "not valid JSON", NULL);
    expect_bad("{} x", 0, OC_ERR_FORMAT, "trailing bytes after the JSON object (header byte 3)",
               NULL);
    expect_bad("{}{}", 0, OC_ERR_FORMAT, "trailing bytes", NULL);
    /* a NUL inside the header is not JSON either */
    size_t n;
    oc_st_file *f = NULL;
    uint8_t *b = mk_raw("{\"a\0\":1}", 8, 8, NULL, 0, &n);
    assert_int_equal(oc_st_open_memory(b, n, "bad.safetensors", &f), OC_ERR_FORMAT);
    free(b);
    /* deep nesting is refused by the parser, not a stack overflow */
    char deep[4100];
    deep[0] = '{';
    strcpy(deep + 1, "\"a\":");
    size_t o = strlen(deep);
    for (int i = 0; i < 2000; i++) deep[o++] = '[';
    deep[o] = 0;
    strcat(deep, "}");
    expect_bad(deep, 0, OC_ERR_FORMAT, "not valid JSON", NULL);
}

/* a header of many tiny JSON values: rejected by the parse-memory budget (20 x header bytes
 * + 1 MB, at most 256 MB) instead of taking gigabytes: cJSON needs 64 bytes per "0," */
static void test_rule_json_memory_budget(void **state)
{
    (void)state;
    size_t nv = 600000, hl = 6 + 2 * nv + 1;
    char *h = malloc(hl + 1);
    assert_non_null(h);
    memcpy(h, "{\"a\":[", 6);
    for (size_t i = 0; i < nv; i++) memcpy(h + 6 + 2 * i, "0,", 2);
    memcpy(h + 6 + 2 * nv - 1, "]}", 2);
    h[hl] = 0;
    size_t n;
    uint8_t *b = mk_raw(h, hl, hl, NULL, 0, &n);
    oc_st_file *f = NULL;
    assert_int_equal(oc_st_open_memory(b, n, "bad.safetensors", &f), OC_ERR_FORMAT);
    assert_non_null(strstr(oc_last_error(), "bad.safetensors: header of 1200007 bytes needs more "
                                            "than 23 MB to parse"));
    free(b);
    /* a smaller one of the same shape parses and fails on the entry */
    memcpy(h + 6 + 2 * 1000 - 1, "]}", 2);
    b = mk_raw(h, 6 + 2 * 1000 + 1, 6 + 2 * 1000 + 1, NULL, 0, &n);
    assert_int_equal(oc_st_open_memory(b, n, "bad.safetensors", &f), OC_ERR_FORMAT);
    assert_non_null(strstr(oc_last_error(), "tensor 'a': entry is not an object"));
    free(b);
    free(h);
}

static void test_rule_entry_not_object(void **state)
{
    (void)state;
    expect_bad("{\"w\":5}", 0, OC_ERR_FORMAT, "tensor 'w': entry is not an object", NULL);
    expect_bad("{\"w\":[0,8]}", 8, OC_ERR_FORMAT, "tensor 'w': entry is not an object", NULL);
    expect_bad("{\"w\":{" T1 ",\"extra\":1}}", 8, OC_ERR_FORMAT, "tensor 'w': unknown field 'extra'",
               NULL);
    expect_bad("{\"w\":{" T1 ",\"dtype\":\"F32\"}}", 8, OC_ERR_FORMAT,
               "tensor 'w': duplicate field 'dtype'", NULL);
}

static void test_rule_dtype(void **state)
{
    (void)state;
    expect_bad("{\"w\":{\"dtype\":\"F12\",\"shape\":[2],\"data_offsets\":[0,8]}}", 8, OC_ERR_FORMAT,
               "tensor 'w': unknown dtype 'F12'", NULL);
    expect_bad("{\"w\":{\"dtype\":\"f32\",\"shape\":[2],\"data_offsets\":[0,8]}}", 8, OC_ERR_FORMAT,
               "unknown dtype 'f32'", NULL);
    expect_bad("{\"w\":{\"dtype\":\"U16\",\"shape\":[4],\"data_offsets\":[0,8]}}", 8,
               OC_ERR_UNSUPPORTED, "tensor 'w': dtype 'U16' is not supported", NULL);
    expect_bad("{\"w\":{\"dtype\":4,\"shape\":[2],\"data_offsets\":[0,8]}}", 8, OC_ERR_FORMAT,
               "tensor 'w': dtype is not a string", NULL);
    expect_bad("{\"w\":{\"shape\":[2],\"data_offsets\":[0,8]}}", 8, OC_ERR_FORMAT,
               "tensor 'w': missing dtype", NULL);
}

static void test_rule_shape(void **state)
{
    (void)state;
    expect_bad("{\"w\":{\"dtype\":\"F32\",\"data_offsets\":[0,8]}}", 8, OC_ERR_FORMAT,
               "tensor 'w': missing shape", NULL);
    expect_bad("{\"w\":{\"dtype\":\"F32\",\"shape\":2,\"data_offsets\":[0,8]}}", 8, OC_ERR_FORMAT,
               "tensor 'w': shape is not an array", NULL);
    expect_bad("{\"w\":{\"dtype\":\"F32\",\"shape\":[\"2\"],\"data_offsets\":[0,8]}}", 8,
               OC_ERR_FORMAT, "tensor 'w': shape[0] is not a number", NULL);
    expect_bad("{\"w\":{\"dtype\":\"F32\",\"shape\":[1,-2],\"data_offsets\":[0,8]}}", 8,
               OC_ERR_FORMAT, "tensor 'w': shape[1] is negative", NULL);
    expect_bad("{\"w\":{\"dtype\":\"F32\",\"shape\":[2.5],\"data_offsets\":[0,10]}}", 10,
               OC_ERR_FORMAT, "tensor 'w': shape[0] is not an integer (2.5)", NULL);
    expect_bad("{\"w\":{\"dtype\":\"U8\",\"shape\":[9007199254740993],\"data_offsets\":[0,8]}}", 8,
               OC_ERR_FORMAT, "tensor 'w': shape[0] is too large", NULL);
    expect_bad("{\"w\":{\"dtype\":\"U8\",\"shape\":[1e300],\"data_offsets\":[0,8]}}", 8,
               OC_ERR_FORMAT, "shape[0] is too large", NULL);
    expect_bad("{\"w\":{\"dtype\":\"U8\",\"shape\":[1,1,1,1,1,1,1,1,1],\"data_offsets\":[0,1]}}", 1,
               OC_ERR_FORMAT, "tensor 'w': shape has 9 dims, more than 8", NULL);
    /* integral values in float syntax: cJSON sees 2.0, the text check rejects it */
    expect_bad("{\"w\":{\"dtype\":\"F32\",\"shape\":[2.0],\"data_offsets\":[0,8]}}", 8,
               OC_ERR_FORMAT, "tensor 'w': number '2.0'", "is not a plain non-negative integer",
               NULL);
    expect_bad("{\"w\":{\"dtype\":\"F32\",\"shape\":[2e0],\"data_offsets\":[0,8]}}", 8,
               OC_ERR_FORMAT, "number '2e0'", NULL);
    expect_bad("{\"w\":{\"dtype\":\"F32\",\"shape\":[-0],\"data_offsets\":[0,0]}}", 0,
               OC_ERR_FORMAT, "number '-0'", NULL);
    expect_bad("{\"w\":{\"dtype\":\"F32\",\"shape\":[02],\"data_offsets\":[0,8]}}", 8,
               OC_ERR_FORMAT, "number '02'", NULL);
    /* 8 dims is the limit and fine */
    uint8_t *b;
    oc_st_file *f = open_ok("{\"w\":{\"dtype\":\"U8\",\"shape\":[1,1,1,2,1,1,1,1],"
                            "\"data_offsets\":[0,2]}}", 2, &b);
    assert_int_equal(oc_st_tensor_at(f, 0)->ndim, 8);
    assert_int_equal(oc_st_tensor_at(f, 0)->numel, 2);
    oc_st_close(f);
    free(b);
}

static void test_rule_data_offsets(void **state)
{
    (void)state;
    expect_bad("{\"w\":{\"dtype\":\"F32\",\"shape\":[2]}}", 8, OC_ERR_FORMAT,
               "tensor 'w': missing data_offsets", NULL);
    expect_bad("{\"w\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[8]}}", 8, OC_ERR_FORMAT,
               "tensor 'w': data_offsets is not an array of two integers", NULL);
    expect_bad("{\"w\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,8,8]}}", 8,
               OC_ERR_FORMAT, "data_offsets is not an array of two integers", NULL);
    expect_bad("{\"w\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":{\"a\":0}}}", 8,
               OC_ERR_FORMAT, "data_offsets is not an array of two integers", NULL);
    expect_bad("{\"w\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,\"8\"]}}", 8,
               OC_ERR_FORMAT, "tensor 'w': data_offsets[1] is not a number", NULL);
    expect_bad("{\"w\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[-8,0]}}", 8,
               OC_ERR_FORMAT, "tensor 'w': data_offsets[0] is negative", NULL);
    expect_bad("{\"w\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[8,4]}}", 8,
               OC_ERR_FORMAT, "tensor 'w': data_offsets begin 8 > end 4", NULL);
    expect_bad("{\"w\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[4,12]}}", 8,
               OC_ERR_FORMAT,
               "tensor 'w': data_offsets [4, 12) run past the end of the data section (8 bytes)",
               NULL);
    expect_bad("{\"w\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,18446744073709551615]}}",
               8, OC_ERR_FORMAT, "data_offsets[1] is too large", NULL);
}

static void test_rule_size_matches_dtype_shape(void **state)
{
    (void)state;
    expect_bad("{\"w\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,4]}}", 8, OC_ERR_FORMAT,
               "tensor 'w': data_offsets [0, 4) hold 4 bytes but F32 x shape [2] needs 8", NULL);
    expect_bad("{\"w\":{\"dtype\":\"F16\",\"shape\":[2,3],\"data_offsets\":[0,8]}}", 16,
               OC_ERR_FORMAT, "hold 8 bytes but F16 x shape [2,3] needs 12", NULL);
    /* element count overflows u64: 2^32 * 2^32 */
    expect_bad("{\"w\":{\"dtype\":\"U8\",\"shape\":[4294967296,4294967296],\"data_offsets\":[0,8]}}",
               8, OC_ERR_FORMAT, "tensor 'w': shape [4294967296,4294967296] overflows the element "
               "count", NULL);
    /* bytes overflow: 2^62 elements x 4 bytes */
    expect_bad("{\"w\":{\"dtype\":\"F32\",\"shape\":[2147483648,2147483648],\"data_offsets\":[0,8]}}",
               8, OC_ERR_FORMAT, "overflows the byte count", NULL);
    /* a zero dim makes numel 0 whatever the others (no overflow from them) */
    uint8_t *b;
    oc_st_file *f = open_ok("{\"e\":{\"dtype\":\"F32\",\"shape\":[4294967296,4294967296,0],"
                            "\"data_offsets\":[0,0]}}", 0, &b);
    assert_int_equal(oc_st_tensor_at(f, 0)->numel, 0);
    oc_st_close(f);
    free(b);
}

static void test_rule_overlap(void **state)
{
    (void)state;
    expect_bad("{\"a\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,8]},"
               "\"b\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[4,12]}}", 12, OC_ERR_FORMAT,
               "tensors 'a' [0, 8) and 'b' [4, 12) overlap", NULL);
    /* the same range twice (file order reversed from offset order) */
    expect_bad("{\"b\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[8,16]},"
               "\"a\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,8]},"
               "\"c\":{\"dtype\":\"U8\",\"shape\":[8],\"data_offsets\":[8,16]}}", 16, OC_ERR_FORMAT,
               "overlap", NULL);
    /* a tensor inside a bigger one that is not its immediate predecessor */
    expect_bad("{\"big\":{\"dtype\":\"U8\",\"shape\":[16],\"data_offsets\":[0,16]},"
               "\"s1\":{\"dtype\":\"U8\",\"shape\":[2],\"data_offsets\":[2,4]},"
               "\"s2\":{\"dtype\":\"U8\",\"shape\":[2],\"data_offsets\":[10,12]}}", 16,
               OC_ERR_FORMAT, "tensors 'big' [0, 16) and 's1' [2, 4) overlap", NULL);
    /* adjacent tensors and an empty one at a boundary are fine */
    uint8_t *b;
    oc_st_file *f = open_ok("{\"a\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,8]},"
                            "\"z\":{\"dtype\":\"F32\",\"shape\":[0],\"data_offsets\":[8,8]},"
                            "\"b\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[8,12]}}",
                            12, &b);
    assert_int_equal(oc_st_num_tensors(f), 3);
    oc_st_close(f);
    free(b);
}

static void test_rule_duplicate_names(void **state)
{
    (void)state;
    expect_bad("{\"w\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0,4]},"
               "\"x\":{\"dtype\":\"F32\",\"shape\":[0],\"data_offsets\":[8,8]},"
               "\"w\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[4,8]}}", 8, OC_ERR_FORMAT,
               "duplicate tensor name 'w'", NULL);
    expect_bad("{\"__metadata__\":{},\"__metadata__\":{}}", 0, OC_ERR_FORMAT,
               "duplicate __metadata__", NULL);
}

static void test_rule_metadata(void **state)
{
    (void)state;
    expect_bad("{\"__metadata__\":[\"a\"]}", 0, OC_ERR_FORMAT, "__metadata__ is not an object",
               NULL);
    expect_bad("{\"__metadata__\":{\"nc\":80}}", 0, OC_ERR_FORMAT,
               "__metadata__ value of 'nc' is not a string", NULL);
    expect_bad("{\"__metadata__\":{\"a\":{\"b\":\"c\"}}}", 0, OC_ERR_FORMAT,
               "__metadata__ value of 'a' is not a string", NULL);
    expect_bad("{\"__metadata__\":{\"k\":\"1\",\"j\":\"2\",\"k\":\"3\"}}", 0, OC_ERR_FORMAT,
               "__metadata__ has duplicate key 'k'", NULL);
}

static void log_cb(oc_log_level lv, const char *msg, void *user)
{
    (void)lv;
    snprintf((char *)user, 512, "%s", msg);
}

static void test_accepted_edge_cases(void **state)
{
    (void)state;
    uint8_t *b;
    /* empty header object: no tensors, no metadata */
    oc_st_file *f = open_ok("{}", 0, &b);
    assert_int_equal(oc_st_num_tensors(f), 0);
    assert_int_equal(oc_st_num_meta(f), 0);
    assert_null(oc_st_find(f, "x"));
    assert_null(oc_st_tensor_at(f, 0));
    oc_st_close(f);
    free(b);
    /* padding with spaces, scalar (0-dim) tensor, holes between and after tensors (logged) */
    char logbuf[512] = "";
    oc_set_log_callback(log_cb, logbuf);
    f = open_ok("{\"s\":{\"dtype\":\"F32\",\"shape\":[],\"data_offsets\":[4,8]},"
                "\"t\":{\"dtype\":\"BF16\",\"shape\":[1],\"data_offsets\":[10,12]}}      ", 20, &b);
    oc_set_log_callback(NULL, NULL);
    assert_non_null(strstr(logbuf, "14 of the 20 data bytes belong to no tensor"));
    const oc_st_tensor *s = oc_st_find(f, "s");
    assert_non_null(s);
    assert_int_equal(s->ndim, 0);
    assert_int_equal(s->numel, 1);
    assert_int_equal(s->begin, 4);
    float v = 0;
    assert_int_equal(oc_st_to_f32(f, s, &v), OC_OK);
    uint32_t bits = 0x3c3c3c3c; /* the filler bytes */
    float want;
    memcpy(&want, &bits, 4);
    assert_true(v == want);
    oc_st_close(f);
    free(b);
    /* an F32 tensor at an odd offset (unaligned address) converts through memcpy */
    const char *oh = "{\"o\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[1,9]}}";
    f = open_ok(oh, 9, &b);
    float two[2];
    const oc_st_tensor *t = oc_st_tensor_at(f, 0);
    assert_ptr_equal(t->data, b + 8 + strlen(oh) + 1);
    assert_int_equal(oc_st_to_f32(f, t, two), OC_OK);
    assert_true(two[0] == want && two[1] == want);
    oc_st_close(f);
    free(b);
    /* duplicate key check does not confuse names sharing a prefix */
    f = open_ok("{\"a\":{\"dtype\":\"U8\",\"shape\":[1],\"data_offsets\":[0,1]},"
                "\"a.b\":{\"dtype\":\"U8\",\"shape\":[1],\"data_offsets\":[1,2]},"
                "\"A\":{\"dtype\":\"U8\",\"shape\":[1],\"data_offsets\":[2,3]}}", 3, &b);
    assert_int_equal(oc_st_num_tensors(f), 3);
    assert_string_equal(oc_st_tensor_at(f, 0)->name, "a"); /* file order kept */
    assert_string_equal(oc_st_tensor_at(f, 1)->name, "a.b");
    assert_string_equal(oc_st_tensor_at(f, 2)->name, "A");
    assert_int_equal(oc_st_find(f, "A")->begin, 2);
    assert_int_equal(oc_st_find(f, "a.b")->begin, 1);
    assert_null(oc_st_find(f, "a.c"));
    oc_st_close(f);
    free(b);
}

static void test_open_io_errors(void **state)
{
    (void)state;
    oc_st_file *f = NULL;
    assert_int_equal(oc_st_open("/nonexistent/dir/m.safetensors", &f), OC_ERR_IO);
    assert_non_null(strstr(oc_last_error(), "/nonexistent/dir/m.safetensors: cannot open"));
    assert_int_equal(oc_st_open("/tmp", &f), OC_ERR_IO);
    assert_non_null(strstr(oc_last_error(), "/tmp: not a regular file"));
    const char *p = tu_tmp_path(".safetensors");
    assert_int_equal(tu_write_file(p, "", 0), 0);
    assert_int_equal(oc_st_open(p, &f), OC_ERR_FORMAT);
    assert_non_null(strstr(oc_last_error(), "file is 0 bytes"));
    unlink(p);
    assert_null(f);
    assert_int_equal(oc_st_open(NULL, &f), OC_ERR_INVALID_ARG);
}

/* every prefix of a valid file is rejected (no crash, a message); every single-byte corruption
 * of its header is either rejected or still describes tensors inside the buffer */
static void test_truncated_and_corrupt(void **state)
{
    (void)state;
    oc_st_writer *wr = oc_st_writer_new();
    float w[6] = {1, 2, 3, 4, 5, 6};
    uint16_t hh[4] = {0x3c00, 0x4000, 0x4200, 0x4400};
    const int64_t s23[2] = {2, 3}, s4[1] = {4};
    oc_st_writer_add(wr, "conv.weight", OC_DT_F32, 2, s23, w);
    oc_st_writer_add(wr, "conv.bias", OC_DT_F16, 1, s4, hh);
    oc_st_writer_meta(wr, "ocellus.arch", "yolo11");
    const char *p = tu_tmp_path(".safetensors");
    assert_int_equal(oc_st_writer_save(wr, p), OC_OK);
    oc_st_writer_free(wr);
    FILE *fp = fopen(p, "rb");
    assert_non_null(fp);
    uint8_t full[1024];
    size_t n = fread(full, 1, sizeof full, fp);
    fclose(fp);
    unlink(p);
    assert_true(n > 100 && n < sizeof full);
    oc_st_file *f = NULL;
    for (size_t len = 0; len < n; len++) {
        uint8_t *cut = malloc(len ? len : 1); /* exact size: ASan sees any over-read */
        memcpy(cut, full, len);
        oc_status st = oc_st_open_memory(cut, len, "cut.safetensors", &f);
        assert_int_not_equal(st, OC_OK);
        assert_null(f);
        assert_non_null(strstr(oc_last_error(), "cut.safetensors: "));
        free(cut);
    }
    assert_int_equal(oc_st_open_memory(full, n, "ok.safetensors", &f), OC_OK);
    oc_st_close(f);
    uint64_t hl = 0;
    for (int i = 7; i >= 0; i--) hl = (hl << 8) | full[i];
    static const uint8_t vals[] = {0x00, 0x20, '"', '0', '9', '-', '.', '[', ']', '{', '}', ',',
                                   ':', 'e', 0xff, 0x80};
    size_t accepted = 0;
    uint8_t *buf = malloc(n);
    for (size_t i = 0; i < 8 + hl; i++) {
        for (size_t v = 0; v < sizeof vals; v++) {
            memcpy(buf, full, n);
            if (buf[i] == vals[v]) continue;
            buf[i] = vals[v];
            if (oc_st_open_memory(buf, n, "mut.safetensors", &f) != OC_OK) continue;
            accepted++;
            for (size_t k = 0; k < oc_st_num_tensors(f); k++) {
                const oc_st_tensor *t = oc_st_tensor_at(f, k);
                assert_true((const uint8_t *)t->data >= buf + 8 + hl);
                assert_true((const uint8_t *)t->data + (t->end - t->begin) <= buf + n);
                float tmp[8];
                if (t->numel <= 8) oc_st_to_f32(f, t, tmp);
            }
            oc_st_close(f);
        }
    }
    free(buf);
    /* some mutations stay valid (digits in metadata values, names), most do not */
    assert_true(accepted > 0);
}

/* the fuzz seeds open as intended (valid ones load; the overlap seed is rejected) */
static void test_fuzz_seeds(void **state)
{
    (void)state;
    static const struct {
        const char *name;
        oc_status want;
        size_t tensors;
    } seeds[] = {
        {"conv_bn.safetensors", OC_OK, 6},  {"dtypes.safetensors", OC_OK, 10},
        {"empty.safetensors", OC_OK, 0},    {"holes.safetensors", OC_OK, 2},
        {"overlap.safetensors", OC_ERR_FORMAT, 0},
    };
    for (size_t i = 0; i < sizeof seeds / sizeof seeds[0]; i++) {
        char path[256];
        snprintf(path, sizeof path, "tests/fuzz/seeds/model/%s", seeds[i].name);
        if (access(path, R_OK) != 0) {
            fprintf(stderr, "SKIP: %s not found (run from the repository root)\n", path);
            skip();
        }
        oc_st_file *f = NULL;
        assert_int_equal(oc_st_open(path, &f), seeds[i].want);
        if (f) {
            assert_int_equal(oc_st_num_tensors(f), seeds[i].tensors);
            oc_st_close(f);
        }
    }
}

/* ---- writer -> reader round trip ---------------------------------------------------- */

static void test_round_trip(void **state)
{
    (void)state;
    oc_alloc_stats a0, a1;
    oc_get_alloc_stats(&a0);
    float w[2 * 3 * 4];
    tu_fill_uniform(w, 24, 7, -3.f, 3.f);
    uint16_t h[5], bf[3];
    float hv[5] = {1.f, -2.5f, 65504.f, 0x1p-24f, 0.f};
    for (int i = 0; i < 5; i++) h[i] = oc_f32_to_f16(hv[i]);
    float bv[3] = {1.f, -0.15625f, 3e38f};
    for (int i = 0; i < 3; i++) bf[i] = oc_f32_to_bf16(bv[i]);
    int64_t cnt = 1234567890123LL;
    const int64_t sw[3] = {2, 3, 4}, sh[1] = {5}, sb[2] = {3, 1}, s0[1] = {0};
    oc_st_writer *wr = oc_st_writer_new();
    assert_non_null(wr);
    assert_int_equal(oc_st_writer_add(wr, "model.0.conv.weight", OC_DT_F32, 3, sw, w), OC_OK);
    assert_int_equal(oc_st_writer_add(wr, "half \"quoted\"\\", OC_DT_F16, 1, sh, h), OC_OK);
    assert_int_equal(oc_st_writer_add(wr, "bf", OC_DT_BF16, 2, sb, bf), OC_OK);
    assert_int_equal(oc_st_writer_add(wr, "bn.num_batches_tracked", OC_DT_I64, 0, NULL, &cnt),
                     OC_OK);
    assert_int_equal(oc_st_writer_add(wr, "empty", OC_DT_F32, 1, s0, NULL), OC_OK);
    assert_int_equal(oc_st_writer_add(wr, "bf", OC_DT_F32, 1, sh, w), OC_ERR_INVALID_ARG);
    assert_non_null(strstr(oc_last_error(), "duplicate tensor 'bf'"));
    assert_int_equal(oc_st_writer_add(wr, "__metadata__", OC_DT_F32, 1, sh, w), OC_ERR_INVALID_ARG);
    const int64_t neg[1] = {-1};
    assert_int_equal(oc_st_writer_add(wr, "neg", OC_DT_F32, 1, neg, w), OC_ERR_INVALID_ARG);
    assert_int_equal(oc_st_writer_meta(wr, "ocellus.format_version", "1"), OC_OK);
    assert_int_equal(oc_st_writer_meta(wr, "ocellus.arch", "yolo11"), OC_OK);
    assert_int_equal(oc_st_writer_meta(wr, "ocellus.class_names", "[\"a\",\"b\\\"c\"]\n\t"), OC_OK);
    assert_int_equal(oc_st_writer_meta(wr, "ocellus.arch", "yolo12"), OC_OK); /* replaces */
    const char *p = tu_tmp_path(".safetensors");
    assert_int_equal(oc_st_writer_save(wr, p), OC_OK);
    assert_int_equal(oc_st_writer_save(wr, "/nonexistent/dir/x.safetensors"), OC_ERR_IO);
    assert_non_null(strstr(oc_last_error(), "/nonexistent/dir/x.safetensors"));
    oc_st_writer_free(wr);

    /* raw layout: header length multiple of 8, __metadata__ first, space padding */
    FILE *fp = fopen(p, "rb");
    assert_non_null(fp);
    uint8_t raw[4096];
    size_t n = fread(raw, 1, sizeof raw, fp);
    fclose(fp);
    uint64_t hl = 0;
    for (int i = 7; i >= 0; i--) hl = (hl << 8) | raw[i];
    assert_int_equal(hl % 8, 0);
    assert_int_equal(n, 8 + hl + 24 * 4 + 5 * 2 + 3 * 2 + 8);
    assert_memory_equal(raw + 8, "{\"__metadata__\":{\"ocellus.format_version\":\"1\"", 45);
    assert_true(raw[8 + hl - 1] == '}' || raw[8 + hl - 1] == ' ');
    /* first tensor's data right after the header */
    assert_memory_equal(raw + 8 + hl, w, 24 * 4);

    oc_st_file *f = NULL;
    assert_int_equal(oc_st_open(p, &f), OC_OK);
    assert_string_equal(oc_st_path(f), p);
    assert_int_equal(oc_st_num_tensors(f), 5);
    const char *names[5] = {"model.0.conv.weight", "half \"quoted\"\\", "bf",
                            "bn.num_batches_tracked", "empty"};
    for (int i = 0; i < 5; i++) assert_string_equal(oc_st_tensor_at(f, (size_t)i)->name, names[i]);
    assert_int_equal(oc_st_num_meta(f), 3);
    const char *k, *v;
    oc_st_meta_at(f, 1, &k, &v);
    assert_string_equal(k, "ocellus.arch");
    assert_string_equal(v, "yolo12");
    assert_string_equal(oc_st_meta(f, "ocellus.class_names"), "[\"a\",\"b\\\"c\"]\n\t");
    assert_null(oc_st_meta(f, "nope"));

    const oc_st_tensor *t = oc_st_find(f, "model.0.conv.weight");
    assert_int_equal(t->dtype, OC_DT_F32);
    assert_int_equal(t->ndim, 3);
    assert_int_equal(t->shape[2], 4);
    float *got = NULL;
    const int64_t want_shape[3] = {2, -1, 4};
    assert_int_equal(oc_st_load_f32(f, "model.0.conv.weight", 3, want_shape, &got), OC_OK);
    assert_memory_equal(got, w, sizeof w);
    oc_free(got);
    const int64_t bad_shape[3] = {3, 3, 4};
    assert_int_equal(oc_st_load_f32(f, "model.0.conv.weight", 3, bad_shape, &got), OC_ERR_SHAPE);
    assert_null(got);
    char msg[512];
    snprintf(msg, sizeof msg, "%s: tensor 'model.0.conv.weight' has shape [2,3,4], expected [3,3,4]",
             p);
    assert_string_equal(oc_last_error(), msg);
    assert_int_equal(oc_st_load_f32(f, "model.0.conv.weight", 2, bad_shape, &got), OC_ERR_SHAPE);
    assert_non_null(strstr(oc_last_error(), "expected [3,3]"));
    assert_int_equal(oc_st_load_f32(f, "x", 1, bad_shape, &got), OC_ERR_FORMAT);
    snprintf(msg, sizeof msg, "%s: missing tensor 'x'", p);
    assert_string_equal(oc_last_error(), msg);

    float hf[5];
    assert_int_equal(oc_st_to_f32(f, oc_st_find(f, names[1]), hf), OC_OK);
    for (int i = 0; i < 5; i++) assert_true(hf[i] == hv[i]); /* all exactly representable */
    assert_int_equal(oc_st_load_f32(f, "bf", 2, sb, &got), OC_OK);
    assert_true(got[0] == 1.f && got[1] == -0.15625f);
    assert_true(fabsf(got[2] - 3e38f) / 3e38f < 1.0f / 128);
    oc_free(got);
    t = oc_st_find(f, "bn.num_batches_tracked");
    assert_int_equal(t->dtype, OC_DT_I64);
    assert_int_equal(t->ndim, 0);
    int64_t c2;
    memcpy(&c2, t->data, 8);
    assert_int_equal(c2, cnt);
    assert_int_equal(oc_st_to_f32(f, t, hf), OC_ERR_UNSUPPORTED);
    assert_non_null(strstr(oc_last_error(), "tensor 'bn.num_batches_tracked' has dtype I64"));
    t = oc_st_find(f, "empty");
    assert_int_equal(t->numel, 0);
    assert_int_equal(oc_st_load_f32(f, "empty", 1, s0, &got), OC_OK);
    oc_free(got);
    oc_st_close(f);
    unlink(p);
    /* nothing leaked, no temp file left behind */
    oc_get_alloc_stats(&a1);
    assert_int_equal(a1.live_bytes, a0.live_bytes);
    char tmpl[600];
    snprintf(tmpl, sizeof tmpl, "%s.tmp.%ld.0", p, (long)getpid());
    assert_int_not_equal(access(tmpl, F_OK), 0);
}

static void test_writer_f64_and_empty(void **state)
{
    (void)state;
    oc_st_writer *wr = oc_st_writer_new();
    double d[3] = {0.1, -1e10, 1e-40};
    const int64_t s[1] = {3};
    assert_int_equal(oc_st_writer_add(wr, "d", OC_DT_F64, 1, s, d), OC_OK);
    const char *p = tu_tmp_path(".safetensors");
    assert_int_equal(oc_st_writer_save(wr, p), OC_OK);
    oc_st_writer_free(wr);
    oc_st_file *f;
    assert_int_equal(oc_st_open(p, &f), OC_OK);
    assert_int_equal(oc_st_num_meta(f), 0);
    float out[3];
    assert_int_equal(oc_st_to_f32(f, oc_st_tensor_at(f, 0), out), OC_OK);
    for (int i = 0; i < 3; i++) assert_true(out[i] == (float)d[i]);
    oc_st_close(f);
    /* a writer with nothing in it writes "{}" padded */
    wr = oc_st_writer_new();
    assert_int_equal(oc_st_writer_save(wr, p), OC_OK); /* replaces the old file */
    oc_st_writer_free(wr);
    assert_int_equal(oc_st_open(p, &f), OC_OK);
    assert_int_equal(oc_st_num_tensors(f), 0);
    oc_st_close(f);
    struct stat sb;
    assert_int_equal(stat(p, &sb), 0);
    assert_int_equal(sb.st_size, 16);
    unlink(p);
}

/* ---- half precision --------------------------------------------------------------- */

/* independent reference: value of the nearest binary16 (ties to even) computed in double */
static double ref_f16_round(float x)
{
    double a = fabs((double)x);
    if (a >= 65520.0) return copysign(INFINITY, x);
    int e;
    frexp(a, &e); /* a = m * 2^e, m in [0.5, 1) */
    int ulp_exp = e - 11;          /* 11 significant bits */
    if (ulp_exp < -24) ulp_exp = -24; /* subnormal spacing */
    double units = nearbyint(ldexp(a, -ulp_exp)); /* round half to even */
    return copysign(ldexp(units, ulp_exp), x);
}

static void test_f16_conversions(void **state)
{
    (void)state;
    assert_int_equal(oc_f32_to_f16(1.0f), 0x3c00);
    assert_int_equal(oc_f32_to_f16(-2.0f), 0xc000);
    assert_int_equal(oc_f32_to_f16(65504.0f), 0x7bff);
    assert_int_equal(oc_f32_to_f16(65519.0f), 0x7bff);
    assert_int_equal(oc_f32_to_f16(65520.0f), 0x7c00); /* tie rounds to even: infinity */
    assert_int_equal(oc_f32_to_f16(1e10f), 0x7c00);
    assert_int_equal(oc_f32_to_f16(-INFINITY), 0xfc00);
    assert_int_equal(oc_f32_to_f16(0x1p-24f), 0x0001);     /* smallest subnormal */
    assert_int_equal(oc_f32_to_f16(0x1p-25f), 0x0000);     /* tie to even: zero */
    assert_int_equal(oc_f32_to_f16(0x1.8p-24f), 0x0002);   /* 1.5 ulp: tie to even */
    assert_int_equal(oc_f32_to_f16(0x1.0p-14f), 0x0400);   /* smallest normal */
    assert_int_equal(oc_f32_to_f16(0x1.ffcp-15f), 0x0400); /* subnormal tie rounding up to normal */
    assert_int_equal(oc_f32_to_f16(-0.0f), 0x8000);
    assert_int_equal(oc_f32_to_f16(1.0f + 0x1p-11f), 0x3c00);       /* tie, even */
    assert_int_equal(oc_f32_to_f16(1.0f + 3 * 0x1p-11f), 0x3c02);   /* tie, up to even */
    assert_int_equal(oc_f32_to_f16(1.0f + 0x1p-11f + 0x1p-20f), 0x3c01);
    uint16_t hn = oc_f32_to_f16(NAN);
    assert_int_equal(hn & 0x7c00, 0x7c00);
    assert_int_not_equal(hn & 0x3ff, 0);
    assert_true(oc_f16_to_f32(0x0001) == 0x1p-24f);
    assert_true(oc_f16_to_f32(0x03ff) == 0x3ffp-24f);
    assert_true(oc_f16_to_f32(0x8400) == -0x1p-14f);
    assert_true(oc_f16_to_f32(0x7bff) == 65504.f);
    assert_true(isinf(oc_f16_to_f32(0x7c00)) && oc_f16_to_f32(0x7c00) > 0);
    assert_true(isnan(oc_f16_to_f32(0x7e00)));
    assert_true(isnan(oc_f16_to_f32(0xfc01)));
    assert_true(signbit(oc_f16_to_f32(0x8000)) && oc_f16_to_f32(0x8000) == 0.f);
    /* every half value survives f16 -> f32 -> f16 (NaNs stay NaN) and matches the reference */
    for (uint32_t i = 0; i < 65536; i++) {
        float f = oc_f16_to_f32((uint16_t)i);
        uint16_t back = oc_f32_to_f16(f);
        if (isnan(f)) {
            assert_true(isnan(oc_f16_to_f32(back)));
            continue;
        }
        if (back != i) fprintf(stderr, "half 0x%04x -> %a -> 0x%04x\n", i, (double)f, back);
        assert_int_equal(back, i);
        if (!isinf(f)) assert_true((double)f == ref_f16_round(f));
    }
    /* random floats over the whole half range and beyond round like the reference */
    uint32_t s = 12345;
    for (int i = 0; i < 200000; i++) {
        s ^= s << 13;
        s ^= s >> 17;
        s ^= s << 5;
        uint32_t bits = 0x30000000u + s % (0x48000000u - 0x30000000u); /* 2^-31 .. 2^17 */
        bits |= (s & 1u) << 31;
        float x;
        memcpy(&x, &bits, 4);
        double want = ref_f16_round(x);
        double got = (double)oc_f16_to_f32(oc_f32_to_f16(x));
        if (got != want) fprintf(stderr, "%a -> %a, reference %a\n", (double)x, got, want);
        assert_true(got == want);
    }
}

static void test_bf16_conversions(void **state)
{
    (void)state;
    assert_int_equal(oc_f32_to_bf16(1.0f), 0x3f80);
    assert_int_equal(oc_f32_to_bf16(-2.0f), 0xc000);
    float x;
    uint32_t b;
    b = 0x3f808000u; /* exactly half way: even stays */
    memcpy(&x, &b, 4);
    assert_int_equal(oc_f32_to_bf16(x), 0x3f80);
    b = 0x3f818000u; /* half way from odd: up */
    memcpy(&x, &b, 4);
    assert_int_equal(oc_f32_to_bf16(x), 0x3f82);
    b = 0x3f808001u;
    memcpy(&x, &b, 4);
    assert_int_equal(oc_f32_to_bf16(x), 0x3f81);
    b = 0x7f7fffffu; /* FLT_MAX rounds to infinity */
    memcpy(&x, &b, 4);
    assert_int_equal(oc_f32_to_bf16(x), 0x7f80);
    b = 0x00000001u; /* subnormal: truncates to zero */
    memcpy(&x, &b, 4);
    assert_int_equal(oc_f32_to_bf16(x), 0x0000);
    b = 0x007fffffu; /* largest subnormal rounds up to the smallest normal */
    memcpy(&x, &b, 4);
    assert_int_equal(oc_f32_to_bf16(x), 0x0080);
    b = 0x7f800001u; /* signalling NaN stays NaN (would become inf if just truncated) */
    memcpy(&x, &b, 4);
    assert_true(isnan(oc_bf16_to_f32(oc_f32_to_bf16(x))));
    assert_int_equal(oc_f32_to_bf16(INFINITY), 0x7f80);
    assert_true(oc_bf16_to_f32(0x4049) == 3.140625f);
    assert_true(oc_bf16_to_f32(0x0001) == 0x1p-133f);
    for (uint32_t i = 0; i < 65536; i++) {
        float f = oc_bf16_to_f32((uint16_t)i);
        if (isnan(f)) continue;
        assert_int_equal(oc_f32_to_bf16(f), i);
    }
}

/* ---- the real fixture ---------------------------------------------------------------- */

#define FIX "fixtures/yolo11n/model.safetensors"

static int is_bn_stat(const char *name)
{
    size_t n = strlen(name);
    static const char *const suf[] = {".running_mean", ".running_var", ".num_batches_tracked"};
    for (int i = 0; i < 3; i++) {
        size_t k = strlen(suf[i]);
        if (n >= k && !strcmp(name + n - k, suf[i])) return 1;
    }
    return 0;
}

static void test_real_fixture(void **state)
{
    (void)state;
    TU_REQUIRE_SHARED(FIX);
    oc_st_file *f = NULL;
    oc_status st = oc_st_open(tu_shared_path(FIX), &f);
    if (st) fprintf(stderr, "%s\n", oc_last_error());
    assert_int_equal(st, OC_OK);
    uint64_t total = 0, params = 0;
    size_t n_i64 = 0;
    for (size_t i = 0; i < oc_st_num_tensors(f); i++) {
        const oc_st_tensor *t = oc_st_tensor_at(f, i);
        total += t->numel;
        if (!is_bn_stat(t->name)) params += t->numel;
        if (t->dtype == OC_DT_I64) {
            n_i64++;
            assert_non_null(strstr(t->name, "num_batches_tracked"));
        }
    }
    assert_int_equal(total, 2639825);
    assert_int_equal(params, 2624080);
    assert_int_equal(oc_st_num_tensors(f), 499);
    assert_int_equal(n_i64, 81);
    assert_string_equal(oc_st_meta(f, "config"), "yolo11.yaml");
    assert_string_equal(oc_st_meta(f, "scale"), "n");
    assert_string_equal(oc_st_meta(f, "nc"), "80");
    const int64_t s[4] = {16, 3, 3, 3};
    float *w = NULL;
    assert_int_equal(oc_st_load_f32(f, "model.0.conv.weight", 4, s, &w), OC_OK);
    /* compare with the bytes read independently with stdio */
    const oc_st_tensor *t = oc_st_find(f, "model.0.conv.weight");
    FILE *fp = fopen(tu_shared_path(FIX), "rb");
    uint8_t len8[8];
    assert_int_equal(fread(len8, 1, 8, fp), 8);
    uint64_t hl = 0;
    for (int i = 7; i >= 0; i--) hl = (hl << 8) | len8[i];
    float raw[16 * 27];
    assert_int_equal(fseek(fp, (long)(8 + hl + t->begin), SEEK_SET), 0);
    assert_int_equal(fread(raw, 4, 16 * 27, fp), 16 * 27);
    fclose(fp);
    assert_memory_equal(raw, w, sizeof raw);
    assert_true(tu_max_abs(w, 16 * 27) > 0);
    oc_free(w);
    const int64_t wrong[4] = {32, 3, 3, 3};
    assert_int_equal(oc_st_load_f32(f, "model.0.conv.weight", 4, wrong, &w), OC_ERR_SHAPE);
    assert_non_null(strstr(oc_last_error(),
                           "model.safetensors: tensor 'model.0.conv.weight' has shape [16,3,3,3], "
                           "expected [32,3,3,3]"));
    oc_st_close(f);
}

/* ---- `ocellus info` ------------------------------------------------------------------- */

static int run_cmd(const char *cmd, char *out, size_t cap)
{
    FILE *p = popen(cmd, "r");
    if (!p) return -1;
    size_t n = fread(out, 1, cap - 1, p);
    out[n] = 0;
    int rc = pclose(p);
    return WIFEXITED(rc) ? WEXITSTATUS(rc) : -1;
}

static void test_cli_info(void **state)
{
    (void)state;
    const char *build = getenv("BUILD");
    char bin[512], cmd[2048];
    int rc;
    snprintf(bin, sizeof bin, "%s/ocellus", build && *build ? build : "build");
    if (access(bin, X_OK) != 0) {
        fprintf(stderr, "SKIP: %s not built\n", bin);
        skip();
    }
    static char out[1 << 16];
    snprintf(cmd, sizeof cmd, "%s info 2>&1", bin);
    assert_int_equal(run_cmd(cmd, out, sizeof out), 2);
    /* a bad file: exit 1 with the reader's message */
    const char *p = tu_tmp_path(".safetensors");
    size_t n;
    uint8_t *b = mk("{\"w\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,4]}}", 8, &n);
    assert_int_equal(tu_write_file(p, b, n), 0);
    free(b);
    snprintf(cmd, sizeof cmd, "%s info %s 2>&1", bin, p);
    assert_int_equal(run_cmd(cmd, out, sizeof out), 1);
    assert_non_null(strstr(out, "hold 4 bytes but F32 x shape [2] needs 8"));
    /* a good file without an architecture */
    oc_st_writer *wr = oc_st_writer_new();
    const int64_t s[2] = {3, 5};
    float d[15] = {0};
    uint16_t hh[15] = {0};
    oc_st_writer_add(wr, "a.weight", OC_DT_F32, 2, s, d);
    oc_st_writer_add(wr, "a.running_mean", OC_DT_F16, 2, s, hh);
    oc_st_writer_meta(wr, "zeta", "last");
    oc_st_writer_meta(wr, "alpha", "first");
    assert_int_equal(oc_st_writer_save(wr, p), OC_OK);
    oc_st_writer_free(wr);
    assert_int_equal(run_cmd(cmd, out, sizeof out), 0);
    assert_non_null(strstr(out, "tensors: 2"));
    assert_non_null(strstr(out, "elements: 30"));
    assert_non_null(strstr(out, "parameters: 15"));
    assert_non_null(strstr(out, "F16"));
    char *al = strstr(out, "alpha"), *ze = strstr(out, "zeta");
    assert_true(al && ze && al < ze); /* sorted keys */
    assert_non_null(strstr(out, "GFLOPs: n/a"));
    snprintf(cmd, sizeof cmd, "%s info --json %s 2>&1", bin, p);
    assert_int_equal(run_cmd(cmd, out, sizeof out), 0);
    assert_non_null(strstr(out, "\"elements\": 30"));
    assert_non_null(strstr(out, "\"alpha\": \"first\""));
    /* a known architecture whose tensors are missing: exit 1 with the loader's message */
    wr = oc_st_writer_new();
    oc_st_writer_add(wr, "a.weight", OC_DT_F32, 2, s, d);
    oc_st_writer_meta(wr, "ocellus.format_version", "1");
    oc_st_writer_meta(wr, "ocellus.arch", "yolo11");
    oc_st_writer_meta(wr, "ocellus.scale", "n");
    assert_int_equal(oc_st_writer_save(wr, p), OC_OK);
    oc_st_writer_free(wr);
    snprintf(cmd, sizeof cmd, "%s info %s 2>&1", bin, p);
    rc = run_cmd(cmd, out, sizeof out);
    if (strstr(out, "not built in")) {
        fprintf(stderr, "note: yolo11 not built in, GFLOPs checks skipped\n");
        assert_int_equal(rc, 0);
    } else {
        assert_int_equal(rc, 1);
        assert_non_null(strstr(out, "GFLOPs: n/a (the model does not load)"));
        assert_non_null(strstr(out, "ocellus info: "));
        assert_non_null(strstr(out, p)); /* the message names the file */
    }
    unlink(p);
    if (!tu_shared_has(FIX)) {
        fprintf(stderr, "SKIP (part): %s not found\n", tu_shared_path(FIX));
        return;
    }
    snprintf(cmd, sizeof cmd, "%s info %s 2>&1", bin, tu_shared_path(FIX));
    rc = run_cmd(cmd, out, sizeof out);
    if (rc != 0) fprintf(stderr, "%s", out);
    assert_int_equal(rc, 0);
    assert_non_null(strstr(out, "config: yolo11.yaml"));
    assert_non_null(strstr(out, "elements: 2,639,825"));
    assert_non_null(strstr(out, "parameters: 2,624,080"));
    assert_non_null(strstr(out, "tensors: 499"));
    const char *g = strstr(out, "GFLOPs: ");
    assert_non_null(g);
    if (!strncmp(g, "GFLOPs: n/a", 11)) {
        fprintf(stderr, "note: %.80s\n", g);
    } else {
        /* ultralytics reports 6.5-6.6 GFLOPs for YOLO11n at 640 (2 x multiply-adds) */
        double gf = atof(g + 8);
        assert_true(gf > 6.3 && gf < 6.8);
        assert_non_null(strstr(g, "at 1x3x640x640"));
        assert_non_null(strstr(out, "architecture: yolo11 (scale n)"));
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_rule_file_too_short),
        cmocka_unit_test(test_rule_header_length),
        cmocka_unit_test(test_rule_header_start_and_json),
        cmocka_unit_test(test_rule_json_memory_budget),
        cmocka_unit_test(test_rule_entry_not_object),
        cmocka_unit_test(test_rule_dtype),
        cmocka_unit_test(test_rule_shape),
        cmocka_unit_test(test_rule_data_offsets),
        cmocka_unit_test(test_rule_size_matches_dtype_shape),
        cmocka_unit_test(test_rule_overlap),
        cmocka_unit_test(test_rule_duplicate_names),
        cmocka_unit_test(test_rule_metadata),
        cmocka_unit_test(test_accepted_edge_cases),
        cmocka_unit_test(test_open_io_errors),
        cmocka_unit_test(test_truncated_and_corrupt),
        cmocka_unit_test(test_fuzz_seeds),
        cmocka_unit_test(test_round_trip),
        cmocka_unit_test(test_writer_f64_and_empty),
        cmocka_unit_test(test_f16_conversions),
        cmocka_unit_test(test_bf16_conversions),
        cmocka_unit_test(test_real_fixture),
        cmocka_unit_test(test_cli_info),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}

/* The ONNX wire-format reader on crafted buffers, the names-dict parser, module paths, and the
 * conversion of the real YOLO11n export (../shared/models). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#include <cjson/cJSON.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "convert.h"
#include "models/yolo/yolo_common.h"
#include "onnx.h"
#include "safetensors.h"
#include "testutil.h"

/* ---- a tiny protobuf writer ---- */
typedef struct {
    uint8_t *b;
    size_t n, cap;
} pb;

static pb *pb_new(void)
{
    pb *p = calloc(1, sizeof *p);
    p->cap = 1 << 16;
    p->b = malloc(p->cap);
    return p;
}
static void pb_del(pb *p)
{
    if (!p) return;
    free(p->b);
    free(p);
}
static void put(pb *p, const void *d, size_t n)
{
    assert_true(p->n + n <= p->cap);
    memcpy(p->b + p->n, d, n);
    p->n += n;
}
static void pv(pb *p, uint64_t v)
{
    do {
        uint8_t c = v & 0x7f;
        v >>= 7;
        if (v) c |= 0x80;
        put(p, &c, 1);
    } while (v);
}
static void pkey(pb *p, uint32_t f, int wt) { pv(p, (uint64_t)f << 3 | (uint64_t)wt); }
static void pvar(pb *p, uint32_t f, uint64_t v) { pkey(p, f, 0); pv(p, v); }
static void pbytes(pb *p, uint32_t f, const void *d, size_t n) { pkey(p, f, 2); pv(p, n); put(p, d, n); }
static void pstr(pb *p, uint32_t f, const char *s) { pbytes(p, f, s, strlen(s)); }
static void pmsg(pb *p, uint32_t f, const pb *m) { pbytes(p, f, m->b, m->n); }
static void pf32(pb *p, uint32_t f, float v) { pkey(p, f, 5); put(p, &v, 4); }
static void unknowns(pb *p)
{
    pvar(p, 99, 12345);
    pkey(p, 98, 1);
    put(p, "\1\2\3\4\5\6\7\10", 8);
    pkey(p, 97, 5);
    put(p, "\1\2\3\4", 4);
    pstr(p, 96, "ignored bytes");
}

/* A small but complete model; with_unknown adds unknown fields of every wire type at every
 * level. */
static pb *make_model(int with_unknown, const char *task)
{
    pb *m = pb_new(), *g = pb_new(), *t = pb_new();
    pvar(m, 1, 8);
    pb *os = pb_new();
    pstr(os, 1, "");
    pvar(os, 2, 17);
    pmsg(m, 8, os);
    os->n = 0;
    pstr(os, 1, "ai.onnx.ml");
    pvar(os, 2, 3);
    pmsg(m, 8, os);
    pb_del(os);
    pstr(m, 2, "crafted");
    pb *kv = pb_new();
    pstr(kv, 1, "names");
    pstr(kv, 2, "{0: 'a', 1: \"b's\"}");
    pmsg(m, 14, kv);
    kv->n = 0;
    pstr(kv, 1, "task");
    pstr(kv, 2, task ? task : "detect");
    pmsg(m, 14, kv);
    kv->n = 0;
    pstr(kv, 1, "description");
    pstr(kv, 2, "Ultralytics YOLO11n model trained on crafted.yaml");
    if (with_unknown) unknowns(kv);
    pmsg(m, 14, kv);
    pb_del(kv);
    if (with_unknown) unknowns(m);

    /* node: Conv with attributes */
    pb *nd = pb_new(), *at = pb_new();
    pstr(nd, 1, "images");
    pstr(nd, 1, "w");
    pstr(nd, 1, "b");
    pstr(nd, 2, "y");
    pstr(nd, 3, "/model.0/conv/Conv");
    pstr(nd, 4, "Conv");
    pstr(at, 1, "kernel_shape");
    pvar(at, 20, 7);
    pb *pk = pb_new();
    pv(pk, 1);
    pv(pk, 1);
    pmsg(at, 8, pk); /* packed ints */
    if (with_unknown) unknowns(at);
    pmsg(nd, 5, at);
    at->n = 0;
    pstr(at, 1, "pads");
    pvar(at, 20, 7);
    for (int i = 0; i < 4; i++) pvar(at, 8, 0); /* unpacked ints */
    pmsg(nd, 5, at);
    at->n = 0;
    pstr(at, 1, "alpha");
    pvar(at, 20, 1);
    pf32(at, 2, 0.5f);
    pmsg(nd, 5, at);
    at->n = 0;
    pstr(at, 1, "mode");
    pvar(at, 20, 3);
    pstr(at, 4, "nearest");
    pmsg(nd, 5, at);
    if (with_unknown) unknowns(nd);
    pmsg(g, 1, nd);
    pb_del(at);
    pb_del(nd);
    pstr(g, 2, "main_graph");

    /* w: [2,1,1,1] packed dims, raw_data */
    pstr(t, 8, "w");
    pk->n = 0;
    pv(pk, 2);
    pv(pk, 1);
    pv(pk, 1);
    pv(pk, 1);
    pmsg(t, 1, pk);
    pvar(t, 2, 1);
    const float wv[2] = {1.5f, -2.25f};
    pbytes(t, 9, wv, sizeof wv);
    if (with_unknown) unknowns(t);
    pmsg(g, 5, t);
    /* b: [2] unpacked dims, unpacked float_data */
    t->n = 0;
    pstr(t, 8, "b");
    pvar(t, 1, 2);
    pvar(t, 2, 1);
    pf32(t, 4, 0.25f);
    pf32(t, 4, -0.5f);
    pmsg(g, 5, t);
    /* c: [3] packed float_data */
    t->n = 0;
    pstr(t, 8, "c");
    pvar(t, 1, 3);
    pvar(t, 2, 1);
    const float cv[3] = {1, 2, 3};
    pbytes(t, 4, cv, sizeof cv);
    pmsg(g, 5, t);
    pb_del(pk);

    pb *vi = pb_new();
    pstr(vi, 1, "images");
    pstr(vi, 2, "type info skipped");
    pmsg(g, 11, vi);
    vi->n = 0;
    pstr(vi, 1, "y");
    pmsg(g, 12, vi);
    pb_del(vi);
    if (with_unknown) unknowns(g);
    pmsg(m, 7, g);
    pb_del(g);
    pb_del(t);
    return m;
}

static void check_model_contents(const oc_onnx_model *m)
{
    assert_int_equal(m->ir_version, 8);
    assert_int_equal(m->opset, 17);
    assert_string_equal(m->producer_name, "crafted");
    assert_string_equal(m->graph_name, "main_graph");
    assert_string_equal(oc_onnx_meta(m, "names"), "{0: 'a', 1: \"b's\"}");
    assert_string_equal(oc_onnx_meta(m, "task"), "detect");
    assert_null(oc_onnx_meta(m, "nope"));
    assert_int_equal(m->n_nodes, 1);
    const oc_onnx_node *n = &m->nodes[0];
    assert_string_equal(n->op_type, "Conv");
    assert_string_equal(n->name, "/model.0/conv/Conv");
    assert_int_equal(n->n_inputs, 3);
    assert_string_equal(n->inputs[2], "b");
    assert_int_equal(n->n_outputs, 1);
    assert_string_equal(n->outputs[0], "y");
    assert_int_equal(n->n_attrs, 4);
    assert_string_equal(n->attrs[0].name, "kernel_shape");
    assert_int_equal(n->attrs[0].type, OC_ONNX_ATTR_INTS);
    assert_int_equal(n->attrs[0].n_ints, 2);
    assert_int_equal(n->attrs[0].ints[1], 1);
    assert_int_equal(n->attrs[1].n_ints, 4);
    assert_true(n->attrs[2].f == 0.5f);
    assert_string_equal(n->attrs[3].s, "nearest");
    assert_int_equal(m->n_inits, 3);
    const oc_onnx_tensor *w = oc_onnx_find_init(m, "w"), *b = oc_onnx_find_init(m, "b"),
                         *c = oc_onnx_find_init(m, "c");
    assert_non_null(w);
    assert_non_null(b);
    assert_non_null(c);
    assert_int_equal(w->ndim, 4);
    assert_int_equal(w->dims[0], 2);
    assert_int_equal(w->numel, 2);
    float f[3];
    assert_int_equal(oc_onnx_tensor_to_f32(m, w, f), OC_OK);
    assert_true(f[0] == 1.5f && f[1] == -2.25f);
    assert_int_equal(b->ndim, 1);
    assert_true(b->from_float_data);
    assert_int_equal(oc_onnx_tensor_to_f32(m, b, f), OC_OK);
    assert_true(f[0] == 0.25f && f[1] == -0.5f);
    assert_int_equal(oc_onnx_tensor_to_f32(m, c, f), OC_OK);
    assert_true(f[0] == 1 && f[1] == 2 && f[2] == 3);
    assert_int_equal(m->n_inputs, 1);
    assert_string_equal(m->inputs[0], "images");
    assert_int_equal(m->n_outputs, 1);
    assert_string_equal(m->outputs[0], "y");
}

static void test_parse_crafted(void **state)
{
    (void)state;
    for (int unk = 0; unk < 2; unk++) {
        pb *p = make_model(unk, NULL);
        oc_onnx_model *m = NULL;
        assert_int_equal(oc_onnx_parse(p->b, p->n, "crafted.onnx", &m), OC_OK);
        check_model_contents(m);
        oc_onnx_free(m);
        pb_del(p);
    }
}

static void test_open_file(void **state)
{
    (void)state;
    pb *p = make_model(1, NULL);
    const char *path = tu_tmp_path(".onnx");
    assert_int_equal(tu_write_file(path, p->b, p->n), 0);
    oc_onnx_model *m = NULL;
    assert_int_equal(oc_onnx_open(path, &m), OC_OK);
    check_model_contents(m);
    oc_onnx_free(m);
    unlink(path);
    pb_del(p);
    assert_int_equal(oc_onnx_open("/nonexistent/x.onnx", &m), OC_ERR_IO);
    assert_non_null(strstr(oc_last_error(), "/nonexistent/x.onnx"));
    assert_null(m);
    /* empty file */
    assert_int_equal(tu_write_file(path, "", 0), 0);
    assert_int_equal(oc_onnx_open(path, &m), OC_ERR_FORMAT);
    assert_non_null(strstr(oc_last_error(), "empty"));
    unlink(path);
}

static void test_varint(void **state)
{
    (void)state;
    size_t pos = 0;
    uint64_t v;
    const uint8_t a[] = {0x96, 0x01};
    assert_int_equal(oc_pb_read_varint(a, 2, &pos, &v, "t"), OC_OK);
    assert_int_equal(v, 150);
    assert_int_equal(pos, 2);
    const uint8_t mx[] = {0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01};
    pos = 0;
    assert_int_equal(oc_pb_read_varint(mx, 10, &pos, &v, "t"), OC_OK);
    assert_true(v == UINT64_MAX);
    const uint8_t ov[] = {0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x02};
    pos = 0;
    assert_int_equal(oc_pb_read_varint(ov, 10, &pos, &v, "t"), OC_ERR_FORMAT);
    assert_non_null(strstr(oc_last_error(), "overflows 64 bits"));
    const uint8_t lg[] = {0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x00};
    pos = 0;
    assert_int_equal(oc_pb_read_varint(lg, 11, &pos, &v, "t"), OC_ERR_FORMAT);
    assert_non_null(strstr(oc_last_error(), "longer than 10 bytes"));
    pos = 0;
    assert_int_equal(oc_pb_read_varint(a, 1, &pos, &v, "t"), OC_ERR_FORMAT);
    assert_non_null(strstr(oc_last_error(), "truncated"));
    assert_int_equal(pos, 0); /* not advanced on failure */
}

/* parse buf and expect OC_ERR_FORMAT with each of the given substrings in the message */
static void expect_fail(const uint8_t *buf, size_t len, const char *s1, const char *s2)
{
    oc_onnx_model *m = (oc_onnx_model *)(uintptr_t)1;
    oc_status st = oc_onnx_parse(buf, len, "bad.onnx", &m);
    if (st != OC_ERR_FORMAT) fprintf(stderr, "status %d, message: %s\n", st, oc_last_error());
    assert_int_equal(st, OC_ERR_FORMAT);
    assert_null(m);
    const char *msg = oc_last_error();
    assert_non_null(strstr(msg, "bad.onnx"));
    if (!strstr(msg, s1) || (s2 && !strstr(msg, s2)))
        fprintf(stderr, "message '%s' lacks '%s' / '%s'\n", msg, s1, s2 ? s2 : "");
    assert_non_null(strstr(msg, s1));
    if (s2) assert_non_null(strstr(msg, s2));
}

static void test_malformed(void **state)
{
    (void)state;
    const uint8_t trunc_varint[] = {0x08, 0x80};
    expect_fail(trunc_varint, sizeof trunc_varint, "truncated", "byte 1");
    const uint8_t trunc_key[] = {0x08, 0x01, 0x80};
    expect_fail(trunc_key, sizeof trunc_key, "truncated", "byte 2");
    const uint8_t long_varint[] = {0x08, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff,
                                   0xff, 0x01};
    expect_fail(long_varint, sizeof long_varint, "longer than 10 bytes", NULL);
    const uint8_t past_end[] = {0x3a, 0x05, 0x01};
    expect_fail(past_end, sizeof past_end, "runs past the end", "byte 1");
    /* graph length 2^63 */
    uint8_t huge[16] = {0x3a};
    size_t hn = 1;
    uint64_t v = (uint64_t)1 << 63;
    while (v) {
        huge[hn++] = (uint8_t)((v & 0x7f) | (v > 0x7f ? 0x80 : 0));
        v >>= 7;
    }
    expect_fail(huge, hn, "length 9223372036854775808", "runs past the end");
    /* SIZE_MAX-ish length must not wrap around the bounds check */
    const uint8_t huge2[] = {0x3a, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01};
    expect_fail(huge2, sizeof huge2, "runs past the end", NULL);
    const uint8_t group[] = {0x0b, 0x0c};
    expect_fail(group, sizeof group, "groups", "byte 0");
    const uint8_t endgroup[] = {0x08, 0x01, 0x0c};
    expect_fail(endgroup, sizeof endgroup, "groups", "byte 2");
    const uint8_t wt7[] = {0x0f};
    expect_fail(wt7, sizeof wt7, "invalid wire type 7", NULL);
    const uint8_t field0[] = {0x00, 0x01};
    expect_fail(field0, sizeof field0, "invalid field number 0", NULL);
    const uint8_t graph_varint[] = {0x38, 0x01};
    expect_fail(graph_varint, sizeof graph_varint, "graph (field 7)", "wire type varint");
    const uint8_t no_graph[] = {0x08, 0x07, 0x12, 0x01, 'x'};
    expect_fail(no_graph, sizeof no_graph, "no graph", NULL);
    const uint8_t fixed64_short[] = {0x09, 1, 2, 3};
    expect_fail(fixed64_short, sizeof fixed64_short, "fixed64", "runs past");
    expect_fail((const uint8_t *)"", 0, "empty", NULL);
    /* a node whose length runs past the end of the graph (but not of the file) */
    const uint8_t nested[] = {0x3a, 0x02, 0x0a, 0x05, 0xa2, 0x06, 0x03, 'a', 'b', 'c'};
    expect_fail(nested, sizeof nested, "runs past the end of its message", "GraphProto");
    /* initializer with 9 dims */
    pb *t = pb_new(), *g = pb_new(), *m = pb_new();
    for (int i = 0; i < 9; i++) pvar(t, 1, 1);
    pmsg(g, 5, t);
    pmsg(m, 7, g);
    expect_fail(m->b, m->n, "more than 8 dims", NULL);
    /* initializer: node input as varint (wrong wire type) */
    t->n = g->n = m->n = 0;
    pvar(t, 1, 3);
    pmsg(g, 1, t);
    pmsg(m, 7, g);
    expect_fail(m->b, m->n, "NodeProto.input", "wire type varint");
    /* a second graph */
    t->n = g->n = m->n = 0;
    pmsg(m, 7, g);
    pmsg(m, 7, g);
    expect_fail(m->b, m->n, "second graph", NULL);
    /* packed float_data not a multiple of 4 */
    t->n = g->n = m->n = 0;
    pbytes(t, 4, "abcde", 5);
    pmsg(g, 5, t);
    pmsg(m, 7, g);
    expect_fail(m->b, m->n, "float_data", "multiple of 4");
    /* a dims product that overflows */
    t->n = g->n = m->n = 0;
    for (int i = 0; i < 4; i++) pvar(t, 1, (uint64_t)1 << 40);
    pmsg(g, 5, t);
    pmsg(m, 7, g);
    expect_fail(m->b, m->n, "overflows", NULL);
    pb_del(t);
    pb_del(g);
    pb_del(m);
}

static void test_tensor_data_checks(void **state)
{
    (void)state;
    pb *t = pb_new(), *g = pb_new(), *m = pb_new();
    pstr(t, 8, "short");
    pvar(t, 1, 4);
    pvar(t, 2, 1);
    pbytes(t, 9, "12345678", 8); /* 2 floats for 4 elements */
    pmsg(g, 5, t);
    t->n = 0;
    pstr(t, 8, "i64");
    pvar(t, 1, 1);
    pvar(t, 2, OC_ONNX_INT64);
    pbytes(t, 9, "12345678", 8);
    pmsg(g, 5, t);
    t->n = 0;
    pstr(t, 8, "half");
    pvar(t, 1, 2);
    pvar(t, 2, OC_ONNX_FLOAT16);
    const uint8_t h[4] = {0x00, 0x3c, 0x00, 0xc0}; /* 1.0, -2.0 */
    pbytes(t, 9, h, 4);
    pmsg(g, 5, t);
    pmsg(m, 7, g);
    oc_onnx_model *om;
    assert_int_equal(oc_onnx_parse(m->b, m->n, "t.onnx", &om), OC_OK);
    float f[4];
    assert_int_equal(oc_onnx_tensor_to_f32(om, oc_onnx_find_init(om, "short"), f), OC_ERR_FORMAT);
    assert_non_null(strstr(oc_last_error(), "'short'"));
    assert_non_null(strstr(oc_last_error(), "8 data bytes"));
    assert_int_equal(oc_onnx_tensor_to_f32(om, oc_onnx_find_init(om, "i64"), f),
                     OC_ERR_UNSUPPORTED);
    assert_non_null(strstr(oc_last_error(), "data type 7"));
    assert_int_equal(oc_onnx_tensor_to_f32(om, oc_onnx_find_init(om, "half"), f), OC_OK);
    assert_true(f[0] == 1.0f && f[1] == -2.0f);
    oc_onnx_free(om);
    pb_del(t);
    pb_del(g);
    pb_del(m);
}

/* every prefix and every single-byte corruption of a valid model: no crash, and either a
 * successful parse or OC_ERR_FORMAT with a message naming the file */
static void test_truncations_and_corruptions(void **state)
{
    (void)state;
    pb *p = make_model(1, NULL);
    uint8_t *buf = malloc(p->n);
    int ok = 0, bad = 0;
    for (size_t l = 0; l < p->n; l++) {
        memcpy(buf, p->b, l); /* exact-size copy: ASan sees reads past l */
        uint8_t *exact = malloc(l ? l : 1);
        memcpy(exact, p->b, l);
        oc_onnx_model *m = NULL;
        oc_status st = oc_onnx_parse(exact, l, "cut.onnx", &m);
        assert_true(st == OC_OK || st == OC_ERR_FORMAT);
        if (st == OC_OK) {
            ok++;
            oc_onnx_free(m);
        } else {
            bad++;
            assert_non_null(strstr(oc_last_error(), "cut.onnx"));
        }
        free(exact);
    }
    assert_true(bad > 0);
    for (size_t i = 0; i < p->n; i++) {
        for (int k = 0; k < 3; k++) {
            static const uint8_t x[3] = {0xff, 0x80, 0x01};
            memcpy(buf, p->b, p->n);
            buf[i] ^= x[k];
            oc_onnx_model *m = NULL;
            oc_status st = oc_onnx_parse(buf, p->n, "flip.onnx", &m);
            assert_true(st == OC_OK || st == OC_ERR_FORMAT);
            if (st == OC_OK) oc_onnx_free(m);
        }
    }
    (void)ok;
    free(buf);
    pb_del(p);
}

/* ---- names dict ---- */
static void test_names_dict(void **state)
{
    (void)state;
    char **n;
    int c;
    assert_int_equal(oc_parse_names_dict("{0: 'person', 1: 'bicycle', 2: 'traffic light'}", &n,
                                         &c), OC_OK);
    assert_int_equal(c, 3);
    assert_string_equal(n[0], "person");
    assert_string_equal(n[2], "traffic light");
    oc_free_names(n, c);
    /* out-of-order keys, both quote styles, escapes, trailing comma, whitespace */
    assert_int_equal(oc_parse_names_dict(" { 2 : \"it's\" ,\n 0: 'a\\'b', 1: 'c\\\\d\\n', "
                                         "3: '\\x41\\u00e9\\U0001F600', 4: 'x,y: {z}', } ",
                                         &n, &c), OC_OK);
    assert_int_equal(c, 5);
    assert_string_equal(n[0], "a'b");
    assert_string_equal(n[1], "c\\d\n");
    assert_string_equal(n[2], "it's");
    assert_string_equal(n[3], "A\xc3\xa9\xf0\x9f\x98\x80");
    assert_string_equal(n[4], "x,y: {z}");
    oc_free_names(n, c);
    assert_int_equal(oc_parse_names_dict("{}", &n, &c), OC_OK);
    assert_int_equal(c, 0);
    oc_free_names(n, c);

    static const struct {
        const char *in, *msg;
    } bad[] = {
        {"[0, 1]", "expected '{'"},
        {"{0: 'a', 2: 'b'}", "key 2 is out of range"},
        {"{0: 'a', 0: 'b'}", "appears twice"},
        {"{0: 'a'", "expected ',' or '}'"},
        {"{0: 'a", "unterminated string"},
        {"{0 'a'}", "expected ':'"},
        {"{a: 'a'}", "expected an integer key"},
        {"{0: a}", "expected a quoted string"},
        {"{0: 'a\\q'}", "unsupported escape"},
        {"{0: 'a\\x4'}", "bad \\x escape"},
        {"{0: 'a\\x00'}", "not allowed"},
        {"{0: 'a'} x", "unexpected text"},
        {"{99999999999999999999: 'a'}", "larger than"},
        {"{-1: 'a'}", "expected an integer key"},
        {"{0: 'a\\", "unsupported escape"},
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        n = (char **)(uintptr_t)1;
        c = 7;
        oc_status st = oc_parse_names_dict(bad[i].in, &n, &c);
        if (st != OC_ERR_FORMAT || !strstr(oc_last_error(), bad[i].msg))
            fprintf(stderr, "input %s: status %d message '%s'\n", bad[i].in, st, oc_last_error());
        assert_int_equal(st, OC_ERR_FORMAT);
        assert_non_null(strstr(oc_last_error(), bad[i].msg));
        assert_null(n);
        assert_int_equal(c, 0);
    }
}

static void test_module_path(void **state)
{
    (void)state;
    char b[128];
    static const struct {
        const char *in, *out;
    } ok[] = {
        {"/model.2/cv1/conv/Conv", "model.2.cv1.conv"},
        {"/model.23/cv3.0/cv3.0.2/Conv", "model.23.cv3.0.2"},
        {"/model.23/cv3.0/cv3.0.0/cv3.0.0.0/conv/Conv", "model.23.cv3.0.0.0.conv"},
        {"/model.6/m.0/m/m.0/cv1/conv/Conv", "model.6.m.0.m.0.cv1.conv"},
        {"/model.10/m/m.0/ffn/ffn.1/conv/Conv", "model.10.m.0.ffn.1.conv"},
        {"/model.22/dfl/conv/Conv", "model.22.dfl.conv"},
        {"/model.0/conv/Conv_1", "model.0.conv"},
        {"/cv3/cv3x/Conv", "cv3.cv3x"}, /* a prefix without '.' is not a child */
    };
    for (size_t i = 0; i < sizeof ok / sizeof ok[0]; i++) {
        assert_int_equal(oc_onnx_module_path(ok[i].in, b, sizeof b), 0);
        assert_string_equal(b, ok[i].out);
    }
    const char *bad[] = {"", "model.0/conv/Conv", "/Conv", "//Conv", "/model.0//Conv",
                         "/model.0/conv/", "/mo del/Conv", "/model.0/co\"nv/Conv"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
        assert_int_equal(oc_onnx_module_path(bad[i], b, sizeof b), -1);
    /* too small an output buffer */
    assert_int_equal(oc_onnx_module_path("/model.2/cv1/conv/Conv", b, 10), -1);
    assert_int_equal(oc_onnx_module_path("/model.2/cv1/conv/Conv", b, 17), 0);
    assert_int_equal(oc_onnx_module_path("/model.2/cv1/conv/Conv", b, 16), -1);
}

static void test_gamma_name(void **state)
{
    (void)state;
    char out[64];
    const int64_t g4[4] = {1, 256, 1, 1}, strides[2] = {1, 8400}, bad4[4] = {2, 256, 1, 1};
    assert_int_equal(oc_onnx_gamma_name("/model.6/Mul", "Mul", 4, g4, out, sizeof out), 0);
    assert_string_equal(out, "model.6.gamma");
    assert_int_equal(oc_onnx_gamma_name("/model.14/Mul_1", "Mul", 4, g4, out, sizeof out), 0);
    assert_string_equal(out, "model.14.gamma");
    /* SiLU inside a submodule, Detect's strides, other ops and shapes are not gamma */
    assert_int_equal(oc_onnx_gamma_name("/model.6/cv1/act/Mul", "Mul", 4, g4, out, sizeof out), -1);
    assert_int_equal(oc_onnx_gamma_name("/model.21/Mul", "Mul", 2, strides, out, sizeof out), -1);
    assert_int_equal(oc_onnx_gamma_name("/model.6/Add", "Add", 4, g4, out, sizeof out), -1);
    assert_int_equal(oc_onnx_gamma_name("/model.6/Mul", "Mul", 4, bad4, out, sizeof out), -1);
    assert_int_equal(oc_onnx_gamma_name("/foo.6/Mul", "Mul", 4, g4, out, sizeof out), -1);
    assert_int_equal(oc_onnx_gamma_name("/model.6/Mul", "Mul", 4, g4, out, 8), -1); /* too small */
}

static void test_scale_table(void **state)
{
    (void)state;
    double d, w;
    int mc;
    assert_true(oc_convert_scale_table("yolo11", "m", &d, &w, &mc));
    assert_true(d == 0.50 && w == 1.00 && mc == 512);
    assert_true(oc_convert_scale_table("yolov8", "m", &d, &w, &mc));
    assert_true(d == 0.67 && w == 0.75 && mc == 768);
    assert_true(oc_convert_scale_table("yolov8", "x", &d, &w, &mc));
    assert_true(d == 1.00 && w == 1.25 && mc == 512);
    assert_true(oc_convert_scale_table("yolo11", "x", &d, &w, &mc));
    assert_true(w == 1.50);
    assert_false(oc_convert_scale_table("yolo11", "q", &d, &w, &mc));
    assert_false(oc_convert_scale_table("rtdetr", "n", &d, &w, &mc));
    assert_false(oc_convert_scale_table("yolo11", "nn", &d, &w, &mc));
}

/* conversion failures on crafted ONNX files: messages say what is wrong, nothing is written */
static void test_convert_crafted_errors(void **state)
{
    (void)state;
    const char *in = tu_tmp_path(".onnx"), *out = tu_tmp_path(".safetensors");
    pb *p = make_model(0, "segment");
    assert_int_equal(tu_write_file(in, p->b, p->n), 0);
    assert_int_equal(oc_convert_onnx(in, out, NULL, NULL), OC_ERR_UNSUPPORTED);
    assert_non_null(strstr(oc_last_error(), "task 'segment'"));
    assert_int_equal(access(out, F_OK), -1);
    pb_del(p);
    /* detect task, one Conv: no Detect head */
    p = make_model(0, NULL);
    assert_int_equal(tu_write_file(in, p->b, p->n), 0);
    assert_int_equal(oc_convert_onnx(in, out, NULL, NULL), OC_ERR_UNSUPPORTED);
    assert_non_null(strstr(oc_last_error(), "Detect head"));
    /* a family without an ONNX converter, and no family at all: said as such */
    assert_int_equal(oc_convert_onnx(in, out, "rtdetr", NULL), OC_ERR_UNSUPPORTED);
    assert_non_null(strstr(oc_last_error(), "'rtdetr' has no ONNX converter"));
    assert_int_equal(oc_convert_onnx(in, out, "nosuch", NULL), OC_ERR_UNSUPPORTED);
    assert_non_null(strstr(oc_last_error(), "unknown architecture 'nosuch'"));
    assert_non_null(strstr(oc_last_error(), in));
    assert_int_equal(access(out, F_OK), -1);
    pb_del(p);
    /* not an ONNX file at all */
    assert_int_equal(tu_write_file(in, "\xff\xff\xff", 3), 0);
    assert_int_equal(oc_convert_onnx(in, out, NULL, NULL), OC_ERR_FORMAT);
    assert_non_null(strstr(oc_last_error(), in));
    assert_int_equal(access(out, F_OK), -1);
    unlink(in);
}

/* ---- the real YOLO11n export ---- */
#define Y11 "models/yolo11n_coco.onnx"

static void test_convert_yolo11n(void **state)
{
    (void)state;
    TU_REQUIRE_SHARED(Y11);
    const char *src = tu_shared_path(Y11);
    oc_onnx_model *om;
    assert_int_equal(oc_onnx_open(src, &om), OC_OK);
    /* what the converter should produce, counted independently from the graph */
    int n_conv = 0, n_params = 0;
    for (int i = 0; i < om->n_nodes; i++)
        if (!strcmp(om->nodes[i].op_type, "Conv")) {
            n_conv++;
            for (int k = 1; k < om->nodes[i].n_inputs && k < 3; k++)
                if (oc_onnx_find_init(om, om->nodes[i].inputs[k])) n_params++;
        }
    assert_int_equal(n_conv, 88);     /* YOLO11n: 88 convs ... */
    assert_int_equal(n_params, 175);  /* ... all with a bias except the DFL conv */

    const char *out = tu_tmp_path(".safetensors");
    oc_status st = oc_convert_onnx(src, out, NULL, NULL);
    if (st) fprintf(stderr, "convert: %s\n", oc_last_error());
    assert_int_equal(st, OC_OK);
    oc_st_file *f;
    assert_int_equal(oc_st_open(out, &f), OC_OK);
    assert_int_equal(oc_st_num_tensors(f), (size_t)n_params);
    assert_string_equal(oc_st_meta(f, "ocellus.format_version"), "1");
    assert_string_equal(oc_st_meta(f, "ocellus.arch"), "yolo11");
    assert_string_equal(oc_st_meta(f, "ocellus.scale"), "n");
    assert_string_equal(oc_st_meta(f, "ocellus.num_classes"), "80");
    assert_string_equal(oc_st_meta(f, "ocellus.input_size"), "640");
    assert_string_equal(oc_st_meta(f, "ocellus.depth_multiple"), "0.50");
    assert_string_equal(oc_st_meta(f, "ocellus.width_multiple"), "0.25");
    assert_string_equal(oc_st_meta(f, "ocellus.max_channels"), "1024");
    cJSON *names = cJSON_Parse(oc_st_meta(f, "ocellus.class_names"));
    assert_non_null(names);
    assert_int_equal(cJSON_GetArraySize(names), 80);
    assert_string_equal(cJSON_GetArrayItem(names, 0)->valuestring, "person");
    assert_string_equal(cJSON_GetArrayItem(names, 9)->valuestring, "traffic light");
    assert_string_equal(cJSON_GetArrayItem(names, 79)->valuestring, "toothbrush");
    cJSON_Delete(names);
    /* every conv tensor carries the initializer's exact values under the module-path name */
    static const char *check[] = {"model.0.conv.weight", "model.23.cv3.0.2.bias",
                                  "model.10.m.0.attn.qkv.conv.weight", "model.23.dfl.conv.weight",
                                  "model.6.m.0.m.1.cv2.conv.bias"};
    for (size_t i = 0; i < sizeof check / sizeof check[0]; i++) {
        const oc_st_tensor *t = oc_st_find(f, check[i]);
        const oc_onnx_tensor *o = oc_onnx_find_init(om, check[i]);
        assert_non_null(t);
        assert_non_null(o);
        assert_int_equal(t->dtype, OC_DT_F32);
        assert_int_equal(t->ndim, o->ndim);
        for (int d = 0; d < o->ndim; d++) assert_int_equal(t->shape[d], o->dims[d]);
        assert_int_equal(t->end - t->begin, o->data_len);
        assert_memory_equal(t->data, o->data, o->data_len);
    }
    const oc_st_tensor *t0 = oc_st_find(f, "model.0.conv.weight");
    assert_int_equal(t0->shape[0], 16);
    assert_int_equal(t0->shape[1], 3);
    assert_null(oc_st_find(f, "model.0.bn.weight"));
    oc_st_close(f);
    unlink(out);

    /* forcing the wrong architecture: the load check rejects the file, nothing is left */
    st = oc_convert_onnx(src, out, "yolov8", NULL);
    assert_int_not_equal(st, OC_OK);
    assert_non_null(strstr(oc_last_error(), "does not load: tensor 'model."));
    assert_null(strstr(oc_last_error(), ".tmp"));
    assert_int_equal(access(out, F_OK), -1);
    oc_onnx_free(om);
}


/* safetensors state_dict (the parity fixtures): arch/scale/nc from its metadata, its own
 * multipliers kept (ltiny: scale l at width 0.25), every tensor copied, the result loads */
static void check_state_dict(const char *rel, const char *arch, const char *scale,
                             const char *width)
{
    const char *src = tu_shared_path(rel), *out = tu_tmp_path(".safetensors");
    oc_status st = oc_convert_state_dict(src, out, NULL, NULL, 0);
    if (st) fprintf(stderr, "convert %s: %s\n", rel, oc_last_error());
    assert_int_equal(st, OC_OK);
    oc_st_file *a, *b;
    assert_int_equal(oc_st_open(src, &a), OC_OK);
    assert_int_equal(oc_st_open(out, &b), OC_OK);
    assert_int_equal(oc_st_num_tensors(a), oc_st_num_tensors(b));
    assert_string_equal(oc_st_meta(b, "ocellus.arch"), arch);
    assert_string_equal(oc_st_meta(b, "ocellus.scale"), scale);
    assert_string_equal(oc_st_meta(b, "ocellus.width_multiple"), width);
    assert_string_equal(oc_st_meta(b, "ocellus.num_classes"), "80");
    const oc_st_tensor *ta = oc_st_find(a, "model.0.bn.running_var"),
                       *tb = oc_st_find(b, "model.0.bn.running_var");
    assert_non_null(tb);
    assert_int_equal(ta->dtype, tb->dtype);
    assert_memory_equal(ta->data, tb->data, ta->end - ta->begin);
    oc_st_close(a);
    oc_st_close(b);
    unlink(out);
}

static void test_convert_state_dict(void **state)
{
    (void)state;
    TU_REQUIRE_SHARED("fixtures/yolo11n/model.safetensors");
    check_state_dict("fixtures/yolo11n/model.safetensors", "yolo11", "n", "0.25");
    TU_REQUIRE_SHARED("fixtures/yolo11-ltiny/model.safetensors");
    check_state_dict("fixtures/yolo11-ltiny/model.safetensors", "yolo11", "l", "0.25");
    TU_REQUIRE_SHARED("fixtures/yolo12n/model.safetensors");
    check_state_dict("fixtures/yolo12n/model.safetensors", "yolo12", "n", "0.25");
    /* a wrong class count is refused with the head's count in the message */
    const char *out = tu_tmp_path(".safetensors");
    assert_int_equal(oc_convert_state_dict(tu_shared_path("fixtures/yolo11n/model.safetensors"),
                                           out, "yolo11", "n", 20), OC_ERR_SHAPE);
    assert_non_null(strstr(oc_last_error(), "predicts 80"));
    /* wrong scale: the load check names a tensor */
    assert_int_not_equal(oc_convert_state_dict(tu_shared_path(
                             "fixtures/yolo11n/model.safetensors"), out, "yolo11", "s", 0),
                         OC_OK);
    assert_non_null(strstr(oc_last_error(), "does not load"));
    assert_int_equal(access(out, F_OK), -1);
}

/* ---- a plain torch.onnx.export file: no ultralytics metadata, identical tensors stored once
 * behind Identity (and Dropout) nodes ---- */

/* "model.23.cv2.0.2" -> "/model.23/cv2.0/cv2.0.2/Conv", the exporter's scope naming */
static void export_node_name(const char *prefix, char *out, size_t cap)
{
    char buf[256], comp[16][64];
    int nc = 0;
    snprintf(buf, sizeof buf, "%s", prefix);
    char *save = NULL;
    for (char *tok = strtok_r(buf, ".", &save); tok; tok = strtok_r(NULL, ".", &save)) {
        int numeric = tok[0] >= '0' && tok[0] <= '9';
        if (numeric && nc > 0 && !strchr(comp[nc - 1], '.')) { /* "model" + "23" -> "model.23" */
            size_t l = strlen(comp[nc - 1]);
            snprintf(comp[nc - 1] + l, 64 - l, ".%.20s", tok);
        } else if (numeric && nc > 0) { /* "cv2.0" + "2" -> a child scope "cv2.0.2" */
            char parent[64];
            memcpy(parent, comp[nc - 1], sizeof parent);
            snprintf(comp[nc++], 64, "%.40s.%.20s", parent, tok);
        } else
            snprintf(comp[nc++], 64, "%s", tok);
    }
    size_t n = 0;
    for (int i = 0; i < nc; i++) n += (size_t)snprintf(out + n, cap - n, "/%s", comp[i]);
    snprintf(out + n, cap - n, "/Conv");
}

static pb *pb_big(size_t cap)
{
    pb *p = calloc(1, sizeof *p);
    p->cap = cap;
    p->b = malloc(cap);
    return p;
}

static void add_init(pb *g, const oc_st_file *f, const oc_st_tensor *t)
{
    pb *tp = pb_big(t->numel * 4 + 256);
    pstr(tp, 8, t->name);
    for (int d = 0; d < t->ndim; d++) pvar(tp, 1, (uint64_t)t->shape[d]);
    pvar(tp, 2, 1);
    float *x = malloc(t->numel * 4);
    assert_int_equal(oc_st_to_f32(f, t, x), OC_OK);
    pbytes(tp, 9, x, t->numel * 4);
    free(x);
    pmsg(g, 5, tp);
    pb_del(tp);
}

static void add_node(pb *g, const char *name, const char *op, const char *const *ins, int nin,
                     const char *outname)
{
    pb *nd = pb_new();
    for (int i = 0; i < nin; i++) pstr(nd, 1, ins[i]);
    pstr(nd, 2, outname);
    pstr(nd, 3, name);
    pstr(nd, 4, op);
    pmsg(g, 1, nd);
    pb_del(nd);
}

/* An ONNX graph from a model file: a Conv node per conv weight (its bias beside it), one
 * initializer per tensor, except the tensors named in alias[i][1], which read alias[i][0]
 * through an Identity node (and a Dropout after it when chain[i]); bias_op, when given, makes
 * the first of them a computed value instead (a `bias_op` node). No metadata_props. */
static pb *export_like_torch(const char *st_path, const char *const alias[][2],
                             const int *chain, int n_alias, const char *bias_op)
{
    oc_st_file *f;
    assert_int_equal(oc_st_open(st_path, &f), OC_OK);
    size_t total = 1 << 20;
    for (size_t i = 0; i < oc_st_num_tensors(f); i++) total += oc_st_tensor_at(f, i)->numel * 4 + 512;
    pb *g = pb_big(total);
    pstr(g, 2, "torch_jit");
    for (size_t i = 0; i < oc_st_num_tensors(f); i++) {
        const oc_st_tensor *t = oc_st_tensor_at(f, i);
        int aliased = 0;
        for (int a = 0; a < n_alias; a++) aliased |= !strcmp(t->name, alias[a][1]);
        if (!aliased) add_init(g, f, t);
        size_t l = strlen(t->name);
        if (t->ndim != 4 || l < 7 || strcmp(t->name + l - 7, ".weight")) continue;
        char prefix[256], node[512], bias[300], out[600];
        snprintf(prefix, sizeof prefix, "%.*s", (int)(l - 7), t->name);
        export_node_name(prefix, node, sizeof node);
        snprintf(bias, sizeof bias, "%s.bias", prefix);
        snprintf(out, sizeof out, "%s_out", node);
        const char *ins[3] = {"images", t->name, bias};
        add_node(g, node, "Conv", ins, oc_st_find(f, bias) ? 3 : 2, out);
    }
    for (int a = 0; a < n_alias; a++) {
        char mid[64], nm[64];
        snprintf(mid, sizeof mid, "onnx::Identity_%d", 900 + a);
        snprintf(nm, sizeof nm, "Identity_%d", 900 + a);
        const char *in1[1] = {alias[a][0]};
        if (a == 0 && bias_op) {
            const char *in2[2] = {alias[a][0], alias[a][0]};
            add_node(g, "/model.23/Mul_7", bias_op, in2, 2, alias[a][1]);
        } else if (chain[a]) {
            add_node(g, nm, "Identity", in1, 1, mid);
            const char *in2[1] = {mid};
            add_node(g, "Dropout_1", "Dropout", in2, 1, alias[a][1]);
        } else {
            add_node(g, nm, "Identity", in1, 1, alias[a][1]);
        }
    }
    pb *vi = pb_new(); /* graph input: a ValueInfoProto with just its name */
    pstr(vi, 1, "images");
    pmsg(g, 11, vi);
    pb_del(vi);
    pb *m = pb_big(g->n + 256);
    pvar(m, 1, 8);
    pb *os = pb_new();
    pstr(os, 1, "");
    pvar(os, 2, 17);
    pmsg(m, 8, os);
    pb_del(os);
    pstr(m, 2, "pytorch");
    pstr(m, 3, "1.13.1");
    pmsg(m, 7, g);
    pb_del(g);
    oc_st_close(f);
    return m;
}

static void test_convert_torch_export(void **state)
{
    (void)state;
    const char *gen = tu_tmp_path(".safetensors"), *in = tu_tmp_path(".onnx");
    const char *out = tu_tmp_path(".safetensors");
    assert_int_equal(oc_yolo_generate("yolo11", "n", 80, 64, 3, gen), OC_OK);
    /* the Detect head's per-level biases, identical in a random-init model, stored once */
    static const char *const alias[][2] = {{"model.23.cv2.0.2.bias", "model.23.cv2.1.2.bias"},
                                           {"model.23.cv3.0.2.bias", "model.23.cv3.2.2.bias"}};
    static const int chain[] = {0, 1};
    pb *p = export_like_torch(gen, alias, chain, 2, NULL);
    assert_int_equal(tu_write_file(in, p->b, p->n), 0);
    pb_del(p);
    /* no metadata: arch and scale given, as `ocellus convert --arch yolo11 --scale n` does */
    oc_status st = oc_convert_onnx(in, out, "yolo11", "n");
    if (st) fail_msg("convert: %s", oc_last_error());
    oc_st_file *a, *b;
    assert_int_equal(oc_st_open(gen, &a), OC_OK);
    assert_int_equal(oc_st_open(out, &b), OC_OK);
    assert_string_equal(oc_st_meta(b, "ocellus.arch"), "yolo11");
    assert_string_equal(oc_st_meta(b, "ocellus.scale"), "n");
    assert_int_equal(oc_st_num_tensors(b), oc_st_num_tensors(a));
    /* every tensor as generated, the aliased ones with their source's values */
    for (size_t i = 0; i < oc_st_num_tensors(a); i++) {
        const oc_st_tensor *t = oc_st_tensor_at(a, i), *src = t;
        for (int k = 0; k < 2; k++)
            if (!strcmp(t->name, alias[k][1])) src = oc_st_find(a, alias[k][0]);
        const oc_st_tensor *c = oc_st_find(b, t->name);
        if (!c) fail_msg("converted file lacks %s", t->name);
        assert_int_equal(c->numel, src->numel);
        assert_memory_equal(c->data, src->data, src->numel * 4);
    }
    oc_st_close(b);
    oc_model *m;
    assert_int_equal(oc_model_load(out, &m), OC_OK);
    oc_model_free(m);
    unlink(out);
    if (tu_under_valgrind()) { /* one conversion is the point; the variants below are slow */
        oc_st_close(a);
        unlink(in);
        unlink(gen);
        return;
    }
    /* without --arch/--scale the graph and the weights still tell yolo11 n */
    assert_int_equal(oc_convert_onnx(in, out, NULL, NULL), OC_OK);
    unlink(out);
    /* a bias computed by an arithmetic node is refused, naming the node and its op */
    p = export_like_torch(gen, alias, chain, 2, "Mul");
    assert_int_equal(tu_write_file(in, p->b, p->n), 0);
    pb_del(p);
    assert_int_equal(oc_convert_onnx(in, out, "yolo11", "n"), OC_ERR_UNSUPPORTED);
    assert_non_null(strstr(oc_last_error(), "'model.23.cv2.1.2.bias' is computed by a Mul node "
                                            "('/model.23/Mul_7')"));
    assert_int_equal(access(out, F_OK), -1);
    oc_st_close(a);
    unlink(in);
    unlink(gen);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_parse_crafted),
        cmocka_unit_test(test_open_file),
        cmocka_unit_test(test_varint),
        cmocka_unit_test(test_malformed),
        cmocka_unit_test(test_tensor_data_checks),
        cmocka_unit_test(test_truncations_and_corruptions),
        cmocka_unit_test(test_names_dict),
        cmocka_unit_test(test_module_path),
        cmocka_unit_test(test_gamma_name),
        cmocka_unit_test(test_scale_table),
        cmocka_unit_test(test_convert_crafted_errors),
        cmocka_unit_test(test_convert_yolo11n),
        cmocka_unit_test(test_convert_torch_export),
        cmocka_unit_test(test_convert_state_dict),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}

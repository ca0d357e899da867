/* test_pickle.c -- the restricted unpickler (src/formats/pickle.c) on hand-written pickles:
 * the values it builds, and every rejection rule of docs/FORMAT.md ("The unpickler"). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "formats/pickle.h"

#define P(s) (const uint8_t *)(s), sizeof(s) - 1

static oc_pk_file *load_ok(const uint8_t *b, size_t n)
{
    oc_pk_file *f = NULL;
    oc_status st = oc_pk_load(b, n, "t.pkl", &f);
    if (st) fprintf(stderr, "unexpected failure: %s\n", oc_last_error());
    assert_int_equal(st, OC_OK);
    assert_non_null(f);
    return f;
}

/* fails with FORMAT and a message containing `want` */
static void load_bad(const uint8_t *b, size_t n, const char *want)
{
    oc_pk_file *f = (oc_pk_file *)1;
    oc_status st = oc_pk_load(b, n, "t.pkl", &f);
    if (st != OC_ERR_FORMAT || !strstr(oc_last_error(), want))
        fprintf(stderr, "status %s, message '%s', wanted '%s'\n", oc_status_name(st),
                oc_last_error(), want);
    assert_int_equal(st, OC_ERR_FORMAT);
    assert_null(f);
    assert_non_null(strstr(oc_last_error(), want));
    assert_non_null(strstr(oc_last_error(), "t.pkl"));
}

static void test_scalars(void **state)
{
    (void)state;
    /* (None, True, False, -2, 255, 65535, -1 (LONG1), 2**64 (LONG1, 9 bytes), 0.5, 'é') */
    static const char b[] =
        "\x80\x02(N\x88\x89J\xfe\xff\xff\xffK\xffM\xff\xff\x8a\x01\xff"
        "\x8a\x09\x00\x00\x00\x00\x00\x00\x00\x00\x01"
        "G\x3f\xe0\x00\x00\x00\x00\x00\x00X\x02\x00\x00\x00\xc3\xa9t.";
    oc_pk_file *f = load_ok(P(b));
    const oc_pk_value *r = oc_pk_root(f);
    assert_int_equal(r->type, OC_PK_TUPLE);
    assert_int_equal(r->u.seq.n, 10);
    oc_pk_value **v = r->u.seq.v;
    assert_int_equal(v[0]->type, OC_PK_NONE);
    assert_true(v[1]->type == OC_PK_BOOL && v[1]->u.b == 1);
    assert_true(v[2]->type == OC_PK_BOOL && v[2]->u.b == 0);
    assert_true(v[3]->type == OC_PK_INT && v[3]->u.i == -2);
    assert_true(v[4]->type == OC_PK_INT && v[4]->u.i == 255);
    assert_true(v[5]->type == OC_PK_INT && v[5]->u.i == 65535);
    assert_true(v[6]->type == OC_PK_INT && v[6]->u.i == -1);
    assert_int_equal(v[7]->type, OC_PK_BIGINT);
    assert_true(v[8]->type == OC_PK_FLOAT && v[8]->u.f == 0.5);
    assert_true(v[9]->type == OC_PK_STR && v[9]->u.str.len == 2 && !strcmp(v[9]->u.str.s, "\xc3\xa9"));
    char *js = oc_pk_to_json(r, 1000);
    assert_string_equal(js, "[null,true,false,-2,255,65535,-1,null,0.5,\"\xc3\xa9\"]");
    oc_free(js);
    oc_pk_free(f);
}

/* protocol 4: FRAME, SHORT_BINUNICODE, MEMOIZE, STACK_GLOBAL; an OrderedDict with a
 * _metadata attribute set by BUILD; the last of two equal keys wins in lookups */
static void test_protocol4_ordered_dict(void **state)
{
    (void)state;
    static const char b[] =
        "\x80\x04\x95\x00\x00\x00\x00\x00\x00\x00\x00"
        "\x8c\x0b" "collections\x94\x8c\x0b" "OrderedDict\x94\x93\x94)R\x94"
        "(\x8c\x01" "aK\x01\x8c\x01" "bK\x02\x8c\x01" "aK\x03u"
        "}\x94\x8c\x09_metadata\x94}sb.";
    oc_pk_file *f = load_ok(P(b));
    const oc_pk_value *r = oc_pk_root(f);
    assert_int_equal(r->type, OC_PK_DICT);
    assert_int_equal(r->u.dict.n, 3);
    assert_int_equal(oc_pk_dict_get(r, "a")->u.i, 3);
    assert_int_equal(oc_pk_dict_get(r, "b")->u.i, 2);
    assert_null(oc_pk_dict_get(r, "c"));
    assert_false(oc_pk_is_state_dict(r)); /* values are ints */
    oc_pk_free(f);
}

/* argparse.Namespace (NEWOBJ + BUILD) reads as its attributes; torch.device as its text;
 * _codecs.encode as bytes; builtins spelled __builtin__ */
static void test_plain_objects(void **state)
{
    (void)state;
    static const char b[] =
        "\x80\x02}q\x00(X\x04\x00\x00\x00" "argscargparse\nNamespace\n)\x81}(X\x02\x00\x00\x00"
        "lrG\x3f\xb9\x99\x99\x99\x99\x99\x9aX\x03\x00\x00\x00" "devctorch\ndevice\nX\x04\x00\x00\x00"
        "cudaK\x01\x86RX\x01\x00\x00\x00" "bc_codecs\nencode\nX\x03\x00\x00\x00" "a\xc3\xbf"
        "X\x06\x00\x00\x00latin1\x86RX\x01\x00\x00\x00s" "c__builtin__\nset\n]K\x07" "a\x85Rub"
        "u.";
    oc_pk_file *f = load_ok(P(b));
    const oc_pk_value *args = oc_pk_dict_get(oc_pk_root(f), "args");
    assert_non_null(args);
    assert_int_equal(args->type, OC_PK_OBJECT);
    assert_true(oc_pk_is_plain(args));
    char *js = oc_pk_to_json(args, 1000);
    assert_string_equal(js, "{\"lr\":0.1,\"dev\":\"cuda:1\",\"b\":\"a\\u00ff\",\"s\":[7]}");
    oc_free(js);
    assert_null(oc_pk_to_json(args, 10)); /* longer than max_len */
    oc_pk_free(f);
}

static void test_globals_refused(void **state)
{
    (void)state;
    /* os.system('true'): refused when named, before anything could be called */
    load_bad(P("\x80\x02" "cos\nsystem\nX\x04\x00\x00\x00true\x85R."), "'os.system' is not allowed");
    load_bad(P("\x80\x02" "cposix\nsystem\n."), "'posix.system'");
    load_bad(P("\x80\x02" "cbuiltins\neval\nX\x03\x00\x00\x00" "1+1\x85R."), "'builtins.eval'");
    load_bad(P("\x80\x02" "c__builtin__\ngetattr\n."), "'__builtin__.getattr'");
    load_bad(P("\x80\x04\x8c\x08" "builtins\x8c\x04" "exec\x93."), "'builtins.exec'");
    load_bad(P("\x80\x02" "ctorch\nload\n."), "'torch.load'");
    load_bad(P("\x80\x02" "ctorch._utils\n_rebuild_device_tensor_from_numpy\n."),
             "_rebuild_device_tensor_from_numpy");
    /* a module name with a control byte is not a printable line */
    load_bad(P("\x80\x02" "co\x01s\nsystem\n."), "not a short printable line");
    /* allowed as values, not callable */
    load_bad(P("\x80\x02" "ctorch\nFloatStorage\n)R."), "cannot be called");
    load_bad(P("\x80\x02" "ctorch\nTensor\n)\x81."), "cannot be instantiated");
    /* protocol 0/1 object creation, extension registry, out-of-band buffers */
    load_bad(P("\x80\x02(iposix\nsystem\n."), "INST");
    load_bad(P("\x80\x02\x82\x01."), "EXT1");
    load_bad(P("\x80\x05\x97."), "NEXT_BUFFER");
    load_bad(P("\x80\x02\xff."), "unknown opcode 0xff");
}

static void test_structure_errors(void **state)
{
    (void)state;
    /* an empty tuple from a MARK on an empty stack (found by fuzzing: items since the mark
     * were a pointer computed from a NULL stack) */
    oc_pk_file *f = load_ok(P("\x80\x02(t."));
    assert_int_equal(oc_pk_root(f)->type, OC_PK_TUPLE);
    assert_int_equal(oc_pk_root(f)->u.seq.n, 0);
    oc_pk_free(f);
    load_bad(P("}."), "does not start with PROTO");
    load_bad(P("\x80\x06}."), "protocol 6");
    load_bad(P("\x80\x02" "a."), "stack is empty");
    load_bad(P("\x80\x02" "t."), "no MARK");
    load_bad(P("\x80\x02" "N(."), "stack is empty");
    load_bad(P("\x80\x02" "NN."), "STOP with 1 values");
}

static void test_structure_errors_2(void **state)
{
    (void)state;
    load_bad(P("\x80\x02}"), "ends without STOP");
    load_bad(P("\x80\x02}.x"), "1 bytes after STOP");
    load_bad(P("\x80\x02" "K\x01K\x02s."), "stack is empty");
    load_bad(P("\x80\x02}]K\x01s."), "cannot be a dict key");
    load_bad(P("\x80\x02]K\x01K\x02u."), "no MARK");
    load_bad(P("\x80\x02" "K\x01(K\x02u."), "setting items on a int");
    load_bad(P("\x80\x02}(K\x01u."), "odd number");
    load_bad(P("\x80\x02X\x02\x00\x00\x00\xc3(."), "not valid UTF-8");
}

static void test_memo(void **state)
{
    (void)state;
    /* a list holding itself: loads, but is no plain data and has no JSON */
    oc_pk_file *f = load_ok(P("\x80\x02]q\x00h\x00" "a."));
    const oc_pk_value *r = oc_pk_root(f);
    assert_int_equal(r->type, OC_PK_LIST);
    assert_ptr_equal(r->u.seq.v[0], r);
    assert_false(oc_pk_is_plain(r));
    assert_null(oc_pk_to_json(r, 1 << 20));
    oc_pk_free(f);
    load_bad(P("\x80\x02h\x05."), "memo index 5 was never stored");
    load_bad(P("\x80\x02Nq\x00j\x00\x01\x00\x00."), "memo index 256 was never stored");
    load_bad(P("\x80\x02Nr\xff\xff\xff\xff."), "memo index 4294967295 is out of range");
    load_bad(P("\x80\x02Ng3\n."), "memo index 3 was never stored");
    load_bad(P("\x80\x02Nq"), "needs 1 bytes");
    load_bad(P("\x80\x02\x94."), "stack is empty");
}

static void test_huge_lengths(void **state)
{
    (void)state;
    load_bad(P("\x80\x02X\xff\xff\xff\xff" "abc."), "needs 4294967295 bytes");
    load_bad(P("\x80\x04\x8d\x00\x00\x00\x00\x00\x00\x00\x10" "abc."), "needs 1152921504606846976");
    load_bad(P("\x80\x04\x8e\xff\xff\xff\xff\xff\xff\xff\xff" "abc."), "needs 18446744073709551615");
    load_bad(P("\x80\x02\x8b\xff\xff\xff\x7f" "a."), "needs 2147483647");
    load_bad(P("\x80\x02\x8b\xff\xff\xff\xff" "a."), "negative length");
    load_bad(P("\x80\x04\x95\xff\xff\xff\xff\x00\x00\x00\x00}."), "frame of");
    load_bad(P("\x80\x02" "B\x10\x00\x00\x00" "abc."), "needs 16 bytes");
}

/* 200 nested lists, built bottom-up or top-down: refused past OC_PK_MAX_DEPTH */
static void test_deep_nesting(void **state)
{
    (void)state;
    uint8_t b[1024];
    size_t n = 0;
    b[n++] = 0x80;
    b[n++] = 2;
    for (int i = 0; i < 200; i++) b[n++] = ']';
    for (int i = 0; i < 199; i++) b[n++] = 'a';
    b[n++] = '.';
    load_bad(b, n, "nest deeper than 100");
    /* tuples by MARK ... TUPLE */
    n = 2;
    for (int i = 0; i < 300; i++) b[n++] = '(';
    for (int i = 0; i < 300; i++) b[n++] = 't';
    b[n++] = '.';
    load_bad(b, n, "nest deeper than 100");
    /* 100 levels are fine */
    n = 2;
    for (int i = 0; i < 100; i++) b[n++] = ']';
    for (int i = 0; i < 99; i++) b[n++] = 'a';
    b[n++] = '.';
    oc_pk_file *f = load_ok(b, n);
    assert_int_equal(oc_pk_root(f)->depth, 99);
    oc_pk_free(f);
}

/* a DAG whose tree is 2^60 nodes: walks stop on their budgets */
static void test_shared_subtrees(void **state)
{
    (void)state;
    uint8_t b[1024];
    size_t n = 0;
    b[n++] = 0x80;
    b[n++] = 2;
    b[n++] = ']';
    b[n++] = 'q';
    b[n++] = 0;
    b[n++] = '0';
    for (int i = 0; i < 60; i++) { /* x = [x, x], kept in memo 0 only */
        static const uint8_t step[] = {'(', 'h', 0, 'h', 0, 'l', 'q', 0, '0'};
        memcpy(b + n, step, sizeof step);
        n += sizeof step;
    }
    b[n++] = 'h';
    b[n++] = 0;
    b[n++] = '.';
    oc_pk_file *f = load_ok(b, n);
    clock_t t0 = clock();
    const oc_pk_value *r = oc_pk_root(f);
    assert_int_equal(r->type, OC_PK_LIST);
    assert_int_equal(r->depth, 60);
    assert_false(oc_pk_is_plain(r));            /* the visit budget runs out */
    assert_null(oc_pk_to_json(r, 1 << 20));     /* the length budget runs out */
    assert_true((double)(clock() - t0) / CLOCKS_PER_SEC < 5.0);
    oc_pk_free(f);
}

/* every prefix of a valid pickle fails cleanly */
static void test_truncations(void **state)
{
    (void)state;
    static const char b[] =
        "\x80\x02}q\x00(X\x04\x00\x00\x00" "argscargparse\nNamespace\n)\x81}(X\x02\x00\x00\x00"
        "lrG\x3f\xb9\x99\x99\x99\x99\x99\x9aub\x8a\x02\x01\x02J\x01\x02\x03\x04u.";
    for (size_t n = 0; n + 1 < sizeof b - 1; n++) {
        oc_pk_file *f = NULL;
        oc_status st = oc_pk_load(b, n, "t.pkl", &f);
        assert_int_equal(st, OC_ERR_FORMAT);
        assert_null(f);
    }
    oc_pk_file *f = load_ok(P(b));
    oc_pk_free(f);
}

static void test_pickle_length_limit(void **state)
{
    (void)state;
    oc_pk_file *f = NULL;
    static const uint8_t b[4] = {0x80, 2, 'N', '.'};
    assert_int_equal(oc_pk_load(b, (size_t)OC_PK_MAX_LEN + 1, "t.pkl", &f), OC_ERR_FORMAT);
    assert_non_null(strstr(oc_last_error(), "limit"));
}

/* storage persistent ids: a key seen again is the same storage, if declared the same way;
 * many distinct storages cost linear time */
static size_t put_storage(uint8_t *b, const char *key, int count)
{
    size_t n = 0;
    n += (size_t)sprintf((char *)b + n, "(X\x07%c%c%cstorage", 0, 0, 0);
    n += (size_t)sprintf((char *)b + n, "ctorch\nFloatStorage\n");
    b[n++] = 'X';
    b[n++] = (uint8_t)strlen(key);
    b[n++] = 0;
    b[n++] = 0;
    b[n++] = 0;
    memcpy(b + n, key, strlen(key));
    n += strlen(key);
    memcpy(b + n, "X\x03\x00\x00\x00" "cpuK", 9);
    n += 9;
    b[n++] = (uint8_t)count;
    b[n++] = 't';
    b[n++] = 'Q';
    return n;
}

static void test_storages(void **state)
{
    (void)state;
    enum { N = 200000 };
    uint8_t *b = malloc((size_t)N * 64 + 16);
    size_t n = 0;
    b[n++] = 0x80;
    b[n++] = 2;
    b[n++] = ']';
    b[n++] = '(';
    for (int i = 0; i < N; i++) {
        char key[16];
        snprintf(key, sizeof key, "%d", i);
        n += put_storage(b + n, key, i % 200);
    }
    n += put_storage(b + n, "17", 17); /* the same again */
    b[n++] = 'e';
    b[n++] = '.';
    clock_t t0 = clock();
    oc_pk_file *f = load_ok(b, n);
    double secs = (double)(clock() - t0) / CLOCKS_PER_SEC;
    fprintf(stderr, "%d storages unpickled in %.2f s\n", N, secs);
    assert_true(secs < 10.0);
    assert_int_equal(oc_pk_num_storages(f), N);
    const oc_pk_value *r = oc_pk_root(f);
    assert_int_equal(r->u.seq.n, N + 1);
    assert_ptr_equal(r->u.seq.v[17]->u.storage, r->u.seq.v[N]->u.storage);
    const oc_pk_storage *s = oc_pk_find_storage(f, "199999");
    assert_non_null(s);
    assert_int_equal(s->index, 199999);
    assert_int_equal(s->numel, 199999 % 200);
    assert_null(oc_pk_find_storage(f, "200000"));
    oc_pk_free(f);
    /* the same key with another count */
    n = 0;
    b[n++] = 0x80;
    b[n++] = 2;
    b[n++] = '(';
    n += put_storage(b + n, "0", 6);
    n += put_storage(b + n, "0", 7);
    b[n++] = 't';
    b[n++] = '.';
    load_bad(b, n, "storage '0' is declared twice, as FloatStorage of 6");
    free(b);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_scalars),
        cmocka_unit_test(test_protocol4_ordered_dict),
        cmocka_unit_test(test_plain_objects),
        cmocka_unit_test(test_globals_refused),
        cmocka_unit_test(test_structure_errors),
        cmocka_unit_test(test_structure_errors_2),
        cmocka_unit_test(test_memo),
        cmocka_unit_test(test_huge_lengths),
        cmocka_unit_test(test_deep_nesting),
        cmocka_unit_test(test_shared_subtrees),
        cmocka_unit_test(test_truncations),
        cmocka_unit_test(test_pickle_length_limit),
        cmocka_unit_test(test_storages),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}

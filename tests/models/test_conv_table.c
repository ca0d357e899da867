/* The shared packed-conv table (src/models/conv_table.c): entries come back in push order by
 * name, a walk that goes out of step fails with a message naming the conv, and the packed
 * bytes are counted. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#include <string.h>

#include "models/conv_table.h"

static oc_conv2d_desc desc(int cin, int cout, int k)
{
    oc_conv2d_desc d;
    memset(&d, 0, sizeof d);
    d.cin = cin;
    d.cout = cout;
    d.kh = d.kw = k;
    d.groups = 1;
    d.stride_h = d.stride_w = 1;
    d.pad_t = d.pad_l = d.pad_b = d.pad_r = k / 2;
    d.dil_h = d.dil_w = 1;
    d.act = OC_ACT_NONE;
    return d;
}

static void push_two(oc_conv_table *t)
{
    float w1[2 * 3 * 9], w2[4 * 2], b2[4] = {1, 2, 3, 4};
    for (int i = 0; i < (int)(sizeof w1 / sizeof *w1); i++) w1[i] = 0.01f * (float)i;
    for (int i = 0; i < 8; i++) w2[i] = (float)(i % 3) - 1.0f;
    oc_conv2d_desc d1 = desc(3, 2, 3), d2 = desc(2, 4, 1);
    assert_int_equal(oc_conv_table_push(t, "m.safetensors", "model.0", &d1, w1, NULL, OC_ISA_SCALAR),
                     OC_OK);
    assert_int_equal(oc_conv_table_push(t, "m.safetensors", "model.1", &d2, w2, b2, OC_ISA_SCALAR),
                     OC_OK);
}

static void test_order_and_bytes(void **state)
{
    (void)state;
    oc_conv_table t;
    memset(&t, 0, sizeof t);
    push_two(&t);
    assert_int_equal(t.n, 2);
    assert_true(t.packed_bytes >= (2 * 3 * 9 + 4 * 2 + 4) * sizeof(float));
    assert_int_equal(t.packed_bytes,
                     oc_conv2d_weights_bytes(t.e[0].w) + oc_conv2d_weights_bytes(t.e[1].w));
    int cur = 0;
    const oc_conv_entry *e = oc_conv_table_next(&t, &cur, "m", "model.0");
    assert_non_null(e);
    assert_int_equal(e->d.cout, 2);
    assert_int_equal(cur, 1);
    e = oc_conv_table_next(&t, &cur, "m", "model.1");
    assert_non_null(e);
    assert_int_equal(e->d.kh, 1);
    assert_int_equal(cur, 2);
    /* exhausted */
    assert_null(oc_conv_table_next(&t, &cur, "m.safetensors", "model.2"));
    assert_non_null(strstr(oc_last_error(), "model.2"));
    assert_non_null(strstr(oc_last_error(), "m.safetensors"));
    oc_conv_table_free(&t);
    assert_int_equal(t.n, 0);
    assert_null(t.e);
}

static void test_out_of_step(void **state)
{
    (void)state;
    oc_conv_table t;
    memset(&t, 0, sizeof t);
    push_two(&t);
    int cur = 0;
    assert_null(oc_conv_table_next(&t, &cur, "m.safetensors", "model.1"));
    assert_int_equal(cur, 0);
    assert_non_null(strstr(oc_last_error(), "out of step at 'model.1'"));
    assert_non_null(strstr(oc_last_error(), "'model.0'"));

    /* build: a wrong name fails without touching the graph; the right one adds a node of the
     * conv's output shape */
    oc_graph *g = oc_graph_new();
    assert_non_null(g);
    oc_tid x = oc_g_input(g, "images", oc_shape4(1, 3, 5, 7));
    oc_status st = OC_OK;
    assert_int_equal(oc_conv_table_build(&t, &cur, g, x, OC_NONE, "m", "model.9", &st), OC_NONE);
    assert_int_equal(st, OC_ERR_INTERNAL);
    assert_int_equal(oc_graph_status(g), OC_OK);
    st = OC_OK;
    oc_tid y = oc_conv_table_build(&t, &cur, g, x, OC_NONE, "m", "model.0", &st);
    assert_int_not_equal(y, OC_NONE);
    assert_int_equal(st, OC_OK);
    /* model.1 wants 2 input channels: feeding it the 3-channel input must fail with its name */
    y = oc_conv_table_build(&t, &cur, g, x, OC_NONE, "m", "model.1", &st);
    assert_int_equal(y, OC_NONE);
    assert_int_not_equal(st, OC_OK);
    assert_non_null(strstr(oc_last_error(), "conv 'model.1'"));
    oc_graph_free(g);
    oc_conv_table_free(&t);
}

static void test_prepack_failure(void **state)
{
    (void)state;
    oc_conv_table t;
    memset(&t, 0, sizeof t);
    float w[4] = {0};
    oc_conv2d_desc d = desc(2, 2, 1);
    d.groups = 3; /* does not divide the channels */
    oc_status st = oc_conv_table_push(&t, "bad.safetensors", "model.7", &d, w, NULL, OC_ISA_SCALAR);
    assert_int_not_equal(st, OC_OK);
    assert_int_equal(t.n, 0);
    assert_non_null(strstr(oc_last_error(), "model.7"));
    oc_conv_table_free(&t);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_order_and_bytes),
        cmocka_unit_test(test_out_of_step),
        cmocka_unit_test(test_prepack_failure),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}

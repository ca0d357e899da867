/* Core runtime pieces: errors, the counted allocator, ISA dispatch. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#include <stdlib.h>
#include <string.h>

#include "internal.h"
#include "testutil.h"

static void test_error_message(void **state)
{
    (void)state;
    oc_status st = oc_error(OC_ERR_FORMAT, "file %s: tensor '%s' bad", "a.safetensors", "w");
    assert_int_equal(st, OC_ERR_FORMAT);
    assert_string_equal(oc_last_error(), "file a.safetensors: tensor 'w' bad");
    oc_error_prefix(st, "loading %s: ", "x");
    assert_string_equal(oc_last_error(), "loading x: file a.safetensors: tensor 'w' bad");
    assert_string_equal(oc_status_name(OC_ERR_SHAPE), "OC_ERR_SHAPE");
    oc_clear_error();
    assert_string_equal(oc_last_error(), "");
}

static void test_alloc_counts_and_alignment(void **state)
{
    (void)state;
    oc_alloc_stats a, b;
    oc_get_alloc_stats(&a);
    void *p = oc_malloc(1000);
    assert_non_null(p);
    assert_int_equal((uintptr_t)p % 64, 0);
    oc_get_alloc_stats(&b);
    assert_int_equal(b.allocs, a.allocs + 1);
    assert_int_equal(b.live_bytes, a.live_bytes + 1000);
    p = oc_realloc(p, 5000);
    assert_non_null(p);
    oc_free(p);
    oc_get_alloc_stats(&b);
    assert_int_equal(b.live_bytes, a.live_bytes);
    assert_int_equal(b.allocs - a.allocs, b.frees - a.frees);
    assert_null(oc_calloc(SIZE_MAX / 2, 4)); /* overflow caught */
}

static void test_isa_forcing(void **state)
{
    (void)state;
    oc_isa best = oc_cpu_best_isa();
    for (int i = 0; i <= (int)best; i++) {
        assert_int_equal(oc_set_isa((oc_isa)i), OC_OK);
        assert_int_equal(oc_get_isa(), i);
    }
    if (best < OC_ISA_AVX512) {
        assert_int_equal(oc_set_isa(OC_ISA_AVX512), OC_ERR_UNSUPPORTED);
        assert_non_null(strstr(oc_last_error(), "avx512"));
    }
    assert_int_equal(oc_set_isa((oc_isa)7), OC_ERR_INVALID_ARG);
    assert_string_equal(oc_isa_name(OC_ISA_AVX2), "avx2");
    oc_set_isa(best);
}

static void test_threads(void **state)
{
    (void)state;
    int def = oc_get_num_threads();
    assert_true(def >= 1);
    assert_int_equal(oc_set_num_threads(0), OC_ERR_INVALID_ARG);
    assert_int_equal(oc_set_num_threads(3), OC_OK);
    assert_int_equal(oc_get_num_threads(), 3);
    oc_set_num_threads(def);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_error_message),
        cmocka_unit_test(test_alloc_counts_and_alignment),
        cmocka_unit_test(test_isa_forcing),
        cmocka_unit_test(test_threads),
    };
    return cmocka_run_group_tests_name("core", tests, NULL, NULL);
}

/* testutil.h -- helpers shared by the cmocka suites (tests/util/testutil.c).
 * Include after <setjmp.h>, <stdarg.h>, <stddef.h> and <cmocka.h>. */
#ifndef OC_TESTUTIL_H
#define OC_TESTUTIL_H

#include <stddef.h>
#include <stdint.h>

/* ../shared (or $OCELLUS_SHARED): the read-only fixtures beside the repository. */
const char *tu_shared_dir(void);
/* Full path of a file under the shared dir, in a static buffer per call slot (4 slots). */
const char *tu_shared_path(const char *rel);
/* 1 when the file exists under the shared dir. */
int tu_shared_has(const char *rel);
/* 1 when running under valgrind (OC_TEST_VALGRIND=1): heavy tests shrink or skip. */
int tu_under_valgrind(void);

/* Deterministic uniform values in [lo, hi) (xorshift32). */
void tu_fill_uniform(float *x, size_t n, uint32_t seed, float lo, float hi);
float tu_max_abs(const float *x, size_t n);
float tu_max_abs_diff(const float *a, const float *b, size_t n);
/* A temporary file path (unique per process and call) under $TMPDIR or /tmp. */
const char *tu_tmp_path(const char *suffix);
/* Write bytes to a file; returns 0 on success. */
int tu_write_file(const char *path, const void *data, size_t len);

/* Skip the current test with a message on stderr when a shared file is missing. */
#define TU_REQUIRE_SHARED(rel)                                                              \
    do {                                                                                    \
        if (!tu_shared_has(rel)) {                                                          \
            fprintf(stderr, "SKIP: %s not found (needs ../shared beside the repository)\n", \
                    tu_shared_path(rel));                                                   \
            skip();                                                                         \
        }                                                                                   \
    } while (0)

#endif

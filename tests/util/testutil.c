#include "testutil.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

const char *tu_shared_dir(void)
{
    const char *s = getenv("OCELLUS_SHARED");
    return (s && *s) ? s : "../shared";
}

const char *tu_shared_path(const char *rel)
{
    static char buf[4][4096];
    static int slot;
    slot = (slot + 1) & 3;
    snprintf(buf[slot], sizeof buf[slot], "%s/%s", tu_shared_dir(), rel);
    return buf[slot];
}

int tu_shared_has(const char *rel) { return access(tu_shared_path(rel), R_OK) == 0; }

int tu_under_valgrind(void)
{
    const char *s = getenv("OC_TEST_VALGRIND");
    return s && *s == '1';
}

void tu_fill_uniform(float *x, size_t n, uint32_t seed, float lo, float hi)
{
    uint32_t s = seed ? seed : 0x9e3779b9u;
    for (size_t i = 0; i < n; i++) {
        s ^= s << 13;
        s ^= s >> 17;
        s ^= s << 5;
        x[i] = lo + (hi - lo) * (float)((s >> 8) * (1.0 / 16777216.0));
    }
}

float tu_max_abs(const float *x, size_t n)
{
    float m = 0;
    for (size_t i = 0; i < n; i++) m = fmaxf(m, fabsf(x[i]));
    return m;
}

float tu_max_abs_diff(const float *a, const float *b, size_t n)
{
    float m = 0;
    for (size_t i = 0; i < n; i++) {
        float d = fabsf(a[i] - b[i]);
        if (d != d) return INFINITY; /* NaN */
        m = fmaxf(m, d);
    }
    return m;
}

const char *tu_tmp_path(const char *suffix)
{
    static char buf[8][512];
    static int slot, counter;
    slot = (slot + 1) & 7;
    const char *dir = getenv("TMPDIR");
    snprintf(buf[slot], sizeof buf[slot], "%s/ocellus-test-%d-%d%s", dir ? dir : "/tmp",
             (int)getpid(), counter++, suffix ? suffix : "");
    return buf[slot];
}

int tu_write_file(const char *path, const void *data, size_t len)
{
    FILE *f = fopen(path, "wb");
    if (!f) return -1;
    size_t w = fwrite(data, 1, len, f);
    return (fclose(f) == 0 && w == len) ? 0 : -1;
}

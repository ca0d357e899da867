/* alloc.c -- the library's counted allocator (64-byte aligned, for SIMD and cache lines).
 * A 64-byte header before each block records its size, so oc_free can count bytes. */
#include "internal.h"

#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

#define OC_ALIGN 64

static _Atomic uint64_t g_allocs, g_frees, g_live, g_peak;

static void count_alloc(size_t size)
{
    atomic_fetch_add(&g_allocs, 1);
    uint64_t live = atomic_fetch_add(&g_live, size) + size;
    uint64_t peak = atomic_load(&g_peak);
    while (live > peak && !atomic_compare_exchange_weak(&g_peak, &peak, live)) {
    }
}

void *oc_malloc(size_t size)
{
    if (size == 0) size = 1;
    if (size > SIZE_MAX - OC_ALIGN) return NULL;
    void *raw = NULL;
    if (posix_memalign(&raw, OC_ALIGN, size + OC_ALIGN) != 0) return NULL;
    *(size_t *)raw = size;
    count_alloc(size);
    return (char *)raw + OC_ALIGN;
}

void *oc_calloc(size_t n, size_t size)
{
    size_t total;
    if (!oc_mul_size(n, size, &total)) return NULL;
    void *p = oc_malloc(total);
    if (p) memset(p, 0, total ? total : 1);
    return p;
}

void oc_free(void *p)
{
    if (!p) return;
    char *raw = (char *)p - OC_ALIGN;
    size_t size = *(size_t *)raw;
    atomic_fetch_add(&g_frees, 1);
    atomic_fetch_sub(&g_live, size);
    free(raw);
}

void *oc_realloc(void *p, size_t size)
{
    if (!p) return oc_malloc(size);
    size_t old = *(size_t *)((char *)p - OC_ALIGN);
    void *q = oc_malloc(size);
    if (!q) return NULL;
    memcpy(q, p, old < size ? old : size);
    oc_free(p);
    return q;
}

char *oc_strdup(const char *s)
{
    if (!s) return NULL;
    size_t n = strlen(s) + 1;
    char *d = oc_malloc(n);
    if (d) memcpy(d, s, n);
    return d;
}

void oc_get_alloc_stats(oc_alloc_stats *st)
{
    if (!st) return;
    st->allocs = atomic_load(&g_allocs);
    st->frees = atomic_load(&g_frees);
    st->live_bytes = atomic_load(&g_live);
    st->peak_bytes = atomic_load(&g_peak);
}

/* internal.h -- helpers shared by every part of the library (not installed). */
#ifndef OC_INTERNAL_H
#define OC_INTERNAL_H

#include "ocellus.h"
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#if defined(__GNUC__)
#define OC_PRINTF(a, b) __attribute__((format(printf, a, b)))
#define OC_UNUSED __attribute__((unused))
#else
#define OC_PRINTF(a, b)
#define OC_UNUSED
#endif

/* ---- errors (src/error.c) ----
 * Set the thread-local message and return the status, so a failure is one line:
 *     return oc_error(OC_ERR_FORMAT, "%s: tensor '%s': offsets [%llu, %llu) run past the
 *                     end of the data (%llu bytes)", path, name, ...);
 * oc_error_prefix() prepends context ("loading foo.safetensors: ") to the current message. */
oc_status oc_error(oc_status st, const char *fmt, ...) OC_PRINTF(2, 3);
oc_status oc_error_prefix(oc_status st, const char *fmt, ...) OC_PRINTF(2, 3);
void oc_clear_error(void);
void oc_log(oc_log_level level, const char *fmt, ...) OC_PRINTF(2, 3);

/* ---- allocation (src/alloc.c): counted, 64-byte aligned, never abort ----
 * All library allocations go through these so oc_get_alloc_stats() can see leaks.
 * oc_malloc/oc_calloc return NULL on failure (and on size 0 return a valid 1-byte block).
 * oc_calloc_n checks n*size for overflow. Memory from oc_* must be freed with oc_free. */
void *oc_malloc(size_t size);
void *oc_calloc(size_t n, size_t size);
void *oc_realloc(void *p, size_t size);
void oc_free(void *p);
char *oc_strdup(const char *s);

/* overflow-checked arithmetic: return false on overflow */
static inline bool oc_mul_u64(uint64_t a, uint64_t b, uint64_t *r) { return !__builtin_mul_overflow(a, b, r); }
static inline bool oc_add_u64(uint64_t a, uint64_t b, uint64_t *r) { return !__builtin_add_overflow(a, b, r); }
static inline bool oc_mul_size(size_t a, size_t b, size_t *r) { return !__builtin_mul_overflow(a, b, r); }

/* ---- time (src/util.c) ---- */
double oc_now_ms(void);  /* monotonic clock, milliseconds */

/* ---- threads (src/threads.c) ---- */
int oc_num_cores(void);

#endif

/* cpu.c -- ISA detection from cpuid (with OS support for the register state), the
 * OCELLUS_ISA override, the default thread count (OCELLUS_NUM_THREADS) and the kernel
 * threads' spin before sleeping (OCELLUS_SPIN, ops/parallel.c). */
#include "internal.h"
#include "parallel.h"

#include <cpuid.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

static uint64_t xgetbv0(void)
{
    uint32_t eax, edx;
    __asm__ volatile("xgetbv" : "=a"(eax), "=d"(edx) : "c"(0));
    return ((uint64_t)edx << 32) | eax;
}

static oc_isa detect_best(void)
{
    unsigned a, b, c, d;
    if (!__get_cpuid(1, &a, &b, &c, &d)) return OC_ISA_SCALAR;
    int osxsave = (c >> 27) & 1, fma = (c >> 12) & 1, avx = (c >> 28) & 1, f16c = (c >> 29) & 1;
    if (!osxsave || !avx || !fma || !f16c) return OC_ISA_SCALAR;
    uint64_t xcr0 = xgetbv0();
    if ((xcr0 & 0x6) != 0x6) return OC_ISA_SCALAR; /* SSE + AVX state */
    if (__get_cpuid_max(0, NULL) < 7) return OC_ISA_SCALAR;
    __cpuid_count(7, 0, a, b, c, d);
    int avx2 = (b >> 5) & 1;
    if (!avx2) return OC_ISA_SCALAR;
    int avx512f = (b >> 16) & 1, avx512dq = (b >> 17) & 1, avx512bw = (b >> 30) & 1,
        avx512vl = (b >> 31) & 1;
    if (avx512f && avx512dq && avx512bw && avx512vl && (xcr0 & 0xe6) == 0xe6)
        return OC_ISA_AVX512;
    return OC_ISA_AVX2;
}

static pthread_once_t g_once = PTHREAD_ONCE_INIT;
static oc_isa g_best, g_isa;
static int g_threads;

static int env_int(const char *name, int def)
{
    const char *s = getenv(name);
    if (!s || !*s) return def;
    char *end;
    long v = strtol(s, &end, 10);
    if (end == s || *end || v < 1 || v > 1024) {
        oc_log(OC_LOG_WARN, "%s=%s is not a count in 1..1024; using %d", name, s, def);
        return def;
    }
    return (int)v;
}

int oc_num_cores(void)
{
    long n = sysconf(_SC_NPROCESSORS_ONLN);
    return n < 1 ? 1 : (int)n;
}

static void init_once(void)
{
    g_best = detect_best();
    g_isa = g_best;
    const char *s = getenv("OCELLUS_ISA");
    if (s && *s) {
        oc_isa want = g_best;
        if (!strcmp(s, "scalar")) want = OC_ISA_SCALAR;
        else if (!strcmp(s, "avx2")) want = OC_ISA_AVX2;
        else if (!strcmp(s, "avx512")) want = OC_ISA_AVX512;
        else oc_log(OC_LOG_WARN, "OCELLUS_ISA=%s not understood (scalar|avx2|avx512)", s);
        if (want > g_best) {
            oc_log(OC_LOG_WARN, "OCELLUS_ISA=%s: the CPU lacks it; using %s", s,
                   oc_isa_name(g_best));
            want = g_best;
        }
        g_isa = want;
    }
    g_threads = env_int("OCELLUS_NUM_THREADS", oc_num_cores());
}

oc_isa oc_cpu_best_isa(void)
{
    pthread_once(&g_once, init_once);
    return g_best;
}

oc_isa oc_get_isa(void)
{
    pthread_once(&g_once, init_once);
    return g_isa;
}

oc_status oc_set_isa(oc_isa isa)
{
    pthread_once(&g_once, init_once);
    if ((int)isa < OC_ISA_SCALAR || isa > OC_ISA_AVX512)
        return oc_error(OC_ERR_INVALID_ARG, "oc_set_isa: unknown isa %d", (int)isa);
    if (isa > g_best)
        return oc_error(OC_ERR_UNSUPPORTED, "oc_set_isa: this CPU lacks %s (best: %s)",
                        oc_isa_name(isa), oc_isa_name(g_best));
    g_isa = isa;
    return OC_OK;
}

const char *oc_isa_name(oc_isa isa)
{
    switch (isa) {
    case OC_ISA_SCALAR: return "scalar";
    case OC_ISA_AVX2: return "avx2";
    case OC_ISA_AVX512: return "avx512";
    }
    return "unknown";
}

oc_status oc_set_num_threads(int n)
{
    pthread_once(&g_once, init_once);
    if (n < 1 || n > 1024)
        return oc_error(OC_ERR_INVALID_ARG, "oc_set_num_threads: %d is not in [1, 1024]", n);
    g_threads = n;
    return OC_OK;
}

int oc_get_num_threads(void)
{
    pthread_once(&g_once, init_once);
    return g_threads;
}

oc_status oc_set_spin_us(int us)
{
    if (us < 0)
        return oc_error(OC_ERR_INVALID_ARG, "oc_set_spin_us: %d is negative", us);
    oc_parallel_set_spin_us(us);
    return OC_OK;
}

int oc_get_spin_us(void)
{
    return oc_parallel_spin_us();
}

double oc_now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec * 1e3 + ts.tv_nsec / 1e6;
}

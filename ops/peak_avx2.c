/* peak_avx2.c -- FMA throughput loop for the benchmark's peak measurement, timed in thread
 * CPU time (so a machine shared with other jobs still shows the per-core peak): 12
 * independent accumulator chains of 8-wide FMAs (16 ymm registers: 12 chains + 2 constants;
 * enough to cover a 4-6 cycle latency on 2
 * FMA pipes). Every chain starts from a different value: identical chains would be merged by
 * the compiler (common subexpressions) and the count of FMAs per iteration would be wrong. */
#include "conv_impl.h"

#include <immintrin.h>
#include <time.h>

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

#define NCH 12

double oc_peak_loop_avx2(double seconds)
{
    __m256 acc[NCH];
    for (int i = 0; i < NCH; i++) acc[i] = _mm256_set1_ps(1.0f + 0.001f * (float)i);
    const __m256 m = _mm256_set1_ps(0.99999f), c = _mm256_set1_ps(1e-6f);
    const long chunk = 1L << 16;
    long iters = 0;
    double t0 = now_s(), t1 = t0;
    do {
        for (long i = 0; i < chunk; i++) {
#pragma GCC unroll 12
            for (int j = 0; j < NCH; j++) acc[j] = _mm256_fmadd_ps(acc[j], m, c);
        }
        iters += chunk;
        t1 = now_s();
    } while (t1 - t0 < seconds);
    __m256 s = acc[0];
    for (int j = 1; j < NCH; j++) s = _mm256_add_ps(s, acc[j]);
    float out[8];
    _mm256_storeu_ps(out, s);
    volatile float sink = out[0];
    (void)sink;
    return (double)iters * NCH * 8 * 2.0 / (t1 - t0);
}

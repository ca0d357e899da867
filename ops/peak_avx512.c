/* peak_avx512.c -- FMA throughput loop for the benchmark's peak measurement (timed in thread CPU
 * time, so a machine shared with other jobs still shows the per-core peak): 12 independent
 * accumulator chains (enough to cover 4-cycle latency on 2 FMA pipes) of 16-wide FMAs. */
#include "conv_impl.h"

#include <immintrin.h>
#include <time.h>

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

double oc_peak_loop_avx512(double seconds)
{
    __m512 a0 = _mm512_set1_ps(1.0f), a1 = a0, a2 = a0, a3 = a0, a4 = a0, a5 = a0, a6 = a0, a7 = a0,
           a8 = a0, a9 = a0, a10 = a0, a11 = a0;
    const __m512 m = _mm512_set1_ps(0.99999f), c = _mm512_set1_ps(1e-6f);
    const long chunk = 1L << 18;
    long iters = 0;
    double t0 = now_s(), t1 = t0;
    do {
        for (long i = 0; i < chunk; i++) {
#define F(r) r = _mm512_fmadd_ps(r, m, c)
            F(a0); F(a1); F(a2); F(a3); F(a4); F(a5); F(a6); F(a7); F(a8); F(a9); F(a10); F(a11);
#undef F
            __asm__ volatile("" : "+x"(a0), "+x"(a1), "+x"(a2), "+x"(a3));
        }
        iters += chunk;
        t1 = now_s();
    } while (t1 - t0 < seconds);
    __m512 s = _mm512_add_ps(_mm512_add_ps(_mm512_add_ps(a0, a1), _mm512_add_ps(a2, a3)),
                       _mm512_add_ps(_mm512_add_ps(a4, a5), _mm512_add_ps(a6, a7)));
    s = _mm512_add_ps(s, _mm512_add_ps(_mm512_add_ps(a8, a9), _mm512_add_ps(a10, a11)));
    float out[16];
    _mm512_storeu_ps(out, s);
    volatile float sink = out[0];
    (void)sink;
    return (double)iters * 12.0 * 16 * 2.0 / (t1 - t0);
}

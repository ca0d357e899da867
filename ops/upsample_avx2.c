/* upsample_avx2.c -- AVX2 row kernel for bilinear upsampling (gathers through per-column
 * index tables). Multiplies and adds are kept separate (no FMA) so the result is
 * bit-identical to the scalar loop in upsample.c. */
#include "row_kernels.h"

#include <immintrin.h>

void oc_bilinear_row_avx2(const float *r0, const float *r1, float wh0, float wh1,
                             const int32_t *w0, const int32_t *w1, const float *lw, float *y,
                             int n)
{
    const __m256 one = _mm256_set1_ps(1.0f), vh0 = _mm256_set1_ps(wh0), vh1 = _mm256_set1_ps(wh1);
    int j = 0;
    for (; j + 8 <= n; j += 8) {
        __m256i i0 = _mm256_loadu_si256((const __m256i *)(w0 + j));
        __m256i i1 = _mm256_loadu_si256((const __m256i *)(w1 + j));
        __m256 l1 = _mm256_loadu_ps(lw + j), l0 = _mm256_sub_ps(one, l1);
        __m256 a0 = _mm256_i32gather_ps(r0, i0, 4), a1 = _mm256_i32gather_ps(r0, i1, 4);
        __m256 b0 = _mm256_i32gather_ps(r1, i0, 4), b1 = _mm256_i32gather_ps(r1, i1, 4);
        __m256 top = _mm256_add_ps(_mm256_mul_ps(l0, a0), _mm256_mul_ps(l1, a1));
        __m256 bot = _mm256_add_ps(_mm256_mul_ps(l0, b0), _mm256_mul_ps(l1, b1));
        _mm256_storeu_ps(y + j, _mm256_add_ps(_mm256_mul_ps(vh0, top), _mm256_mul_ps(vh1, bot)));
    }
    for (; j < n; j++) {
        const float ww0 = 1.0f - lw[j], ww1 = lw[j];
        y[j] = wh0 * (ww0 * r0[w0[j]] + ww1 * r0[w1[j]]) + wh1 * (ww0 * r1[w0[j]] + ww1 * r1[w1[j]]);
    }
}

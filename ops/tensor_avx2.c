/* tensor_avx2.c -- AVX2 2-D transpose (8x8 register transposes inside 32x32 cache tiles) for
 * oc_permute's batched-transpose path. Pure data movement: bit-identical to the scalar path. */
#include "row_kernels.h"

#include <immintrin.h>

static inline void tr8(const float *x, int64_t ldx, float *y, int64_t ldy)
{
    __m256 r0 = _mm256_loadu_ps(x), r1 = _mm256_loadu_ps(x + ldx);
    __m256 r2 = _mm256_loadu_ps(x + 2 * ldx), r3 = _mm256_loadu_ps(x + 3 * ldx);
    __m256 r4 = _mm256_loadu_ps(x + 4 * ldx), r5 = _mm256_loadu_ps(x + 5 * ldx);
    __m256 r6 = _mm256_loadu_ps(x + 6 * ldx), r7 = _mm256_loadu_ps(x + 7 * ldx);
    __m256 t0 = _mm256_unpacklo_ps(r0, r1), t1 = _mm256_unpackhi_ps(r0, r1);
    __m256 t2 = _mm256_unpacklo_ps(r2, r3), t3 = _mm256_unpackhi_ps(r2, r3);
    __m256 t4 = _mm256_unpacklo_ps(r4, r5), t5 = _mm256_unpackhi_ps(r4, r5);
    __m256 t6 = _mm256_unpacklo_ps(r6, r7), t7 = _mm256_unpackhi_ps(r6, r7);
    __m256 u0 = _mm256_shuffle_ps(t0, t2, 0x44), u1 = _mm256_shuffle_ps(t0, t2, 0xEE);
    __m256 u2 = _mm256_shuffle_ps(t1, t3, 0x44), u3 = _mm256_shuffle_ps(t1, t3, 0xEE);
    __m256 u4 = _mm256_shuffle_ps(t4, t6, 0x44), u5 = _mm256_shuffle_ps(t4, t6, 0xEE);
    __m256 u6 = _mm256_shuffle_ps(t5, t7, 0x44), u7 = _mm256_shuffle_ps(t5, t7, 0xEE);
    _mm256_storeu_ps(y, _mm256_permute2f128_ps(u0, u4, 0x20));
    _mm256_storeu_ps(y + ldy, _mm256_permute2f128_ps(u1, u5, 0x20));
    _mm256_storeu_ps(y + 2 * ldy, _mm256_permute2f128_ps(u2, u6, 0x20));
    _mm256_storeu_ps(y + 3 * ldy, _mm256_permute2f128_ps(u3, u7, 0x20));
    _mm256_storeu_ps(y + 4 * ldy, _mm256_permute2f128_ps(u0, u4, 0x31));
    _mm256_storeu_ps(y + 5 * ldy, _mm256_permute2f128_ps(u1, u5, 0x31));
    _mm256_storeu_ps(y + 6 * ldy, _mm256_permute2f128_ps(u2, u6, 0x31));
    _mm256_storeu_ps(y + 7 * ldy, _mm256_permute2f128_ps(u3, u7, 0x31));
}

/* y[cols][rows] = x[rows][cols]^T. The loop order inside a tile keeps the side with the
 * larger stride (many lines mapping to the same cache sets) down to 8 live rows. */
void oc_transpose2d_avx2(const float *x, int64_t rows, int64_t cols, float *y)
{
    const int64_t B = 32;
    const int by_out = rows >= cols; /* y's row stride (rows) is the larger one */
    for (int64_t i0 = 0; i0 < rows; i0 += B)
        for (int64_t j0 = 0; j0 < cols; j0 += B) {
            int64_t i1 = i0 + B < rows ? i0 + B : rows, j1 = j0 + B < cols ? j0 + B : cols;
            int64_t ie = i0 + (i1 - i0) / 8 * 8, je = j0 + (j1 - j0) / 8 * 8;
            if (by_out) {
                for (int64_t j = j0; j < je; j += 8)
                    for (int64_t i = i0; i < ie; i += 8) tr8(x + i * cols + j, cols, y + j * rows + i, rows);
            } else {
                for (int64_t i = i0; i < ie; i += 8)
                    for (int64_t j = j0; j < je; j += 8) tr8(x + i * cols + j, cols, y + j * rows + i, rows);
            }
            /* edges: columns past je (all rows), rows past ie (columns before je) */
            for (int64_t j = je; j < j1; j++)
                for (int64_t i = i0; i < i1; i++) y[j * rows + i] = x[i * cols + j];
            for (int64_t i = ie; i < i1; i++)
                for (int64_t j = j0; j < je; j++) y[j * rows + i] = x[i * cols + j];
        }
}

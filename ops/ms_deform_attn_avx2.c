/* ms_deform_attn_avx2.c -- one query row of oc_ms_deform_attn with 8-float vectors over the
 * head's channels (dh a multiple of 8; ms_deform_attn.c checks). Same corners and weights as
 * the scalar reference; the accumulation uses FMA. */
#include "ms_deform_attn_impl.h"

#include <immintrin.h>

void oc_msda_row_avx2(const float *value, const int64_t *level_hw, const int64_t *lstart,
                      int nlevels, int heads, int dh, const float *loc, const float *attw,
                      int npoints, float *out)
{
    const int64_t vstride = (int64_t)heads * dh;
    for (int h = 0; h < heads; h++) {
        float *o = out + (int64_t)h * dh;
        for (int j = 0; j < dh; j += 8) _mm256_storeu_ps(o + j, _mm256_setzero_ps());
        for (int l = 0; l < nlevels; l++) {
            const float *vl = value + lstart[l] * vstride + (int64_t)h * dh;
            for (int p = 0; p < npoints; p++) {
                int64_t k = ((int64_t)h * nlevels + l) * npoints + p;
                int64_t pix[4];
                float wt[4];
                int nc = oc_msda_corners(loc[2 * k], loc[2 * k + 1], level_hw[2 * l],
                                         level_hw[2 * l + 1], attw[k], pix, wt);
                for (int c = 0; c < nc; c++) {
                    const float *v = vl + pix[c] * vstride;
                    const __m256 wv = _mm256_set1_ps(wt[c]);
                    for (int j = 0; j < dh; j += 8)
                        _mm256_storeu_ps(o + j, _mm256_fmadd_ps(wv, _mm256_loadu_ps(v + j),
                                                            _mm256_loadu_ps(o + j)));
                }
            }
        }
    }
}

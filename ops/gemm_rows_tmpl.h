/* gemm_rows_tmpl.h -- the micro-kernel of prepacked nn.Linear (oc_linear_packed), built once
 * per ISA from gemm_avx2.c / gemm_avx512.c (include after simd_vec.h, with ROWS_MR and
 * ROWS_NR defined: the ISA's register tile).
 *
 * Unlike oc_ukr_* it reads A in place (row r at a + r*lda) instead of from a packed MR panel:
 * a linear's input rows are already contiguous in k, so packing them would only copy the
 * activations once more (for tall-skinny shapes such as SAM2's 65536 x 96 -> 288 that copy
 * costs as much as the products). The per-element sums are the same FMA sequence as
 * oc_ukr_*'s, so both paths give identical results. A tile of mr < ROWS_MR rows runs a
 * kernel compiled for exactly mr rows: a single-row linear does no padded work. */

#define ROWS_NV (ROWS_NR / VL)

static inline __attribute__((always_inline)) void
rows_tile(const int R, int kc, const float *a, int64_t lda, const float *b, float *c,
          int64_t ldc, int nr, float beta, const oc_epi *e)
{
    vf acc[ROWS_MR][ROWS_NV];
    const float *ap[ROWS_MR];
#pragma GCC unroll 8
    for (int r = 0; r < R; r++) {
        ap[r] = a + r * lda;
#pragma GCC unroll 4
        for (int v = 0; v < ROWS_NV; v++) acc[r][v] = vf_zero();
    }
    for (int k = 0; k < kc; k++) {
        vf bv[ROWS_NV];
#pragma GCC unroll 4
        for (int v = 0; v < ROWS_NV; v++) bv[v] = vf_load(b + v * VL);
        _mm_prefetch((const char *)(b + ROWS_NR * 8), _MM_HINT_T0);
#pragma GCC unroll 8
        for (int r = 0; r < R; r++) {
            vf ar = vf_set1(ap[r][k]);
#pragma GCC unroll 4
            for (int v = 0; v < ROWS_NV; v++) acc[r][v] = vf_fma(ar, bv[v], acc[r][v]);
        }
        b += ROWS_NR;
    }
    vmask m[ROWS_NV];
#pragma GCC unroll 4
    for (int v = 0; v < ROWS_NV; v++) m[v] = vf_tail(nr - v * VL < 0 ? 0 : nr - v * VL);
#pragma GCC unroll 8
    for (int r = 0; r < R; r++) {
        float *cp = c + (int64_t)r * ldc;
#pragma GCC unroll 4
        for (int v = 0; v < ROWS_NV; v++) {
            if (nr <= v * VL) break;
            vf x = acc[r][v];
            float *p = cp + v * VL;
            if (beta != 0.0f) {
                vf old = vf_mload(p, m[v]);
                x = beta == 1.0f ? vf_add(x, old) : vf_fma(old, vf_set1(beta), x);
            }
            if (e) {
                if (e->bias) x = vf_add(x, vf_set1(e->bias[r]));
                if (e->bias_col) x = vf_add(x, vf_mload(e->bias_col + v * VL, m[v]));
                x = vf_act(e->act, x);
                if (e->res) x = vf_add(x, vf_mload(e->res + r * e->ldr + v * VL, m[v]));
            }
            vf_mstore(p, m[v], x);
        }
    }
}

void VEC_SFX(oc_ukr_rows)(int kc, const float *a, int64_t lda, const float *b, float *c,
                          int64_t ldc, int mr, int nr, float beta, const oc_epi *e)
{
    switch (mr) {
    case 1: rows_tile(1, kc, a, lda, b, c, ldc, nr, beta, e); break;
    case 2: rows_tile(2, kc, a, lda, b, c, ldc, nr, beta, e); break;
    case 3: rows_tile(3, kc, a, lda, b, c, ldc, nr, beta, e); break;
    case 4: rows_tile(4, kc, a, lda, b, c, ldc, nr, beta, e); break;
    case 5: rows_tile(5, kc, a, lda, b, c, ldc, nr, beta, e); break;
#if ROWS_MR > 6
    case 6: rows_tile(6, kc, a, lda, b, c, ldc, nr, beta, e); break;
    case 7: rows_tile(7, kc, a, lda, b, c, ldc, nr, beta, e); break;
#endif
    default: rows_tile(ROWS_MR, kc, a, lda, b, c, ldc, nr, beta, e); break;
    }
}

#undef ROWS_NV

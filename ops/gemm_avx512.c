/* gemm_avx512.c -- the AVX-512 GEMM micro-kernel (8 x 48: 24 zmm accumulators, 3 B loads and
 * 8 embedded broadcasts of A per k step) with the fused epilogue; activations are simd_vec.h's
 * vf_act, the same as the standalone activation op. */
#include "conv_impl.h"

#include <immintrin.h>

#define SIMD_VEC_AVX512
#include "simd_vec.h"

void oc_act_avx512(oc_act act, float *x, size_t n)
{
    if (act == OC_ACT_NONE) return;
    size_t i = 0;
    for (; i + 16 <= n; i += 16) _mm512_storeu_ps(x + i, vf_act(act, _mm512_loadu_ps(x + i)));
    if (i < n) {
        __mmask16 m = (__mmask16)((1u << (n - i)) - 1);
        _mm512_mask_storeu_ps(x + i, m, vf_act(act, _mm512_maskz_loadu_ps(m, x + i)));
    }
}

/* ---- micro-kernel ---- */
static inline __mmask16 colmask(int nr, int v)
{
    int c = nr - 16 * v;
    if (c >= 16) return (__mmask16)0xFFFF;
    if (c <= 0) return 0;
    return (__mmask16)((1u << c) - 1);
}

static inline void store_vec(float *cp, __m512 v, __mmask16 m, float beta, const oc_epi *e,
                             int r, int col)
{
    if (!m) return;
    if (beta != 0.0f) {
        __m512 old = _mm512_maskz_loadu_ps(m, cp);
        v = beta == 1.0f ? _mm512_add_ps(v, old) : _mm512_fmadd_ps(old, _mm512_set1_ps(beta), v);
    }
    if (e) {
        if (e->bias) v = _mm512_add_ps(v, _mm512_set1_ps(e->bias[r]));
        if (e->bias_col) v = _mm512_add_ps(v, _mm512_maskz_loadu_ps(m, e->bias_col + col));
        v = vf_act(e->act, v);
        if (e->res) v = _mm512_add_ps(v, _mm512_maskz_loadu_ps(m, e->res + r * e->ldr + col));
    }
    _mm512_mask_storeu_ps(cp, m, v);
}

#define ROWFMA(r)                                                                           \
    do {                                                                                    \
        __m512 ar = _mm512_set1_ps(a[r]);                                                   \
        c##r##0 = _mm512_fmadd_ps(ar, b0, c##r##0);                                         \
        c##r##1 = _mm512_fmadd_ps(ar, b1, c##r##1);                                         \
        c##r##2 = _mm512_fmadd_ps(ar, b2, c##r##2);                                         \
    } while (0)

#define ROWSTORE(r)                                                                         \
    do {                                                                                    \
        if (r < mr) {                                                                       \
            float *cp = c + (int64_t)r * ldc;                                               \
            store_vec(cp, c##r##0, m0, beta, e, r, 0);                                      \
            store_vec(cp + 16, c##r##1, m1, beta, e, r, 16);                                \
            store_vec(cp + 32, c##r##2, m2, beta, e, r, 32);                                \
        }                                                                                   \
    } while (0)

void oc_ukr_avx512(int kc, const float *a, const float *b, float *c, int64_t ldc, int mr,
                   int nr, float beta, const oc_epi *e)
{
    __m512 c00 = _mm512_setzero_ps(), c01 = c00, c02 = c00, c10 = c00, c11 = c00, c12 = c00,
           c20 = c00, c21 = c00, c22 = c00, c30 = c00, c31 = c00, c32 = c00, c40 = c00,
           c41 = c00, c42 = c00, c50 = c00, c51 = c00, c52 = c00, c60 = c00, c61 = c00,
           c62 = c00, c70 = c00, c71 = c00, c72 = c00;
    for (int k = 0; k < kc; k++) {
        __m512 b0 = _mm512_loadu_ps(b), b1 = _mm512_loadu_ps(b + 16),
               b2 = _mm512_loadu_ps(b + 32);
        _mm_prefetch((const char *)(b + 48 * 8), _MM_HINT_T0);
        ROWFMA(0);
        ROWFMA(1);
        ROWFMA(2);
        ROWFMA(3);
        ROWFMA(4);
        ROWFMA(5);
        ROWFMA(6);
        ROWFMA(7);
        a += OC_AVX512_MR;
        b += OC_AVX512_NR;
    }
    __mmask16 m0 = colmask(nr, 0), m1 = colmask(nr, 1), m2 = colmask(nr, 2);
    ROWSTORE(0);
    ROWSTORE(1);
    ROWSTORE(2);
    ROWSTORE(3);
    ROWSTORE(4);
    ROWSTORE(5);
    ROWSTORE(6);
    ROWSTORE(7);
}

/* ---- implicit GEMM (stride-1 conv) ---- */
void oc_conv_implicit_block_avx512(const oc_conv_implicit_job *jb, int m0, int m1, int v0,
                                   int v1)
{
    enum { MR = OC_AVX512_MR, NR = OC_AVX512_NR };
    float tile[MR * NR] __attribute__((aligned(64)));
    const int K = jb->K, Wp = jb->Wp, ow = jb->ow;
    for (int vj = v0; vj < v1; vj += NR) {
        int nr = v1 - vj < NR ? v1 - vj : NR;
        const float *xb = jb->xp + vj;
        for (int i = m0; i < m1; i += MR) {
            int mr = m1 - i < MR ? m1 - i : MR;
            const float *a = jb->ap + (size_t)(i / MR) * K * MR;
            __m512 c00 = _mm512_setzero_ps(), c01 = c00, c02 = c00, c10 = c00, c11 = c00,
                   c12 = c00, c20 = c00, c21 = c00, c22 = c00, c30 = c00, c31 = c00, c32 = c00,
                   c40 = c00, c41 = c00, c42 = c00, c50 = c00, c51 = c00, c52 = c00, c60 = c00,
                   c61 = c00, c62 = c00, c70 = c00, c71 = c00, c72 = c00;
            for (int k = 0; k < K; k++) {
                const float *b = xb + jb->koff[k];
                __m512 b0 = _mm512_loadu_ps(b), b1 = _mm512_loadu_ps(b + 16),
                       b2 = _mm512_loadu_ps(b + 32);
                ROWFMA(0);
                ROWFMA(1);
                ROWFMA(2);
                ROWFMA(3);
                ROWFMA(4);
                ROWFMA(5);
                ROWFMA(6);
                ROWFMA(7);
                a += MR;
            }
            /* epilogue (bias, activation) into the tile, full width */
            oc_epi e = {jb->bias ? jb->bias + i : NULL, NULL, NULL, 0, jb->act};
            {
                const int64_t ldc = NR;
                float *c = tile;
                const float beta = 0.0f;
                const __mmask16 m0k = 0xFFFF, m1k = 0xFFFF, m2k = 0xFFFF;
#define TROW(r)                                                                             \
    do {                                                                                    \
        if (r < mr) {                                                                       \
            float *cp = c + (int64_t)r * ldc;                                               \
            store_vec(cp, c##r##0, m0k, beta, &e, r, 0);                                    \
            store_vec(cp + 16, c##r##1, m1k, beta, &e, r, 16);                              \
            store_vec(cp + 32, c##r##2, m2k, beta, &e, r, 32);                              \
        }                                                                                   \
    } while (0)
                TROW(0);
                TROW(1);
                TROW(2);
                TROW(3);
                TROW(4);
                TROW(5);
                TROW(6);
                TROW(7);
#undef TROW
            }
            /* copy the valid columns (ox < ow) of each row segment to y (+ residual) */
            int oy = vj / Wp, ox = vj % Wp;
            for (int t = 0; t < nr;) {
                int seg = Wp - ox;
                if (seg > nr - t) seg = nr - t;
                int valid = ow - ox;
                if (valid > seg) valid = seg;
                if (valid > 0) {
                    int64_t yo = (int64_t)oy * ow + ox;
                    for (int r = 0; r < mr; r++) {
                        float *yp = jb->y + (int64_t)(i + r) * jb->N + yo;
                        const float *tp = tile + r * NR + t;
                        const float *rp = jb->res ? jb->res + (int64_t)(i + r) * jb->N + yo : NULL;
                        for (int q = 0; q < valid; q += 16) {
                            int cnt = valid - q < 16 ? valid - q : 16;
                            __mmask16 m = (__mmask16)(cnt == 16 ? 0xFFFFu : (1u << cnt) - 1u);
                            __m512 v = _mm512_maskz_loadu_ps(m, tp + q);
                            if (rp) v = _mm512_add_ps(v, _mm512_maskz_loadu_ps(m, rp + q));
                            _mm512_mask_storeu_ps(yp + q, m, v);
                        }
                    }
                }
                t += seg;
                ox += seg;
                if (ox == Wp) {
                    ox = 0;
                    oy++;
                }
            }
        }
    }
}

/* ---- im2col packing ---- */
static inline __mmask16 range_mask(int lo, int hi)
{
    /* lanes l with lo <= l < hi, for lo, hi in [0, 16] */
    uint32_t a = hi <= 0 ? 0u : (hi >= 16 ? 0xFFFFu : (1u << hi) - 1u);
    uint32_t b = lo <= 0 ? 0u : (lo >= 16 ? 0xFFFFu : (1u << lo) - 1u);
    return (__mmask16)(a & ~b);
}

static inline void copy_run(float *dd, const float *xr, int ix0, int sw, int tlo, int thi,
                            int run)
{
    const __m512i lane = _mm512_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15);
    for (int t = 0; t < run; t += 16) {
        __mmask16 st = range_mask(0, run - t);
        __mmask16 ld = range_mask(tlo - t, thi - t);
        __m512 v;
        if (!ld) v = _mm512_setzero_ps();
        else if (sw == 1 && ld == 0xFFFF) v = _mm512_loadu_ps(xr + ix0 + t);
        else if (sw == 1) v = _mm512_maskz_loadu_ps(ld, xr + ix0 + t);
        else if (sw == 2 && ld == 0xFFFF) {
            /* 31 consecutive inputs, keep the even ones */
            const __m512i even = _mm512_setr_epi32(0, 2, 4, 6, 8, 10, 12, 14, 16, 18, 20, 22,
                                                   24, 26, 28, 30);
            const float *p = xr + ix0 + 2 * t;
            v = _mm512_permutex2var_ps(_mm512_loadu_ps(p), even,
                                       _mm512_maskz_loadu_ps((__mmask16)0x7FFF, p + 16));
        } else {
            __m512i idx = _mm512_mullo_epi32(_mm512_add_epi32(lane, _mm512_set1_epi32(t)),
                                             _mm512_set1_epi32(sw));
            idx = _mm512_add_epi32(idx, _mm512_set1_epi32(ix0));
            v = _mm512_mask_i32gather_ps(_mm512_setzero_ps(), ld, idx, xr, 4);
        }
        if (st == 0xFFFF) _mm512_storeu_ps(dd + t, v);
        else _mm512_mask_storeu_ps(dd + t, st, v);
    }
}

#define OC_PACK_FN oc_conv_pack_b_avx512
#include "conv_pack_impl.h"

/* ---- prepacked nn.Linear: A read in place ---- */
#define ROWS_MR OC_AVX512_MR
#define ROWS_NR OC_AVX512_NR
#include "gemm_rows_tmpl.h"

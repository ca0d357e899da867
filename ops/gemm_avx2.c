/* gemm_avx2.c -- the AVX2+FMA GEMM micro-kernel (6 x 16: 12 ymm accumulators, 2 B loads and
 * 6 broadcasts of A per k step) with the fused epilogue; activations are simd_vec.h's vf_act,
 * the same as the standalone activation op. */
#include "conv_impl.h"

#include <immintrin.h>

#define SIMD_VEC_AVX2
#include "simd_vec.h"

static inline __m256i lanemask(int cnt)
{
    /* lanes [0, cnt) set, cnt in [0, 8] */
    __m256i idx = _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7);
    return _mm256_cmpgt_epi32(_mm256_set1_epi32(cnt), idx);
}

void oc_act_avx2(oc_act act, float *x, size_t n)
{
    if (act == OC_ACT_NONE) return;
    size_t i = 0;
    for (; i + 8 <= n; i += 8) _mm256_storeu_ps(x + i, vf_act(act, _mm256_loadu_ps(x + i)));
    if (i < n) {
        __m256i m = lanemask((int)(n - i));
        _mm256_maskstore_ps(x + i, m, vf_act(act, _mm256_maskload_ps(x + i, m)));
    }
}

static inline void store_vec(float *cp, __m256 v, int cnt, float beta, const oc_epi *e, int r,
                             int col)
{
    if (cnt <= 0) return;
    __m256i m = lanemask(cnt > 8 ? 8 : cnt);
    int full = cnt >= 8;
    if (beta != 0.0f) {
        __m256 old = full ? _mm256_loadu_ps(cp) : _mm256_maskload_ps(cp, m);
        v = beta == 1.0f ? _mm256_add_ps(v, old) : _mm256_fmadd_ps(old, _mm256_set1_ps(beta), v);
    }
    if (e) {
        if (e->bias) v = _mm256_add_ps(v, _mm256_set1_ps(e->bias[r]));
        if (e->bias_col)
            v = _mm256_add_ps(v, full ? _mm256_loadu_ps(e->bias_col + col)
                                      : _mm256_maskload_ps(e->bias_col + col, m));
        v = vf_act(e->act, v);
        if (e->res) {
            const float *rp = e->res + r * e->ldr + col;
            v = _mm256_add_ps(v, full ? _mm256_loadu_ps(rp) : _mm256_maskload_ps(rp, m));
        }
    }
    if (full) _mm256_storeu_ps(cp, v);
    else _mm256_maskstore_ps(cp, m, v);
}

#define ROWFMA(r)                                                                           \
    do {                                                                                    \
        __m256 ar = _mm256_broadcast_ss(a + r);                                             \
        c##r##0 = _mm256_fmadd_ps(ar, b0, c##r##0);                                         \
        c##r##1 = _mm256_fmadd_ps(ar, b1, c##r##1);                                         \
    } while (0)

#define ROWSTORE(r)                                                                         \
    do {                                                                                    \
        if (r < mr) {                                                                       \
            float *cp = c + (int64_t)r * ldc;                                               \
            store_vec(cp, c##r##0, nr, beta, e, r, 0);                                      \
            store_vec(cp + 8, c##r##1, nr - 8, beta, e, r, 8);                              \
        }                                                                                   \
    } while (0)

void oc_ukr_avx2(int kc, const float *a, const float *b, float *c, int64_t ldc, int mr, int nr,
                 float beta, const oc_epi *e)
{
    __m256 c00 = _mm256_setzero_ps(), c01 = c00, c10 = c00, c11 = c00, c20 = c00, c21 = c00,
           c30 = c00, c31 = c00, c40 = c00, c41 = c00, c50 = c00, c51 = c00;
    for (int k = 0; k < kc; k++) {
        __m256 b0 = _mm256_loadu_ps(b), b1 = _mm256_loadu_ps(b + 8);
        _mm_prefetch((const char *)(b + 16 * 8), _MM_HINT_T0);
        ROWFMA(0);
        ROWFMA(1);
        ROWFMA(2);
        ROWFMA(3);
        ROWFMA(4);
        ROWFMA(5);
        a += OC_AVX2_MR;
        b += OC_AVX2_NR;
    }
    ROWSTORE(0);
    ROWSTORE(1);
    ROWSTORE(2);
    ROWSTORE(3);
    ROWSTORE(4);
    ROWSTORE(5);
}

/* ---- implicit GEMM (stride-1 conv), see conv_impl.h ---- */
void oc_conv_implicit_block_avx2(const oc_conv_implicit_job *jb, int m0, int m1, int v0,
                                 int v1)
{
    enum { MR = OC_AVX2_MR, NR = OC_AVX2_NR };
    float tile[MR * NR] __attribute__((aligned(64)));
    const int K = jb->K, Wp = jb->Wp, ow = jb->ow;
    for (int vj = v0; vj < v1; vj += NR) {
        int nr = v1 - vj < NR ? v1 - vj : NR;
        const float *xb = jb->xp + vj;
        for (int i = m0; i < m1; i += MR) {
            int mr = m1 - i < MR ? m1 - i : MR;
            const float *a = jb->ap + (size_t)(i / MR) * K * MR;
            __m256 c00 = _mm256_setzero_ps(), c01 = c00, c10 = c00, c11 = c00, c20 = c00,
                   c21 = c00, c30 = c00, c31 = c00, c40 = c00, c41 = c00, c50 = c00, c51 = c00;
            for (int k = 0; k < K; k++) {
                const float *b = xb + jb->koff[k];
                __m256 b0 = _mm256_loadu_ps(b), b1 = _mm256_loadu_ps(b + 8);
                ROWFMA(0);
                ROWFMA(1);
                ROWFMA(2);
                ROWFMA(3);
                ROWFMA(4);
                ROWFMA(5);
                a += MR;
            }
            oc_epi e = {jb->bias ? jb->bias + i : NULL, NULL, NULL, 0, jb->act};
            {
                const int64_t ldc = NR;
                float *c = tile;
                const float beta = 0.0f;
#define TROW(r)                                                                             \
    do {                                                                                    \
        if (r < mr) {                                                                       \
            store_vec(c + (int64_t)r * ldc, c##r##0, 8, beta, &e, r, 0);                    \
            store_vec(c + (int64_t)r * ldc + 8, c##r##1, 8, beta, &e, r, 8);                \
        }                                                                                   \
    } while (0)
                TROW(0);
                TROW(1);
                TROW(2);
                TROW(3);
                TROW(4);
                TROW(5);
#undef TROW
            }
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
                        int q = 0;
                        for (; q + 8 <= valid; q += 8) {
                            __m256 v = _mm256_loadu_ps(tp + q);
                            if (rp) v = _mm256_add_ps(v, _mm256_loadu_ps(rp + q));
                            _mm256_storeu_ps(yp + q, v);
                        }
                        for (; q < valid; q++) yp[q] = rp ? tp[q] + rp[q] : tp[q];
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
static inline __m256i range_mask8(int lo, int hi)
{
    __m256i idx = _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7);
    __m256i ge = _mm256_cmpgt_epi32(idx, _mm256_set1_epi32(lo - 1));
    __m256i lt = _mm256_cmpgt_epi32(_mm256_set1_epi32(hi), idx);
    return _mm256_and_si256(ge, lt);
}

static inline void copy_run(float *dd, const float *xr, int ix0, int sw, int tlo, int thi,
                            int run)
{
    const __m256i lane = _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7);
    for (int t = 0; t < run; t += 8) {
        __m256i st = range_mask8(0, run - t);
        __m256 v;
        if (thi - t <= 0 || tlo - t >= 8) {
            v = _mm256_setzero_ps();
        } else {
            __m256i ld = range_mask8(tlo - t, thi - t);
            if (sw == 1) {
                v = _mm256_maskload_ps(xr + ix0 + t, ld);
            } else {
                __m256i idx = _mm256_mullo_epi32(_mm256_add_epi32(lane, _mm256_set1_epi32(t)),
                                                 _mm256_set1_epi32(sw));
                idx = _mm256_add_epi32(idx, _mm256_set1_epi32(ix0));
                v = _mm256_mask_i32gather_ps(_mm256_setzero_ps(), xr, idx,
                                             _mm256_castsi256_ps(ld), 4);
            }
        }
        if (run - t >= 8) _mm256_storeu_ps(dd + t, v);
        else _mm256_maskstore_ps(dd + t, st, v);
    }
}

#define OC_PACK_FN oc_conv_pack_b_avx2
#include "conv_pack_impl.h"

/* ---- prepacked nn.Linear: A read in place ---- */
#define ROWS_MR OC_AVX2_MR
#define ROWS_NR OC_AVX2_NR
#include "gemm_rows_tmpl.h"

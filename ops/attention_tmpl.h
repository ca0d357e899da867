/* attention_tmpl.h -- tiled flash-style attention written against simd_vec.h; instantiated by
 * attention_avx2.c and attention_avx512.c.
 *
 * Per work unit (batch, head, block of up to BQ queries):
 *   Qp [BQP][d]    q rows times scale (rows past the block are zero)
 *   for each block of BK keys:
 *     Kt [d][BK]   keys transposed (columns past lk zero)
 *     Vp [BK][DVP] values, DVP = dv rounded up to VL (padding zero)
 *     S  [BQP][BK] = Qp Kt (+ bias; -inf past lk)        -- MR x (NV*VL) register tiles
 *     online softmax per row: m, l, O *= exp(m_old - m_new), S = exp(S - m_new)
 *     O  [BQP][DVP] += S Vp                                -- MR x (NV*VL) register tiles
 *   o = O / l
 * Every tile is packed from strided q/k/v, so any layout works. Memory per thread is
 * O(BQ*(d+BK+dv) + BK*(d+dv)), independent of lq and lk. */
#ifndef VEC_SFX
#error "include simd_vec.h first"
#endif
#include "attention_impl.h"
#include "parallel.h"

#include <math.h>
#include <string.h>

#define MR 6
#if VL == 16
#define NV 4 /* 6 x 64 accumulator tile: 24 zmm */
#else
#define NV 2 /* 6 x 16 accumulator tile: 12 ymm */
#endif
#define BK 64
#define BQ 192 /* multiple of MR */
#define NR (NV * VL)

static inline int64_t a_up(int64_t x, int64_t m) { return (x + m - 1) / m * m; }

typedef struct {
    float *qp, *kt, *vp, *s, *acc, *m, *l;
} tiles;

static size_t tiles_layout(const oc_attn_desc *d, char *base, tiles *t)
{
    const int64_t dd = d->d > 0 ? d->d : 1, dvp = a_up(d->dv, NR);
    size_t off = 0;
#define TAKE(field, nfl)                                                                     \
    do {                                                                                     \
        if (t) t->field = (float *)(base + off);                                             \
        off += (size_t)a_up((int64_t)(nfl) * (int64_t)sizeof(float), 64);                    \
    } while (0)
    TAKE(qp, BQ * dd);
    TAKE(kt, dd * BK);
    TAKE(vp, BK * dvp);
    TAKE(s, BQ * BK);
    TAKE(acc, BQ * dvp);
    TAKE(m, BQ);
    TAKE(l, BQ);
#undef TAKE
    return off;
}

size_t VEC_SFX(oc_attn_thread_bytes)(const oc_attn_desc *d) { return tiles_layout(d, NULL, NULL); }

#define VEC_UNROLL _Pragma("GCC unroll 8")

/* S[MR][NR] = A[MR][K] * B[K][ldb] (columns [0, NR)); A row stride lda */
static inline __attribute__((always_inline)) void mk_qk(const float *a, int64_t lda,
                                                        const float *b, int64_t ldb, int K,
                                                        float *c, int64_t ldc)
{
    vf acc[MR][NV];
    VEC_UNROLL for (int r = 0; r < MR; r++)
        VEC_UNROLL for (int v = 0; v < NV; v++) acc[r][v] = vf_zero();
    for (int j = 0; j < K; j++) {
        vf bv[NV];
        VEC_UNROLL for (int v = 0; v < NV; v++) bv[v] = vf_load(b + (int64_t)j * ldb + v * VL);
        VEC_UNROLL for (int r = 0; r < MR; r++) {
            vf av = vf_set1(a[r * lda + j]);
            VEC_UNROLL for (int v = 0; v < NV; v++) acc[r][v] = vf_fma(av, bv[v], acc[r][v]);
        }
    }
    VEC_UNROLL for (int r = 0; r < MR; r++)
        VEC_UNROLL for (int v = 0; v < NV; v++) vf_store(c + r * ldc + v * VL, acc[r][v]);
}

/* C[MR][nv*VL] += A[MR][K] * B[K][ldb], nv in 1..NV (a constant after inlining) */
static inline __attribute__((always_inline)) void mk_pv(const float *a, int64_t lda,
                                                        const float *b, int64_t ldb, int K,
                                                        float *c, int64_t ldc, const int nv)
{
    vf acc[MR][NV];
    VEC_UNROLL for (int r = 0; r < MR; r++)
        VEC_UNROLL for (int v = 0; v < NV; v++)
            if (v < nv) acc[r][v] = vf_load(c + r * ldc + v * VL);
    for (int j = 0; j < K; j++) {
        vf bv[NV];
        VEC_UNROLL for (int v = 0; v < NV; v++)
            if (v < nv) bv[v] = vf_load(b + (int64_t)j * ldb + v * VL);
        VEC_UNROLL for (int r = 0; r < MR; r++) {
            vf av = vf_set1(a[r * lda + j]);
            VEC_UNROLL for (int v = 0; v < NV; v++)
                if (v < nv) acc[r][v] = vf_fma(av, bv[v], acc[r][v]);
        }
    }
    VEC_UNROLL for (int r = 0; r < MR; r++)
        VEC_UNROLL for (int v = 0; v < NV; v++)
            if (v < nv) vf_store(c + r * ldc + v * VL, acc[r][v]);
}

static void pv_tile(const float *a, int64_t lda, const float *b, int64_t ldb, int K, float *c,
                    int64_t ldc, int64_t dvv)
{
    int64_t c0 = 0;
    for (; c0 + NR <= dvv; c0 += NR) mk_pv(a, lda, b + c0, ldb, K, c + c0, ldc, NV);
    int rem = (int)((dvv - c0) / VL);
#if NV == 4
    if (rem == 3) mk_pv(a, lda, b + c0, ldb, K, c + c0, ldc, 3);
    else if (rem == 2) mk_pv(a, lda, b + c0, ldb, K, c + c0, ldc, 2);
    else if (rem == 1) mk_pv(a, lda, b + c0, ldb, K, c + c0, ldc, 1);
#else
    if (rem == 1) mk_pv(a, lda, b + c0, ldb, K, c + c0, ldc, 1);
#endif
}

/* 8x8 transpose of rows r[0..7] (AVX; both instantiations have it) */
static inline void tr8x8(__m256 r0, __m256 r1, __m256 r2, __m256 r3, __m256 r4, __m256 r5,
                         __m256 r6, __m256 r7, float *dst, int64_t lds)
{
    __m256 t0 = _mm256_unpacklo_ps(r0, r1), t1 = _mm256_unpackhi_ps(r0, r1);
    __m256 t2 = _mm256_unpacklo_ps(r2, r3), t3 = _mm256_unpackhi_ps(r2, r3);
    __m256 t4 = _mm256_unpacklo_ps(r4, r5), t5 = _mm256_unpackhi_ps(r4, r5);
    __m256 t6 = _mm256_unpacklo_ps(r6, r7), t7 = _mm256_unpackhi_ps(r6, r7);
    __m256 u0 = _mm256_shuffle_ps(t0, t2, 0x44), u1 = _mm256_shuffle_ps(t0, t2, 0xEE);
    __m256 u2 = _mm256_shuffle_ps(t1, t3, 0x44), u3 = _mm256_shuffle_ps(t1, t3, 0xEE);
    __m256 u4 = _mm256_shuffle_ps(t4, t6, 0x44), u5 = _mm256_shuffle_ps(t4, t6, 0xEE);
    __m256 u6 = _mm256_shuffle_ps(t5, t7, 0x44), u7 = _mm256_shuffle_ps(t5, t7, 0xEE);
    _mm256_storeu_ps(dst + 0 * lds, _mm256_permute2f128_ps(u0, u4, 0x20));
    _mm256_storeu_ps(dst + 1 * lds, _mm256_permute2f128_ps(u1, u5, 0x20));
    _mm256_storeu_ps(dst + 2 * lds, _mm256_permute2f128_ps(u2, u6, 0x20));
    _mm256_storeu_ps(dst + 3 * lds, _mm256_permute2f128_ps(u3, u7, 0x20));
    _mm256_storeu_ps(dst + 4 * lds, _mm256_permute2f128_ps(u0, u4, 0x31));
    _mm256_storeu_ps(dst + 5 * lds, _mm256_permute2f128_ps(u1, u5, 0x31));
    _mm256_storeu_ps(dst + 6 * lds, _mm256_permute2f128_ps(u2, u6, 0x31));
    _mm256_storeu_ps(dst + 7 * lds, _mm256_permute2f128_ps(u3, u7, 0x31));
}

/* dst[j * ldd + i] = src[i * ks + j] for i < ni, j < nj (a transposing pack) */
static void tpack(const float *src, int64_t ks, int ni, int nj, float *dst, int64_t ldd)
{
    int i = 0;
    for (; i + 8 <= ni; i += 8) {
        const float *s0 = src + (int64_t)i * ks;
        int j = 0;
        for (; j + 8 <= nj; j += 8)
            tr8x8(_mm256_loadu_ps(s0 + j), _mm256_loadu_ps(s0 + ks + j),
                  _mm256_loadu_ps(s0 + 2 * ks + j), _mm256_loadu_ps(s0 + 3 * ks + j),
                  _mm256_loadu_ps(s0 + 4 * ks + j), _mm256_loadu_ps(s0 + 5 * ks + j),
                  _mm256_loadu_ps(s0 + 6 * ks + j), _mm256_loadu_ps(s0 + 7 * ks + j),
                  dst + (int64_t)j * ldd + i, ldd);
        for (; j < nj; j++)
            for (int r = 0; r < 8; r++) dst[(int64_t)j * ldd + i + r] = s0[(int64_t)r * ks + j];
    }
    for (; i < ni; i++)
        for (int j = 0; j < nj; j++) dst[(int64_t)j * ldd + i] = src[(int64_t)i * ks + j];
}

static void attn_unit(const oc_attn_desc *d, const float *q, const float *k, const float *v,
                      float *o, int b, int h, int i0, int nq, tiles *t)
{
    const int D = d->d, DV = d->dv;
    const int64_t dvp = a_up(DV, VL); /* columns actually computed */
    const int64_t ldacc = a_up(DV, NR);
    const int nqp = (int)a_up(nq, MR);
    const float *qb = q + b * d->q_sb + h * d->q_sh;
    const float *kb = k + b * d->k_sb + h * d->k_sh;
    const float *vb = v + b * d->v_sb + h * d->v_sh;
    const float *bb = d->bias ? d->bias + b * d->bias_sb + h * d->bias_sh : NULL;

    /* pack Q (scaled) */
    for (int r = 0; r < nqp; r++) {
        float *dst = t->qp + (int64_t)r * D;
        if (r < nq) {
            const float *src = qb + (int64_t)(i0 + r) * d->q_st;
            for (int j = 0; j < D; j++) dst[j] = src[(int64_t)j * d->q_sd] * d->scale;
        } else {
            for (int j = 0; j < D; j++) dst[j] = 0.0f;
        }
        t->m[r] = -INFINITY;
        t->l[r] = 0.0f;
        memset(t->acc + (int64_t)r * ldacc, 0, (size_t)ldacc * sizeof(float));
    }

    for (int t0 = 0; t0 < d->lk; t0 += BK) {
        const int nb = d->lk - t0 < BK ? d->lk - t0 : BK;
        /* pack K^T [D][BK] */
        if (d->k_sd == 1 && d->k_st != 1) {
            tpack(kb + (int64_t)t0 * d->k_st, d->k_st, nb, D, t->kt, BK);
        } else {
            for (int j = 0; j < D; j++) {
                const float *src = kb + (int64_t)j * d->k_sd + (int64_t)t0 * d->k_st;
                float *dst = t->kt + (int64_t)j * BK;
                if (d->k_st == 1)
                    memcpy(dst, src, (size_t)nb * sizeof(float));
                else
                    for (int tt = 0; tt < nb; tt++) dst[tt] = src[(int64_t)tt * d->k_st];
            }
        }
        if (nb < BK)
            for (int j = 0; j < D; j++) memset(t->kt + (int64_t)j * BK + nb, 0, (size_t)(BK - nb) * sizeof(float));
        /* V: read in place when rows are contiguous and dv fills whole vectors, else pack
         * [nb][ldacc] with zero column padding (only nb rows are ever read) */
        const float *vsrc;
        int64_t ldv;
        if (d->v_sd == 1 && DV % VL == 0) {
            vsrc = vb + (int64_t)t0 * d->v_st;
            ldv = d->v_st;
        } else {
            if (d->v_st == 1 && d->v_sd != 1) /* feature-major V: transpose */
                tpack(vb + t0, d->v_sd, DV, nb, t->vp, ldacc);
            for (int tt = 0; tt < nb; tt++) {
                float *dst = t->vp + (int64_t)tt * ldacc;
                if (d->v_st == 1 && d->v_sd != 1) {
                    for (int64_t c = DV; c < dvp; c++) dst[c] = 0.0f;
                    continue;
                }
                const float *src = vb + (int64_t)(t0 + tt) * d->v_st;
                if (d->v_sd == 1)
                    memcpy(dst, src, (size_t)DV * sizeof(float));
                else
                    for (int c = 0; c < DV; c++) dst[c] = src[(int64_t)c * d->v_sd];
                for (int64_t c = DV; c < dvp; c++) dst[c] = 0.0f;
            }
            vsrc = t->vp;
            ldv = ldacc;
        }
        /* S = Qp Kt */
        for (int r = 0; r < nqp; r += MR)
            for (int c0 = 0; c0 < BK; c0 += NR)
                mk_qk(t->qp + (int64_t)r * D, D, t->kt + c0, BK, D, t->s + (int64_t)r * BK + c0, BK);
        /* bias, mask, online softmax */
        for (int r = 0; r < nq; r++) {
            float *sr = t->s + (int64_t)r * BK;
            if (bb) {
                const float *br = bb + (int64_t)(i0 + r) * d->bias_sq + (int64_t)t0 * d->bias_sk;
                if (d->bias_sk == 1)
                    for (int tt = 0; tt < nb; tt++) sr[tt] += br[tt];
                else
                    for (int tt = 0; tt < nb; tt++) sr[tt] += br[(int64_t)tt * d->bias_sk];
            }
            for (int tt = nb; tt < BK; tt++) sr[tt] = -INFINITY;
            vf mx = vf_load(sr);
            for (int c = VL; c < BK; c += VL) mx = vf_max(mx, vf_load(sr + c));
            float bm = vf_hmax(mx);
            float mo = t->m[r], mn = bm > mo ? bm : mo;
            if (mn == -INFINITY) { /* everything masked so far: contributes nothing */
                memset(sr, 0, BK * sizeof(float));
                continue;
            }
            vf vmn = vf_set1(mn), sum = vf_zero();
            for (int c = 0; c < BK; c += VL) {
                vf e = vf_exp(vf_sub(vf_load(sr + c), vmn));
                vf_store(sr + c, e);
                sum = vf_add(sum, e);
            }
            float corr = expf(mo - mn);
            t->l[r] = t->l[r] * corr + vf_hsum(sum);
            t->m[r] = mn;
            if (corr != 1.0f) {
                float *ar = t->acc + (int64_t)r * ldacc;
                vf vc = vf_set1(corr);
                for (int64_t c = 0; c < dvp; c += VL) vf_store(ar + c, vf_mul(vf_load(ar + c), vc));
            }
        }
        for (int r = nq; r < nqp; r++) memset(t->s + (int64_t)r * BK, 0, BK * sizeof(float));
        /* O += P V */
        for (int r = 0; r < nqp; r += MR)
            pv_tile(t->s + (int64_t)r * BK, BK, vsrc, ldv, nb, t->acc + (int64_t)r * ldacc, ldacc, dvp);
    }
    /* o = O / l */
    float *ob = o + b * d->o_sb + h * d->o_sh;
    for (int r = 0; r < nq; r++) {
        const float *ar = t->acc + (int64_t)r * ldacc;
        float inv = t->l[r] > 0 ? 1.0f / t->l[r] : NAN;
        float *dst = ob + (int64_t)(i0 + r) * d->o_st;
        if (d->o_sd == 1)
            for (int c = 0; c < DV; c++) dst[c] = ar[c] * inv;
        else
            for (int c = 0; c < DV; c++) dst[(int64_t)c * d->o_sd] = ar[c] * inv;
    }
}

typedef struct {
    const oc_attn_desc *d;
    const float *q, *k, *v;
    float *o;
    char *scratch;
    size_t per;
    int nqb;
} attn_job;

static void attn_units(void *arg, int64_t u0, int64_t u1, int tid)
{
    const attn_job *j = arg;
    const oc_attn_desc *d = j->d;
    tiles t;
    tiles_layout(d, j->scratch + j->per * (size_t)tid, &t);
    for (int64_t u = u0; u < u1; u++) {
        int qb = (int)(u % j->nqb);
        int h = (int)((u / j->nqb) % d->heads);
        int b = (int)(u / ((int64_t)j->nqb * d->heads));
        int i0 = qb * BQ, nq = d->lq - i0 < BQ ? d->lq - i0 : BQ;
        attn_unit(d, j->q, j->k, j->v, j->o, b, h, i0, nq, &t);
    }
}

void VEC_SFX(oc_attention)(const oc_ctx *ctx, const oc_attn_desc *d, const float *q,
                             const float *k, const float *v, float *o)
{
    const int nt = ctx->nthreads > 0 ? ctx->nthreads : 1;
    const int nqb = (d->lq + BQ - 1) / BQ;
    const int64_t units = (int64_t)d->batch * d->heads * nqb;
    attn_job j = {d, q, k, v, o, ctx->scratch, tiles_layout(d, NULL, NULL), nqb};
    oc_parallel_for(nt, units, 1, attn_units, &j);
}

/* h4_attn_tmpl.h -- tiled flash-style attention written against h4_vec.h; instantiated by
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
#ifndef H4_SFX
#error "include h4_vec.h first"
#endif
#include "h4_attn.h"

#include <math.h>
#include <omp.h>
#include <string.h>

#define MR 6
#if VL == 16
#define NV 4 /* 6 x 64 accumulator tile: 24 zmm */
#else
#define NV 2 /* 6 x 16 accumulator tile: 12 ymm */
#endif
#define BK 64
#define BQ 96 /* multiple of MR */
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

size_t H4_SFX(oc_h4_attn_thread_bytes)(const oc_attn_desc *d) { return tiles_layout(d, NULL, NULL); }

/* S[MR][NR*] = A[MR][K] * B[K][ldb] over column range [0, nv*VL) ; A row stride lda */
static inline void mk_qk(const float *a, int64_t lda, const float *b, int64_t ldb, int K,
                         float *c, int64_t ldc)
{
    vf acc[MR][NV];
    for (int r = 0; r < MR; r++)
        for (int v = 0; v < NV; v++) acc[r][v] = vf_zero();
    for (int j = 0; j < K; j++) {
        vf bv[NV];
        for (int v = 0; v < NV; v++) bv[v] = vf_load(b + (int64_t)j * ldb + v * VL);
        for (int r = 0; r < MR; r++) {
            vf av = vf_set1(a[r * lda + j]);
            for (int v = 0; v < NV; v++) acc[r][v] = vf_fma(av, bv[v], acc[r][v]);
        }
    }
    for (int r = 0; r < MR; r++)
        for (int v = 0; v < NV; v++) vf_store(c + r * ldc + v * VL, acc[r][v]);
}

/* C[MR][nv*VL] += A[MR][K] * B[K][ldb], nv in 1..NV (compile-time after inlining) */
static inline void mk_pv(const float *a, int64_t lda, const float *b, int64_t ldb, int K,
                         float *c, int64_t ldc, const int nv)
{
    vf acc[MR][NV];
    for (int r = 0; r < MR; r++)
        for (int v = 0; v < nv; v++) acc[r][v] = vf_load(c + r * ldc + v * VL);
    for (int j = 0; j < K; j++) {
        vf bv[NV];
        for (int v = 0; v < nv; v++) bv[v] = vf_load(b + (int64_t)j * ldb + v * VL);
        for (int r = 0; r < MR; r++) {
            vf av = vf_set1(a[r * lda + j]);
            for (int v = 0; v < nv; v++) acc[r][v] = vf_fma(av, bv[v], acc[r][v]);
        }
    }
    for (int r = 0; r < MR; r++)
        for (int v = 0; v < nv; v++) vf_store(c + r * ldc + v * VL, acc[r][v]);
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
            for (int tt = 0; tt < nb; tt++) {
                const float *src = kb + (int64_t)(t0 + tt) * d->k_st;
                for (int j = 0; j < D; j++) t->kt[(int64_t)j * BK + tt] = src[j];
            }
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
        /* pack V [BK][ldacc] (only dvp columns are read) */
        for (int tt = 0; tt < BK; tt++) {
            float *dst = t->vp + (int64_t)tt * ldacc;
            if (tt < nb) {
                const float *src = vb + (int64_t)(t0 + tt) * d->v_st;
                if (d->v_sd == 1)
                    memcpy(dst, src, (size_t)DV * sizeof(float));
                else
                    for (int c = 0; c < DV; c++) dst[c] = src[(int64_t)c * d->v_sd];
                for (int64_t c = DV; c < dvp; c++) dst[c] = 0.0f;
            } else {
                memset(dst, 0, (size_t)dvp * sizeof(float));
            }
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
            pv_tile(t->s + (int64_t)r * BK, BK, t->vp, ldacc, nb, t->acc + (int64_t)r * ldacc, ldacc, dvp);
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

void H4_SFX(oc_h4_attention)(const oc_ctx *ctx, const oc_attn_desc *d, const float *q,
                             const float *k, const float *v, float *o)
{
    const int nt = ctx->nthreads > 0 ? ctx->nthreads : 1;
    const size_t per = tiles_layout(d, NULL, NULL);
    const int nqb = (d->lq + BQ - 1) / BQ;
    const int64_t units = (int64_t)d->batch * d->heads * nqb;
#pragma omp parallel num_threads(nt)
    {
        tiles t;
        tiles_layout(d, (char *)ctx->scratch + per * (size_t)omp_get_thread_num(), &t);
#pragma omp for schedule(dynamic, 1)
        for (int64_t u = 0; u < units; u++) {
            int qb = (int)(u % nqb);
            int h = (int)((u / nqb) % d->heads);
            int b = (int)(u / ((int64_t)nqb * d->heads));
            int i0 = qb * BQ, nq = d->lq - i0 < BQ ? d->lq - i0 : BQ;
            attn_unit(d, q, k, v, o, b, h, i0, nq, &t);
        }
    }
}

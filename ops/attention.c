/* attention.c -- o = softmax(scale * q k^T + bias) v with an online (streaming) softmax.
 * Scalar reference here: one query at a time, keys in blocks of OC_ATT_SBK, running max /
 * sum / accumulator; memory O(block). The SIMD paths (attention_avx2.c, attention_avx512.c,
 * template attention_tmpl.h) pack q / k / v tiles and run register-blocked products. */
#include "attention_impl.h"
#include "parallel.h"

#include <math.h>
#include <string.h>

#define OC_ATT_SBK 64
#define OC_ATT_STACK_DV 1024

void oc_attn_desc_contiguous(oc_attn_desc *d)
{
    d->q_sd = 1;
    d->q_st = d->d;
    d->q_sh = (int64_t)d->lq * d->d;
    d->q_sb = d->q_sh * d->heads;
    d->k_sd = 1;
    d->k_st = d->d;
    d->k_sh = (int64_t)d->lk * d->d;
    d->k_sb = d->k_sh * d->heads;
    d->v_sd = 1;
    d->v_st = d->dv;
    d->v_sh = (int64_t)d->lk * d->dv;
    d->v_sb = d->v_sh * d->heads;
    d->o_sd = 1;
    d->o_st = d->dv;
    d->o_sh = (int64_t)d->lq * d->dv;
    d->o_sb = d->o_sh * d->heads;
}

static size_t al64(size_t x) { return (x + 63) & ~(size_t)63; }

static size_t scalar_thread_bytes(const oc_attn_desc *d)
{
    return al64((size_t)(OC_ATT_SBK + (d->dv > 0 ? d->dv : 1)) * sizeof(float));
}

size_t oc_attention_scratch_bytes(const oc_attn_desc *d, oc_isa isa, int nthreads)
{
    if (nthreads < 1) nthreads = 1;
    size_t per = scalar_thread_bytes(d);
    if (isa >= OC_ISA_AVX512) {
        size_t s = oc_attn_thread_bytes_avx512(d);
        per = s > per ? s : per;
    } else if (isa == OC_ISA_AVX2) {
        size_t s = oc_attn_thread_bytes_avx2(d);
        per = s > per ? s : per;
    }
    return per * (size_t)nthreads;
}

/* one query row: q(i, :) against all keys */
static void attn_row_scalar(const oc_attn_desc *d, const float *qi, const float *kb,
                            const float *vb, const float *biasrow, float *oi, float *sc,
                            float *acc)
{
    const int D = d->d, DV = d->dv;
    float m = -INFINITY, l = 0.0f;
    for (int c = 0; c < DV; c++) acc[c] = 0.0f;
    for (int t0 = 0; t0 < d->lk; t0 += OC_ATT_SBK) {
        int nb = d->lk - t0 < OC_ATT_SBK ? d->lk - t0 : OC_ATT_SBK;
        float bm = -INFINITY;
        for (int t = 0; t < nb; t++) {
            const float *kt = kb + (int64_t)(t0 + t) * d->k_st;
            float s = 0.0f;
            for (int j = 0; j < D; j++) s += qi[(int64_t)j * d->q_sd] * kt[(int64_t)j * d->k_sd];
            s *= d->scale;
            if (biasrow) s += biasrow[(int64_t)(t0 + t) * d->bias_sk];
            sc[t] = s;
            bm = s > bm ? s : bm;
        }
        float mn = bm > m ? bm : m;
        if (mn == -INFINITY) continue; /* every key so far masked out */
        float corr = expf(m - mn);     /* m = -inf -> 0 */
        l *= corr;
        for (int c = 0; c < DV; c++) acc[c] *= corr;
        for (int t = 0; t < nb; t++) {
            float p = expf(sc[t] - mn);
            l += p;
            const float *vt = vb + (int64_t)(t0 + t) * d->v_st;
            for (int c = 0; c < DV; c++) acc[c] += p * vt[(int64_t)c * d->v_sd];
        }
        m = mn;
    }
    float inv = l > 0 ? 1.0f / l : NAN; /* all keys masked: NaN, as PyTorch */
    for (int c = 0; c < DV; c++) oi[(int64_t)c * d->o_sd] = acc[c] * inv;
}

typedef struct {
    const oc_attn_desc *d;
    const float *q, *k, *v;
    float *o;
    char *scratch;
    size_t per;
    int on_stack;
} attn_ref_job;

static void attn_ref_rows(void *arg, int64_t r0, int64_t r1, int tid)
{
    const attn_ref_job *j = arg;
    const oc_attn_desc *d = j->d;
    float stackbuf[OC_ATT_SBK + OC_ATT_STACK_DV];
    float *sc = j->on_stack ? stackbuf : (float *)(j->scratch + j->per * (size_t)tid);
    float *acc = sc + OC_ATT_SBK;
    for (int64_t r = r0; r < r1; r++) {
        int i = (int)(r % d->lq);
        int h = (int)((r / d->lq) % d->heads);
        int b = (int)(r / ((int64_t)d->lq * d->heads));
        const float *qi = j->q + b * d->q_sb + h * d->q_sh + (int64_t)i * d->q_st;
        const float *kb = j->k + b * d->k_sb + h * d->k_sh;
        const float *vb = j->v + b * d->v_sb + h * d->v_sh;
        const float *br = d->bias ? d->bias + b * d->bias_sb + h * d->bias_sh + (int64_t)i * d->bias_sq : NULL;
        float *oi = j->o + b * d->o_sb + h * d->o_sh + (int64_t)i * d->o_st;
        attn_row_scalar(d, qi, kb, vb, br, oi, sc, acc);
    }
}

void oc_attention(const oc_ctx *ctx, const oc_attn_desc *d, const float *q, const float *k,
                  const float *v, float *o)
{
    const int nt = ctx->nthreads > 0 ? ctx->nthreads : 1;
    if (d->batch <= 0 || d->heads <= 0 || d->lq <= 0 || d->dv <= 0) return;
    if (d->lk <= 0 || d->d <= 0) { /* softmax over nothing: NaN (PyTorch) */
        for (int b = 0; b < d->batch; b++)
            for (int h = 0; h < d->heads; h++)
                for (int i = 0; i < d->lq; i++)
                    for (int c = 0; c < d->dv; c++)
                        o[b * d->o_sb + h * d->o_sh + (int64_t)i * d->o_st + c * d->o_sd] =
                            d->lk <= 0 ? NAN : 0.0f;
        if (d->lk <= 0) return;
    }
    if (ctx->isa >= OC_ISA_AVX512 && oc_attn_thread_bytes_avx512(d) * (size_t)nt <= ctx->scratch_bytes) {
        oc_attention_avx512(ctx, d, q, k, v, o);
        return;
    }
    if (ctx->isa >= OC_ISA_AVX2 && oc_attn_thread_bytes_avx2(d) * (size_t)nt <= ctx->scratch_bytes) {
        oc_attention_avx2(ctx, d, q, k, v, o);
        return;
    }
    /* scalar: (64 + dv) floats per thread, from the stack when small (so the reference works
     * even without scratch), else from ctx->scratch */
    const size_t per = scalar_thread_bytes(d);
    const int on_stack = d->dv <= OC_ATT_STACK_DV;
    if (!on_stack && per * (size_t)nt > ctx->scratch_bytes) return; /* scratch contract broken */
    const int64_t rows = (int64_t)d->batch * d->heads * d->lq;
    attn_ref_job j = {d, q, k, v, o, ctx->scratch, per, on_stack};
    oc_parallel_for(nt, rows, 0, attn_ref_rows, &j);
}

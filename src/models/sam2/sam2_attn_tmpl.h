/* sam2_attn_tmpl.h -- attention with few keys (the mask decoder's image->token attention:
 * 4096 image queries against ~10 prompt tokens), vectorised across queries; instantiated by
 * sam2_attn_avx2.c and sam2_attn_avx512.c (the scalar reference is sam2_attn_fewkeys_ref in
 * sam2_decoder.c).
 *
 * A block of VL queries is transposed once ([I][VL]); per head every score s_t is VL
 * queries wide (hd broadcast-FMAs with key t), the softmax runs across t in registers, and
 * the output accumulates p_t * v_t the same way. The tiled general kernel would pad the ~10
 * keys to its 64-key tile and hd = 16 to its 64-wide output tile. */
#ifndef VEC_SFX
#error "include simd_vec.h first"
#endif
#include "sam2_attn.h"

void VEC_SFX(sam2_attn_fewkeys)(const float *q, const float *k, const float *v, float *o,
                                int nq, int lk, int I, int heads, float scale)
{
    const int hd = I / heads;
    float qt[SAM2_FEWKEYS_MAX_I * VL], ot[SAM2_FEWKEYS_MAX_I * VL];
    vf s[SAM2_FEWKEYS_MAX_LK];
    for (int i0 = 0; i0 < nq; i0 += VL) {
        const int nb = nq - i0 < VL ? nq - i0 : VL;
        for (int i = 0; i < VL; i++) {
            const float *qi = q + (int64_t)(i0 + (i < nb ? i : 0)) * I;
            for (int c = 0; c < I; c++) qt[c * VL + i] = qi[c] * scale;
        }
        for (int h = 0; h < heads; h++) {
            const float *qh = qt + h * hd * VL;
            vf m = vf_set1(-INFINITY);
            for (int t = 0; t < lk; t++) {
                const float *kt = k + (int64_t)t * I + h * hd;
                vf acc = vf_zero();
                for (int j = 0; j < hd; j++) acc = vf_fma(vf_load(qh + j * VL), vf_set1(kt[j]), acc);
                s[t] = acc;
                m = vf_max(m, acc);
            }
            vf l = vf_zero();
            for (int t = 0; t < lk; t++) {
                s[t] = vf_exp(vf_sub(s[t], m));
                l = vf_add(l, s[t]);
            }
            const vf inv = vf_div(vf_set1(1.0f), l);
            float *oh = ot + h * hd * VL;
            for (int j = 0; j < hd; j++) {
                vf acc = vf_zero();
                for (int t = 0; t < lk; t++)
                    acc = vf_fma(s[t], vf_set1(v[(int64_t)t * I + h * hd + j]), acc);
                vf_store(oh + j * VL, vf_mul(acc, inv));
            }
        }
        for (int i = 0; i < nb; i++) {
            float *oi = o + (int64_t)(i0 + i) * I;
            for (int c = 0; c < I; c++) oi[c] = ot[c * VL + i];
        }
    }
}

/* sam2_attn.h -- the mask decoder's few-keys attention kernels (sam2_attn_tmpl.h).
 * q [nq][I] (rows of I floats), k, v [lk][I], o [nq][I]; heads of hd = I / heads channels;
 * softmax(scale q k^T) v per head. lk <= SAM2_FEWKEYS_MAX_LK, I <= SAM2_FEWKEYS_MAX_I. */
#ifndef OC_SAM2_ATTN_H
#define OC_SAM2_ATTN_H

#include <math.h>
#include <stdint.h>

#define SAM2_FEWKEYS_MAX_LK 32
#define SAM2_FEWKEYS_MAX_I 256

void sam2_attn_fewkeys_avx2(const float *q, const float *k, const float *v, float *o, int nq,
                            int lk, int I, int heads, float scale);
void sam2_attn_fewkeys_avx512(const float *q, const float *k, const float *v, float *o, int nq,
                              int lk, int I, int heads, float scale);

#endif

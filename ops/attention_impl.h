/* attention_impl.h -- private: the SIMD attention paths (attention_avx2.c / attention_avx512.c). */
#ifndef OC_ATTENTION_IMPL_H
#define OC_ATTENTION_IMPL_H

#include "ops.h"

size_t oc_attn_thread_bytes_avx2(const oc_attn_desc *d);
size_t oc_attn_thread_bytes_avx512(const oc_attn_desc *d);
/* ctx->scratch must hold nthreads * oc_attn_thread_bytes_*(d) */
void oc_attention_avx2(const oc_ctx *ctx, const oc_attn_desc *d, const float *q,
                          const float *k, const float *v, float *o);
void oc_attention_avx512(const oc_ctx *ctx, const oc_attn_desc *d, const float *q,
                            const float *k, const float *v, float *o);

#endif

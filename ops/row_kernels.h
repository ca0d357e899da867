/* row_kernels.h -- private declarations shared by the non-conv kernels (eltwise, norm, upsample,
 * pool, attention) and their ISA-specific sibling files. Not part of the ops.h contract. */
#ifndef OC_ROW_KERNELS_H
#define OC_ROW_KERNELS_H

#include "ops.h"

/* Row kernels. sa / sb are 0 (broadcast one value) or 1 (contiguous). */
#define OC_ROW_KERNELS_DECL(sfx)                                                            \
    void oc_bin_row_##sfx(oc_binop op, const float *a, int sa, const float *b, int sb,      \
                             float *y, int64_t n);                                          \
    void oc_eltwise_act_##sfx(oc_act act, const float *x, float *y, size_t n);              \
    void oc_clamp_##sfx(const float *x, float *y, size_t n, float lo, float hi);            \
    void oc_affine_##sfx(const float *x, float s, float t, float *y, int64_t n);            \
    /* softmax of one contiguous row (in place allowed) */                                  \
    void oc_softmax_row_##sfx(const float *x, float *y, int64_t n);                         \
    /* y[i] = exp(x[i] - m), returns the sum of y (in place allowed) */                     \
    float oc_exp_sub_sum_##sfx(const float *x, float m, float *y, int64_t n);               \
    /* y[j] = exp(x[j] - m[j]); sum[j] += y[j] (strided softmax; in place allowed) */       \
    void oc_exp_sub_acc_##sfx(const float *x, const float *m, float *y, float *sum,         \
                                 int64_t n);                                                \
    /* m[j] = x[j] > m[j] ? x[j] : m[j]; and y[j] /= s[j] (strided softmax passes) */       \
    void oc_max_acc_##sfx(const float *x, float *m, int64_t n);                             \
    void oc_div_by_##sfx(float *y, const float *s, int64_t n);                              \
    /* LayerNorm2d over channels for pixels [p0, p1) of one image x [c][hw] */              \
    void oc_layernorm_nchw_##sfx(const float *x, float *y, int c, int64_t hw, int64_t p0,   \
                                    int64_t p1, const float *g, const float *b, float eps); \
    /* layer norm of one contiguous row */                                                  \
    void oc_layernorm_row_##sfx(const float *x, float *y, int n, const float *g,            \
                                   const float *b, float eps);

OC_ROW_KERNELS_DECL(avx2)
/* one bilinear output row from source rows r0, r1 (row weights wh0, wh1) and per-column
 * tables (ops/upsample_avx2.c); same operation order as the scalar loop: bit-identical */
/* separable max pooling of one plane (ops/pool_avx2.c); col: w floats of scratch */
void oc_maxpool_plane_avx2(const oc_pool2d_desc *d, const float *xp, int h, int w, float *yp,
                              int oh, int ow, float *col);
/* y[cols][rows] = x[rows][cols]^T (ops/tensor_avx2.c) */
void oc_transpose2d_avx2(const float *x, int64_t rows, int64_t cols, float *y);
void oc_bilinear_row_avx2(const float *r0, const float *r1, float wh0, float wh1,
                             const int32_t *w0, const int32_t *w1, const float *lw, float *y,
                             int n);
OC_ROW_KERNELS_DECL(avx512)

#endif

/* ops.h -- the kernel library: the contract between kernels (ops/) and the graph (src/).
 *
 * Conventions
 * - float32, contiguous row-major (NCHW for images) unless a stride argument says otherwise.
 * - Semantics are PyTorch's (torch.nn.functional): a kernel is right when it matches it.
 * - Every op has a scalar reference; SIMD variants live in sibling files (conv2d_avx2.c,
 *   conv2d_avx512.c) compiled with their own flags and chosen by ctx->isa at run time.
 * - Kernels never allocate on the hot path: they use ctx->scratch, whose size the caller got
 *   from the op's *_scratch_bytes() function. They never print, exit or abort.
 * - Output never aliases input unless the op says "in place allowed".
 * - Threads: kernels parallelise with oc_parallel_for (ops/parallel.h, the library's pool;
 *   no OpenMP) using at most ctx->nthreads threads. Results are identical for a given
 *   (isa, nthreads).
 */
#ifndef OC_OPS_H
#define OC_OPS_H

#include "ocellus.h"
#include <stddef.h>
#include <stdint.h>

typedef struct {
    oc_isa isa;          /* the path to run */
    int nthreads;        /* >= 1 */
    void *scratch;       /* 64-byte aligned, at least the op's *_scratch_bytes() */
    size_t scratch_bytes;
} oc_ctx;

typedef enum {
    OC_ACT_NONE = 0,
    OC_ACT_RELU,
    OC_ACT_SILU,
    OC_ACT_SIGMOID,
    OC_ACT_TANH,
    OC_ACT_GELU,         /* erf form (PyTorch default) */
    OC_ACT_GELU_TANH,    /* tanh approximation */
    OC_ACT_HARDSWISH
} oc_act;

/* ---- conv2d (ops/conv2d*.c) --------------------------------------------------------------
 * Any kernel size, stride, dilation, per-side zero padding, groups (depthwise when
 * groups == cin == cout). Epilogue: y = act(conv(x) + bias) + residual (residual may be NULL,
 * else same shape as y). BatchNorm is folded into weight/bias by the caller before prepack. */
typedef struct {
    int cin, cout, kh, kw, groups;
    int stride_h, stride_w;
    int pad_t, pad_l, pad_b, pad_r;
    int dil_h, dil_w;
    oc_act act;
} oc_conv2d_desc;

typedef struct oc_conv2d_weights oc_conv2d_weights; /* opaque: packed for one isa */

/* weight: [cout][cin/groups][kh][kw]; bias: [cout] or NULL. Copies what it needs. The packed
 * weights run the path they were packed for (isa), whatever ctx->isa says. */
oc_status oc_conv2d_prepack(const oc_conv2d_desc *d, const float *weight, const float *bias,
                            oc_isa isa, oc_conv2d_weights **out);
void oc_conv2d_weights_free(oc_conv2d_weights *w);
size_t oc_conv2d_weights_bytes(const oc_conv2d_weights *w);
void oc_conv2d_out_size(const oc_conv2d_desc *d, int h, int w, int *oh, int *ow);
size_t oc_conv2d_scratch_bytes(const oc_conv2d_desc *d, int n, int h, int w, oc_isa isa,
                               int nthreads);
void oc_conv2d(const oc_ctx *ctx, const oc_conv2d_desc *d, const oc_conv2d_weights *wt,
               const float *x, int n, int h, int w, float *y, const float *residual);

/* ---- conv_transpose2d: weight [cin][cout/groups][kh][kw] (PyTorch layout), no output_padding
 * beyond what the desc's pads imply: oh = (h-1)*stride - pad_t - pad_b + dil*(kh-1) + 1 ---- */
void oc_conv_transpose2d_out_size(const oc_conv2d_desc *d, int h, int w, int *oh, int *ow);
size_t oc_conv_transpose2d_scratch_bytes(const oc_conv2d_desc *d, int n, int h, int w,
                                         int nthreads);
void oc_conv_transpose2d(const oc_ctx *ctx, const oc_conv2d_desc *d, const float *weight,
                         const float *bias, const float *x, int n, int h, int w, float *y);

/* ---- GEMM (ops/gemm*.c): C[M][N] = alpha * op(A)[M][K] * op(B)[K][N] + beta * C ----------
 * Row-major with leading dimensions; batched with element strides between matrices.
 * Chooses OpenBLAS or our packed micro-kernels per shape and isa. */
void oc_gemm(const oc_ctx *ctx, int trans_a, int trans_b, int m, int n, int k, float alpha,
             const float *a, int64_t lda, const float *b, int64_t ldb, float beta, float *c,
             int64_t ldc);
void oc_gemm_batched(const oc_ctx *ctx, int batch, int trans_a, int trans_b, int m, int n,
                     int k, float alpha, const float *a, int64_t lda, int64_t stride_a,
                     const float *b, int64_t ldb, int64_t stride_b, float beta, float *c,
                     int64_t ldc, int64_t stride_c);
/* y[rows][out] = act(x[rows][in] * W^T + bias), W: [out][in] (nn.Linear), bias may be NULL */
void oc_linear(const oc_ctx *ctx, const float *x, int64_t rows, int in, const float *w,
               const float *bias, int out, oc_act act, float *y);
/* Scratch that lets oc_gemm / oc_gemm_batched / oc_linear use the packed micro-kernels with
 * nthreads threads (the callers own all memory, so the kernels never allocate). With less
 * scratch (or none) they still work: they fall back to OpenBLAS (which allocates
 * internally). 0 for the scalar isa. */
size_t oc_gemm_scratch_bytes(int m, int n, int k, oc_isa isa, int nthreads);
size_t oc_linear_scratch_bytes(int64_t rows, int in, int out, oc_isa isa, int nthreads);

/* Prepacked nn.Linear: W^T packed once (at graph build / model load) into the micro-kernel's
 * column panels, so a call packs neither W nor x and needs no scratch; small row counts are
 * split over the threads by output columns. Opaque; copies what it needs (w, bias). The
 * packed weights run the path they were packed for (isa), whatever ctx->isa says; the scalar
 * isa keeps w as given and runs the reference loops. Results equal oc_linear's on the same
 * isa bit for bit, for any thread count. */
typedef struct oc_linear_weights oc_linear_weights;
oc_status oc_linear_prepack(oc_isa isa, const float *w, const float *bias, int in, int out,
                            oc_linear_weights **res);
void oc_linear_weights_free(oc_linear_weights *lw);
size_t oc_linear_weights_bytes(const oc_linear_weights *lw);
oc_isa oc_linear_weights_isa(const oc_linear_weights *lw);
int oc_linear_weights_in(const oc_linear_weights *lw);
int oc_linear_weights_out(const oc_linear_weights *lw);
/* y[rows][out] = act(x[rows][in] * W^T + bias); no scratch (ctx->scratch is not used) */
void oc_linear_packed(const oc_ctx *ctx, const float *x, int64_t rows,
                      const oc_linear_weights *lw, oc_act act, float *y);

/* Measured FMA peak in GFLOP/s of nthreads threads running the isa's widest FMA for about
 * `seconds` (ops/peak_avx2.c, ops/peak_avx512.c); 0 when the CPU lacks the isa. For
 * benchmarks only (bench-ops' % of peak). */
double oc_fma_peak_gflops(oc_isa isa, int nthreads, double seconds);

/* ---- pooling (ops/pool*.c) ---------------------------------------------------------------- */
typedef struct {
    int kh, kw, stride_h, stride_w;
    int pad_t, pad_l, pad_b, pad_r;
    int ceil_mode;
    int count_include_pad;  /* avg only */
} oc_pool2d_desc;
void oc_pool2d_out_size(const oc_pool2d_desc *d, int h, int w, int *oh, int *ow);
void oc_maxpool2d(const oc_ctx *ctx, const oc_pool2d_desc *d, const float *x, int n, int c,
                  int h, int w, float *y);
void oc_avgpool2d(const oc_ctx *ctx, const oc_pool2d_desc *d, const float *x, int n, int c,
                  int h, int w, float *y);
void oc_adaptive_avgpool2d(const oc_ctx *ctx, const float *x, int n, int c, int h, int w,
                           int oh, int ow, float *y);

/* ---- upsampling (ops/upsample*.c) ----------------------------------------------------------
 * nearest: PyTorch 'nearest' rule src = min(floor(dst * in / out), in - 1).
 * bilinear: align_corners true or false (PyTorch rules, antialias off). */
void oc_upsample_nearest(const oc_ctx *ctx, const float *x, int n, int c, int h, int w,
                         int oh, int ow, float *y);
void oc_upsample_bilinear(const oc_ctx *ctx, const float *x, int n, int c, int h, int w,
                          int oh, int ow, int align_corners, float *y);

/* ---- elementwise (ops/eltwise*.c) ----------------------------------------------------------
 * binary: numpy broadcasting; all three shapes given with the same ndim (leading 1s padded).
 * y may alias a (or b) when that operand has y's full shape (in place allowed). */
typedef enum { OC_BIN_ADD = 0, OC_BIN_SUB, OC_BIN_MUL, OC_BIN_DIV } oc_binop;
void oc_binary(const oc_ctx *ctx, oc_binop op, const float *a, const int64_t *ashape,
               const float *b, const int64_t *bshape, int ndim, float *y,
               const int64_t *yshape);
/* y = act(x), n elements; in place allowed */
void oc_activation(const oc_ctx *ctx, oc_act act, const float *x, float *y, size_t n);
void oc_clamp(const oc_ctx *ctx, const float *x, float *y, size_t n, float lo, float hi);
/* y = x * scale + shift per channel: x [n][c][hw] (batch norm in eval form); in place ok */
void oc_channel_affine(const oc_ctx *ctx, const float *x, int n, int c, int64_t hw,
                       const float *scale, const float *shift, float *y);

/* ---- normalisation (ops/norm*.c) ----------------------------------------------------------- */
/* softmax over the middle axis of x viewed as [outer][axis][inner]; in place allowed */
void oc_softmax(const oc_ctx *ctx, const float *x, float *y, int64_t outer, int64_t axis,
                int64_t inner);
/* layer norm over the last dim: x [rows][dim]; gamma/beta [dim] may be NULL */
void oc_layernorm(const oc_ctx *ctx, const float *x, float *y, int64_t rows, int dim,
                  const float *gamma, const float *beta, float eps);
/* layer norm over channels per pixel: x [n][c][hw] (SAM2's LayerNorm2d) */
void oc_layernorm_nchw(const oc_ctx *ctx, const float *x, float *y, int n, int c, int64_t hw,
                       const float *gamma, const float *beta, float eps);

/* ---- data movement (ops/tensor.c) ----------------------------------------------------------- */
/* concat of nin inputs viewed as [outer][len_i] (len_i = axis_i * inner) into y */
void oc_concat(const oc_ctx *ctx, const float *const *xs, const int64_t *lens, int nin,
               int64_t outer, float *y);
/* y = x[starts:ends:steps] per axis (steps >= 1) */
void oc_slice(const oc_ctx *ctx, const float *x, const int64_t *shape, int ndim,
              const int64_t *starts, const int64_t *steps, const int64_t *yshape, float *y);
/* y = x.permute(perm) */
void oc_permute(const oc_ctx *ctx, const float *x, const int64_t *shape, int ndim,
                const int *perm, float *y);
/* constant pad: before/after per axis (>= 0) */
void oc_pad(const oc_ctx *ctx, const float *x, const int64_t *shape, int ndim,
            const int64_t *before, const int64_t *after, float value, float *y);
/* y[o][i][r] = x[o][idx[i]][r], x viewed as [outer][axis][inner]; idx in [0, axis) */
void oc_gather(const oc_ctx *ctx, const float *x, int64_t outer, int64_t axis, int64_t inner,
               const int64_t *idx, int64_t nidx, float *y);
/* the k largest of x[n] in descending order (ties: lower index first) */
void oc_topk(const float *x, int64_t n, int64_t k, float *vals, int64_t *idx);

/* ---- attention (ops/attention*.c) ----------------------------------------------------------
 * o = softmax(scale * q k^T + bias) v per (batch, head), tiled with an online softmax: memory
 * O(tile), never O(lq * lk). Each tensor is addressed by element strides:
 *   q(b,h,i,j) = q[b*q_sb + h*q_sh + i*q_st + j*q_sd]   (i: token, j: feature)
 * so both token-major [B][H][L][D] and feature-major [B][H][D][L] layouts work without copies.
 * bias (additive, may be NULL): bias(b,h,i,t) = bias[b*bias_sb + h*bias_sh + i*bias_sq +
 * t*bias_sk] (a stride of 0 broadcasts). */
typedef struct {
    int batch, heads, lq, lk, d, dv;
    float scale;
    int64_t q_sb, q_sh, q_st, q_sd;
    int64_t k_sb, k_sh, k_st, k_sd;
    int64_t v_sb, v_sh, v_st, v_sd;
    int64_t o_sb, o_sh, o_st, o_sd;
    const float *bias;
    int64_t bias_sb, bias_sh, bias_sq, bias_sk;
} oc_attn_desc;
/* fill the strides for contiguous token-major [B][H][L][D] q/k/v/o */
void oc_attn_desc_contiguous(oc_attn_desc *d);
size_t oc_attention_scratch_bytes(const oc_attn_desc *d, oc_isa isa, int nthreads);
void oc_attention(const oc_ctx *ctx, const oc_attn_desc *d, const float *q, const float *k,
                  const float *v, float *o);

/* ---- grid_sample (ops/grid_sample.c): bilinear, zeros padding, align_corners false ----------
 * x [n][c][h][w], grid [n][oh][ow][2] (x, y in [-1, 1]), y [n][c][oh][ow] */
void oc_grid_sample(const oc_ctx *ctx, const float *x, int n, int c, int h, int w,
                    const float *grid, int oh, int ow, float *y);

/* ---- multi-scale deformable attention core (ops/ms_deform_attn*.c) --------------------------
 * value [N][S][heads][dh], S = sum_l H_l*W_l (levels in order, each row-major);
 * level_hw [nlevels][2] = (H_l, W_l), nlevels <= 16;
 * loc [N][Lq][heads][L][P][2] (x, y), normalised to [0,1] (outside is allowed: zeros padding);
 * attw [N][Lq][heads][L][P] (already softmaxed); out [N][Lq][heads*dh].
 * out[b][q][h*dh + j] = sum_{l,p} attw * bilinear(value level l, head h, channel j) sampled as
 * grid_sample(align_corners=False, padding zeros) with grid 2*loc - 1, i.e. at pixel
 * (x*W_l - 0.5, y*H_l - 0.5). No scratch. */
void oc_ms_deform_attn(const oc_ctx *ctx, const float *value, const int64_t *level_hw,
                       int nlevels, int n, int heads, int dh, const float *loc, const float *attw,
                       int lq, int npoints, float *out);

/* ---- FLOP counts used by the profiler ---- */
double oc_conv2d_flops(const oc_conv2d_desc *d, int n, int oh, int ow);

#endif

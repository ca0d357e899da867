/* conv_impl.h -- private to the conv/GEMM kernels (ops/conv2d*.c, ops/gemm*.c,
 * ops/conv_transpose.c). Not part of the ops.h contract.
 *
 * The SIMD paths share one packed-GEMM driver (ops/gemm.c): A is packed into MR-row panels
 * ([k][MR], zero-padded rows), B into NR-column panels ([k][NR], zero-padded columns), and an
 * ISA micro-kernel computes one MR x NR tile of C over a block of k, with the epilogue
 * y = act(acc + bias) + residual fused into the store of the last k block. */
#ifndef OC_CONV_IMPL_H
#define OC_CONV_IMPL_H

#include "ops.h"
#include <math.h>
#include <stddef.h>
#include <stdint.h>

/* Register blocking per ISA. */
#define OC_AVX2_MR 6
#define OC_AVX2_NR 16
#define OC_AVX512_MR 8
#define OC_AVX512_NR 48
#define OC_MAX_NR 48
#define OC_MAX_MR 8

/* Epilogue of the last k block of a tile (rows r, columns j relative to the tile):
 *   c[r][j] = act(acc[r][j] + bias[r] + bias_col[j]) + res[r*ldr + j]
 * bias / bias_col / res may be NULL. */
typedef struct {
    const float *bias;      /* per row */
    const float *bias_col;  /* per column (nn.Linear) */
    const float *res;
    int64_t ldr;
    oc_act act;
} oc_epi;

/* One tile: C[0..mr)[0..nr) (row stride ldc) over kc steps of packed a ([kc][MR]) and b
 * ([kc][NR]). init: acc starts at 0 when beta == 0, else at beta * C (C is read: use
 * beta = 1 to continue a previous k block). e == NULL: plain store (not the last block). */
typedef void (*oc_ukr_fn)(int kc, const float *a, const float *b, float *c, int64_t ldc,
                          int mr, int nr, float beta, const oc_epi *e);

void oc_ukr_avx2(int kc, const float *a, const float *b, float *c, int64_t ldc, int mr, int nr,
                 float beta, const oc_epi *e);
void oc_ukr_avx512(int kc, const float *a, const float *b, float *c, int64_t ldc, int mr,
                   int nr, float beta, const oc_epi *e);

/* The same tile with A read in place (row r at a + r*lda) instead of from a packed panel;
 * any mr in [1, MR]. Used by prepacked nn.Linear (ops/gemm_rows_tmpl.h). */
typedef void (*oc_ukr_rows_fn)(int kc, const float *a, int64_t lda, const float *b, float *c,
                               int64_t ldc, int mr, int nr, float beta, const oc_epi *e);
void oc_ukr_rows_avx2(int kc, const float *a, int64_t lda, const float *b, float *c,
                      int64_t ldc, int mr, int nr, float beta, const oc_epi *e);
void oc_ukr_rows_avx512(int kc, const float *a, int64_t lda, const float *b, float *c,
                        int64_t ldc, int mr, int nr, float beta, const oc_epi *e);

/* Depthwise conv, one channel plane (SIMD along output columns, any stride / dilation /
 * padding): y[oh][ow] = act(sum + bias) + res */
void oc_dw_plane_avx2(const oc_conv2d_desc *d, const float *x, int h, int w, const float *wt,
                      float bias, float *y, int oh, int ow, const float *res);
void oc_dw_plane_avx512(const oc_conv2d_desc *d, const float *x, int h, int w,
                        const float *wt, float bias, float *y, int oh, int ow,
                        const float *res);

/* In-place activation of n floats (vectorised exp etc.). */
void oc_act_avx2(oc_act act, float *x, size_t n);
void oc_act_avx512(oc_act act, float *x, size_t n);

/* FMA peak measuring loops (ops/peak_avx2.c, ops/peak_avx512.c): run for about `seconds`
 * per thread and return the flop count per second of ONE thread. */
double oc_peak_loop_avx2(double seconds);
double oc_peak_loop_avx512(double seconds);

static inline int oc_isa_mr(oc_isa isa) { return isa == OC_ISA_AVX512 ? OC_AVX512_MR : OC_AVX2_MR; }
static inline int oc_isa_nr(oc_isa isa) { return isa == OC_ISA_AVX512 ? OC_AVX512_NR : OC_AVX2_NR; }
static inline oc_ukr_fn oc_isa_ukr(oc_isa isa) { return isa == OC_ISA_AVX512 ? oc_ukr_avx512 : oc_ukr_avx2; }

/* ---- the packed GEMM driver (ops/gemm.c) ----
 * Computes, for one matrix product C[m][n] (row stride ldc) = Ap * B (+ beta*C) with
 * epilogue, where Ap is pre-packed (MR panels of full length k: panel p at
 * ap + p*k*MR) and B is delivered by a packing callback:
 *   pack_b(ctx, k0, kc, j0, nc, dst): write B[k0..k0+kc)[j0..j0+nc) as NR panels
 *   ([panel][kc][NR], zero-padded). Called from inside the parallel region (thread-safe).
 * Rows [m0, m1) and columns [n0, n1) restrict the part computed (one thread's work).
 * bias: [m] or NULL (absolute rows). res: absolute base (res[i*ldr + j]) or NULL. */
typedef void (*oc_pack_b_fn)(const void *pctx, int k0, int kc, int j0, int nc, int nr,
                             float *dst);
typedef struct {
    oc_isa isa;
    int m, n, k;
    const float *ap;            /* packed A */
    oc_pack_b_fn pack_b;
    const void *pctx;
    float *c;
    int64_t ldc;
    float beta;
    const float *bias;
    const float *bias_col;
    const float *res;
    int64_t ldr;
    oc_act act;
} oc_gemm_job;

/* block sizes used by the driver */
#ifndef OC_GEMM_KC
#define OC_GEMM_KC 256
#endif
#define OC_GEMM_NC 384  /* multiple of 48 and 16 */
/* floats of packing scratch one thread needs */
size_t oc_gemm_thread_scratch_floats(void);
/* compute the rows [m0,m1) x columns [n0,n1) block of the job with one thread, packing B
 * into bbuf (oc_gemm_thread_scratch_floats() floats, 64-byte aligned) */
void oc_gemm_job_block(const oc_gemm_job *jb, int m0, int m1, int n0, int n1, float *bbuf);
/* Pack rows of A (op(A) given by element strides: A(i, kk) = a[i*rs + kk*cs]) times alpha
 * into MR panels of length k: dst holds ceil(m/MR)*MR*k floats. */
void oc_pack_a(const float *a, int64_t rs, int64_t cs, int m, int k, float alpha, int mr,
               float *dst);

/* im2col packing of conv2d's B (ops/conv_pack_impl.h, instantiated per ISA) */
typedef struct {
    const oc_conv2d_desc *d;
    const float *x;  /* first input channel of the group, one image */
    int h, w, oh, ow;
    int pointwise;   /* 1x1, stride 1, no padding: B is x itself */
} oc_conv_pack_ctx;
void oc_conv_pack_b_avx2(const void *pctx, int k0, int kc, int j0, int nc, int nr, float *dst);
void oc_conv_pack_b_avx512(const void *pctx, int k0, int kc, int j0, int nc, int nr,
                           float *dst);

/* Implicit GEMM for every non-pointwise conv (AVX2 and AVX-512): B is read straight from a
 * zero-padded copy of the image split into stride phases (ops/conv2d.c, conv_implicit)
 * through a per-tap offset table koff[k]. Columns are "virtual" pixels v = oy*Wq + ox over
 * the phase-plane width Wq (ox in [ow, Wq) are computed and dropped), so B row k of columns
 * [v, v+NR) is xp + koff[k] + v: contiguous. No K blocking: a tile runs the whole K into
 * registers, then the epilogue and the copy of its valid columns to y (+ residual). */
typedef struct {
    const float *xp;       /* padded image, first channel of the group */
    const int32_t *koff;   /* [K] */
    int K, Wp, ow;         /* Wp: the (phase) plane width Wq */
    int64_t N;             /* oh * ow: length of a y row */
    const float *ap;       /* the group's packed A */
    float *y;              /* the group's first output channel */
    const float *res;      /* same layout as y, or NULL */
    const float *bias;     /* the group's bias, or NULL */
    oc_act act;
} oc_conv_implicit_job;
/* rows [m0, m1) (m0 a multiple of MR) x virtual columns [v0, v1) */
void oc_conv_implicit_block_avx512(const oc_conv_implicit_job *jb, int m0, int m1, int v0,
                                   int v1);
void oc_conv_implicit_block_avx2(const oc_conv_implicit_job *jb, int m0, int m1, int v0,
                                 int v1);

/* Tests only: nonzero makes conv2d use the im2col-packing path (normally taken only by 1x1
 * convs and images too large for the implicit path's int32 offsets) for every conv. Set it
 * before sizing scratch; not thread-safe. */
extern int oc_conv2d_test_force_packed;

/* ---- scalar helpers shared by every path ---- */
static inline float oc_act_scalar(oc_act act, float v)
{
    switch (act) {
    case OC_ACT_NONE: return v;
    case OC_ACT_RELU: return v > 0.0f ? v : 0.0f;
    case OC_ACT_SILU: return v / (1.0f + expf(-v));
    case OC_ACT_SIGMOID: return 1.0f / (1.0f + expf(-v));
    case OC_ACT_TANH: return tanhf(v);
    case OC_ACT_GELU: return 0.5f * v * (1.0f + erff(v * 0.70710678118654752f));
    case OC_ACT_GELU_TANH: {
        float u = 0.7978845608028654f * (v + 0.044715f * v * v * v);
        return 0.5f * v * (1.0f + tanhf(u));
    }
    case OC_ACT_HARDSWISH: {
        float t = v + 3.0f;
        t = t < 0.0f ? 0.0f : (t > 6.0f ? 6.0f : t);
        return v * t / 6.0f;
    }
    }
    return v;
}

#endif

/* eltwise_tmpl.h -- row kernels for eltwise / softmax / layernorm, written once against
 * simd_vec.h and instantiated by eltwise_avx2.c and eltwise_avx512.c. */
#ifndef VEC_SFX
#error "include simd_vec.h first"
#endif
#include "row_kernels.h"

#include <math.h>
#include <string.h>

#define VEC_BIN_LOOP(EXPR)                                                                    \
    do {                                                                                     \
        int64_t i = 0;                                                                       \
        if (sa && sb) {                                                                      \
            for (; i + VL <= n; i += VL) {                                                   \
                vf va = vf_load(a + i), vb = vf_load(b + i);                                 \
                vf_store(y + i, EXPR);                                                       \
            }                                                                                \
            if (i < n) {                                                                     \
                vmask m = vf_tail(n - i);                                                    \
                vf va = vf_mload(a + i, m), vb = vf_mload(b + i, m);                         \
                vf_mstore(y + i, m, EXPR);                                                   \
            }                                                                                \
        } else if (sa) {                                                                     \
            vf vb = vf_set1(b[0]);                                                           \
            for (; i + VL <= n; i += VL) {                                                   \
                vf va = vf_load(a + i);                                                      \
                vf_store(y + i, EXPR);                                                       \
            }                                                                                \
            if (i < n) {                                                                     \
                vmask m = vf_tail(n - i);                                                    \
                vf va = vf_mload(a + i, m);                                                  \
                vf_mstore(y + i, m, EXPR);                                                   \
            }                                                                                \
        } else if (sb) {                                                                     \
            vf va = vf_set1(a[0]);                                                           \
            for (; i + VL <= n; i += VL) {                                                   \
                vf vb = vf_load(b + i);                                                      \
                vf_store(y + i, EXPR);                                                       \
            }                                                                                \
            if (i < n) {                                                                     \
                vmask m = vf_tail(n - i);                                                    \
                vf vb = vf_mload(b + i, m);                                                  \
                vf_mstore(y + i, m, EXPR);                                                   \
            }                                                                                \
        } else {                                                                             \
            vf va = vf_set1(a[0]), vb = vf_set1(b[0]);                                       \
            vf r = EXPR;                                                                     \
            for (; i + VL <= n; i += VL) vf_store(y + i, r);                                 \
            if (i < n) vf_mstore(y + i, vf_tail(n - i), r);                                  \
        }                                                                                    \
    } while (0)

void VEC_SFX(oc_bin_row)(oc_binop op, const float *a, int sa, const float *b, int sb,
                           float *y, int64_t n)
{
    switch (op) {
    case OC_BIN_ADD: VEC_BIN_LOOP(vf_add(va, vb)); break;
    case OC_BIN_SUB: VEC_BIN_LOOP(vf_sub(va, vb)); break;
    case OC_BIN_MUL: VEC_BIN_LOOP(vf_mul(va, vb)); break;
    default: VEC_BIN_LOOP(vf_div(va, vb)); break;
    }
}

#define VEC_MAP_LOOP(EXPR)                                                                    \
    do {                                                                                     \
        size_t i = 0;                                                                        \
        for (; i + VL <= n; i += VL) {                                                       \
            vf v = vf_load(x + i);                                                           \
            vf_store(y + i, EXPR);                                                           \
        }                                                                                    \
        if (i < n) {                                                                         \
            vmask m = vf_tail((int64_t)(n - i));                                             \
            vf v = vf_mload(x + i, m);                                                       \
            vf_mstore(y + i, m, EXPR);                                                       \
        }                                                                                    \
    } while (0)

void VEC_SFX(oc_eltwise_act)(oc_act act, const float *x, float *y, size_t n)
{
    /* one loop per activation (the constant argument lets vf_act inline to that case) */
    switch (act) {
    case OC_ACT_RELU: VEC_MAP_LOOP(vf_act(OC_ACT_RELU, v)); break;
    case OC_ACT_SILU: VEC_MAP_LOOP(vf_act(OC_ACT_SILU, v)); break;
    case OC_ACT_SIGMOID: VEC_MAP_LOOP(vf_act(OC_ACT_SIGMOID, v)); break;
    case OC_ACT_TANH: VEC_MAP_LOOP(vf_act(OC_ACT_TANH, v)); break;
    case OC_ACT_GELU: VEC_MAP_LOOP(vf_act(OC_ACT_GELU, v)); break;
    case OC_ACT_GELU_TANH: VEC_MAP_LOOP(vf_act(OC_ACT_GELU_TANH, v)); break;
    case OC_ACT_HARDSWISH: VEC_MAP_LOOP(vf_act(OC_ACT_HARDSWISH, v)); break;
    default:
        if (x != y) memmove(y, x, n * sizeof(float));
        break;
    }
}

void VEC_SFX(oc_clamp)(const float *x, float *y, size_t n, float lo, float hi)
{
    /* max/min return the second operand when the first is NaN: put x first so NaN stays */
    vf vlo = vf_set1(lo), vhi = vf_set1(hi);
    VEC_MAP_LOOP(vf_sel(vf_lt(v, vlo), vlo, vf_sel(vf_gt(v, vhi), vhi, v)));
}

void VEC_SFX(oc_affine)(const float *x, float s, float t, float *y, int64_t n64)
{
    size_t n = (size_t)n64;
    vf vs = vf_set1(s), vt = vf_set1(t);
    VEC_MAP_LOOP(vf_fma(v, vs, vt));
}

float VEC_SFX(oc_exp_sub_sum)(const float *x, float m, float *y, int64_t n)
{
    vf vm = vf_set1(m), acc = vf_zero();
    int64_t i = 0;
    for (; i + VL <= n; i += VL) {
        vf e = vf_exp(vf_sub(vf_load(x + i), vm));
        vf_store(y + i, e);
        acc = vf_add(acc, e);
    }
    if (i < n) {
        vmask mk = vf_tail(n - i);
        vf e = vf_exp(vf_sub(vf_mload(x + i, mk), vm));
        vf_mstore(y + i, mk, e);
        /* lanes past the tail loaded 0 -> exp(-m) != 0: reload through the mask */
        acc = vf_add(acc, vf_mload(y + i, mk));
    }
    return vf_hsum(acc);
}

void VEC_SFX(oc_exp_sub_acc)(const float *x, const float *m, float *y, float *sum, int64_t n)
{
    int64_t i = 0;
    for (; i + VL <= n; i += VL) {
        vf e = vf_exp(vf_sub(vf_load(x + i), vf_load(m + i)));
        vf_store(y + i, e);
        vf_store(sum + i, vf_add(vf_load(sum + i), e));
    }
    for (; i < n; i++) {
        float e = expf(x[i] - m[i]);
        y[i] = e;
        sum[i] += e;
    }
}

void VEC_SFX(oc_max_acc)(const float *x, float *m, int64_t n)
{
    int64_t i = 0;
    /* max(x, m) returns m when either is NaN: the scalar rule x > m ? x : m exactly */
    for (; i + VL <= n; i += VL) vf_store(m + i, vf_max(vf_load(x + i), vf_load(m + i)));
    for (; i < n; i++) m[i] = x[i] > m[i] ? x[i] : m[i];
}

void VEC_SFX(oc_div_by)(float *y, const float *s, int64_t n)
{
    int64_t i = 0;
    for (; i + VL <= n; i += VL) vf_store(y + i, vf_div(vf_load(y + i), vf_load(s + i)));
    for (; i < n; i++) y[i] /= s[i];
}

void VEC_SFX(oc_softmax_row)(const float *x, float *y, int64_t n)
{
    vf vmx = vf_set1(-INFINITY);
    int64_t i = 0;
    for (; i + VL <= n; i += VL) vmx = vf_max(vmx, vf_load(x + i));
    float mx = vf_hmax(vmx);
    for (; i < n; i++) mx = x[i] > mx ? x[i] : mx;
    float s = VEC_SFX(oc_exp_sub_sum)(x, mx, y, n);
    vf inv = vf_set1(1.0f / s);
    size_t nn = (size_t)n;
    {
        size_t j = 0;
        for (; j + VL <= nn; j += VL) vf_store(y + j, vf_mul(vf_load(y + j), inv));
        for (; j < nn; j++) y[j] *= 1.0f / s;
    }
}

void VEC_SFX(oc_layernorm_row)(const float *x, float *y, int n, const float *g, const float *b,
                                 float eps)
{
    vf acc = vf_zero();
    int i = 0;
    for (; i + VL <= n; i += VL) acc = vf_add(acc, vf_load(x + i));
    float sum = vf_hsum(acc);
    for (; i < n; i++) sum += x[i];
    float mean = sum / (float)n;
    vf vmean = vf_set1(mean);
    acc = vf_zero();
    for (i = 0; i + VL <= n; i += VL) {
        vf d = vf_sub(vf_load(x + i), vmean);
        acc = vf_fma(d, d, acc);
    }
    float ss = vf_hsum(acc);
    for (; i < n; i++) ss += (x[i] - mean) * (x[i] - mean);
    float rstd = 1.0f / sqrtf(ss / (float)n + eps);
    vf vr = vf_set1(rstd);
    for (i = 0; i + VL <= n; i += VL) {
        vf v = vf_mul(vf_sub(vf_load(x + i), vmean), vr);
        if (g) v = vf_mul(v, vf_load(g + i));
        if (b) v = vf_add(v, vf_load(b + i));
        vf_store(y + i, v);
    }
    for (; i < n; i++) {
        float v = (x[i] - mean) * rstd;
        if (g) v *= g[i];
        if (b) v += b[i];
        y[i] = v;
    }
}

void VEC_SFX(oc_layernorm_nchw)(const float *x, float *y, int c, int64_t hw, int64_t p0,
                                  int64_t p1, const float *g, const float *b, float eps)
{
    /* NV4 vectors of pixels per sweep over the channels: each channel row is touched once per
     * pass for 4*VL pixels (the rows are hw apart, often a multiple of 4 KB) */
#define NV4 4
    const vf inv_c = vf_set1(1.0f / (float)c), veps = vf_set1(eps), one = vf_set1(1.0f);
    const vf fc = vf_set1((float)c);
    for (int64_t p = p0; p < p1; p += NV4 * VL) {
        vmask mk[NV4];
        vf s[NV4], v[NV4], mean[NV4], rstd[NV4];
        for (int k = 0; k < NV4; k++) {
            int64_t m = p1 - (p + k * VL);
            mk[k] = vf_tail(m < 0 ? 0 : m);
            s[k] = vf_zero();
            v[k] = vf_zero();
        }
        for (int ch = 0; ch < c; ch++) {
            const float *xr = x + (int64_t)ch * hw + p;
            for (int k = 0; k < NV4; k++) s[k] = vf_add(s[k], vf_mload(xr + k * VL, mk[k]));
        }
        for (int k = 0; k < NV4; k++) mean[k] = vf_div(s[k], fc); /* sum / c, as the scalar */
        for (int ch = 0; ch < c; ch++) {
            const float *xr = x + (int64_t)ch * hw + p;
            for (int k = 0; k < NV4; k++) {
                vf dd = vf_sub(vf_mload(xr + k * VL, mk[k]), mean[k]);
                v[k] = vf_fma(dd, dd, v[k]);
            }
        }
        for (int k = 0; k < NV4; k++) rstd[k] = vf_div(one, vf_sqrt(vf_add(vf_mul(v[k], inv_c), veps)));
        for (int ch = 0; ch < c; ch++) {
            const float *xr = x + (int64_t)ch * hw + p;
            float *yr = y + (int64_t)ch * hw + p;
            const vf vg = vf_set1(g ? g[ch] : 1.0f), vb = vf_set1(b ? b[ch] : 0.0f);
            for (int k = 0; k < NV4; k++) {
                vf o = vf_mul(vf_sub(vf_mload(xr + k * VL, mk[k]), mean[k]), rstd[k]);
                vf_mstore(yr + k * VL, mk[k], vf_add(vf_mul(o, vg), vb));
            }
        }
    }
#undef NV4
}

/* graph_ops.c -- the oc_g_<op> builders of graph.h: argument and shape checks (a failure is
 * recorded in the graph with a message naming the op, the tensors and their shapes), output
 * shape inference, a FLOP estimate, the scratch size and the exec function that calls the
 * kernel of ops/ops.h. (oc_g_reshape, oc_g_slice and oc_g_custom live in graph.c.) */
#include "graph_impl.h"
#include "weight_cache.h"

#include <math.h>
#include <string.h>

#define SB 128

/* a short description of a tensor for messages: 'name' [1, 3, 64, 64] */
static const char *tdesc(const oc_graph *g, oc_tid t, char *buf, size_t n)
{
    char nb[SB], sb[SB];
    oc_g_tname(g, t, nb, sizeof nb);
    oc_shape_str(&g->t[t].shape, sb, sizeof sb);
    snprintf(buf, n, "%s %s", nb, sb);
    return buf;
}

static int ok(oc_graph *g) { return g && g->status == OC_OK; }

static int norm_axis(int axis, int ndim)
{
    if (axis < 0) axis += ndim;
    return (axis < 0 || axis >= ndim) ? -1 : axis;
}

/* ---------------------------------------------------------------- conv2d -------------- */

typedef struct {
    oc_conv2d_desc d;
    const oc_conv2d_weights *w;
    int has_residual;
} conv_params;

static int conv_desc_ok(const oc_conv2d_desc *d)
{
    return d->cin >= 1 && d->cout >= 1 && d->kh >= 1 && d->kw >= 1 && d->groups >= 1 &&
           d->cin % d->groups == 0 && d->cout % d->groups == 0 && d->stride_h >= 1 &&
           d->stride_w >= 1 && d->dil_h >= 1 && d->dil_w >= 1 && d->pad_t >= 0 &&
           d->pad_l >= 0 && d->pad_b >= 0 && d->pad_r >= 0 && (int)d->act >= 0 &&
           d->act <= OC_ACT_HARDSWISH;
}

static void exec_conv2d(const oc_ctx *ctx, const oc_gnode *n, const float *const *ins,
                        const oc_shape *is, float *out, const oc_shape *os)
{
    (void)os;
    const conv_params *p = n->params;
    oc_conv2d(ctx, &p->d, p->w, ins[0], (int)is[0].d[0], (int)is[0].d[2], (int)is[0].d[3],
              out, p->has_residual ? ins[1] : NULL);
}

static size_t scratch_conv2d(const oc_gnode *n, const oc_shape *is, const oc_shape *os,
                             oc_isa isa, int nthreads)
{
    (void)os;
    const conv_params *p = n->params;
    return oc_conv2d_scratch_bytes(&p->d, (int)is[0].d[0], (int)is[0].d[2], (int)is[0].d[3],
                                   isa, nthreads);
}

static int dims_fit_int(const oc_shape *s)
{
    for (int i = 0; i < s->ndim; i++)
        if (s->d[i] > INT32_MAX) return 0;
    return 1;
}

oc_tid oc_g_conv2d(oc_graph *g, oc_tid x, const oc_conv2d_desc *d, const oc_conv2d_weights *w,
                   oc_tid residual)
{
    if (!ok(g) || !oc_g_check_tid(g, x, "conv2d")) return OC_NONE;
    char xb[2 * SB], rb[2 * SB], ob[SB];
    tdesc(g, x, xb, sizeof xb);
    if (!d || !w)
        return oc_g_failf(g, OC_ERR_INVALID_ARG, "conv2d on %s: NULL %s", xb,
                          !d ? "desc" : "weights");
    const oc_shape *xs = &g->t[x].shape;
    if (xs->ndim != 4 || !dims_fit_int(xs))
        return oc_g_failf(g, OC_ERR_SHAPE, "conv2d: input %s is not [N][C][H][W]", xb);
    if (!conv_desc_ok(d))
        return oc_g_failf(g, OC_ERR_INVALID_ARG, "conv2d on %s: bad desc (cin %d cout %d k %dx%d "
                          "groups %d stride %dx%d dil %dx%d pad %d,%d,%d,%d act %d)", xb, d->cin,
                          d->cout, d->kh, d->kw, d->groups, d->stride_h, d->stride_w, d->dil_h,
                          d->dil_w, d->pad_t, d->pad_l, d->pad_b, d->pad_r, (int)d->act);
    if (xs->d[1] != d->cin)
        return oc_g_failf(g, OC_ERR_SHAPE, "conv2d: input %s has %lld channels, the conv "
                          "expects cin %d (cout %d, k %dx%d)", xb, (long long)xs->d[1], d->cin,
                          d->cout, d->kh, d->kw);
    int oh = 0, ow = 0;
    /* the effective kernel must fit in the padded input */
    int64_t ekh = (int64_t)d->dil_h * (d->kh - 1) + 1, ekw = (int64_t)d->dil_w * (d->kw - 1) + 1;
    if (xs->d[2] + d->pad_t + d->pad_b < ekh || xs->d[3] + d->pad_l + d->pad_r < ekw)
        return oc_g_failf(g, OC_ERR_SHAPE, "conv2d: input %s is smaller than the %dx%d kernel "
                          "(dilation %dx%d, padding %d,%d,%d,%d)", xb, d->kh, d->kw, d->dil_h,
                          d->dil_w, d->pad_t, d->pad_l, d->pad_b, d->pad_r);
    oc_conv2d_out_size(d, (int)xs->d[2], (int)xs->d[3], &oh, &ow);
    if (oh < 1 || ow < 1)
        return oc_g_failf(g, OC_ERR_SHAPE, "conv2d: input %s gives an empty output %dx%d", xb,
                          oh, ow);
    oc_shape os = oc_shape4(xs->d[0], d->cout, oh, ow);
    conv_params p;
    memset(&p, 0, sizeof p);
    p.d = *d;
    p.w = w;
    oc_tid ins[2] = {x, residual};
    int nin = 1;
    if (residual != OC_NONE) {
        if (!oc_g_check_tid(g, residual, "conv2d residual")) return OC_NONE;
        if (!oc_shape_equal(&g->t[residual].shape, &os))
            return oc_g_failf(g, OC_ERR_SHAPE, "conv2d on %s: residual %s does not match the "
                              "output shape %s", xb, tdesc(g, residual, rb, sizeof rb),
                              oc_shape_str(&os, ob, sizeof ob));
        p.has_residual = 1;
        nin = 2;
    }
    double flops = oc_conv2d_flops(d, (int)xs->d[0], oh, ow);
    return oc_g_add_node(g, "conv2d", ins, nin, os, exec_conv2d, scratch_conv2d, &p, sizeof p,
                         flops, 0);
}

/* ---------------------------------------------------------------- conv_transpose2d ---- */

typedef struct {
    oc_conv2d_desc d;
    const float *w, *b;
} convt_params;

static void exec_convt(const oc_ctx *ctx, const oc_gnode *n, const float *const *ins,
                       const oc_shape *is, float *out, const oc_shape *os)
{
    (void)os;
    const convt_params *p = n->params;
    oc_conv_transpose2d(ctx, &p->d, p->w, p->b, ins[0], (int)is[0].d[0], (int)is[0].d[2],
                        (int)is[0].d[3], out);
}

static size_t scratch_convt(const oc_gnode *n, const oc_shape *is, const oc_shape *os,
                            oc_isa isa, int nthreads)
{
    (void)os;
    (void)isa;
    const convt_params *p = n->params;
    return oc_conv_transpose2d_scratch_bytes(&p->d, (int)is[0].d[0], (int)is[0].d[2],
                                             (int)is[0].d[3], nthreads);
}

oc_tid oc_g_conv_transpose2d(oc_graph *g, oc_tid x, const oc_conv2d_desc *d,
                             const float *weight, const float *bias)
{
    if (!ok(g) || !oc_g_check_tid(g, x, "conv_transpose2d")) return OC_NONE;
    char xb[2 * SB];
    tdesc(g, x, xb, sizeof xb);
    if (!d || !weight)
        return oc_g_failf(g, OC_ERR_INVALID_ARG, "conv_transpose2d on %s: NULL %s", xb,
                          !d ? "desc" : "weight");
    const oc_shape *xs = &g->t[x].shape;
    if (xs->ndim != 4 || !dims_fit_int(xs))
        return oc_g_failf(g, OC_ERR_SHAPE, "conv_transpose2d: input %s is not [N][C][H][W]", xb);
    if (!conv_desc_ok(d))
        return oc_g_failf(g, OC_ERR_INVALID_ARG, "conv_transpose2d on %s: bad desc (cin %d cout "
                          "%d k %dx%d groups %d)", xb, d->cin, d->cout, d->kh, d->kw, d->groups);
    if (xs->d[1] != d->cin)
        return oc_g_failf(g, OC_ERR_SHAPE, "conv_transpose2d: input %s has %lld channels, "
                          "expected cin %d", xb, (long long)xs->d[1], d->cin);
    int oh = 0, ow = 0;
    oc_conv_transpose2d_out_size(d, (int)xs->d[2], (int)xs->d[3], &oh, &ow);
    if (oh < 1 || ow < 1)
        return oc_g_failf(g, OC_ERR_SHAPE, "conv_transpose2d: input %s gives an empty output "
                          "%dx%d", xb, oh, ow);
    oc_shape os = oc_shape4(xs->d[0], d->cout, oh, ow);
    convt_params p;
    memset(&p, 0, sizeof p);
    p.d = *d;
    p.w = weight;
    p.b = bias;
    double flops = 2.0 * (double)xs->d[0] * (double)d->cin * (double)(d->cout / d->groups) *
                   d->kh * d->kw * (double)xs->d[2] * (double)xs->d[3];
    return oc_g_add_node(g, "conv_transpose2d", &x, 1, os, exec_convt, scratch_convt, &p,
                         sizeof p, flops, 0);
}

/* ---------------------------------------------------------------- pooling ------------- */

typedef struct {
    oc_pool2d_desc d;
} pool_params;

static void exec_maxpool(const oc_ctx *ctx, const oc_gnode *n, const float *const *ins,
                         const oc_shape *is, float *out, const oc_shape *os)
{
    (void)os;
    const pool_params *p = n->params;
    oc_maxpool2d(ctx, &p->d, ins[0], (int)is[0].d[0], (int)is[0].d[1], (int)is[0].d[2],
                 (int)is[0].d[3], out);
}

static void exec_avgpool(const oc_ctx *ctx, const oc_gnode *n, const float *const *ins,
                         const oc_shape *is, float *out, const oc_shape *os)
{
    (void)os;
    const pool_params *p = n->params;
    oc_avgpool2d(ctx, &p->d, ins[0], (int)is[0].d[0], (int)is[0].d[1], (int)is[0].d[2],
                 (int)is[0].d[3], out);
}

static oc_tid pool(oc_graph *g, oc_tid x, const oc_pool2d_desc *d, const char *op,
                   oc_node_exec exec)
{
    if (!ok(g) || !oc_g_check_tid(g, x, op)) return OC_NONE;
    char xb[2 * SB];
    tdesc(g, x, xb, sizeof xb);
    if (!d) return oc_g_failf(g, OC_ERR_INVALID_ARG, "%s on %s: NULL desc", op, xb);
    const oc_shape *xs = &g->t[x].shape;
    if (xs->ndim != 4 || !dims_fit_int(xs))
        return oc_g_failf(g, OC_ERR_SHAPE, "%s: input %s is not [N][C][H][W]", op, xb);
    if (d->kh < 1 || d->kw < 1 || d->stride_h < 1 || d->stride_w < 1 || d->pad_t < 0 ||
        d->pad_l < 0 || d->pad_b < 0 || d->pad_r < 0 || d->pad_t * 2 > d->kh ||
        d->pad_b * 2 > d->kh || d->pad_l * 2 > d->kw || d->pad_r * 2 > d->kw)
        return oc_g_failf(g, OC_ERR_INVALID_ARG, "%s on %s: bad desc (k %dx%d stride %dx%d pad "
                          "%d,%d,%d,%d; padding must be at most half the kernel)", op, xb, d->kh,
                          d->kw, d->stride_h, d->stride_w, d->pad_t, d->pad_l, d->pad_b, d->pad_r);
    if (xs->d[2] + d->pad_t + d->pad_b < d->kh || xs->d[3] + d->pad_l + d->pad_r < d->kw)
        return oc_g_failf(g, OC_ERR_SHAPE, "%s: input %s is smaller than the %dx%d window", op,
                          xb, d->kh, d->kw);
    int oh = 0, ow = 0;
    oc_pool2d_out_size(d, (int)xs->d[2], (int)xs->d[3], &oh, &ow);
    if (oh < 1 || ow < 1)
        return oc_g_failf(g, OC_ERR_SHAPE, "%s: input %s gives an empty output %dx%d", op, xb,
                          oh, ow);
    oc_shape os = oc_shape4(xs->d[0], xs->d[1], oh, ow);
    pool_params p;
    memset(&p, 0, sizeof p);
    p.d = *d;
    double flops = (double)oc_shape_numel(&os) * d->kh * d->kw;
    return oc_g_add_node(g, op, &x, 1, os, exec, NULL, &p, sizeof p, flops, 0);
}

oc_tid oc_g_maxpool2d(oc_graph *g, oc_tid x, const oc_pool2d_desc *d)
{
    return pool(g, x, d, "maxpool2d", exec_maxpool);
}

oc_tid oc_g_avgpool2d(oc_graph *g, oc_tid x, const oc_pool2d_desc *d)
{
    return pool(g, x, d, "avgpool2d", exec_avgpool);
}

/* ---------------------------------------------------------------- upsampling ---------- */

typedef struct {
    int align_corners;
} up_params;

static void exec_up_nearest(const oc_ctx *ctx, const oc_gnode *n, const float *const *ins,
                            const oc_shape *is, float *out, const oc_shape *os)
{
    (void)n;
    oc_upsample_nearest(ctx, ins[0], (int)is[0].d[0], (int)is[0].d[1], (int)is[0].d[2],
                        (int)is[0].d[3], (int)os->d[2], (int)os->d[3], out);
}

static void exec_up_bilinear(const oc_ctx *ctx, const oc_gnode *n, const float *const *ins,
                             const oc_shape *is, float *out, const oc_shape *os)
{
    const up_params *p = n->params;
    oc_upsample_bilinear(ctx, ins[0], (int)is[0].d[0], (int)is[0].d[1], (int)is[0].d[2],
                         (int)is[0].d[3], (int)os->d[2], (int)os->d[3], p->align_corners, out);
}

static oc_tid upsample(oc_graph *g, oc_tid x, int oh, int ow, const char *op, oc_node_exec exec,
                       int align_corners, double flops_per_out)
{
    if (!ok(g) || !oc_g_check_tid(g, x, op)) return OC_NONE;
    char xb[2 * SB];
    tdesc(g, x, xb, sizeof xb);
    const oc_shape *xs = &g->t[x].shape;
    if (xs->ndim != 4 || !dims_fit_int(xs))
        return oc_g_failf(g, OC_ERR_SHAPE, "%s: input %s is not [N][C][H][W]", op, xb);
    if (oh < 1 || ow < 1)
        return oc_g_failf(g, OC_ERR_SHAPE, "%s on %s: bad output size %dx%d", op, xb, oh, ow);
    oc_shape os = oc_shape4(xs->d[0], xs->d[1], oh, ow);
    up_params p = {align_corners ? 1 : 0};
    return oc_g_add_node(g, op, &x, 1, os, exec, NULL, &p, sizeof p,
                         flops_per_out * (double)oc_shape_numel(&os), 0);
}

oc_tid oc_g_upsample_nearest(oc_graph *g, oc_tid x, int oh, int ow)
{
    return upsample(g, x, oh, ow, "upsample_nearest", exec_up_nearest, 0, 0.0);
}

oc_tid oc_g_upsample_bilinear(oc_graph *g, oc_tid x, int oh, int ow, int align_corners)
{
    return upsample(g, x, oh, ow, "upsample_bilinear", exec_up_bilinear, align_corners, 7.0);
}

/* ---------------------------------------------------------------- binary -------------- */

typedef struct {
    oc_binop op;
    int ndim;
    int64_t as[OC_MAX_DIMS], bs[OC_MAX_DIMS], ys[OC_MAX_DIMS];
} bin_params;

static void exec_binary(const oc_ctx *ctx, const oc_gnode *n, const float *const *ins,
                        const oc_shape *is, float *out, const oc_shape *os)
{
    (void)is;
    (void)os;
    const bin_params *p = n->params;
    oc_binary(ctx, p->op, ins[0], p->as, ins[1], p->bs, p->ndim, out, p->ys);
}

static const char *binop_name(oc_binop op)
{
    switch (op) {
    case OC_BIN_ADD: return "add";
    case OC_BIN_SUB: return "sub";
    case OC_BIN_MUL: return "mul";
    case OC_BIN_DIV: return "div";
    }
    return "binary";
}

oc_tid oc_g_binary(oc_graph *g, oc_binop op, oc_tid a, oc_tid b)
{
    if (!ok(g)) return OC_NONE;
    if ((int)op < OC_BIN_ADD || op > OC_BIN_DIV)
        return oc_g_failf(g, OC_ERR_INVALID_ARG, "binary: unknown op %d", (int)op);
    const char *name = binop_name(op);
    if (!oc_g_check_tid(g, a, name) || !oc_g_check_tid(g, b, name)) return OC_NONE;
    const oc_shape *sa = &g->t[a].shape, *sb = &g->t[b].shape;
    bin_params p;
    memset(&p, 0, sizeof p);
    p.op = op;
    p.ndim = sa->ndim > sb->ndim ? sa->ndim : sb->ndim;
    if (p.ndim == 0) p.ndim = 1;
    oc_shape ys;
    ys.ndim = p.ndim;
    for (int i = 0; i < p.ndim; i++) {
        int ia = i - (p.ndim - sa->ndim), ib = i - (p.ndim - sb->ndim);
        int64_t da = ia >= 0 ? sa->d[ia] : 1, db = ib >= 0 ? sb->d[ib] : 1;
        if (da != db && da != 1 && db != 1) {
            char ab[2 * SB], bb[2 * SB];
            return oc_g_failf(g, OC_ERR_SHAPE, "%s: shapes do not broadcast: %s and %s "
                              "(dim %d: %lld vs %lld)", name, tdesc(g, a, ab, sizeof ab),
                              tdesc(g, b, bb, sizeof bb), i, (long long)da, (long long)db);
        }
        p.as[i] = da;
        p.bs[i] = db;
        p.ys[i] = ys.d[i] = da > db ? da : db;
    }
    int64_t yn = oc_shape_numel(&ys);
    unsigned mask = 0;
    if (oc_shape_numel(sa) == yn) mask |= 1u;
    if (oc_shape_numel(sb) == yn) mask |= 2u;
    oc_tid ins[2] = {a, b};
    return oc_g_add_node(g, name, ins, 2, ys, exec_binary, NULL, &p, sizeof p, (double)yn,
                         mask);
}

/* ---------------------------------------------------------------- activation ---------- */

typedef struct {
    oc_act act;
} act_params;

static void exec_act(const oc_ctx *ctx, const oc_gnode *n, const float *const *ins,
                     const oc_shape *is, float *out, const oc_shape *os)
{
    (void)is;
    const act_params *p = n->params;
    oc_activation(ctx, p->act, ins[0], out, (size_t)oc_shape_numel(os));
}

static const char *act_name(oc_act a)
{
    switch (a) {
    case OC_ACT_NONE: return "identity";
    case OC_ACT_RELU: return "relu";
    case OC_ACT_SILU: return "silu";
    case OC_ACT_SIGMOID: return "sigmoid";
    case OC_ACT_TANH: return "tanh";
    case OC_ACT_GELU: return "gelu";
    case OC_ACT_GELU_TANH: return "gelu_tanh";
    case OC_ACT_HARDSWISH: return "hardswish";
    }
    return "act";
}

oc_tid oc_g_act(oc_graph *g, oc_act act, oc_tid x)
{
    if (!ok(g)) return OC_NONE;
    if ((int)act < OC_ACT_NONE || act > OC_ACT_HARDSWISH)
        return oc_g_failf(g, OC_ERR_INVALID_ARG, "act: unknown activation %d", (int)act);
    const char *name = act_name(act);
    if (!oc_g_check_tid(g, x, name)) return OC_NONE;
    act_params p = {act};
    double per = act == OC_ACT_RELU || act == OC_ACT_NONE ? 1.0 : 4.0;
    return oc_g_add_node(g, name, &x, 1, g->t[x].shape, exec_act, NULL, &p, sizeof p,
                         per * (double)oc_shape_numel(&g->t[x].shape), 1u);
}

/* ---------------------------------------------------------------- softmax ------------- */

typedef struct {
    int64_t outer, axis, inner;
} softmax_params;

static void exec_softmax(const oc_ctx *ctx, const oc_gnode *n, const float *const *ins,
                         const oc_shape *is, float *out, const oc_shape *os)
{
    (void)is;
    (void)os;
    const softmax_params *p = n->params;
    oc_softmax(ctx, ins[0], out, p->outer, p->axis, p->inner);
}

oc_tid oc_g_softmax(oc_graph *g, oc_tid x, int axis)
{
    if (!ok(g) || !oc_g_check_tid(g, x, "softmax")) return OC_NONE;
    const oc_shape *xs = &g->t[x].shape;
    int ax = norm_axis(axis, xs->ndim);
    if (ax < 0) {
        char xb[2 * SB];
        return oc_g_failf(g, OC_ERR_SHAPE, "softmax: axis %d out of range for %s", axis,
                          tdesc(g, x, xb, sizeof xb));
    }
    softmax_params p = {1, xs->d[ax], 1};
    for (int i = 0; i < ax; i++) p.outer *= xs->d[i];
    for (int i = ax + 1; i < xs->ndim; i++) p.inner *= xs->d[i];
    return oc_g_add_node(g, "softmax", &x, 1, *xs, exec_softmax, NULL, &p, sizeof p,
                         5.0 * (double)oc_shape_numel(xs), 1u);
}

/* ---------------------------------------------------------------- layernorm ----------- */

typedef struct {
    const float *gamma, *beta;
    float eps;
    int dim;
    int64_t rows;
} ln_params;

static void exec_layernorm(const oc_ctx *ctx, const oc_gnode *n, const float *const *ins,
                           const oc_shape *is, float *out, const oc_shape *os)
{
    (void)is;
    (void)os;
    const ln_params *p = n->params;
    oc_layernorm(ctx, ins[0], out, p->rows, p->dim, p->gamma, p->beta, p->eps);
}

oc_tid oc_g_layernorm(oc_graph *g, oc_tid x, const float *gamma, const float *beta, float eps)
{
    if (!ok(g) || !oc_g_check_tid(g, x, "layernorm")) return OC_NONE;
    const oc_shape *xs = &g->t[x].shape;
    char xb[2 * SB];
    if (xs->ndim < 1 || xs->d[xs->ndim - 1] > INT32_MAX)
        return oc_g_failf(g, OC_ERR_SHAPE, "layernorm: input %s has no usable last dim",
                          tdesc(g, x, xb, sizeof xb));
    if (!(eps >= 0.0f) || !isfinite(eps))
        return oc_g_failf(g, OC_ERR_INVALID_ARG, "layernorm on %s: bad eps %g",
                          tdesc(g, x, xb, sizeof xb), (double)eps);
    ln_params p;
    memset(&p, 0, sizeof p);
    p.gamma = gamma;
    p.beta = beta;
    p.eps = eps;
    p.dim = (int)xs->d[xs->ndim - 1];
    p.rows = oc_shape_numel(xs) / p.dim;
    return oc_g_add_node(g, "layernorm", &x, 1, *xs, exec_layernorm, NULL, &p, sizeof p,
                         8.0 * (double)oc_shape_numel(xs), 0);
}

/* ---------------------------------------------------------------- linear -------------- */

/* linears with at most this many rows get weights packed once per model (the rest pack W^T
 * per call; see oc_g_linear) */
#define OC_LINEAR_PREPACK_MAX_ROWS 512

typedef struct {
    const float *w, *b;                /* raw weights (NULL when given packed only) */
    const oc_linear_weights *lw;       /* packed (the model's cache or the caller's), or NULL */
    int in, out;
    oc_act act;
    int64_t rows;
} linear_params;

/* packed weights run when they were packed for the isa the graph runs (the session's is the
 * model's), or when there is nothing else; raw weights are the fallback of a graph planned
 * for another isa (tests) */
static int linear_use_packed(const linear_params *p, oc_isa isa)
{
    return p->lw && (!p->w || oc_linear_weights_isa(p->lw) == isa);
}

static void exec_linear(const oc_ctx *ctx, const oc_gnode *n, const float *const *ins,
                        const oc_shape *is, float *out, const oc_shape *os)
{
    (void)is;
    (void)os;
    const linear_params *p = n->params;
    if (linear_use_packed(p, ctx->isa))
        oc_linear_packed(ctx, ins[0], p->rows, p->lw, p->act, out);
    else
        oc_linear(ctx, ins[0], p->rows, p->in, p->w, p->b, p->out, p->act, out);
}

static size_t scratch_linear(const oc_gnode *n, const oc_shape *is, const oc_shape *os,
                             oc_isa isa, int nthreads)
{
    (void)is;
    (void)os;
    const linear_params *p = n->params;
    if (linear_use_packed(p, isa)) return 0;
    return oc_linear_scratch_bytes(p->rows, p->in, p->out, isa, nthreads);
}

static oc_tid linear_node(oc_graph *g, oc_tid x, const float *w, const float *bias,
                          const oc_linear_weights *lw, int in, int out, oc_act act);

oc_tid oc_g_linear_packed(oc_graph *g, oc_tid x, const oc_linear_weights *lw, oc_act act)
{
    if (!ok(g) || !oc_g_check_tid(g, x, "linear")) return OC_NONE;
    if (!lw) {
        char xb[2 * SB];
        return oc_g_failf(g, OC_ERR_INVALID_ARG, "linear on %s: NULL packed weights",
                          tdesc(g, x, xb, sizeof xb));
    }
    return linear_node(g, x, NULL, NULL, lw, oc_linear_weights_in(lw),
                       oc_linear_weights_out(lw), act);
}

oc_tid oc_g_linear(oc_graph *g, oc_tid x, const float *w, const float *bias, int in, int out,
                   oc_act act)
{
    if (!ok(g) || !oc_g_check_tid(g, x, "linear")) return OC_NONE;
    if (!w) {
        char xb[2 * SB];
        return oc_g_failf(g, OC_ERR_INVALID_ARG, "linear on %s: NULL weight",
                          tdesc(g, x, xb, sizeof xb));
    }
    return linear_node(g, x, w, bias, NULL, in, out, act);
}

static oc_tid linear_node(oc_graph *g, oc_tid x, const float *w, const float *bias,
                          const oc_linear_weights *lw, int in, int out, oc_act act)
{
    const oc_shape *xs = &g->t[x].shape;
    char xb[2 * SB];
    tdesc(g, x, xb, sizeof xb);
    if (in < 1 || out < 1)
        return oc_g_failf(g, OC_ERR_INVALID_ARG, "linear on %s: bad sizes in %d out %d", xb,
                          in, out);
    if ((int)act < OC_ACT_NONE || act > OC_ACT_HARDSWISH)
        return oc_g_failf(g, OC_ERR_INVALID_ARG, "linear on %s: unknown activation %d", xb,
                          (int)act);
    if (xs->ndim < 1 || xs->d[xs->ndim - 1] != in)
        return oc_g_failf(g, OC_ERR_SHAPE, "linear: input %s does not end in in_features %d "
                          "(out %d)", xb, in, out);
    oc_shape os = *xs;
    os.d[os.ndim - 1] = out;
    linear_params p;
    memset(&p, 0, sizeof p);
    p.w = w;
    p.b = bias;
    p.lw = lw;
    p.in = in;
    p.out = out;
    p.act = act;
    p.rows = oc_shape_numel(xs) / in;
    /* Few rows: pack W once per model (the per-call packing of W^T would cost about as much
     * as the products). Many rows: W^T is packed per row block inside the call, a small
     * share of the work, and the model keeps a single copy of the weights. */
    if (!lw && g->wcache && p.rows <= OC_LINEAR_PREPACK_MAX_ROWS) {
        oc_status st = oc_weight_cache_linear(g->wcache, w, bias, in, out, &p.lw);
        if (st != OC_OK) {
            char eb[256];
            snprintf(eb, sizeof eb, "%s", oc_last_error());
            return oc_g_failf(g, st, "linear on %s: packing the %d x %d weights: %s", xb, out,
                              in, eb);
        }
    }
    return oc_g_add_node(g, "linear", &x, 1, os, exec_linear, scratch_linear, &p, sizeof p,
                         2.0 * (double)p.rows * in * out, 0);
}

/* ---------------------------------------------------------------- matmul -------------- */

typedef struct {
    int batch, ta, tb, m, n, k;
    int64_t lda, ldb, sa, sb;
} matmul_params;

static void exec_matmul(const oc_ctx *ctx, const oc_gnode *n, const float *const *ins,
                        const oc_shape *is, float *out, const oc_shape *os)
{
    (void)is;
    (void)os;
    const matmul_params *p = n->params;
    if (p->batch == 1)
        oc_gemm(ctx, p->ta, p->tb, p->m, p->n, p->k, 1.0f, ins[0], p->lda, ins[1], p->ldb, 0.0f,
                out, p->n);
    else
        oc_gemm_batched(ctx, p->batch, p->ta, p->tb, p->m, p->n, p->k, 1.0f, ins[0], p->lda,
                        p->sa, ins[1], p->ldb, p->sb, 0.0f, out, p->n,
                        (int64_t)p->m * p->n);
}

static size_t scratch_matmul(const oc_gnode *n, const oc_shape *is, const oc_shape *os,
                             oc_isa isa, int nthreads)
{
    (void)is;
    (void)os;
    const matmul_params *p = n->params;
    return oc_gemm_scratch_bytes(p->m, p->n, p->k, isa, nthreads);
}

oc_tid oc_g_matmul(oc_graph *g, oc_tid a, oc_tid b, int trans_a, int trans_b)
{
    if (!ok(g) || !oc_g_check_tid(g, a, "matmul") || !oc_g_check_tid(g, b, "matmul"))
        return OC_NONE;
    const oc_shape *sa = &g->t[a].shape, *sb = &g->t[b].shape;
    char ab[2 * SB], bb[2 * SB];
    tdesc(g, a, ab, sizeof ab);
    tdesc(g, b, bb, sizeof bb);
    if (sa->ndim < 2 || sb->ndim < 2)
        return oc_g_failf(g, OC_ERR_SHAPE, "matmul: %s and %s need at least 2 dims", ab, bb);
    int64_t am = trans_a ? sa->d[sa->ndim - 1] : sa->d[sa->ndim - 2];
    int64_t ak = trans_a ? sa->d[sa->ndim - 2] : sa->d[sa->ndim - 1];
    int64_t bk = trans_b ? sb->d[sb->ndim - 1] : sb->d[sb->ndim - 2];
    int64_t bn = trans_b ? sb->d[sb->ndim - 2] : sb->d[sb->ndim - 1];
    if (ak != bk)
        return oc_g_failf(g, OC_ERR_SHAPE, "matmul: inner dims differ: %s (K %lld%s) x %s "
                          "(K %lld%s)", ab, (long long)ak, trans_a ? ", transposed" : "", bb,
                          (long long)bk, trans_b ? ", transposed" : "");
    if (am > INT32_MAX || bn > INT32_MAX || ak > INT32_MAX)
        return oc_g_failf(g, OC_ERR_SHAPE, "matmul: %s x %s too large", ab, bb);
    /* leading dims: equal, or one side has none (broadcast with stride 0) */
    int64_t batch_a = 1, batch_b = 1;
    for (int i = 0; i < sa->ndim - 2; i++) batch_a *= sa->d[i];
    for (int i = 0; i < sb->ndim - 2; i++) batch_b *= sb->d[i];
    oc_shape os;
    int64_t batch;
    if (sa->ndim == sb->ndim) {
        for (int i = 0; i < sa->ndim - 2; i++)
            if (sa->d[i] != sb->d[i])
                return oc_g_failf(g, OC_ERR_SHAPE, "matmul: leading dims differ: %s x %s", ab,
                                  bb);
        os = *sa;
        batch = batch_a;
    } else if (sb->ndim == 2) {
        os = *sa;
        batch = batch_a;
    } else if (sa->ndim == 2) {
        os = *sb;
        batch = batch_b;
    } else {
        return oc_g_failf(g, OC_ERR_SHAPE, "matmul: leading dims differ: %s x %s", ab, bb);
    }
    if (batch > INT32_MAX) return oc_g_failf(g, OC_ERR_SHAPE, "matmul: batch too large");
    os.d[os.ndim - 2] = am;
    os.d[os.ndim - 1] = bn;
    matmul_params p;
    memset(&p, 0, sizeof p);
    p.batch = (int)batch;
    p.ta = trans_a ? 1 : 0;
    p.tb = trans_b ? 1 : 0;
    p.m = (int)am;
    p.n = (int)bn;
    p.k = (int)ak;
    p.lda = sa->d[sa->ndim - 1];
    p.ldb = sb->d[sb->ndim - 1];
    p.sa = sa->ndim == 2 ? 0 : am * ak;
    p.sb = sb->ndim == 2 ? 0 : bk * bn;
    oc_tid ins[2] = {a, b};
    return oc_g_add_node(g, "matmul", ins, 2, os, exec_matmul, scratch_matmul, &p, sizeof p,
                         2.0 * (double)batch * (double)am * (double)bn * (double)ak, 0);
}

/* ---------------------------------------------------------------- concat -------------- */

typedef struct {
    int n;
    int64_t outer;
    int64_t lens[]; /* n */
} concat_params;

static void exec_concat(const oc_ctx *ctx, const oc_gnode *n, const float *const *ins,
                        const oc_shape *is, float *out, const oc_shape *os)
{
    (void)is;
    (void)os;
    const concat_params *p = n->params;
    oc_concat(ctx, ins, p->lens, p->n, p->outer, out);
}

oc_tid oc_g_concat(oc_graph *g, const oc_tid *xs, int n, int axis)
{
    if (!ok(g)) return OC_NONE;
    if (!xs || n < 1 || n > 4096)
        return oc_g_failf(g, OC_ERR_INVALID_ARG, "concat: bad input list (%d inputs)", n);
    for (int i = 0; i < n; i++)
        if (!oc_g_check_tid(g, xs[i], "concat")) return OC_NONE;
    const oc_shape *s0 = &g->t[xs[0]].shape;
    char b0[2 * SB], bi[2 * SB];
    int ax = norm_axis(axis, s0->ndim);
    if (ax < 0)
        return oc_g_failf(g, OC_ERR_SHAPE, "concat: axis %d out of range for input 0 %s", axis,
                          tdesc(g, xs[0], b0, sizeof b0));
    oc_shape os = *s0;
    int64_t total = 0;
    for (int i = 0; i < n; i++) {
        const oc_shape *si = &g->t[xs[i]].shape;
        int same = si->ndim == s0->ndim;
        for (int k = 0; same && k < s0->ndim; k++)
            if (k != ax && si->d[k] != s0->d[k]) same = 0;
        if (!same)
            return oc_g_failf(g, OC_ERR_SHAPE, "concat along axis %d: input %d %s does not match "
                              "input 0 %s outside the axis", axis, i,
                              tdesc(g, xs[i], bi, sizeof bi), tdesc(g, xs[0], b0, sizeof b0));
        total += si->d[ax];
    }
    os.d[ax] = total;
    size_t psize = sizeof(concat_params) + (size_t)n * sizeof(int64_t);
    concat_params *p = oc_calloc(1, psize);
    if (!p) return oc_g_failf(g, OC_ERR_NOMEM, "concat: out of memory");
    p->n = n;
    p->outer = 1;
    int64_t inner = 1;
    for (int k = 0; k < ax; k++) p->outer *= s0->d[k];
    for (int k = ax + 1; k < s0->ndim; k++) inner *= s0->d[k];
    for (int i = 0; i < n; i++) p->lens[i] = g->t[xs[i]].shape.d[ax] * inner;
    oc_tid id = oc_g_add_node(g, "concat", xs, n, os, exec_concat, NULL, p, psize, 0.0, 0);
    oc_free(p);
    return id;
}

/* ---------------------------------------------------------------- permute ------------- */

typedef struct {
    int ndim;
    int perm[OC_MAX_DIMS];
    int64_t shape[OC_MAX_DIMS];
} permute_params;

static void exec_permute(const oc_ctx *ctx, const oc_gnode *n, const float *const *ins,
                         const oc_shape *is, float *out, const oc_shape *os)
{
    (void)is;
    (void)os;
    const permute_params *p = n->params;
    oc_permute(ctx, ins[0], p->shape, p->ndim, p->perm, out);
}

oc_tid oc_g_permute(oc_graph *g, oc_tid x, const int *perm)
{
    if (!ok(g) || !oc_g_check_tid(g, x, "permute")) return OC_NONE;
    const oc_shape *xs = &g->t[x].shape;
    char xb[2 * SB];
    if (!perm) return oc_g_failf(g, OC_ERR_INVALID_ARG, "permute: NULL perm");
    permute_params p;
    memset(&p, 0, sizeof p);
    p.ndim = xs->ndim;
    int seen[OC_MAX_DIMS] = {0};
    oc_shape os;
    os.ndim = xs->ndim;
    int identity = 1;
    for (int i = 0; i < xs->ndim; i++) {
        int a = perm[i];
        if (a < 0 || a >= xs->ndim || seen[a])
            return oc_g_failf(g, OC_ERR_INVALID_ARG, "permute: perm is not a permutation of "
                              "the %d dims of %s (entry %d = %d)", xs->ndim,
                              tdesc(g, x, xb, sizeof xb), i, a);
        seen[a] = 1;
        p.perm[i] = a;
        p.shape[i] = xs->d[i];
        os.d[i] = xs->d[a];
        if (a != i) identity = 0;
    }
    if (identity) return oc_g_add_view(g, x, os, 0);
    return oc_g_add_node(g, "permute", &x, 1, os, exec_permute, NULL, &p, sizeof p, 0.0, 0);
}

/* ---------------------------------------------------------------- attention ----------- */

typedef struct {
    oc_attn_desc d;
    int has_bias;
} attn_params;

static void exec_attention(const oc_ctx *ctx, const oc_gnode *n, const float *const *ins,
                           const oc_shape *is, float *out, const oc_shape *os)
{
    (void)is;
    (void)os;
    const attn_params *p = n->params;
    oc_attn_desc d = p->d;
    if (p->has_bias) d.bias = ins[3];
    oc_attention(ctx, &d, ins[0], ins[1], ins[2], out);
}

static size_t scratch_attention(const oc_gnode *n, const oc_shape *is, const oc_shape *os,
                                oc_isa isa, int nthreads)
{
    (void)is;
    (void)os;
    const attn_params *p = n->params;
    return oc_attention_scratch_bytes(&p->d, isa, nthreads);
}

/* largest element index addressed by strides over counts; -1 on a negative stride */
static int64_t max_index(const int64_t *cnt, const int64_t *str, int n)
{
    int64_t m = 0;
    for (int i = 0; i < n; i++) {
        if (str[i] < 0) return -1;
        int64_t t;
        if (__builtin_mul_overflow(cnt[i] - 1, str[i], &t) || __builtin_add_overflow(m, t, &m))
            return -1;
    }
    return m;
}

oc_tid oc_g_attention(oc_graph *g, oc_tid q, oc_tid k, oc_tid v, oc_tid bias,
                      const oc_attn_desc *d, oc_shape out_shape)
{
    if (!ok(g) || !oc_g_check_tid(g, q, "attention") || !oc_g_check_tid(g, k, "attention") ||
        !oc_g_check_tid(g, v, "attention"))
        return OC_NONE;
    if (bias != OC_NONE && !oc_g_check_tid(g, bias, "attention bias")) return OC_NONE;
    char qb[2 * SB], tb[2 * SB], ob[SB];
    tdesc(g, q, qb, sizeof qb);
    if (!d) return oc_g_failf(g, OC_ERR_INVALID_ARG, "attention on q %s: NULL desc", qb);
    if (d->batch < 1 || d->heads < 1 || d->lq < 1 || d->lk < 1 || d->d < 1 || d->dv < 1 ||
        !isfinite(d->scale))
        return oc_g_failf(g, OC_ERR_INVALID_ARG, "attention on q %s: bad desc (batch %d heads %d "
                          "lq %d lk %d d %d dv %d)", qb, d->batch, d->heads, d->lq, d->lk, d->d,
                          d->dv);
    if (!oc_shape_valid(&out_shape))
        return oc_g_failf(g, OC_ERR_SHAPE, "attention on q %s: bad output shape %s", qb,
                          oc_shape_str(&out_shape, ob, sizeof ob));
    struct {
        const char *what;
        oc_tid t;
        int64_t cnt[4], str[4];
    } chk[5] = {
        {"q", q, {d->batch, d->heads, d->lq, d->d}, {d->q_sb, d->q_sh, d->q_st, d->q_sd}},
        {"k", k, {d->batch, d->heads, d->lk, d->d}, {d->k_sb, d->k_sh, d->k_st, d->k_sd}},
        {"v", v, {d->batch, d->heads, d->lk, d->dv}, {d->v_sb, d->v_sh, d->v_st, d->v_sd}},
        {"o", OC_NONE, {d->batch, d->heads, d->lq, d->dv}, {d->o_sb, d->o_sh, d->o_st, d->o_sd}},
        {"bias", bias, {d->batch, d->heads, d->lq, d->lk},
         {d->bias_sb, d->bias_sh, d->bias_sq, d->bias_sk}},
    };
    for (int i = 0; i < 5; i++) {
        if (i == 4 && bias == OC_NONE) break;
        int64_t numel = chk[i].t == OC_NONE ? oc_shape_numel(&out_shape)
                                            : oc_shape_numel(&g->t[chk[i].t].shape);
        int64_t mi = max_index(chk[i].cnt, chk[i].str, 4);
        if (mi < 0 || mi >= numel) {
            if (chk[i].t == OC_NONE)
                snprintf(tb, sizeof tb, "output %s", oc_shape_str(&out_shape, ob, sizeof ob));
            else
                tdesc(g, chk[i].t, tb, sizeof tb);
            return oc_g_failf(g, OC_ERR_SHAPE, "attention (batch %d heads %d lq %d lk %d d %d dv "
                              "%d): the %s strides address element %lld, outside %s (%lld "
                              "elements)", d->batch, d->heads, d->lq, d->lk, d->d, d->dv,
                              chk[i].what, (long long)mi, tb, (long long)numel);
        }
    }
    attn_params p;
    memset(&p, 0, sizeof p);
    p.d = *d;
    oc_tid ins[4] = {q, k, v, bias};
    int nin = 3;
    if (bias != OC_NONE) {
        p.has_bias = 1;
        p.d.bias = NULL;
        nin = 4;
    }
    double flops = 2.0 * d->batch * d->heads * (double)d->lq * d->lk * (double)(d->d + d->dv);
    return oc_g_add_node(g, "attention", ins, nin, out_shape, exec_attention, scratch_attention,
                         &p, sizeof p, flops, 0);
}

/* ---------------------------------------------------------------- ms_deform_attn ------ */

#define MSDA_MAX_LEVELS 16

typedef struct {
    int nlevels, heads, npoints;
    int64_t level_hw[2 * MSDA_MAX_LEVELS];
} msda_params;

static void exec_msda(const oc_ctx *ctx, const oc_gnode *n, const float *const *ins,
                      const oc_shape *is, float *out, const oc_shape *os)
{
    (void)os;
    const msda_params *p = n->params;
    int dh = (int)(is[0].d[2] / p->heads);
    oc_ms_deform_attn(ctx, ins[0], p->level_hw, p->nlevels, (int)is[0].d[0], p->heads, dh,
                      ins[1], ins[2], (int)is[1].d[1], p->npoints, out);
}

static int64_t trailing_numel(const oc_shape *s, int from)
{
    int64_t m = 1;
    for (int i = from; i < s->ndim; i++) m *= s->d[i];
    return m;
}

oc_tid oc_g_ms_deform_attn(oc_graph *g, oc_tid value, oc_tid loc, oc_tid attw,
                           const int64_t *level_hw, int nlevels, int heads, int npoints)
{
    if (!ok(g) || !oc_g_check_tid(g, value, "ms_deform_attn") ||
        !oc_g_check_tid(g, loc, "ms_deform_attn") || !oc_g_check_tid(g, attw, "ms_deform_attn"))
        return OC_NONE;
    char vb[2 * SB], lb[2 * SB], ab[2 * SB];
    tdesc(g, value, vb, sizeof vb);
    tdesc(g, loc, lb, sizeof lb);
    tdesc(g, attw, ab, sizeof ab);
    if (!level_hw || nlevels < 1 || nlevels > MSDA_MAX_LEVELS || heads < 1 || npoints < 1)
        return oc_g_failf(g, OC_ERR_INVALID_ARG, "ms_deform_attn on value %s: bad levels (%d, "
                          "max %d), heads %d or points %d", vb, nlevels, MSDA_MAX_LEVELS, heads,
                          npoints);
    msda_params p;
    memset(&p, 0, sizeof p);
    p.nlevels = nlevels;
    p.heads = heads;
    p.npoints = npoints;
    int64_t s = 0;
    for (int l = 0; l < nlevels; l++) {
        if (level_hw[2 * l] < 1 || level_hw[2 * l + 1] < 1 || level_hw[2 * l] > INT32_MAX ||
            level_hw[2 * l + 1] > INT32_MAX)
            return oc_g_failf(g, OC_ERR_INVALID_ARG, "ms_deform_attn on value %s: level %d has "
                              "size %lldx%lld", vb, l, (long long)level_hw[2 * l],
                              (long long)level_hw[2 * l + 1]);
        p.level_hw[2 * l] = level_hw[2 * l];
        p.level_hw[2 * l + 1] = level_hw[2 * l + 1];
        s += level_hw[2 * l] * level_hw[2 * l + 1];
    }
    const oc_shape *vs = &g->t[value].shape, *ls = &g->t[loc].shape, *as = &g->t[attw].shape;
    if (vs->ndim != 3 || vs->d[1] != s || vs->d[2] % heads != 0 || !dims_fit_int(vs))
        return oc_g_failf(g, OC_ERR_SHAPE, "ms_deform_attn: value %s is not [N, %lld, heads*dh] "
                          "with %d heads", vb, (long long)s, heads);
    int64_t per = (int64_t)heads * nlevels * npoints;
    if (ls->ndim < 2 || ls->d[0] != vs->d[0] || ls->d[1] > INT32_MAX ||
        trailing_numel(ls, 2) != 2 * per)
        return oc_g_failf(g, OC_ERR_SHAPE, "ms_deform_attn: loc %s is not [%lld, Lq, ...] with "
                          "%lld values per query (heads %d x levels %d x points %d x 2)", lb,
                          (long long)vs->d[0], (long long)(2 * per), heads, nlevels, npoints);
    if (as->ndim < 2 || as->d[0] != ls->d[0] || as->d[1] != ls->d[1] ||
        trailing_numel(as, 2) != per)
        return oc_g_failf(g, OC_ERR_SHAPE, "ms_deform_attn: attention weights %s are not "
                          "[%lld, %lld, ...] with %lld values per query (loc %s)", ab,
                          (long long)ls->d[0], (long long)ls->d[1], (long long)per, lb);
    oc_shape os = oc_shape3(vs->d[0], ls->d[1], vs->d[2]);
    oc_tid ins[3] = {value, loc, attw};
    double flops = 2.0 * 4.0 * (double)vs->d[0] * (double)ls->d[1] * (double)per *
                   (double)(vs->d[2] / heads);
    return oc_g_add_node(g, "ms_deform_attn", ins, 3, os, exec_msda, NULL, &p, sizeof p, flops,
                         0);
}

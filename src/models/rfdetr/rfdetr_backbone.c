/* rfdetr_backbone.c -- the windowed DINOv2 backbone and the P4 projector of RF-DETR.
 *
 * Facts about the reference (rfdetr/models/backbone/dinov2_with_windowed_attn.py, projector.py
 * at 35ac6ab) this follows:
 *   - patch embedding: conv p x p / p; tokens row-major; CLS token prepended; position
 *     embeddings added, the patch part resampled from the pretrained g x g grid to the run's
 *     h x w grid with F.interpolate(bicubic, antialias=True, align_corners=False) (PIL-style
 *     cubic, a = -0.5, support widened by the scale when downscaling, weights normalised);
 *     used as is when the grid already matches.
 *   - windows: the h x w tokens are cut into nw x nw windows (row-major window order); every
 *     window gets its own copy of (cls + pos[0]) in front: [N*nw^2, 1 + h*w/nw^2, C].
 *   - block: x += ls1 * attn(LN1(x)); x += ls2 * fc2(GELU(fc1(LN2(x)))), LN eps 1e-6, scale
 *     1/sqrt(head dim). Windowed blocks attend within each window; global blocks attend over
 *     all windows of an image as one sequence, the nw^2 CLS copies included.
 *   - taps: the state after block s-1 for stage s -> the shared LayerNorm -> CLS rows
 *     dropped -> windows undone -> [N, C, h, w].
 *   - projector (P4 only): C2f(n=3, no shortcut) whose ConvX are conv (no bias) -> LayerNorm
 *     over channels (eps 1e-6) -> SiLU: cv1 1x1 splits into a, b; y_{k+1} = m_k(y_k) from b;
 *     cv2 1x1 over cat(a, b, y...); then a channel LayerNorm.
 *
 * Attention runs on the tiled kernel reading q/k/v in place from the fused qkv linear's
 * output: one window (or one image for global blocks) and one head at a time, never a full
 * score matrix. */
#include "parallel.h"
#include "rfdetr.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ---------------------------------------------------------------- AA bicubic ---------- */

static double cubic_aa(double x)
{
    const double a = -0.5;
    x = fabs(x);
    if (x < 1.0) return ((a + 2.0) * x - (a + 3.0)) * x * x + 1.0;
    if (x < 2.0) return (((x - 5.0) * x + 8.0) * x - 4.0) * a;
    return 0.0;
}

/* taps of output index i: first input index *lo, count returned, weights in w (<= cap) */
static int aa_taps(int n_in, int n_out, int i, int *lo, double *w, int cap)
{
    double scale = (double)n_in / n_out;
    double support = scale >= 1.0 ? 2.0 * scale : 2.0;
    double inv = scale >= 1.0 ? 1.0 / scale : 1.0;
    double c = scale * (i + 0.5);
    int a = (int)(c - support + 0.5), b = (int)(c + support + 0.5);
    if (a < 0) a = 0;
    if (b > n_in) b = n_in;
    int n = b - a;
    if (n > cap) n = cap;
    double s = 0.0;
    for (int j = 0; j < n; j++) {
        w[j] = cubic_aa((a + j - c + 0.5) * inv);
        s += w[j];
    }
    for (int j = 0; j < n; j++) w[j] = s != 0.0 ? w[j] / s : 0.0;
    *lo = a;
    return n;
}

static int aa_cap(int n_in, int n_out)
{
    double scale = (double)n_in / n_out;
    double support = scale >= 1.0 ? 2.0 * scale : 2.0;
    return (int)ceil(2.0 * support) + 2;
}

void rf_aa_bicubic_matrix(int n_in, int n_out, double *m)
{
    int cap = aa_cap(n_in, n_out);
    double w[cap];
    memset(m, 0, (size_t)n_out * n_in * sizeof *m);
    for (int i = 0; i < n_out; i++) {
        int lo;
        int n = aa_taps(n_in, n_out, i, &lo, w, cap);
        for (int j = 0; j < n; j++) m[(size_t)i * n_in + lo + j] = w[j];
    }
}

/* ---------------------------------------------------------------- position embedding -- */

/* params: header, then per output row (h) and column (w): lo[], cnt[], weights[cap] */
typedef struct {
    const float *pos;   /* [1 + g*g][C] */
    int g, C, h, w, cap;
} pos_params;

static void pos_exec(const oc_ctx *ctx, const void *params, const float *const *ins,
                     const oc_shape *is, int nin, float *out, const oc_shape *os)
{
    (void)ctx, (void)ins, (void)is, (void)nin, (void)os;
    const pos_params *p = params;
    const int C = p->C, g = p->g;
    memcpy(out, p->pos, (size_t)C * sizeof(float));
    float *o = out + C;
    if (p->h == g && p->w == g) {
        memcpy(o, p->pos + C, (size_t)g * g * C * sizeof(float));
        return;
    }
    const int *ylo = (const int *)(p + 1), *ycnt = ylo + p->h;
    const int *xlo = ycnt + p->h, *xcnt = xlo + p->w;
    const float *yw = (const float *)(xcnt + p->w), *xw = yw + (size_t)p->h * p->cap;
    const float *src = p->pos + C;
    for (int y = 0; y < p->h; y++)
        for (int x = 0; x < p->w; x++) {
            float *d = o + ((size_t)y * p->w + x) * C;
            for (int c = 0; c < C; c++) d[c] = 0.0f;
            for (int a = 0; a < ycnt[y]; a++) {
                float wy = yw[(size_t)y * p->cap + a];
                const float *row = src + (size_t)(ylo[y] + a) * g * C;
                for (int b = 0; b < xcnt[x]; b++) {
                    float wt = wy * xw[(size_t)x * p->cap + b];
                    const float *s = row + (size_t)(xlo[x] + b) * C;
                    for (int c = 0; c < C; c++) d[c] += wt * s[c];
                }
            }
        }
}

static oc_tid pos_embed(const rf_model *M, oc_graph *g, oc_tid dep, int h, int w)
{
    const rf_cfg *c = &M->cfg;
    int cap = aa_cap(c->pes, h) > aa_cap(c->pes, w) ? aa_cap(c->pes, h) : aa_cap(c->pes, w);
    size_t bytes = sizeof(pos_params) + (size_t)2 * (h + w) * sizeof(int) +
                   (size_t)(h + w) * cap * sizeof(float);
    pos_params *p = oc_calloc(1, bytes);
    if (!p) {
        oc_graph_fail(g, oc_error(OC_ERR_NOMEM, "rfdetr: out of memory"));
        return OC_NONE;
    }
    p->pos = M->pos, p->g = c->pes, p->C = c->C, p->h = h, p->w = w, p->cap = cap;
    int *ylo = (int *)(p + 1), *ycnt = ylo + h, *xlo = ycnt + h, *xcnt = xlo + w;
    float *yw = (float *)(xcnt + w), *xw = yw + (size_t)h * cap;
    double tmp[cap];
    for (int i = 0; i < h; i++) {
        ycnt[i] = aa_taps(c->pes, h, i, &ylo[i], tmp, cap);
        for (int j = 0; j < ycnt[i]; j++) yw[(size_t)i * cap + j] = (float)tmp[j];
    }
    for (int i = 0; i < w; i++) {
        xcnt[i] = aa_taps(c->pes, w, i, &xlo[i], tmp, cap);
        for (int j = 0; j < xcnt[i]; j++) xw[(size_t)i * cap + j] = (float)tmp[j];
    }
    double flops = 2.0 * h * w * c->C * 16.0;
    oc_tid t = oc_g_custom(g, "rfdetr_pos_embed", &dep, 1,
                           oc_shape3(1, 1 + (int64_t)h * w, c->C), pos_exec, p, bytes, flops);
    oc_free(p);
    return t;
}

/* ---------------------------------------------------------------- windows ------------- */

typedef struct {
    const float *cls;
    int C, h, w, nw;
} win_params;

/* ins: patches [N, C, h, w], pos [1, 1 + h*w, C] -> [N*nw^2, 1 + h*w/nw^2, C] */
static void window_exec(const oc_ctx *ctx, const void *params, const float *const *ins,
                        const oc_shape *is, int nin, float *out, const oc_shape *os)
{
    (void)ctx, (void)nin, (void)os;
    const win_params *p = params;
    const int C = p->C, h = p->h, w = p->w, nw = p->nw, hw = h / nw, ww = w / nw;
    const int64_t N = is[0].d[0], L = 1 + (int64_t)hw * ww, T = (int64_t)h * w;
    const float *pe = ins[0], *pos = ins[1];
    for (int64_t n = 0; n < N; n++)
        for (int wy = 0; wy < nw; wy++)
            for (int wx = 0; wx < nw; wx++) {
                float *o = out + ((n * nw + wy) * nw + wx) * L * C;
                for (int c = 0; c < C; c++) o[c] = p->cls[c] + pos[c];
                for (int c = 0; c < C; c++) {
                    const float *src = pe + (n * C + c) * T;
                    for (int yy = 0; yy < hw; yy++) {
                        int y = wy * hw + yy;
                        for (int xx = 0; xx < ww; xx++) {
                            int x = wx * ww + xx;
                            o[(1 + (int64_t)yy * ww + xx) * C + c] =
                                src[(int64_t)y * w + x] + pos[(1 + (int64_t)y * w + x) * C + c];
                        }
                    }
                }
            }
}

/* ---------------------------------------------------------------- taps ---------------- */

typedef struct {
    const float *gamma, *beta;
    float eps;
    int C, h, w, nw;
} tap_params;

typedef struct {
    const tap_params *p;
    const float *const *ins;
    float *out;
    int C;
    int w;
    int nw;
    int hw;
    int ww;
    int64_t L;
    int64_t T;
} tap_rows_job;

static void tap_rows(void *arg, int64_t first, int64_t last, int tid)
{
    const tap_rows_job *job = arg;
    const tap_params *p = job->p;
    const float *const *ins = job->ins;
    float *out = job->out;
    int C = job->C;
    int w = job->w;
    int nw = job->nw;
    int hw = job->hw;
    int ww = job->ww;
    int64_t L = job->L;
    int64_t T = job->T;
    (void)tid;
    for (int64_t r = first; r < last; r++) {
        int64_t win = r / (L - 1), t = r % (L - 1);
        int64_t n = win / (nw * nw), wi = win % (nw * nw);
        int64_t y = (wi / nw) * hw + t / ww, x = (wi % nw) * ww + t % ww;
        const float *v = ins[0] + (win * L + 1 + t) * C;
        double s = 0.0, s2 = 0.0;
        for (int c = 0; c < C; c++) s += v[c];
        double mean = s / C;
        for (int c = 0; c < C; c++) {
            double d = v[c] - mean;
            s2 += d * d;
        }
        float rstd = (float)(1.0 / sqrt(s2 / C + p->eps)), fm = (float)mean;
        float *o = out + n * C * T + y * w + x;
        for (int c = 0; c < C; c++) o[c * T] = (v[c] - fm) * rstd * p->gamma[c] + p->beta[c];
    }
}

/* windowed state [N*nw^2, L, C] -> LayerNorm per token -> CLS dropped -> [N, C, h, w] */
static void tap_exec(const oc_ctx *ctx, const void *params, const float *const *ins,
                     const oc_shape *is, int nin, float *out, const oc_shape *os)
{
    (void)is, (void)nin;
    const tap_params *p = params;
    const int C = p->C, h = p->h, w = p->w, nw = p->nw, hw = h / nw, ww = w / nw;
    const int64_t N = os->d[0], L = 1 + (int64_t)hw * ww, T = (int64_t)h * w;
    const int64_t rows = N * nw * nw * (L - 1);
    tap_rows_job job = {p, ins, out, C, w, nw, hw, ww, L, T};
    oc_parallel_for(ctx->nthreads, rows, 0, tap_rows, &job);
}

/* ---------------------------------------------------------------- channel LN (+SiLU) -- */

typedef struct {
    const float *gamma, *beta;
    float eps;
    int silu;
} cln_params;

static void cln_exec(const oc_ctx *ctx, const void *params, const float *const *ins,
                     const oc_shape *is, int nin, float *out, const oc_shape *os)
{
    (void)nin, (void)os;
    const cln_params *p = params;
    int64_t hw = is[0].d[2] * is[0].d[3];
    oc_layernorm_nchw(ctx, ins[0], out, (int)is[0].d[0], (int)is[0].d[1], hw, p->gamma, p->beta,
                      p->eps);
    if (p->silu)
        oc_activation(ctx, OC_ACT_SILU, out, out, (size_t)oc_shape_numel(&is[0]));
}

static oc_tid chan_ln(oc_graph *g, oc_tid x, const float *gamma, const float *beta, int silu)
{
    cln_params p = {gamma, beta, 1e-6f, silu};
    oc_shape s = oc_g_shape(g, x);
    return oc_g_custom(g, silu ? "rfdetr_ln2d_silu" : "rfdetr_ln2d", &x, 1, s, cln_exec, &p,
                       sizeof p, 10.0 * (double)oc_shape_numel(&s));
}

static oc_tid convx(oc_graph *g, oc_tid x, const oc_conv2d_weights *w, int cin, int cout, int k,
                    const float *gamma, const float *beta)
{
    oc_conv2d_desc d;
    memset(&d, 0, sizeof d);
    d.cin = cin, d.cout = cout, d.kh = d.kw = k, d.groups = 1;
    d.stride_h = d.stride_w = 1;
    d.pad_t = d.pad_l = d.pad_b = d.pad_r = k / 2;
    d.dil_h = d.dil_w = 1;
    d.act = OC_ACT_NONE;
    oc_tid y = oc_g_conv2d(g, x, &d, w, OC_NONE);
    return chan_ln(g, y, gamma, beta, 1);
}

/* ---------------------------------------------------------------- blocks -------------- */

/* h [B2, L, C] (B2 = N*nw^2); windowed: attention per window, else per image */
static oc_tid block(const rf_model *M, oc_graph *g, oc_tid h, int i, int n, int L)
{
    const rf_cfg *c = &M->cfg;
    const rf_block *b = &M->blocks[i];
    const int C = c->C, nw2 = c->nw * c->nw, dh = C / c->heads;
    const int64_t rows = (int64_t)n * nw2 * L;
    oc_tid y = oc_g_layernorm(g, h, b->ln1_g, b->ln1_b, c->dino_eps);
    oc_tid qkv = oc_g_linear(g, y, b->qkv_w, b->qkv_b, C, 3 * C, OC_ACT_NONE);
    oc_tid flat = oc_g_reshape(g, qkv, oc_shape2(1, rows * 3 * C));
    oc_tid kv = oc_g_slice(g, flat, 1, C, rows * 3 * C);
    oc_tid vv = oc_g_slice(g, flat, 1, 2 * C, rows * 3 * C);
    const int win = c->windowed[i];
    const int64_t seq = win ? L : (int64_t)nw2 * L;
    oc_attn_desc d;
    memset(&d, 0, sizeof d);
    d.batch = (int)(rows / seq);
    d.heads = c->heads;
    d.lq = d.lk = (int)seq;
    d.d = d.dv = dh;
    d.scale = 1.0f / sqrtf((float)dh);
    d.q_sb = d.k_sb = d.v_sb = seq * 3 * C;
    d.q_sh = d.k_sh = d.v_sh = dh;
    d.q_st = d.k_st = d.v_st = 3 * C;
    d.q_sd = d.k_sd = d.v_sd = 1;
    d.o_sb = seq * C, d.o_sh = dh, d.o_st = C, d.o_sd = 1;
    oc_tid a = oc_g_attention(g, flat, kv, vv, OC_NONE, &d, oc_shape3((int64_t)n * nw2, L, C));
    a = oc_g_linear(g, a, b->proj_w, b->proj_b, C, C, OC_ACT_NONE);
    h = oc_g_binary(g, OC_BIN_ADD, h, a);
    y = oc_g_layernorm(g, h, b->ln2_g, b->ln2_b, c->dino_eps);
    y = oc_g_linear(g, y, b->fc1_w, b->fc1_b, C, c->mlp, OC_ACT_GELU);
    y = oc_g_linear(g, y, b->fc2_w, b->fc2_b, c->mlp, C, OC_ACT_NONE);
    return oc_g_binary(g, OC_BIN_ADD, h, y);
}

oc_tid rf_build_backbone(const rf_model *M, oc_graph *g, oc_tid images, int n, int H, int W)
{
    const rf_cfg *c = &M->cfg;
    const int C = c->C, h = H / c->patch, w = W / c->patch, nw = c->nw;
    const int L = 1 + (h / nw) * (w / nw);

    oc_conv2d_desc pd;
    memset(&pd, 0, sizeof pd);
    pd.cin = 3, pd.cout = C, pd.kh = pd.kw = c->patch, pd.groups = 1;
    pd.stride_h = pd.stride_w = c->patch;
    pd.dil_h = pd.dil_w = 1;
    pd.act = OC_ACT_NONE;
    oc_tid pe = oc_g_conv2d(g, images, &pd, M->patch, OC_NONE);
    oc_tid pos = pos_embed(M, g, pe, h, w);
    oc_g_name(g, pos, "dinov2_pos_embed");
    win_params wp = {M->cls, C, h, w, nw};
    oc_tid ins[2] = {pe, pos};
    oc_tid x = oc_g_custom(g, "rfdetr_windows", ins, 2, oc_shape3((int64_t)n * nw * nw, L, C),
                           window_exec, &wp, sizeof wp, 0.0);
    oc_g_name(g, x, "dinov2_embeddings");

    oc_tid taps[RF_MAX_TAPS];
    for (int k = 0; k < c->ntaps; k++) taps[k] = OC_NONE;
    tap_params tp = {M->ln_g, M->ln_b, c->dino_eps, C, h, w, nw};
    for (int i = 0; i <= c->nrun; i++) {
        for (int k = 0; k < c->ntaps; k++)
            if (c->taps[k] == i) {
                taps[k] = oc_g_custom(g, "rfdetr_tap", &x, 1, oc_shape4(n, C, h, w), tap_exec,
                                      &tp, sizeof tp, 10.0 * (double)n * h * w * C);
                oc_g_name(g, taps[k], "backbone_feat%d", k);
            }
        if (i == c->nrun) break;
        x = block(M, g, x, i, n, L);
        oc_g_name(g, x, "dinov2_layer%d", i);
    }

    /* projector */
    const int ch = c->c2f_hidden, nb = c->nbottleneck;
    oc_tid cat = c->ntaps == 1 ? taps[0] : oc_g_concat(g, taps, c->ntaps, 1);
    oc_tid y = convx(g, cat, M->cv1, c->ntaps * C, 2 * ch, 1, M->cv1_g, M->cv1_b);
    oc_tid parts[10];
    parts[0] = y;
    oc_tid cur = oc_g_slice(g, y, 1, ch, 2 * ch);
    for (int j = 0; j < nb; j++) {
        cur = convx(g, cur, M->m[j][0], ch, ch, 3, M->m_g[j][0], M->m_b[j][0]);
        cur = convx(g, cur, M->m[j][1], ch, ch, 3, M->m_g[j][1], M->m_b[j][1]);
        parts[1 + j] = cur;
    }
    oc_tid all = nb ? oc_g_concat(g, parts, 1 + nb, 1) : y;
    y = convx(g, all, M->cv2, (2 + nb) * ch, c->D, 1, M->cv2_g, M->cv2_b);
    y = chan_ln(g, y, M->out_g, M->out_b, 0);
    oc_g_name(g, y, "projector_out");
    return y;
}

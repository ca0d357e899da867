/* rfdetr_decoder.c -- RF-DETR's two-stage selection and LW-DETR deformable decoder.
 *
 * Facts about the reference (rfdetr/models/transformer.py, lwdetr.py,
 * ops/modules/ms_deform_attn.py at 35ac6ab; two_stage, bbox_reparam, lite_refpoint_refine,
 * inference uses group 0 only) this follows:
 *   - proposals per memory position (x, y) of the h x w map: cx = (x+.5)/w, cy = (y+.5)/h,
 *     w = h = 0.05; a proposal with a coordinate outside (0.01, 0.99) is invalid: it becomes
 *     0 and its memory row is zeroed.
 *   - enc_memory = LN(enc_output(memory)) (eps 1e-5); logits = enc_out_class_embed; boxes =
 *     reparam(enc_out_bbox_embed(enc_memory), proposal) with reparam(d, p) = (d.xy * p.wh +
 *     p.xy, exp(d.wh) * p.wh); top-k (k = min(Q, h*w)) of the max logit (logit 0 included).
 *   - reference boxes of query q < k: reparam(refpoint_embed[q], selected box q); queries
 *     beyond k keep refpoint_embed[q]. Query features: query_feat[:Q] (not the memory).
 *   - query position: ref_point_head(sine(ref)) once for all layers (lite refine); sine parts
 *     (y, x, w, h), each D/2 values sin/cos of v * 2pi / 10000^(2 floor(i/2) / (D/2)).
 *   - layer (post-norm, eps 1e-5): tgt = norm1(tgt + MHA(q = k = tgt + qpos, v = tgt));
 *     query = tgt + qpos; loc = ref.xy + sampling_offsets(query) / P * ref.wh * 0.5;
 *     w = softmax over L*P of attention_weights(query); value = value_proj(memory) (no
 *     position); tgt = norm2(tgt + output_proj(deformable sampling)); tgt = norm3(tgt +
 *     linear2(relu(linear1(tgt)))).
 *   - heads on decoder.norm(last output): class_embed, reparam(bbox_embed(.), ref). */
#include "rfdetr.h"

#include <math.h>
#include <stdio.h>
#include <string.h>

#define DEC_EPS 1e-5f

/* ---------------------------------------------------------------- custom nodes -------- */

typedef struct {
    int h, w;
} prop_params;

static int prop_valid(const float *p)
{
    for (int k = 0; k < 4; k++)
        if (!(p[k] > 0.01f && p[k] < 0.99f)) return 0;
    return 1;
}

static void proposal(int h, int w, int64_t t, float *p)
{
    int y = (int)(t / w), x = (int)(t % w);
    p[0] = ((float)x + 0.5f) / (float)w;
    p[1] = ((float)y + 0.5f) / (float)h;
    p[2] = p[3] = 0.05f;
}

/* ins: memory [N, T, D] (only for the batch size) -> proposals [N, T, 4] */
static void prop_exec(const oc_ctx *ctx, const void *params, const float *const *ins,
                      const oc_shape *is, int nin, float *out, const oc_shape *os)
{
    (void)ctx, (void)ins, (void)is, (void)nin;
    const prop_params *p = params;
    const int64_t T = (int64_t)p->h * p->w;
    for (int64_t n = 0; n < os->d[0]; n++)
        for (int64_t t = 0; t < T; t++) {
            float *o = out + (n * T + t) * 4;
            proposal(p->h, p->w, t, o);
            if (!prop_valid(o)) o[0] = o[1] = o[2] = o[3] = 0.0f;
        }
}

/* memory rows of invalid proposals zeroed */
static void mask_exec(const oc_ctx *ctx, const void *params, const float *const *ins,
                      const oc_shape *is, int nin, float *out, const oc_shape *os)
{
    (void)ctx, (void)nin, (void)os;
    const prop_params *p = params;
    const int64_t N = is[0].d[0], T = is[0].d[1], D = is[0].d[2];
    for (int64_t n = 0; n < N; n++)
        for (int64_t t = 0; t < T; t++) {
            float pr[4];
            proposal(p->h, p->w, t, pr);
            const float *s = ins[0] + (n * T + t) * D;
            float *o = out + (n * T + t) * D;
            if (prop_valid(pr))
                memmove(o, s, (size_t)D * sizeof(float));
            else
                memset(o, 0, (size_t)D * sizeof(float));
        }
}

static void reparam(const float *d, const float *r, float *o)
{
    float cx = d[0] * r[2] + r[0], cy = d[1] * r[3] + r[1];
    float w = expf(d[2]) * r[2], h = expf(d[3]) * r[3];
    o[0] = cx, o[1] = cy, o[2] = w, o[3] = h;
}

/* ins: delta [N, R, 4], ref [N, R, 4] -> boxes [N, R, 4] */
static void reparam_exec(const oc_ctx *ctx, const void *params, const float *const *ins,
                         const oc_shape *is, int nin, float *out, const oc_shape *os)
{
    (void)ctx, (void)params, (void)is, (void)nin;
    int64_t rows = oc_shape_numel(os) / 4;
    for (int64_t r = 0; r < rows; r++) reparam(ins[0] + r * 4, ins[1] + r * 4, out + r * 4);
}

/* ins: logits [N, T, K] -> max over K [N, T] */
static void max_exec(const oc_ctx *ctx, const void *params, const float *const *ins,
                     const oc_shape *is, int nin, float *out, const oc_shape *os)
{
    (void)ctx, (void)params, (void)nin, (void)os;
    const int64_t rows = is[0].d[0] * is[0].d[1], K = is[0].d[2];
    for (int64_t r = 0; r < rows; r++) {
        const float *x = ins[0] + r * K;
        float m = x[0];
        for (int64_t k = 1; k < K; k++) m = x[k] > m ? x[k] : m;
        out[r] = m;
    }
}

/* ins: scores [N, T] -> indices of the k largest, descending (ties: lower index), as floats
 * [N, k]; a NaN score ranks last */
static void topk_exec(const oc_ctx *ctx, const void *params, const float *const *ins,
                      const oc_shape *is, int nin, float *out, const oc_shape *os)
{
    (void)ctx, (void)params, (void)nin;
    const int64_t N = is[0].d[0], T = is[0].d[1], k = os->d[1];
    for (int64_t n = 0; n < N; n++) {
        const float *s = ins[0] + n * T;
        float *o = out + n * k;
        /* selection by repeated scans keeps this allocation-free; k*T is ~3e5 here */
        float last = INFINITY;
        int64_t last_i = -1;
        for (int64_t j = 0; j < k; j++) {
            int64_t best = -1;
            float bv = 0.0f;
            for (int64_t t = 0; t < T; t++) {
                float v = s[t] != s[t] ? -INFINITY : s[t];
                /* after (last, last_i) in the order (value desc, index asc) */
                if (v > last || (v == last && t <= last_i)) continue;
                if (best < 0 || v > bv) best = t, bv = v;
            }
            if (best < 0) best = 0;
            o[j] = (float)best;
            last = bv, last_i = best;
        }
    }
}

/* ins: x [N, T, F], idx [N, k] (floats) -> [N, k, F] */
static void gather_exec(const oc_ctx *ctx, const void *params, const float *const *ins,
                        const oc_shape *is, int nin, float *out, const oc_shape *os)
{
    (void)ctx, (void)params, (void)nin;
    const int64_t N = is[0].d[0], T = is[0].d[1], F = is[0].d[2], k = os->d[1];
    for (int64_t n = 0; n < N; n++)
        for (int64_t j = 0; j < k; j++) {
            int64_t t = (int64_t)ins[1][n * k + j];
            if (t < 0 || t >= T) t = 0;
            memcpy(out + (n * k + j) * F, ins[0] + (n * T + t) * F, (size_t)F * sizeof(float));
        }
}

typedef struct {
    const float *refpoint; /* [>= Q][4] */
} initref_params;

/* ins: selected boxes [N, k, 4] -> reference boxes [N, Q, 4] */
static void initref_exec(const oc_ctx *ctx, const void *params, const float *const *ins,
                         const oc_shape *is, int nin, float *out, const oc_shape *os)
{
    (void)ctx, (void)nin;
    const initref_params *p = params;
    const int64_t N = os->d[0], Q = os->d[1], k = is[0].d[1];
    for (int64_t n = 0; n < N; n++)
        for (int64_t q = 0; q < Q; q++) {
            float *o = out + (n * Q + q) * 4;
            if (q < k)
                reparam(p->refpoint + q * 4, ins[0] + (n * k + q) * 4, o);
            else
                memcpy(o, p->refpoint + q * 4, 4 * sizeof(float));
        }
}

#define RF_MAX_HALF 1024
typedef struct {
    int half;                  /* D/2 values per coordinate */
    float dim_t[RF_MAX_HALF];  /* 10000^(2 floor(i/2) / half), as the reference computes it */
} sine_params;

/* ins: ref [N, Q, 4] -> [N, Q, 4 * half] in the order y, x, w, h */
static void sine_exec(const oc_ctx *ctx, const void *params, const float *const *ins,
                      const oc_shape *is, int nin, float *out, const oc_shape *os)
{
    (void)ctx, (void)nin, (void)os;
    const sine_params *p = params;
    const int half = p->half;
    const int64_t rows = is[0].d[0] * is[0].d[1];
    static const int order[4] = {1, 0, 2, 3};
    const float scale = 6.283185307179586f;
    for (int64_t r = 0; r < rows; r++)
        for (int part = 0; part < 4; part++) {
            float v = ins[0][r * 4 + order[part]] * scale;
            float *o = out + r * 4 * half + part * half;
            for (int i = 0; i + 1 < half; i += 2) {
                o[i] = sinf(v / p->dim_t[i]);
                o[i + 1] = cosf(v / p->dim_t[i + 1]);
            }
            if (half % 2) o[half - 1] = sinf(v / p->dim_t[half - 1]);
        }
}

typedef struct {
    const float *x; /* [rows][F] */
} tile_params;

/* ins: any tensor with the batch size first -> [N, rows, F] copies of x */
static void tile_exec(const oc_ctx *ctx, const void *params, const float *const *ins,
                      const oc_shape *is, int nin, float *out, const oc_shape *os)
{
    (void)ctx, (void)ins, (void)is, (void)nin;
    const tile_params *p = params;
    const int64_t per = os->d[1] * os->d[2];
    for (int64_t n = 0; n < os->d[0]; n++)
        memcpy(out + n * per, p->x, (size_t)per * sizeof(float));
}

typedef struct {
    int heads, levels, points;
} loc_params;

/* ins: offsets [N, Q, H*L*P*2], ref [N, Q, 4] -> locations [N, Q, H, L, P, 2] */
static void loc_exec(const oc_ctx *ctx, const void *params, const float *const *ins,
                     const oc_shape *is, int nin, float *out, const oc_shape *os)
{
    (void)ctx, (void)nin, (void)os;
    const loc_params *p = params;
    const int64_t rows = is[0].d[0] * is[0].d[1];
    const int per = p->heads * p->levels * p->points;
    const float inv = 1.0f / (float)p->points;
    for (int64_t r = 0; r < rows; r++) {
        const float *ref = ins[1] + r * 4;
        const float *off = ins[0] + r * per * 2;
        float *o = out + r * per * 2;
        for (int j = 0; j < per; j++) {
            o[2 * j] = ref[0] + off[2 * j] * inv * ref[2] * 0.5f;
            o[2 * j + 1] = ref[1] + off[2 * j + 1] * inv * ref[3] * 0.5f;
        }
    }
}

/* ---------------------------------------------------------------- graph --------------- */

static oc_tid mlp3(oc_graph *g, oc_tid x, const rf_mlp3 *m)
{
    x = oc_g_linear(g, x, m->w[0], m->b[0], m->in, m->hid, OC_ACT_RELU);
    x = oc_g_linear(g, x, m->w[1], m->b[1], m->hid, m->hid, OC_ACT_RELU);
    return oc_g_linear(g, x, m->w[2], m->b[2], m->hid, m->out, OC_ACT_NONE);
}

static oc_tid custom1(oc_graph *g, const char *op, oc_tid a, oc_shape s, oc_custom_fn fn,
                      const void *p, size_t ps)
{
    return oc_g_custom(g, op, &a, 1, s, fn, p, ps, 0.0);
}

static oc_tid custom2(oc_graph *g, const char *op, oc_tid a, oc_tid b, oc_shape s,
                      oc_custom_fn fn, const void *p, size_t ps)
{
    oc_tid ins[2] = {a, b};
    return oc_g_custom(g, op, ins, 2, s, fn, p, ps, 0.0);
}

static oc_tid layer(const rf_model *M, oc_graph *g, int i, oc_tid tgt, oc_tid qpos,
                    oc_tid memory, oc_tid ref, int n, int h, int w)
{
    const rf_cfg *c = &M->cfg;
    const rf_dec_layer *l = &M->dec[i];
    const int D = c->D, Q = c->Q, sh = c->sa_heads, dh = D / sh;
    const int hlp = c->ca_heads * c->levels * c->points;

    /* self-attention: q = k = tgt + qpos, v = tgt */
    oc_tid qk_in = oc_g_binary(g, OC_BIN_ADD, tgt, qpos);
    oc_tid qk = oc_g_linear(g, qk_in, l->qk_w, l->qk_b, D, 2 * D, OC_ACT_NONE);
    oc_tid v = oc_g_linear(g, tgt, l->v_w, l->v_b, D, D, OC_ACT_NONE);
    const int64_t tot = (int64_t)n * Q * 2 * D;
    oc_tid flat = oc_g_reshape(g, qk, oc_shape2(1, tot));
    oc_tid kv = oc_g_slice(g, flat, 1, D, tot);
    oc_attn_desc d;
    memset(&d, 0, sizeof d);
    d.batch = n, d.heads = sh, d.lq = d.lk = Q, d.d = d.dv = dh;
    d.scale = 1.0f / sqrtf((float)dh);
    d.q_sb = d.k_sb = (int64_t)Q * 2 * D, d.q_sh = d.k_sh = dh, d.q_st = d.k_st = 2 * D;
    d.q_sd = d.k_sd = 1;
    d.v_sb = d.o_sb = (int64_t)Q * D, d.v_sh = d.o_sh = dh, d.v_st = d.o_st = D;
    d.v_sd = d.o_sd = 1;
    oc_tid sa = oc_g_attention(g, flat, kv, v, OC_NONE, &d, oc_shape3(n, Q, D));
    sa = oc_g_linear(g, sa, l->out_w, l->out_b, D, D, OC_ACT_NONE);
    oc_g_name(g, sa, "dec%d_self_attn", i);
    tgt = oc_g_layernorm(g, oc_g_binary(g, OC_BIN_ADD, tgt, sa), l->n1_g, l->n1_b, DEC_EPS);

    /* deformable cross-attention on the memory */
    oc_tid query = oc_g_binary(g, OC_BIN_ADD, tgt, qpos);
    oc_tid off = oc_g_linear(g, query, l->off_w, l->off_b, D, 2 * hlp, OC_ACT_NONE);
    oc_tid aw = oc_g_linear(g, query, l->aw_w, l->aw_b, D, hlp, OC_ACT_NONE);
    aw = oc_g_reshape(g, aw, oc_shape4(n, Q, c->ca_heads, c->levels * c->points));
    aw = oc_g_softmax(g, aw, -1);
    oc_g_name(g, aw, "dec%d_attention_weights", i);
    loc_params lp = {c->ca_heads, c->levels, c->points};
    oc_shape ls = {6, {n, Q, c->ca_heads, c->levels, c->points, 2}};
    oc_tid loc = custom2(g, "rfdetr_sampling_locations", off, ref, ls, loc_exec, &lp, sizeof lp);
    oc_g_name(g, loc, "dec%d_sampling_locations", i);
    oc_tid value = oc_g_linear(g, memory, l->val_w, l->val_b, D, D, OC_ACT_NONE);
    const int64_t lhw[2] = {h, w};
    oc_tid ca = oc_g_ms_deform_attn(g, value, loc, aw, lhw, 1, c->ca_heads, c->points);
    ca = oc_g_linear(g, ca, l->op_w, l->op_b, D, D, OC_ACT_NONE);
    oc_g_name(g, ca, "dec%d_cross_attn", i);
    tgt = oc_g_layernorm(g, oc_g_binary(g, OC_BIN_ADD, tgt, ca), l->n2_g, l->n2_b, DEC_EPS);

    /* FFN */
    oc_tid f = oc_g_linear(g, tgt, l->l1_w, l->l1_b, D, c->ffn, OC_ACT_RELU);
    f = oc_g_linear(g, f, l->l2_w, l->l2_b, c->ffn, D, OC_ACT_NONE);
    tgt = oc_g_layernorm(g, oc_g_binary(g, OC_BIN_ADD, tgt, f), l->n3_g, l->n3_b, DEC_EPS);
    oc_g_name(g, tgt, "dec%d_out", i);
    return tgt;
}

oc_status rf_build_decoder(const rf_model *M, oc_graph *g, oc_tid src, oc_tid given, int n,
                           int h, int w)
{
    const rf_cfg *c = &M->cfg;
    const int D = c->D, Q = c->Q, K = c->K;
    const int64_t T = (int64_t)h * w;
    const int k = (int)(T < Q ? T : Q);

    /* memory [N, T, D] */
    const int perm[4] = {0, 2, 3, 1};
    oc_tid memory = oc_g_reshape(g, oc_g_permute(g, src, perm), oc_shape3(n, T, D));

    /* two-stage selection */
    prop_params pp = {h, w};
    oc_tid props = custom1(g, "rfdetr_proposals", memory, oc_shape3(n, T, 4), prop_exec, &pp,
                           sizeof pp);
    oc_g_name(g, props, "enc_proposals");
    int any_invalid = 0;
    for (int64_t t = 0; t < T && !any_invalid; t++) {
        float pr[4];
        proposal(h, w, t, pr);
        any_invalid = !prop_valid(pr);
    }
    oc_tid mem_in = any_invalid ? custom1(g, "rfdetr_mask_memory", memory, oc_shape3(n, T, D),
                                          mask_exec, &pp, sizeof pp)
                                : memory;
    oc_tid om = oc_g_linear(g, mem_in, M->enc_w, M->enc_b, D, D, OC_ACT_NONE);
    om = oc_g_layernorm(g, om, M->enc_ng, M->enc_nb, DEC_EPS);
    oc_g_name(g, om, "enc_memory");
    oc_tid logits = oc_g_linear(g, om, M->enc_cls_w, M->enc_cls_b, D, K, OC_ACT_NONE);
    oc_g_name(g, logits, "enc_logits");
    oc_tid delta = mlp3(g, om, &M->enc_box);
    oc_tid boxes = custom2(g, "rfdetr_reparam", delta, props, oc_shape3(n, T, 4), reparam_exec,
                           NULL, 0);
    oc_g_name(g, boxes, "enc_boxes");
    oc_tid scores = custom1(g, "rfdetr_max_logit", logits, oc_shape2(n, T), max_exec, NULL, 0);
    oc_g_name(g, scores, "enc_scores");
    oc_tid topk = given;
    if (topk == OC_NONE) {
        topk = custom1(g, "rfdetr_topk", scores, oc_shape2(n, k), topk_exec, NULL, 0);
        oc_g_name(g, topk, "topk_indices");
    }
    oc_tid tboxes = custom2(g, "rfdetr_gather", boxes, topk, oc_shape3(n, k, 4), gather_exec,
                            NULL, 0);
    oc_g_name(g, tboxes, "topk_boxes");
    oc_tid tlogits = custom2(g, "rfdetr_gather", logits, topk, oc_shape3(n, k, K), gather_exec,
                             NULL, 0);
    oc_g_name(g, tlogits, "enc_topk_logits");

    /* reference boxes and query position, shared by every layer (lite refine) */
    initref_params ip = {M->refpoint};
    oc_tid ref = custom1(g, "rfdetr_init_ref", tboxes, oc_shape3(n, Q, 4), initref_exec, &ip,
                         sizeof ip);
    oc_g_name(g, ref, "dec_init_ref");
    if (D / 2 > RF_MAX_HALF)
        return oc_graph_fail(g, oc_error(OC_ERR_UNSUPPORTED, "rfdetr: hidden_dim %d is above the "
                                         "supported %d", D, 2 * RF_MAX_HALF));
    sine_params sp;
    memset(&sp, 0, sizeof sp);
    sp.half = D / 2;
    for (int i = 0; i < sp.half; i++)
        sp.dim_t[i] = powf(10000.0f, (float)(2 * (i / 2)) / (float)sp.half);
    oc_tid sine = custom1(g, "rfdetr_sine_embed", ref, oc_shape3(n, Q, 2 * D), sine_exec, &sp,
                          sizeof sp);
    oc_g_name(g, sine, "dec_query_sine_embed");
    oc_tid qpos = oc_g_linear(g, sine, M->rph_w0, M->rph_b0, 2 * D, D, OC_ACT_RELU);
    qpos = oc_g_linear(g, qpos, M->rph_w1, M->rph_b1, D, D, OC_ACT_NONE);
    oc_g_name(g, qpos, "dec_query_pos");

    tile_params tp = {M->query_feat};
    oc_tid tgt = custom1(g, "rfdetr_query_feat", ref, oc_shape3(n, Q, D), tile_exec, &tp,
                         sizeof tp);
    for (int i = 0; i < c->dec_layers; i++) tgt = layer(M, g, i, tgt, qpos, memory, ref, n, h, w);

    const int last = c->dec_layers - 1;
    oc_tid hs = oc_g_layernorm(g, tgt, M->dn_g, M->dn_b, DEC_EPS);
    oc_g_name(g, hs, "dec%d_hs", last);
    oc_tid out_logits = oc_g_linear(g, hs, M->cls_w, M->cls_b, D, K, OC_ACT_NONE);
    oc_tid out_delta = mlp3(g, hs, &M->box);
    oc_tid out_boxes = custom2(g, "rfdetr_reparam", out_delta, ref, oc_shape3(n, Q, 4),
                               reparam_exec, NULL, 0);
    oc_g_output(g, out_logits, "pred_logits");
    oc_g_output(g, out_boxes, "pred_boxes");
    return oc_graph_status(g);
}

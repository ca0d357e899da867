/* sam2_decoder.c -- the "decode" stage: prompt encoder + two-way transformer mask decoder
 * (sam/prompt_encoder.py, sam/transformer.py, sam/mask_decoder.py), run once per prompt set.
 *
 * Inputs: image_embed [1][D][h][w], high_res_feats_0 [1][D/8][4h][4w], high_res_feats_1
 * [1][D/4][2h][2w] (the encode stage's exports), point_coords [B][P][2] in model input
 * pixels (box corners first, labels 2/3, as the predictor passes them), point_labels [B][P]
 * and optionally mask_input [B][1][4h][4w].
 *
 * Steps, as the reference:
 *   tokens   = [obj_score, iou, mask_tokens x T, sparse(points + padding point)]  [B][Nq][D]
 *   sparse   = PE((p + 0.5) / size) + point_embeddings[label]; label -1 -> not_a_point
 *   src      = image_embed + (mask_downscaling(mask) | no_mask_embed), as tokens [B][hw][D]
 *   two-way transformer (depth 2; layer 0's self-attention without PE or residual; LN eps 1e-5)
 *   upscaled = GELU(convT2(GELU(LN2d(convT1(src) + s1))) + s0)
 *   masks    = hypernetwork_t(mask token t) . upscaled      [B][T][4h][4w]
 *   iou      = sigmoid(MLP(iou token)); object score = MLP(obj token)
 * Outputs: low_res_masks / iou_predictions (tokens 1..T-1), low_res_masks_single /
 * iou_predictions_single (token 0 if its stability >= thresh, else the best multimask
 * output), object_score_logits; masks clamped to +-32 as predict() returns them. For the
 * task's upsampling (done on unclamped logits, as the predictor does): masks_all [B][T][4h][4w]
 * (every token, unclamped) and single_token [B][1] (the token the single output took). */
#include "parallel.h"
#include "sam2.h"
#include "sam2_attn.h"

#include <math.h>
#include <string.h>

#define TW_LN_EPS 1e-5f
#define LN2D_EPS 1e-6f
#define MASK_CLAMP 32.0f

static oc_tid lin(oc_graph *g, oc_tid x, const sam2_lin *l, oc_act act)
{
    return oc_g_linear(g, x, l->w, l->b, l->in, l->out, act);
}

/* ---------------------------------------------------------------- prompt tokens --------- */

typedef struct {
    int B, P, D, T;
    float in_w, in_h;
    const float *gauss, *pemb[4], *not_a_point, *obj, *iou, *mask_tokens;
} tok_params;

static void exec_tokens(const oc_ctx *ctx, const void *params, const float *const *ins,
                        const oc_shape *is, int nin, float *out, const oc_shape *os)
{
    (void)ctx;
    (void)is;
    (void)nin;
    (void)os;
    const tok_params *p = params;
    const int D = p->D, half = D / 2, M = p->P + 1, nq = 2 + p->T + M;
    const float *coords = ins[0], *labels = ins[1];
    for (int b = 0; b < p->B; b++) {
        float *o = out + (size_t)b * nq * D;
        memcpy(o, p->obj, (size_t)D * sizeof(float));
        memcpy(o + D, p->iou, (size_t)D * sizeof(float));
        memcpy(o + 2 * D, p->mask_tokens, (size_t)p->T * D * sizeof(float));
        for (int i = 0; i < M; i++) {
            float *e = o + (size_t)(2 + p->T + i) * D;
            /* the padding point (0, 0) with label -1 is appended last */
            float x = 0, y = 0, lab = -1;
            if (i < p->P) {
                x = coords[((size_t)b * p->P + i) * 2];
                y = coords[((size_t)b * p->P + i) * 2 + 1];
                lab = labels[(size_t)b * p->P + i];
            }
            if (lab == -1.0f) {
                memcpy(e, p->not_a_point, (size_t)D * sizeof(float));
                continue;
            }
            float cx = 2.0f * ((x + 0.5f) / p->in_w) - 1.0f;
            float cy = 2.0f * ((y + 0.5f) / p->in_h) - 1.0f;
            for (int c = 0; c < half; c++) {
                float v = 2.0f * (float)M_PI * (cx * p->gauss[c] + cy * p->gauss[half + c]);
                e[c] = sinf(v);
                e[half + c] = cosf(v);
            }
            for (int l = 0; l < 4; l++)
                if (lab == (float)l)
                    for (int c = 0; c < D; c++) e[c] += p->pemb[l][c];
        }
    }
}

/* ---------------------------------------------------------------- LayerNorm2d ----------- */

typedef struct {
    const float *g, *b;
    float eps;
} ln2d_params;

static void exec_ln2d(const oc_ctx *ctx, const void *params, const float *const *ins,
                      const oc_shape *is, int nin, float *out, const oc_shape *os)
{
    (void)nin;
    (void)os;
    const ln2d_params *p = params;
    oc_layernorm_nchw(ctx, ins[0], out, (int)is[0].d[0], (int)is[0].d[1],
                      is[0].d[2] * is[0].d[3], p->g, p->b, p->eps);
}

static oc_tid ln2d(oc_graph *g, oc_tid x, const sam2_ln *n)
{
    ln2d_params p = {n->g, n->b, LN2D_EPS};
    oc_shape s = oc_g_shape(g, x);
    return oc_g_custom(g, "layernorm2d", &x, 1, s, exec_ln2d, &p, sizeof p,
                       8.0 * (double)oc_shape_numel(&s));
}

/* ---------------------------------------------------------------- outputs --------------- */

typedef struct {
    int B, T;
    int64_t hw;
    float delta, thresh;
    int what; /* 0: multimask masks, 1: single mask, 2: single iou, 3: single token index */
} sel_params;

/* the stability decision of prompt set b: 1 when token 0's mask is stable */
static int stable0(const sel_params *p, const float *m0)
{
    int64_t ai = 0, au = 0;
    for (int64_t k = 0; k < p->hw; k++) {
        ai += m0[k] > p->delta;
        au += m0[k] > -p->delta;
    }
    float s = au > 0 ? (float)ai / (float)au : 1.0f;
    return s >= p->thresh;
}

static int best_multi(const sel_params *p, const float *iou)
{
    int best = 1;
    for (int t = 2; t < p->T; t++)
        if (iou[t] > iou[best]) best = t; /* first maximum, as torch.argmax */
    return best;
}

static float clampf(float v)
{
    return v < -MASK_CLAMP ? -MASK_CLAMP : v > MASK_CLAMP ? MASK_CLAMP : v;
}

static void exec_select(const oc_ctx *ctx, const void *params, const float *const *ins,
                        const oc_shape *is, int nin, float *out, const oc_shape *os)
{
    (void)ctx;
    (void)is;
    (void)nin;
    (void)os;
    const sel_params *p = params;
    const float *masks = ins[0], *iou = ins[1];
    for (int b = 0; b < p->B; b++) {
        const float *mb = masks + (size_t)b * p->T * p->hw;
        const float *ib = iou + (size_t)b * p->T;
        if (p->what == 0) {
            float *o = out + (size_t)b * (p->T - 1) * p->hw;
            for (int64_t k = 0; k < (int64_t)(p->T - 1) * p->hw; k++) o[k] = clampf(mb[p->hw + k]);
            continue;
        }
        int t = stable0(p, mb) ? 0 : best_multi(p, ib);
        if (p->what == 3) {
            out[b] = (float)t;
        } else if (p->what == 1) {
            float *o = out + (size_t)b * p->hw;
            for (int64_t k = 0; k < p->hw; k++) o[k] = clampf(mb[(size_t)t * p->hw + k]);
        } else {
            out[b] = ib[t];
        }
    }
}

/* ---------------------------------------------------------------- upscaling ------------- */

/* output_upscaling's ConvTranspose2d(k 2, s 2) is a linear from each input pixel to its 2x2
 * output pixels: y [B][h*w][4*C] with column (ky*2+kx)*C + c (weights repacked at load, bias
 * included). These nodes put those columns in place, add the high-resolution features
 * (NCHW [1][C][2h][2w], shared by the B sets) and finish the stage:
 *   stage 1: LayerNorm2d + GELU, out token-major [B][2h][2w][C] (the next linear's input);
 *   stage 2: GELU, out NCHW [B][C][2h*2w] (the masks' matmul operand).
 * Each output row (b, Y) reads one input row y = Y / 2 and one row of the features. */
typedef struct {
    int B, h, w, C, stage;
    const float *ln_g, *ln_b;
} up_params;

typedef struct {
    const up_params *p;
    const float *y, *feat;
    float *out;
    oc_isa isa;
} up_job;

#define UP_BLOCK 16    /* output pixels per block: the block's C-wide rows stay in L1 */
#define UP_TMP 1024    /* floats of the per-thread block buffer (on the stack) */

static void up_rows(void *arg, int64_t r0, int64_t r1, int tid)
{
    const up_job *j = arg;
    const up_params *p = j->p;
    const int C = p->C, OW = 2 * p->w, OH = 2 * p->h;
    const int64_t plane = (int64_t)OH * OW;
    const int block = C * UP_BLOCK <= UP_TMP ? UP_BLOCK : (UP_TMP / C > 0 ? UP_TMP / C : 1);
    float tmp[UP_TMP];
    (void)tid;
    oc_ctx one;
    memset(&one, 0, sizeof one);
    one.isa = j->isa;
    one.nthreads = 1;
    for (int64_t r = r0; r < r1; r++) {
        const int b = (int)(r / OH), Y = (int)(r % OH), ky = Y & 1;
        const float *yrow = j->y + ((int64_t)b * p->h * p->w + (int64_t)(Y >> 1) * p->w) * 4 * C;
        const float *frow = j->feat + (int64_t)Y * OW; /* + c * plane */
        for (int X0 = 0; X0 < OW; X0 += block) {
            const int nx = OW - X0 < block ? OW - X0 : block;
            /* the block's pixels, [nx][C], from their 2x2 columns of the linear's output */
            float *o = p->stage == 1 ? j->out + (((int64_t)b * OH + Y) * OW + X0) * C : tmp;
            for (int x = 0; x < nx; x++) {
                const int X = X0 + x;
                memcpy(o + (int64_t)x * C,
                       yrow + ((int64_t)(X >> 1) * 4 + ky * 2 + (X & 1)) * C,
                       (size_t)C * sizeof(float));
            }
            for (int c = 0; c < C; c++) {
                const float *fc = frow + (int64_t)c * plane + X0;
                for (int x = 0; x < nx; x++) o[(int64_t)x * C + c] += fc[x];
            }
            if (p->stage == 1) oc_layernorm(&one, o, o, nx, C, p->ln_g, p->ln_b, LN2D_EPS);
            oc_activation(&one, OC_ACT_GELU, o, o, (size_t)nx * C);
            if (p->stage == 2) { /* to the C planes, each written once */
                float *ob = j->out + (int64_t)b * C * plane + (int64_t)Y * OW + X0;
                for (int c = 0; c < C; c++) {
                    float *oc = ob + (int64_t)c * plane;
                    for (int x = 0; x < nx; x++) oc[x] = tmp[(int64_t)x * C + c];
                }
            }
        }
    }
}

static void exec_up(const oc_ctx *ctx, const void *params, const float *const *ins,
                    const oc_shape *is, int nin, float *out, const oc_shape *os)
{
    (void)is;
    (void)nin;
    (void)os;
    const up_params *p = params;
    up_job j = {p, ins[0], ins[1], out, ctx->isa};
    oc_parallel_for(ctx->nthreads, (int64_t)p->B * 2 * p->h, 0, up_rows, &j);
}

/* y [B][h*w][4*C] (the repacked transpose conv's linear), feat [1][C][2h][2w] */
static oc_tid upscale_stage(oc_graph *g, oc_tid y, oc_tid feat, int B, int h, int w, int C,
                            int stage, const sam2_ln *ln)
{
    if (stage == 2 && C > UP_TMP) {
        oc_graph_fail(g, oc_error(OC_ERR_UNSUPPORTED, "sam2 decode: %d channels after the "
                                  "upscaling (at most %d)", C, UP_TMP));
        return OC_NONE;
    }
    up_params p;
    memset(&p, 0, sizeof p);
    p.B = B, p.h = h, p.w = w, p.C = C, p.stage = stage;
    if (ln) p.ln_g = ln->g, p.ln_b = ln->b;
    oc_tid ins[2] = {y, feat};
    oc_shape os = stage == 1 ? oc_shape4(B, 2 * h, 2 * w, C)
                             : oc_shape3(B, C, (int64_t)4 * h * w);
    return oc_g_custom(g, stage == 1 ? "sam2_upscale_ln_gelu" : "sam2_upscale_gelu", ins, 2, os,
                       exec_up, &p, sizeof p, (stage == 1 ? 30.0 : 20.0) * oc_shape_numel(&os));
}

/* ---------------------------------------------------------------- attention ------------- */

/* Few keys (the image->token attention: every image token against the ~10 prompt tokens):
 * a kernel vectorised across queries (sam2_attn_tmpl.h), the scalar reference here. */
static void attn_fewkeys_ref(const float *q, const float *k, const float *v, float *o, int nq,
                             int lk, int I, int heads, float scale)
{
    const int hd = I / heads;
    float s[SAM2_FEWKEYS_MAX_LK];
    for (int i = 0; i < nq; i++)
        for (int h = 0; h < heads; h++) {
            const float *qi = q + (int64_t)i * I + h * hd;
            float m = -INFINITY, l = 0;
            for (int t = 0; t < lk; t++) {
                const float *kt = k + (int64_t)t * I + h * hd;
                float acc = 0;
                for (int j = 0; j < hd; j++) acc += qi[j] * scale * kt[j];
                s[t] = acc;
                m = acc > m ? acc : m;
            }
            for (int t = 0; t < lk; t++) {
                s[t] = expf(s[t] - m);
                l += s[t];
            }
            float *oi = o + (int64_t)i * I + h * hd;
            for (int j = 0; j < hd; j++) {
                float acc = 0;
                for (int t = 0; t < lk; t++) acc += s[t] * v[(int64_t)t * I + h * hd + j];
                oi[j] = acc / l;
            }
        }
}

typedef struct {
    int B, lq, lk, I, heads, q_shared;
    float scale;
} fewkeys_params;

#define FEWKEYS_ROWS 64 /* queries per work unit */

typedef struct {
    const fewkeys_params *p;
    const float *q, *k, *v;
    float *o;
    oc_isa isa;
} fewkeys_job;

static void fewkeys_units(void *arg, int64_t u0, int64_t u1, int tid)
{
    (void)tid;
    const fewkeys_job *j = arg;
    const fewkeys_params *p = j->p;
    const int64_t per_b = (p->lq + FEWKEYS_ROWS - 1) / FEWKEYS_ROWS;
    for (int64_t u = u0; u < u1; u++) {
        const int b = (int)(u / per_b), i0 = (int)(u % per_b) * FEWKEYS_ROWS;
        const int nq = p->lq - i0 < FEWKEYS_ROWS ? p->lq - i0 : FEWKEYS_ROWS;
        const float *q = j->q + ((p->q_shared ? 0 : (int64_t)b * p->lq) + i0) * p->I;
        const float *k = j->k + (int64_t)b * p->lk * p->I, *v = j->v + (int64_t)b * p->lk * p->I;
        float *o = j->o + ((int64_t)b * p->lq + i0) * p->I;
        if (j->isa >= OC_ISA_AVX512)
            sam2_attn_fewkeys_avx512(q, k, v, o, nq, p->lk, p->I, p->heads, p->scale);
        else if (j->isa >= OC_ISA_AVX2)
            sam2_attn_fewkeys_avx2(q, k, v, o, nq, p->lk, p->I, p->heads, p->scale);
        else
            attn_fewkeys_ref(q, k, v, o, nq, p->lk, p->I, p->heads, p->scale);
    }
}

static void exec_fewkeys(const oc_ctx *ctx, const void *params, const float *const *ins,
                         const oc_shape *is, int nin, float *out, const oc_shape *os)
{
    (void)is;
    (void)nin;
    (void)os;
    const fewkeys_params *p = params;
    fewkeys_job j = {p, ins[0], ins[1], ins[2], out, ctx->isa};
    const int64_t units = (int64_t)p->B * ((p->lq + FEWKEYS_ROWS - 1) / FEWKEYS_ROWS);
    oc_parallel_for(ctx->nthreads, units, 0, fewkeys_units, &j);
}

/* SAM's Attention after the projections: heads, softmax(q k^T/sqrt(d)) v, out_proj.
 * q [Bq][Lq][I], k/v [Bk][Lk][I]; a batch of 1 (Bq or Bk) is shared by the B prompt sets
 * (batch stride 0), so the image-only projections are made once. */
static oc_tid sam_attention_proj(oc_graph *g, const sam2_attn_w *A, int heads, oc_tid q,
                                 oc_tid k, oc_tid v, int B, int Lq, int Lk)
{
    const int I = A->internal, hd = I / heads;
    const int q_shared = B > 1 && oc_g_shape(g, q).d[0] == 1;
    const int k_shared = B > 1 && oc_g_shape(g, k).d[0] == 1;
    const int v_shared = B > 1 && oc_g_shape(g, v).d[0] == 1;
    if (Lk <= SAM2_FEWKEYS_MAX_LK && I <= SAM2_FEWKEYS_MAX_I && !k_shared && !v_shared) {
        fewkeys_params fp = {B, Lq, Lk, I, heads, q_shared, 1.0f / sqrtf((float)hd)};
        oc_tid ins[3] = {q, k, v};
        oc_tid o = oc_g_custom(g, "sam2_attention_fewkeys", ins, 3, oc_shape3(B, Lq, I),
                               exec_fewkeys, &fp, sizeof fp, 4.0 * B * Lq * Lk * I);
        return lin(g, o, &A->out, OC_ACT_NONE);
    }
    oc_attn_desc d;
    memset(&d, 0, sizeof d);
    d.batch = B;
    d.heads = heads;
    d.lq = Lq;
    d.lk = Lk;
    d.d = d.dv = hd;
    d.scale = 1.0f / sqrtf((float)hd);
    d.q_sb = q_shared ? 0 : (int64_t)Lq * I;
    d.o_sb = (int64_t)Lq * I;
    d.k_sb = k_shared ? 0 : (int64_t)Lk * I;
    d.v_sb = v_shared ? 0 : (int64_t)Lk * I;
    d.q_st = d.k_st = d.v_st = d.o_st = I;
    d.q_sh = d.k_sh = d.v_sh = d.o_sh = hd;
    d.q_sd = d.k_sd = d.v_sd = d.o_sd = 1;
    oc_tid o = oc_g_attention(g, q, k, v, OC_NONE, &d, oc_shape3(B, Lq, I));
    return lin(g, o, &A->out, OC_ACT_NONE);
}

/* SAM's Attention: project q/k/v to the internal width, then as above. q_in [B|1][Lq][D],
 * k_in/v_in [B|1][Lk][D]. */
static oc_tid sam_attention(oc_graph *g, const sam2_attn_w *A, int heads, oc_tid q_in,
                            oc_tid k_in, oc_tid v_in, int B, int Lq, int Lk)
{
    return sam_attention_proj(g, A, heads, lin(g, q_in, &A->q, OC_ACT_NONE),
                              lin(g, k_in, &A->k, OC_ACT_NONE), lin(g, v_in, &A->v, OC_ACT_NONE),
                              B, Lq, Lk);
}

static oc_tid add(oc_graph *g, oc_tid a, oc_tid b) { return oc_g_binary(g, OC_BIN_ADD, a, b); }

static oc_tid ln(oc_graph *g, oc_tid x, const sam2_ln *n)
{
    return oc_g_layernorm(g, x, n->g, n->b, TW_LN_EPS);
}

static oc_tid mlp3(oc_graph *g, oc_tid x, const sam2_lin *L, int n, oc_act last)
{
    for (int k = 0; k < n; k++) x = lin(g, x, &L[k], k < n - 1 ? OC_ACT_RELU : last);
    return x;
}

/* ---------------------------------------------------------------- the graph ------------- */

void sam2_export_image_tokens(const oc_model *m, oc_graph *g, oc_tid emb, int n)
{
    const sam2_model *sm = m->arch_data;
    const sam2_weights *W = &sm->w;
    const int D = sm->hp.d_model, HW = sm->emb_h * sm->emb_w;
    const sam2_tlayer_w *L0 = &W->layer[0];
    oc_tid tok = oc_g_reshape(g, add(g, emb, oc_g_const(g, oc_shape1(D), W->no_mask)),
                              oc_shape3(n, HW, D));
    oc_tid tpe = add(g, tok, oc_g_const(g, oc_shape2(HW, D), sm->dense_pe_hwc));
    oc_g_export(g, tok, "image_tokens");
    oc_g_export(g, lin(g, tpe, &L0->cross_t2i.k, OC_ACT_NONE), "image_tokens_t2i_k");
    oc_g_export(g, lin(g, tok, &L0->cross_t2i.v, OC_ACT_NONE), "image_tokens_t2i_v");
    oc_g_export(g, lin(g, tpe, &L0->cross_i2t.q, OC_ACT_NONE), "image_tokens_i2t_q");
}

oc_status sam2_build_decoder(const oc_model *m, oc_graph *g, int B, int P, int with_mask,
                             int image_tokens, oc_dtype labels_dtype)
{
    const sam2_model *sm = m->arch_data;
    const sam2_hp *hp = &sm->hp;
    const sam2_weights *W = &sm->w;
    const int D = hp->d_model, T = hp->num_multimask + 1, eh = sm->emb_h, ew = sm->emb_w;
    const int HW = eh * ew, M = P + 1, NQ = 2 + T + M;
    if (B < 1 || P < 1 || B > SAM2_MAX_PROMPT_SETS || P > 4096)
        return oc_error(OC_ERR_SHAPE, "sam2 decode: needs 1..4096 prompt sets of 1..4096 points "
                        "(got %d x %d)", B, P);

    const int pre = image_tokens && !with_mask && hp->tr_depth >= 1;
    const int I0 = hp->tr_depth >= 1 ? W->layer[0].cross_t2i.internal : 0;
    oc_tid emb = pre ? OC_NONE : oc_g_input(g, "image_embed", oc_shape4(1, D, eh, ew));
    oc_tid f0 = oc_g_input(g, "high_res_feats_0", oc_shape4(1, D / 8, 4 * eh, 4 * ew));
    oc_tid f1 = oc_g_input(g, "high_res_feats_1", oc_shape4(1, D / 4, 2 * eh, 2 * ew));
    oc_tid coords = oc_g_input(g, "point_coords", oc_shape3(B, P, 2));
    oc_tid labels = oc_g_input_typed(g, "point_labels", oc_shape2(B, P), labels_dtype);
    oc_tid mask = with_mask ? oc_g_input(g, "mask_input", oc_shape4(B, 1, 4 * eh, 4 * ew))
                            : OC_NONE;

    /* prompt tokens */
    tok_params tp;
    memset(&tp, 0, sizeof tp);
    tp.B = B;
    tp.P = P;
    tp.D = D;
    tp.T = T;
    tp.in_w = tp.in_h = (float)hp->image_size;
    tp.gauss = W->pe_gauss;
    for (int l = 0; l < 4; l++) tp.pemb[l] = W->point_emb[l];
    tp.not_a_point = W->not_a_point;
    tp.obj = W->obj_token;
    tp.iou = W->iou_token;
    tp.mask_tokens = W->mask_tokens;
    oc_tid tin[2] = {coords, labels};
    oc_tid tokens = oc_g_custom(g, "sam2_prompt_tokens", tin, 2, oc_shape3(B, NQ, D),
                                exec_tokens, &tp, sizeof tp, (double)B * M * D * 8);
    oc_g_name(g, tokens, "tokens");
    oc_g_name(g, oc_g_slice(g, tokens, 1, 2 + T, NQ), "sparse");

    /* image tokens: src = image_embed + dense prompt, [B][hw][D] */
    static const int chw_to_hwc[4] = {0, 2, 3, 1};
    oc_tid src;
    if (with_mask) {
        oc_tid dz = oc_g_conv2d(g, mask, &sm->md_desc[0], sm->md_conv[0], OC_NONE);
        dz = oc_g_act(g, OC_ACT_GELU, ln2d(g, dz, &W->md1));
        dz = oc_g_conv2d(g, dz, &sm->md_desc[1], sm->md_conv[1], OC_NONE);
        dz = oc_g_act(g, OC_ACT_GELU, ln2d(g, dz, &W->md4));
        dz = oc_g_conv2d(g, dz, &sm->md_desc[2], sm->md_conv[2], OC_NONE);
        oc_g_name(g, dz, "dense");
        src = oc_g_permute(g, add(g, emb, dz), chw_to_hwc); /* [B][h][w][D] */
    } else if (pre) {
        src = oc_g_input(g, "image_tokens", oc_shape3(1, HW, D));
    } else {
        oc_tid nm = oc_g_const(g, oc_shape1(D), W->no_mask);
        src = add(g, oc_g_permute(g, emb, chw_to_hwc), nm); /* [1][h][w][D] */
    }
    /* without a mask prompt the image tokens are shared by the B sets until layer 0's
     * image->token attention adds the per-set part */
    oc_tid keys = oc_g_reshape(g, src, oc_shape3(with_mask ? B : 1, HW, D));
    oc_tid key_pe = oc_g_const(g, oc_shape2(HW, D), sm->dense_pe_hwc);
    oc_tid queries = tokens;
    const int H = hp->tr_heads;

    for (int l = 0; l < hp->tr_depth; l++) {
        if (l == 0 && pre) { /* the image-only projections come from the encode stage */
            const sam2_tlayer_w *Ly = &W->layer[0];
            oc_tid t2i_k = oc_g_input(g, "image_tokens_t2i_k", oc_shape3(1, HW, I0));
            oc_tid t2i_v = oc_g_input(g, "image_tokens_t2i_v", oc_shape3(1, HW, I0));
            oc_tid i2t_q = oc_g_input(g, "image_tokens_i2t_q", oc_shape3(1, HW, I0));
            queries = sam_attention(g, &Ly->self_attn, H, queries, queries, queries, B, NQ, NQ);
            queries = ln(g, queries, &Ly->norm1);
            oc_tid q = add(g, queries, tokens);
            queries = add(g, queries,
                          sam_attention_proj(g, &Ly->cross_t2i, H,
                                             lin(g, q, &Ly->cross_t2i.q, OC_ACT_NONE), t2i_k,
                                             t2i_v, B, NQ, HW));
            queries = ln(g, queries, &Ly->norm2);
            oc_tid mo = lin(g, lin(g, queries, &Ly->mlp0, OC_ACT_RELU), &Ly->mlp1, OC_ACT_NONE);
            queries = ln(g, add(g, queries, mo), &Ly->norm3);
            q = add(g, queries, tokens);
            keys = add(g, keys,
                       sam_attention_proj(g, &Ly->cross_i2t, H, i2t_q,
                                          lin(g, q, &Ly->cross_i2t.k, OC_ACT_NONE),
                                          lin(g, queries, &Ly->cross_i2t.v, OC_ACT_NONE), B, HW,
                                          NQ));
            keys = ln(g, keys, &Ly->norm4);
            continue;
        }
        const sam2_tlayer_w *Ly = &W->layer[l];
        if (l == 0) {
            queries = sam_attention(g, &Ly->self_attn, H, queries, queries, queries, B, NQ, NQ);
        } else {
            oc_tid q = add(g, queries, tokens);
            queries = add(g, queries, sam_attention(g, &Ly->self_attn, H, q, q, queries, B, NQ, NQ));
        }
        queries = ln(g, queries, &Ly->norm1);
        oc_tid q = add(g, queries, tokens);
        /* keys do not change until cross_i2t: keys + key_pe serves both cross-attentions */
        oc_tid k = add(g, keys, key_pe);
        queries = add(g, queries, sam_attention(g, &Ly->cross_t2i, H, q, k, keys, B, NQ, HW));
        queries = ln(g, queries, &Ly->norm2);
        oc_tid mo = lin(g, lin(g, queries, &Ly->mlp0, OC_ACT_RELU), &Ly->mlp1, OC_ACT_NONE);
        queries = ln(g, add(g, queries, mo), &Ly->norm3);
        q = add(g, queries, tokens);
        keys = add(g, keys, sam_attention(g, &Ly->cross_i2t, H, k, q, queries, B, HW, NQ));
        keys = ln(g, keys, &Ly->norm4);
    }
    {
        oc_tid q = add(g, queries, tokens);
        oc_tid k = add(g, keys, key_pe);
        queries = add(g, queries, sam_attention(g, &W->final_attn, H, q, k, keys, B, NQ, HW));
        queries = ln(g, queries, &W->norm_final);
    }
    oc_g_name(g, queries, "hs");

    /* upscaling with the high-resolution features: two transpose convs as linears on the
     * token-major maps (sam2.c repacks their weights) */
    const int mh = 4 * eh, mw = 4 * ew;
    oc_tid u = oc_g_linear(g, keys, sm->up0_lin_w, sm->up0_lin_b, D, D, OC_ACT_NONE);
    u = upscale_stage(g, u, f1, B, eh, ew, D / 4, 1, &W->up1); /* [B][2h][2w][D/4] */
    u = oc_g_linear(g, oc_g_reshape(g, u, oc_shape3(B, (int64_t)4 * eh * ew, D / 4)),
                    sm->up3_lin_w, sm->up3_lin_b, D / 4, D / 2, OC_ACT_NONE);
    oc_tid uflat = upscale_stage(g, u, f0, B, 2 * eh, 2 * ew, D / 8, 2, NULL);

    /* hypernetworks, masks, heads */
    oc_tid hyper[8];
    for (int t = 0; t < T; t++) {
        oc_tid tok = oc_g_slice(g, queries, 1, 2 + t, 3 + t); /* [B][1][D] */
        hyper[t] = mlp3(g, tok, W->hyper[t], 3, OC_ACT_NONE);
    }
    oc_tid hin = oc_g_concat(g, hyper, T, 1); /* [B][T][D/8] */
    oc_tid masks = oc_g_matmul(g, hin, uflat, 0, 0); /* [B][T][mh*mw] */
    oc_tid masks_all = oc_g_reshape(g, masks, oc_shape4(B, T, mh, mw));
    oc_tid iou = oc_g_act(g, OC_ACT_SIGMOID,
                          mlp3(g, oc_g_slice(g, queries, 1, 1, 2), W->iou_head, hp->iou_depth,
                               OC_ACT_NONE));
    iou = oc_g_reshape(g, iou, oc_shape2(B, T));
    oc_g_name(g, iou, "iou_all");
    oc_tid obj = oc_g_slice(g, queries, 1, 0, 1);
    obj = hp->pred_obj_scores_mlp ? mlp3(g, obj, W->obj_head, 3, OC_ACT_NONE)
                                  : lin(g, obj, &W->obj_head[0], OC_ACT_NONE);
    obj = oc_g_reshape(g, obj, oc_shape2(B, 1));

    sel_params sp;
    memset(&sp, 0, sizeof sp);
    sp.B = B;
    sp.T = T;
    sp.hw = (int64_t)mh * mw;
    sp.delta = (float)hp->stab_delta;
    sp.thresh = (float)hp->stab_thresh;
    oc_tid sin_[2] = {masks, iou};
    sp.what = 0;
    oc_tid multi = oc_g_custom(g, "sam2_multimask", sin_, 2, oc_shape4(B, T - 1, mh, mw),
                               exec_select, &sp, sizeof sp, (double)B * (T - 1) * sp.hw);
    sp.what = 1;
    oc_tid single = oc_g_custom(g, "sam2_single_mask", sin_, 2, oc_shape4(B, 1, mh, mw),
                                exec_select, &sp, sizeof sp, 3.0 * B * sp.hw);
    sp.what = 2;
    oc_tid single_iou = oc_g_custom(g, "sam2_single_iou", sin_, 2, oc_shape2(B, 1), exec_select,
                                    &sp, sizeof sp, 2.0 * B * sp.hw);
    oc_g_output(g, multi, "low_res_masks");
    oc_g_output(g, oc_g_slice(g, iou, 1, 1, T), "iou_predictions");
    oc_g_output(g, single, "low_res_masks_single");
    oc_g_output(g, single_iou, "iou_predictions_single");
    oc_g_output(g, obj, "object_score_logits");
    /* for the task's upsampling, which the reference does on the unclamped logits */
    sp.what = 3;
    oc_tid single_tok = oc_g_custom(g, "sam2_single_token", sin_, 2, oc_shape2(B, 1),
                                    exec_select, &sp, sizeof sp, 2.0 * B * sp.hw);
    oc_g_output(g, masks_all, "masks_all");
    oc_g_output(g, single_tok, "single_token");
    return oc_graph_status(g);
}

/* sam2_encoder.c -- the "encode" stage: Hiera trunk, FPN neck, conv_s0/conv_s1 and
 * no_mem_embed (SAM2Base.forward_image + SAM2ImagePredictor.set_image).
 *
 * Activations are token-major [N][H][W][C]. A Hiera block (backbones/hieradet.py
 * MultiScaleBlock):
 *     xn = LayerNorm(x)                                   eps 1e-6
 *     shortcut = x, or maxpool2x2(proj(xn)) where the width changes (q-pool blocks)
 *     windows = partition(xn, window)                     zero padded bottom/right
 *     qkv = windows @ Wqkv                                [win][L][3][heads][hd]
 *     q = maxpool2x2(q) inside each window                (q-pool blocks)
 *     o = proj(softmax(q k^T / sqrt(hd)) v)               per window and head, tiled
 *     x = shortcut + crop(unpartition(o))                 window halved after q-pool
 *     x = x + mlp(LayerNorm(x))                           Linear, GELU(erf), Linear
 * Global blocks (window 0) attend over the whole map. q / k / v are read in place from the
 * qkv tensor through attention strides (k and v are zero-copy views at offsets C and 2C). */
#include "sam2.h"

#include <math.h>
#include <string.h>

#define HIERA_LN_EPS 1e-6f

/* view of a contiguous tensor starting `off` elements in, as one flat row */
static oc_tid flat_from(oc_graph *g, oc_tid t, int64_t off)
{
    oc_shape s = oc_g_shape(g, t);
    int64_t n = oc_shape_numel(&s);
    oc_tid f = oc_g_reshape(g, t, oc_shape2(1, n));
    return off ? oc_g_slice(g, f, 1, off, n) : f;
}

static oc_tid lin(oc_graph *g, oc_tid x, const sam2_lin *l, oc_act act)
{
    return oc_g_linear(g, x, l->w, l->b, l->in, l->out, act);
}

/* one Hiera block on x [n][H][W][dim]; updates *H, *W */
static oc_tid hiera_block(oc_graph *g, const sam2_hp *hp, const sam2_block_w *B, int i, oc_tid x,
                          int n, int *H, int *W)
{
    const int dim = hp->blk_dim[i], dout = hp->blk_dim_out[i], heads = hp->blk_heads[i];
    const int ws = hp->blk_window[i], qp = hp->blk_qpool[i], hd = dout / heads;
    const int h = *H, w = *W;
    const int oh = qp ? h / 2 : h, ow = qp ? w / 2 : w;

    oc_tid xn = oc_g_layernorm(g, x, B->norm1.g, B->norm1.b, HIERA_LN_EPS);
    oc_tid sc = x;
    if (dim != dout) {
        sc = lin(g, xn, &B->proj, OC_ACT_NONE);
        if (qp) sc = sam2_g_maxpool2x2_nhwc(g, sc, n, h, w, dout, 0, dout);
    } else if (qp) {
        oc_graph_fail(g, oc_error(OC_ERR_UNSUPPORTED, "sam2 block %d: q-pooling without a width "
                                  "change", i));
        return OC_NONE;
    }

    /* windows: nb sequences of lh x lw tokens */
    int nb, lh, lw;
    oc_tid xw;
    if (ws > 0) {
        xw = sam2_g_window_partition(g, xn, ws);
        nb = (int)oc_g_shape(g, xw).d[0];
        lh = lw = ws;
    } else {
        xw = xn;
        nb = n;
        lh = h;
        lw = w;
    }
    oc_tid qkv = lin(g, xw, &B->qkv, OC_ACT_NONE); /* [nb][lh][lw][3 dout] */
    const int64_t L = (int64_t)lh * lw, row = 3 * (int64_t)dout;
    int qh = lh, qw = lw;
    oc_tid q = qkv;
    int64_t q_row = row;
    if (qp) {
        q = sam2_g_maxpool2x2_nhwc(g, qkv, nb, lh, lw, (int)row, 0, dout);
        qh = lh / 2;
        qw = lw / 2;
        q_row = dout;
    }
    const int64_t Lq = (int64_t)qh * qw;
    if (L > INT32_MAX || Lq > INT32_MAX) {
        oc_graph_fail(g, oc_error(OC_ERR_SHAPE, "sam2 block %d: %lld tokens per window", i,
                                  (long long)L));
        return OC_NONE;
    }
    oc_attn_desc d;
    memset(&d, 0, sizeof d);
    d.batch = nb;
    d.heads = heads;
    d.lq = (int)Lq;
    d.lk = (int)L;
    d.d = d.dv = hd;
    d.scale = 1.0f / sqrtf((float)hd);
    d.q_sb = Lq * q_row;
    d.q_st = q_row;
    d.q_sh = hd;
    d.q_sd = 1;
    d.k_sb = d.v_sb = L * row;
    d.k_st = d.v_st = row;
    d.k_sh = d.v_sh = hd;
    d.k_sd = d.v_sd = 1;
    d.o_sb = Lq * dout;
    d.o_st = dout;
    d.o_sh = hd;
    d.o_sd = 1;
    oc_tid kv = flat_from(g, qkv, dout), vv = flat_from(g, qkv, 2 * (int64_t)dout);
    oc_tid att = oc_g_attention(g, q, kv, vv, OC_NONE, &d, oc_shape4(nb, qh, qw, dout));
    oc_tid o = lin(g, att, &B->proj_attn, OC_ACT_NONE);

    if (ws > 0) {
        x = sam2_g_window_unpartition_add(g, o, sc, qp ? ws / 2 : ws);
    } else {
        x = oc_g_binary(g, OC_BIN_ADD, sc, o);
    }
    oc_tid x2 = oc_g_layernorm(g, x, B->norm2.g, B->norm2.b, HIERA_LN_EPS);
    oc_tid hmid = lin(g, x2, &B->mlp0, OC_ACT_GELU);
    oc_tid y = lin(g, hmid, &B->mlp1, OC_ACT_NONE);
    x = oc_g_binary(g, OC_BIN_ADD, x, y);
    *H = oh;
    *W = ow;
    return x;
}

static oc_tid to_nchw(oc_graph *g, oc_tid x)
{
    static const int perm[4] = {0, 3, 1, 2};
    return oc_g_permute(g, x, perm);
}

oc_status sam2_build_encoder(const oc_model *m, oc_graph *g, int n, int h, int w)
{
    const sam2_model *sm = m->arch_data;
    const sam2_hp *hp = &sm->hp;
    const sam2_weights *Wt = &sm->w;
    const int E = hp->embed_dim, D = hp->d_model;
    const int down = 4 << hp->q_pool;
    if (n < 1 || h < down || w < down || h % down || w % down)
        return oc_error(OC_ERR_SHAPE, "sam2: the image input must be [N, 3, H, W] with H and W "
                        "multiples of %d (the model expects %dx%d), got %dx%d", down,
                        hp->image_size, hp->image_size, h, w);
    const int gh = h / 4, gw = w / 4;
    const float *pos = sam2_pos_embed(m, gh, gw);
    if (!pos) return OC_ERR_SHAPE;

    oc_tid x = oc_g_input(g, "image", oc_shape4(n, 3, h, w));
    oc_conv2d_desc cd;
    memset(&cd, 0, sizeof cd);
    cd.cin = 3;
    cd.cout = E;
    cd.kh = cd.kw = 7;
    cd.groups = 1;
    cd.stride_h = cd.stride_w = 4;
    cd.pad_t = cd.pad_l = cd.pad_b = cd.pad_r = 3;
    cd.dil_h = cd.dil_w = 1;
    x = oc_g_conv2d(g, x, &cd, Wt->patch, OC_NONE);
    static const int to_nhwc[4] = {0, 2, 3, 1};
    x = oc_g_permute(g, x, to_nhwc);
    oc_tid pe = oc_g_const(g, oc_shape4(1, gh, gw, E), pos);
    x = oc_g_binary(g, OC_BIN_ADD, x, pe);
    oc_g_name(g, x, "trunk_embed");

    oc_tid stage_out[SAM2_MAX_STAGES];
    int H = gh, W = gw;
    for (int i = 0; i < hp->nblocks; i++) {
        x = hiera_block(g, hp, &Wt->blk[i], i, x, n, &H, &W);
        if (oc_graph_status(g) != OC_OK) return oc_graph_status(g);
        oc_g_name(g, x, "trunk_block%d", i);
        if (hp->blk_stage_end[i]) stage_out[hp->blk_stage_end[i] - 1] = x;
    }

    /* FPN neck, top-down from the lowest resolution; conv k reads trunk level nlev-1-k */
    const int nlev = hp->nlevels;
    oc_tid lvl[SAM2_MAX_LEVELS], prev = OC_NONE;
    const int folded = Wt->hr0.w && Wt->hr1.w; /* conv_s0/s1 folded into levels 0/1 */
    for (int i = nlev - 1; i >= 0; i--) {
        if (folded && i < 2) continue;
        oc_tid lat = lin(g, stage_out[i], &Wt->neck[nlev - 1 - i], OC_ACT_NONE);
        if (hp->top_down[i] && prev != OC_NONE)
            prev = sam2_g_upsample2x_add_nhwc(g, lat, prev);
        else
            prev = lat;
        lvl[i] = prev;
    }
    const int top = nlev - 1 - hp->scalp; /* image-embedding level after the scalp */
    oc_g_name(g, lvl[top], "backbone_fpn%d", top);
    oc_tid nm = oc_g_const(g, oc_shape1(D), Wt->no_mem_embed);
    oc_tid emb = oc_g_binary(g, OC_BIN_ADD, lvl[top], nm);
    oc_tid s0 = folded ? lin(g, stage_out[0], &Wt->hr0, OC_ACT_NONE)
                       : lin(g, lvl[0], &Wt->conv_s0, OC_ACT_NONE);
    oc_tid s1 = folded ? lin(g, stage_out[1], &Wt->hr1, OC_ACT_NONE)
                       : lin(g, lvl[1], &Wt->conv_s1, OC_ACT_NONE);
    oc_g_export(g, to_nchw(g, emb), "image_embed");
    oc_g_export(g, to_nchw(g, s0), "high_res_feats_0");
    oc_g_export(g, to_nchw(g, s1), "high_res_feats_1");
    const oc_shape es = oc_g_shape(g, emb); /* [n][h][w][D] */
    if (es.d[1] == sm->emb_h && es.d[2] == sm->emb_w && hp->tr_depth >= 1)
        sam2_export_image_tokens(m, g, emb, n);
    return oc_graph_status(g);
}

/* sam2.h -- SAM 2.1 image mode (facebookresearch/sam2 @2b90b9f): shared declarations of the
 * family's files.
 *
 *   sam2.c          arch entry, configuration (metadata), weights, the two stages
 *   sam2_encoder.c  Hiera trunk + FPN neck + conv_s0/conv_s1 + no_mem_embed ("encode")
 *   sam2_decoder.c  prompt encoder + two-way transformer mask decoder ("decode")
 *   sam2_ops.c      the family's custom nodes (window partition, q pooling, ...) and the
 *                   bicubic position-embedding interpolation
 *   sam2_variants.c the tiny/small/base-plus/large table, converter and generator
 *
 * Activations of the image encoder are token-major (NHWC: [N][H][W][C]) so every Hiera
 * linear is one GEMM over tokens; the exported tensors are NCHW as the reference's. */
#ifndef OC_SAM2_H
#define OC_SAM2_H

#include <pthread.h>

#include "model.h"

#define SAM2_MAX_STAGES 8
#define SAM2_MAX_BLOCKS 128
#define SAM2_MAX_LEVELS 8
#define SAM2_MAX_PROMPT_SETS 4096

typedef struct {
    /* trunk (Hiera) */
    int image_size;
    int embed_dim, num_heads;
    int nstages;
    int stages[SAM2_MAX_STAGES];
    int window_spec[SAM2_MAX_STAGES];
    int nglobal;
    int global_blocks[SAM2_MAX_BLOCKS];
    int bkg_h, bkg_w;          /* window_pos_embed_bkg_spatial_size */
    int q_pool;                /* number of q-pool stage transitions */
    int q_stride;              /* 2 (square) */
    double dim_mul, head_mul, mlp_ratio;
    /* derived per block */
    int nblocks;
    int blk_dim[SAM2_MAX_BLOCKS], blk_dim_out[SAM2_MAX_BLOCKS], blk_heads[SAM2_MAX_BLOCKS];
    int blk_window[SAM2_MAX_BLOCKS], blk_qpool[SAM2_MAX_BLOCKS];
    int blk_stage_end[SAM2_MAX_BLOCKS]; /* stage index + 1 at a stage's last block, else 0 */
    int stage_ends[SAM2_MAX_STAGES];
    /* neck */
    int d_model;
    int nlevels;                                /* = nstages */
    int backbone_channels[SAM2_MAX_LEVELS];     /* lowest resolution first (conv 0) */
    int top_down[SAM2_MAX_LEVELS];              /* 1 for levels with top-down fusion */
    int scalp;
    /* prompt encoder / mask decoder */
    int mask_in_chans;
    int num_multimask;
    int tr_depth, tr_heads, tr_mlp, tr_downsample;
    int iou_depth, iou_hidden;
    int pred_obj_scores_mlp;
    double stab_delta, stab_thresh;
} sam2_hp;

/* an nn.Linear: w [out][in], b [out] (may be NULL) */
typedef struct {
    const float *w, *b;
    int in, out;
} sam2_lin;

typedef struct {
    const float *g, *b;
} sam2_ln;

typedef struct {
    sam2_ln norm1, norm2;
    sam2_lin qkv, proj_attn, mlp0, mlp1;
    sam2_lin proj; /* dim -> dim_out shortcut projection (q-pool blocks); w NULL otherwise */
} sam2_block_w;

typedef struct {
    sam2_lin q, k, v, out;
    int internal;
} sam2_attn_w;

typedef struct {
    sam2_attn_w self_attn, cross_t2i, cross_i2t;
    sam2_ln norm1, norm2, norm3, norm4;
    sam2_lin mlp0, mlp1;
} sam2_tlayer_w;

typedef struct {
    /* encoder */
    oc_conv2d_weights *patch;
    const float *patch_w, *patch_b;       /* raw, for re-packing */
    const float *pos_embed, *pos_embed_window;
    sam2_block_w blk[SAM2_MAX_BLOCKS];
    sam2_lin neck[SAM2_MAX_LEVELS];        /* 1x1 lateral convs as linears, conv index order */
    sam2_lin conv_s0, conv_s1;
    /* conv_s0 / conv_s1 folded into the lateral convs of levels 0 / 1 (both 1x1, no top-down
     * on those levels): trunk stage 1 / 2 -> high_res_feats_0 / 1 in one linear; w NULL when
     * the config has top-down fusion there */
    sam2_lin hr0, hr1;
    const float *no_mem_embed;
    /* prompt encoder */
    const float *pe_gauss;                /* [2][D/2] */
    const float *point_emb[4], *not_a_point, *no_mask;
    const float *md0_w, *md0_b, *md3_w, *md3_b, *md6_w, *md6_b;
    sam2_ln md1, md4;
    /* mask decoder */
    const float *obj_token, *iou_token, *mask_tokens; /* [1][D], [1][D], [T][D] */
    sam2_tlayer_w layer[4];
    sam2_attn_w final_attn;
    sam2_ln norm_final;
    const float *up0_w, *up0_b, *up3_w, *up3_b;
    sam2_ln up1;
    sam2_lin hyper[8][3];
    sam2_lin iou_head[4];
    sam2_lin obj_head[3];
} sam2_weights;

/* a position embedding [gh][gw][E] (NHWC) computed for one trunk grid */
typedef struct sam2_pos_cache {
    int gh, gw;
    float *data;
    struct sam2_pos_cache *next;
} sam2_pos_cache;

typedef struct {
    sam2_hp hp;
    sam2_weights w;
    float **owned;        /* aligned float copies of the file's tensors */
    int nowned, capowned;
    oc_conv2d_weights *packed[8];
    int npacked;
    pthread_mutex_t pos_lock;
    sam2_pos_cache *pos;  /* built lazily per grid size, freed with the model */
    float *dense_pe;      /* get_dense_pe(): [D][h][w], computed at load */
    float *dense_pe_hwc;  /* the same as tokens [h*w][D] */
    /* output_upscaling.0 / .3 (ConvTranspose2d k2 s2, weight [Cin][C][2][2]) as linears
     * [4*C][Cin], row (ky*2+kx)*C + c, bias [4*C] */
    float *up0_lin_w, *up0_lin_b, *up3_lin_w, *up3_lin_b;
    int emb_h, emb_w;     /* image embedding grid (image_size / 16) */
    oc_conv2d_desc md_desc[3];       /* mask_downscaling.0 / .3 / .6 */
    oc_conv2d_weights *md_conv[3];
} sam2_model;

/* ---- configuration (sam2.c) ---- */
/* Fill the derived per-block fields from the trunk settings; messages name `what`. */
oc_status sam2_hp_derive(sam2_hp *hp, const char *what);
/* Defaults of a named variant ("tiny", "small", "base-plus"/"b+", "large"); 0 if unknown. */
int sam2_variant_hp(const char *variant, sam2_hp *hp);
/* Hyper-parameters from a file's metadata ("config" JSON or flat keys, else the variant). */
oc_status sam2_hp_from_file(const oc_st_file *f, const char *variant, sam2_hp *hp);
/* The config JSON our files carry (the reference's form, as the fixtures'); oc_free it. */
char *sam2_hp_to_json(const sam2_hp *hp);

/* ---- converter and generator (sam2_variants.c) ---- */
/* Copy the image-mode tensors of a state_dict (official checkpoint names; video-only keys
 * skipped) into out with ocellus metadata. variant NULL: the file's own config metadata
 * decides the shapes. dt: OC_DT_F32, OC_DT_F16 or OC_DT_BF16 (stored weights). */
oc_status sam2_convert(const oc_st_file *src, const char *variant, int dt, oc_st_writer *out);
/* Deterministic synthetic weights of a variant (speed and memory do not depend on them). */
oc_status sam2_generate(const char *variant, uint64_t seed, oc_st_writer *out);

/* ---- graphs ---- */
oc_status sam2_build_encoder(const struct oc_model *m, oc_graph *g, int n, int h, int w);
/* Decoder graph for B prompt sets of P points each (the padding point is added inside);
 * with_mask: a mask_input [B][1][4*emb_h][4*emb_w] input is declared. image_tokens: read the
 * encode stage's image_tokens* exports (below) instead of recomputing them from image_embed
 * (only without a mask prompt, whose dense embedding changes the image tokens). */
oc_status sam2_build_decoder(const struct oc_model *m, oc_graph *g, int B, int P, int with_mask,
                             int image_tokens, oc_dtype labels_dtype);
/* The decoder's prompt-independent start, added to the encode graph (emb: the NHWC image
 * embedding [n][emb_h][emb_w][D]) and exported per image: without a mask prompt the image
 * tokens entering the two-way transformer are image_embed + no_mask_embed, so layer 0's
 * token->image keys and values and its image->token queries are the same for every prompt:
 *   image_tokens        [n][hw][D]  image_embed + no_mask_embed (tokens)
 *   image_tokens_t2i_k  [n][hw][I]  layer 0 cross_attn_token_to_image k_proj(tokens + pe)
 *   image_tokens_t2i_v  [n][hw][I]  its v_proj(tokens)
 *   image_tokens_i2t_q  [n][hw][I]  layer 0 cross_attn_image_to_token q_proj(tokens + pe) */
void sam2_export_image_tokens(const struct oc_model *m, oc_graph *g, oc_tid emb, int n);
/* The NHWC position embedding for a trunk grid (cached in the model). NULL + message on
 * failure. */
const float *sam2_pos_embed(const struct oc_model *m, int gh, int gw);

/* ---- custom nodes (sam2_ops.c) ---- */
/* Bicubic (A = -0.75, align_corners False, border clamped) resize of x [c][h][w] to
 * y [c][oh][ow], as F.interpolate(mode="bicubic"). */
void sam2_bicubic_resize(const float *x, int c, int h, int w, float *y, int oh, int ow);
/* x [N][H][W][C] -> windows [N*nwy*nwx][ws][ws][C], zero padded at the bottom/right */
oc_tid sam2_g_window_partition(oc_graph *g, oc_tid x, int ws);
/* y = shortcut + crop(unpartition(win)), win [N*nwy*nwx][ws][ws][C], shortcut [N][H][W][C] */
oc_tid sam2_g_window_unpartition_add(oc_graph *g, oc_tid win, oc_tid shortcut, int ws);
/* 2x2 max pool (stride 2, floor) of [B][H][W][C] tokens, reading channels [c0, c0+C) of
 * rows that are `row` floats wide: [B][H][W][row] -> [B][H/2][W/2][C] */
oc_tid sam2_g_maxpool2x2_nhwc(oc_graph *g, oc_tid x, int B, int H, int W, int row, int c0,
                              int C);
/* y = lateral + nearest 2x upsample(top), NHWC */
oc_tid sam2_g_upsample2x_add_nhwc(oc_graph *g, oc_tid lateral, oc_tid top);

#endif

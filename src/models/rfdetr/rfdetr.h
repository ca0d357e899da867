/* rfdetr.h -- RF-DETR (roboflow/rf-detr 1.4.1): the family's private interface, shared by the
 * files of src/models/rfdetr/.
 *
 *   rfdetr.c           oc_arch_rfdetr: metadata -> config, weights (load), graph (build)
 *   rfdetr_backbone.c  windowed DINOv2 (patch embedding, position-embedding resampling, windows
 *                      with a CLS copy each, windowed/global blocks, taps) and the projector
 *   rfdetr_decoder.c   two-stage selection and the LW-DETR deformable decoder, heads
 *   rfdetr_variants.c  nano/small/medium table, state_dict converter, synthetic generator
 *
 * Tensor names are the reference's state_dict names (model.state_dict() of the eval model, the
 * form of rfdetr's checkpoints); ../shared/fixtures/README-rfdetr.md lists them. */
#ifndef OC_RFDETR_H
#define OC_RFDETR_H

#include "model.h"

#define RF_MAX_BLOCKS 64
#define RF_MAX_TAPS 8
#define RF_MAX_DEC 16

/* hyper-parameters (metadata + tensor shapes) */
typedef struct {
    int res;              /* default square input resolution */
    int patch;            /* patch size */
    int nw;               /* windows per side (num_windows) */
    int pes;              /* pretrained position grid side (positional_encoding_size) */
    int C, heads, mlp;    /* DINOv2 width, heads, MLP hidden */
    int nblocks;          /* blocks in the file */
    int nrun;             /* blocks run: the last tap's stage */
    int ntaps, taps[RF_MAX_TAPS];          /* out_feature_indexes (stage s = after block s-1) */
    unsigned char windowed[RF_MAX_BLOCKS]; /* per block: 1 windowed, 0 global attention */
    float dino_eps;       /* DINOv2 LayerNorm eps (1e-6) */
    int c2f_hidden;       /* C2f hidden channels c_ (cv1 gives 2c_) */
    int nbottleneck;      /* C2f bottlenecks (3) */
    int D;                /* hidden_dim */
    int ffn;              /* dim_feedforward */
    int dec_layers;
    int sa_heads, ca_heads, points, levels;
    int Q;                /* num_queries */
    int K;                /* class logits (91) */
    int qrows;            /* rows of refpoint_embed / query_feat in the file (>= Q) */
} rf_cfg;

typedef struct {
    const float *ln1_g, *ln1_b, *ln2_g, *ln2_b;
    const float *qkv_w, *qkv_b;        /* [3C][C]: query, key, value rows */
    const float *proj_w, *proj_b;      /* attention.output.dense * layer_scale1 */
    const float *fc1_w, *fc1_b;
    const float *fc2_w, *fc2_b;        /* mlp.fc2 * layer_scale2 */
} rf_block;

typedef struct {
    const float *qk_w, *qk_b;          /* in_proj rows q, k: [2D][D] */
    const float *v_w, *v_b;            /* in_proj rows v: [D][D] */
    const float *out_w, *out_b;
    const float *n1_g, *n1_b, *n2_g, *n2_b, *n3_g, *n3_b;
    const float *off_w, *off_b;        /* sampling_offsets [H*L*P*2][D] */
    const float *aw_w, *aw_b;          /* attention_weights [H*L*P][D] */
    const float *val_w, *val_b;        /* value_proj */
    const float *op_w, *op_b;          /* output_proj */
    const float *l1_w, *l1_b, *l2_w, *l2_b;
} rf_dec_layer;

typedef struct {
    const float *w[3], *b[3];
    int in, hid, out;
} rf_mlp3;

typedef struct {
    rf_cfg cfg;
    /* backbone */
    oc_conv2d_weights *patch;          /* patch embedding conv (with bias) */
    const float *cls;                  /* [C] */
    const float *pos;                  /* [1 + pes*pes][C] */
    rf_block blocks[RF_MAX_BLOCKS];
    const float *ln_g, *ln_b;          /* the LayerNorm shared by every tap */
    /* projector (C2f with channel LayerNorm, then a channel LayerNorm) */
    oc_conv2d_weights *cv1, *cv2, *m[8][2];
    const float *cv1_g, *cv1_b, *cv2_g, *cv2_b, *m_g[8][2], *m_b[8][2];
    const float *out_g, *out_b;
    /* two-stage heads (group 0) */
    const float *enc_w, *enc_b, *enc_ng, *enc_nb;
    const float *enc_cls_w, *enc_cls_b;
    rf_mlp3 enc_box;
    /* decoder */
    const float *refpoint;             /* [qrows][4] (first Q used) */
    const float *query_feat;           /* [qrows][D] */
    const float *rph_w0, *rph_b0, *rph_w1, *rph_b1; /* ref_point_head */
    rf_dec_layer dec[RF_MAX_DEC];
    const float *dn_g, *dn_b;          /* decoder.norm */
    const float *cls_w, *cls_b;
    rf_mlp3 box;
    /* every float array above that the loader allocated */
    float **owned;
    int nowned, capowned;
} rf_model;

/* ---- rfdetr_backbone.c ---- */
/* images [N,3,H,W] -> [N, D, h, w] (projector_out); names the README's intermediates */
oc_tid rf_build_backbone(const rf_model *M, oc_graph *g, oc_tid images, int n, int H, int W);
/* PyTorch interpolate(bicubic, antialias=True, align_corners=False) along one axis as a dense
 * matrix m[n_out][n_in] (rows sum to 1); exposed for tests */
void rf_aa_bicubic_matrix(int n_in, int n_out, double *m);

/* ---- rfdetr_decoder.c ---- */
/* projector_out [N, D, h, w] -> outputs pred_logits [N,Q,K], pred_boxes [N,Q,4]; topk: the
 * encoder selection given as an input [N, k], or OC_NONE to compute it */
oc_status rf_build_decoder(const rf_model *M, oc_graph *g, oc_tid src, oc_tid topk, int n,
                           int h, int w);

/* ---- rfdetr_variants.c ---- */
typedef struct {
    const char *name;        /* nano, small, medium */
    int res, pes, dec_layers;
} rf_variant;
const rf_variant *rf_find_variant(const char *name);
extern const char *const rf_variant_names[];
/* state_dict (safetensors) -> model file; scale NULL: from the source's metadata/shapes */
oc_status rf_convert(const oc_st_file *src, const char *scale, oc_st_writer *out);
/* num_classes <= 0: COCO's 90 (91 logits, id 0 unused); else num_classes + 1 logits.
 * imgsz <= 0: the variant's resolution; else a multiple of 32 (the position grid stays). */
oc_status rf_generate(const char *scale, int num_classes, int imgsz, uint32_t seed,
                      oc_st_writer *out);
/* the same, from/to paths; the converted file is checked by loading it (removed on failure) */
oc_status rf_convert_path(const char *in, const char *out, const char *scale);
oc_status rf_generate_path(const char *scale, uint32_t seed, const char *out);
/* write the ocellus metadata of cfg (plus arch, scale, class names) */
oc_status rf_write_meta(oc_st_writer *w, const rf_cfg *c, const char *scale);

/* COCO category id (0..90) -> name, NULL for ids with no COCO class */
const char *rf_coco91_name(int id);

#endif

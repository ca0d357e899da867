/* rtdetr.h -- RT-DETR (lyuwenyu/RT-DETR, rtdetr_pytorch: PResNet-vd + HybridEncoder +
 * RTDETRTransformer), shared by the files of src/models/rtdetr/:
 *   rtdetr_config.c  hyper-parameters: the variants table (r18vd/r34vd/r50vd/r101vd), the
 *                    reference config JSON (the fixtures' `config`, our `ocellus.rtdetr.config`)
 *   rtdetr.c         the architecture walk (load / gen / build) and the oc_arch entry
 *   rtdetr_nodes.c   custom graph nodes (position embedding, anchors, query selection, box
 *                    refinement, deformable sampling locations, deploy post-processing)
 *   rtdetr_convert.c `ocellus convert` (state_dict -> model file) and `ocellus gen`
 */
#ifndef OC_RTDETR_H
#define OC_RTDETR_H

#include "model.h"

#define RTDETR_LEVELS 3          /* backbone outputs / encoder levels / decoder levels */
#define RTDETR_MAX_QUERIES 1000  /* num_queries and num_top_queries (top-k buffers on the stack) */

typedef struct {
    char variant[16];            /* "r18vd", ... or "custom" (reduced widths, other depths) */
    /* PResNet (variant d) */
    int depth;                   /* 18, 34, 50, 101 (informational; blocks decide) */
    int bottleneck;              /* BottleNeck (x4 expansion) vs BasicBlock */
    int stem;                    /* conv1_3 channels (64); conv1_1/conv1_2 have stem/2 */
    int stage_ch[4];             /* 64, 128, 256, 512 */
    int blocks[4];
    int back_out[RTDETR_LEVELS]; /* channels of stages 1..3 (return_idx [1,2,3]) */
    /* HybridEncoder */
    int enc_hidden, enc_ffn, enc_heads;
    oc_act enc_ffn_act;          /* gelu (erf) or relu */
    int enc_idx[RTDETR_LEVELS];  /* use_encoder_idx */
    int n_enc_idx;
    int enc_layers;              /* num_encoder_layers per index */
    double pe_temperature;
    double expansion;
    int csp_blocks;              /* round(3 * depth_mult) */
    oc_act csp_act;              /* silu */
    /* RTDETRTransformer */
    int dec_hidden, dec_ffn, dec_heads, dec_layers, dec_points;
    int eval_idx;                /* resolved: 0..dec_layers-1 */
    int num_queries, num_classes;
    oc_act dec_ffn_act;          /* relu */
    double eps;                  /* anchor validity margin (0.01) */
    int eval_h, eval_w;          /* eval_spatial_size (default input size) */
    /* RTDETRPostProcessor */
    int num_top;
} rtdetr_hp;

/* ---- rtdetr_config.c ---- */
/* the variants table: name -> full hp (80 classes, 640x640); NULL-terminated names */
extern const char *const rtdetr_variants[];
int rtdetr_variant_hp(const char *name, rtdetr_hp *hp);  /* 1 when known */
/* hp from the reference config JSON (`config` of the fixtures); path names the file in
 * messages. Defaults as the reference's constructors. */
oc_status rtdetr_hp_from_json(const char *json, const char *path, rtdetr_hp *hp);
/* the same JSON form, oc_malloc'd (NULL when out of memory) */
char *rtdetr_hp_to_json(const rtdetr_hp *hp);
/* consistency (channels, heads dividing widths, ranges); names the file */
oc_status rtdetr_hp_check(const rtdetr_hp *hp, const char *path);
/* hp of a loaded model: `ocellus.rtdetr.config` (or the fixture's `config`) */
oc_status rtdetr_hp_from_model(const struct oc_model *m, rtdetr_hp *hp);

/* ---- rtdetr_nodes.c (custom nodes; all handle any batch size) ---- */
/* [1, h*w, dim] 2-d sin-cos embedding as build_2d_sincos_position_embedding(w, h, dim, t) */
oc_tid rtdetr_pos_embed(oc_graph *g, oc_tid dep, int h, int w, int dim, float temperature);
/* [1, S, 4] logit anchors for the levels (+inf where invalid), S = sum h*w */
oc_tid rtdetr_anchors(oc_graph *g, oc_tid dep, const int64_t *level_hw, int nlevels, float eps);
/* memory [N,S,D] * (anchor finite) */
oc_tid rtdetr_mask_invalid(oc_graph *g, oc_tid memory, oc_tid anchors);
/* [N, K] indices (as floats) of the k largest max-over-classes of logits [N,S,C] */
oc_tid rtdetr_topk_select(oc_graph *g, oc_tid logits, int k);
/* src [N or 1, S, D], idx [N, K] -> [N, K, D] */
oc_tid rtdetr_gather_rows(oc_graph *g, oc_tid src, oc_tid idx);
/* sampling locations ref.xy + off / P * ref.wh * 0.5: off [N,K,H*L*P*2], ref [N,K,4] */
oc_tid rtdetr_deform_loc(oc_graph *g, oc_tid off, oc_tid ref, int heads, int levels, int points);
/* sigmoid(delta + inverse_sigmoid(ref)) */
oc_tid rtdetr_refine(oc_graph *g, oc_tid delta, oc_tid ref);
/* clamp to [-65504, 65504] (the reference's fp16 guard before norm3) */
oc_tid rtdetr_clamp_f16(oc_graph *g, oc_tid x);
/* deploy post-processing: logits [N,Q,C], boxes [N,Q,4] cxcywh, sizes [N,2] (w, h) or
 * OC_NONE (then img_w, img_h) -> [N, k, 7]: label, x1, y1, x2, y2, score, flat index */
oc_tid rtdetr_postprocess(oc_graph *g, oc_tid logits, oc_tid boxes, oc_tid sizes, int k,
                          float img_w, float img_h);

/* ---- rtdetr.c ---- */
/* the whole model for images [n,3,h,w]; with_sizes = 1 + the oc_dtype of an
 * `orig_target_sizes` [n,2] input to declare, 0 for none (the post-processing then scales to
 * the input size) */
oc_status rtdetr_build_graph(const struct oc_model *m, oc_graph *g, int n, int h, int w,
                             int with_sizes);
/* gen: every tensor of the train-form state_dict, synthetic, into wr */
oc_status rtdetr_gen_tensors(const rtdetr_hp *hp, uint32_t seed, oc_st_writer *wr);
/* convert: check src against hp (names, shapes) and copy every tensor the model uses */
oc_status rtdetr_copy_tensors(const rtdetr_hp *hp, const oc_st_file *src, const char *path,
                              oc_st_writer *wr);

/* ---- rtdetr_convert.c ---- */
/* state_dict (safetensors, reference names) -> model file. variant NULL: from the source's
 * `config` metadata, else inferred from its tensors. num_classes <= 0: from the source. */
oc_status rtdetr_convert(const oc_st_file *src, const char *variant, oc_st_writer *out);
oc_status rtdetr_convert_file(const char *in_path, const char *variant, const char *out_path);
/* synthetic weights for a variant of the table */
oc_status rtdetr_generate(const char *variant, int num_classes, int imgsz, uint32_t seed,
                          oc_st_writer *out);
oc_status rtdetr_generate_file(const char *variant, int num_classes, int imgsz, uint32_t seed,
                               const char *out_path);

#endif

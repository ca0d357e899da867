/* yolo_common.h -- building blocks shared by the ultralytics YOLO families (src/models/yolo/yolo.c
 * implements them; yolo12.c and friends reuse them).
 *
 * One description of an architecture serves three purposes. A family writes a single "walk"
 * function that calls the block helpers below in the reference's module order; the same walk
 * runs in one of three modes:
 *   YB_LOAD   fetch each tensor from the model file by its state_dict name, check its shape,
 *             fold BatchNorm (eps 1e-3) and prepack the conv for the model's ISA; the packed
 *             convs go to a shared oc_conv_table (src/models/conv_table.h), a few raw float
 *             arrays to the yolo_weights table;
 *   YB_GEN    synthesise deterministic weights for each tensor and add them to a safetensors
 *             writer (this is how `ocellus gen` enumerates the tensors a scale needs, without a
 *             second copy of the architecture);
 *   YB_BUILD  add graph nodes, taking the packed convs from the table in the same order.
 * In LOAD and GEN modes there is no graph: the tensor ids the helpers return are dummies (0)
 * and the graph wrappers do nothing. Channel counts are always computed from the
 * hyper-parameters, exactly as the reference's parse_model does, never from graph shapes.
 *
 * Failures are sticky: the first one is kept in b->st (with its oc_error message) and every
 * later helper returns OC_NONE without doing anything.
 */
#ifndef OC_YOLO_COMMON_H
#define OC_YOLO_COMMON_H

#include "model.h"
#include "models/conv_table.h"

typedef enum { YB_LOAD = 0, YB_GEN, YB_BUILD } yb_mode;

typedef struct {
    char *name;               /* full tensor name */
    float *data;              /* oc_malloc'd */
    int64_t numel;
} yb_raw_entry;

typedef struct {
    oc_conv_table convs;
    yb_raw_entry *raws;
    int nraw, capraw;
} yolo_weights;

/* hyper-parameters of one model, as parse_model uses them */
typedef struct {
    char arch[16];            /* "yolo11", "yolov8", ... */
    char scale[8];            /* "n", "s", "m", "l", "x" */
    double depth, width;      /* depth_multiple, width_multiple */
    int max_channels;
    int nc;                   /* number of classes */
} yolo_hp;

typedef struct {
    yb_mode mode;
    const char *path;         /* for messages */
    yolo_hp hp;
    /* YB_LOAD */
    const oc_st_file *file;
    oc_isa isa;
    /* YB_GEN */
    oc_st_writer *wr;
    uint32_t seed;
    uint64_t gen_params;
    /* YB_BUILD */
    oc_graph *g;
    int next_conv, next_raw;
    /* LOAD appends, BUILD reads */
    yolo_weights *W;
    oc_status st;
} yb;

/* ---- hyper-parameters ---- */
/* the reference's scale table for an arch ("yolo11", "yolov8", "yolo12"); 0 when unknown */
int yolo_scale_defaults(const char *arch, const char *scale, double *depth, double *width,
                        int *max_channels);
/* read scale/depth/width/max_channels/nc from the model's metadata (ocellus.* keys first,
 * then the plain keys of the parity fixtures, then the scale table) */
oc_status yolo_hp_from_model(const struct oc_model *m, const char *arch, yolo_hp *hp);
/* make_divisible(min(c, max_channels) * width, 8) */
int yolo_ch(const yolo_hp *hp, int c);
/* repeats: max(round(n * depth), 1) when n > 1 */
int yolo_rep(const yolo_hp *hp, int n);
/* the scale letter is m, l or x (C3k2 switches to C3k) */
int yolo_scale_is_mlx(const yolo_hp *hp);

/* ---- weights table ---- */
void yolo_weights_free(yolo_weights *W);

/* ---- primitives ---- */
/* ultralytics Conv: conv (no bias) + BatchNorm(eps 1e-3) + act, tensors prefix.conv.weight
 * and prefix.bn.{weight,bias,running_mean,running_var}; or fused: prefix.conv.weight +
 * prefix.conv.bias. Padding k/2 (autopad), dilation 1. residual (OC_NONE or the output's
 * shape) is added after the activation. */
oc_tid yb_conv(yb *b, oc_tid x, const char *prefix, int cin, int cout, int k, int s, int groups,
               oc_act act, oc_tid residual);
/* plain nn.Conv2d with bias: prefix.weight, prefix.bias */
oc_tid yb_conv2d(yb *b, oc_tid x, const char *prefix, int cin, int cout, int k, int s,
                 oc_act act);
/* a raw float tensor kept resident (e.g. the DFL weights); gen_values (numel floats) are what
 * YB_GEN writes and what YB_LOAD uses when optional and the tensor is absent. Returns NULL on
 * failure (sticky). */
const float *yb_raw(yb *b, const char *name, int ndim, const int64_t *shape,
                    const float *gen_values, int optional);

/* graph wrappers: no-ops returning 0 outside YB_BUILD */
oc_tid yb_concat(yb *b, const oc_tid *xs, int n);                  /* channel axis */
oc_tid yb_slice_ch(yb *b, oc_tid x, int start, int end);          /* channels [start, end) */
oc_tid yb_upsample2(yb *b, oc_tid x);                             /* nearest, x2 */
oc_tid yb_maxpool(yb *b, oc_tid x, int k);                        /* stride 1, pad k/2 */
void yb_name_layer(yb *b, oc_tid t, int idx);                     /* "layer%d" */

/* ---- blocks (names relative to prefix, as in the reference's state_dict) ---- */
/* Bottleneck(c1, c2, shortcut, k=(k1,k2), e): cv1, cv2; residual when shortcut && c1 == c2 */
oc_tid yb_bottleneck(yb *b, oc_tid x, const char *prefix, int c1, int c2, int shortcut, int k1,
                     int k2, double e);
/* C2f(c1, c2, n, shortcut, e=0.5): cv1, m.i (Bottleneck e=1.0), cv2 */
oc_tid yb_c2f(yb *b, oc_tid x, const char *prefix, int c1, int c2, int n, int shortcut);
/* C3k(c1, c2, n, shortcut, e=0.5, k=3): cv1, cv2, m.i (Bottleneck e=1.0), cv3 */
oc_tid yb_c3k(yb *b, oc_tid x, const char *prefix, int c1, int c2, int n, int shortcut);
/* C3k2(c1, c2, n, c3k, e, shortcut=True): C2f whose m.i are C3k(c, c, 2) or Bottleneck(c, c) */
oc_tid yb_c3k2(yb *b, oc_tid x, const char *prefix, int c1, int c2, int n, int c3k, double e);
/* SPPF(c1, c2, k): cv1, three chained max-pools, cv2 */
oc_tid yb_sppf(yb *b, oc_tid x, const char *prefix, int c1, int c2, int k);
/* PSA attention (Attention(dim, num_heads, attn_ratio=0.5)): qkv, pe, proj; returns proj's
 * output plus residual (OC_NONE for none) */
oc_tid yb_psa_attention(yb *b, oc_tid x, const char *prefix, int dim, int heads,
                        oc_tid residual);
/* C2PSA(c1, c2, n, e=0.5): cv1, m.i (PSABlock: attn, ffn.0, ffn.1), cv2 */
oc_tid yb_c2psa(yb *b, oc_tid x, const char *prefix, int c1, int c2, int n);
/* Detect(nc, ch) in export form: output [N][4+nc][anchors] (cx, cy, w, h in input pixels,
 * class sigmoid scores), levels of strides 8, 16, 32. legacy: YOLOv8's class branch (two 3x3
 * Convs) instead of YOLO11's depthwise one. */
oc_tid yb_detect(yb *b, const oc_tid *feats, const int *ch, int nlevels, const char *prefix,
                 int nc, int legacy);

/* ---- generic load / build / generate for a family given its walk function ----
 * walk(b, x) returns the output tensor (build mode: the graph's "output0" is set by the
 * caller). */
typedef oc_tid (*yolo_walk_fn)(yb *b, oc_tid images);
typedef struct {
    yolo_hp hp;
    yolo_weights W;
    yolo_walk_fn walk;        /* the family's walk, kept by yolo_load_with for yolo_build */
} yolo_model_data;
oc_status yolo_load_with(struct oc_model *m, const char *arch, yolo_walk_fn walk);
/* oc_arch.build of every YOLO family: the graph of the walk given to yolo_load_with for the
 * image input ("images", or the only 4-d float input) */
oc_status yolo_build(const struct oc_model *m, oc_graph *g, const char *stage,
                     const oc_io_desc *inputs, int n_inputs);
void yolo_free(struct oc_model *m);
oc_status yolo_generate_with(const yolo_hp *hp, yolo_walk_fn walk, int imgsz, uint32_t seed,
                             const char *out_path);

/* oc_arch.generate of the YOLO families (arch "yolo11", "yolov8", "yolo12"; scale n s m l x;
 * num_classes <= 0: 80 with the COCO names; imgsz <= 0: 640) and their scale list */
oc_status yolo_generate_hook(const char *arch, const oc_gen_options *o, oc_st_writer *out);
extern const char *const yolo_scales[];
/* oc_arch.convert / .convert_onnx of the YOLO families (src/models/yolo/yolo_convert.c): an
 * ultralytics state_dict or ONNX export; o->arch NULL: told from the export */
oc_status yolo_convert(const oc_st_file *src, const oc_convert_options *o, oc_st_writer *out);
oc_status yolo_convert_onnx(const struct oc_onnx_model *src, const oc_convert_options *o,
                            oc_st_writer *out);

/* Write a synthetic model file for arch ("yolo11", "yolov8") at scale (n s m l x) with
 * ocellus.* metadata. Deterministic for a seed; activations stay O(1) through the net. */
oc_status oc_yolo_generate(const char *arch, const char *scale, int num_classes, int imgsz,
                           uint32_t seed, const char *out_path);
/* The architectures oc_yolo_generate accepts, comma-separated ("yolo11, yolov8, yolo12"),
 * from the table its dispatch uses (for help texts). */
void oc_yolo_gen_archs(char *buf, size_t n);

/* Families whose walk lives in another file register it here for oc_yolo_generate: yolo12.c
 * defines yolo12_walk (referenced weakly by yolo.c, so gen works once that file exists). */
oc_tid yolo12_walk(yb *b, oc_tid images);


#endif

/* rfdetr_variants.c -- RF-DETR's variant table (rfdetr/config.py at 35ac6ab), the state_dict
 * converter, the synthetic-weights generator and the COCO category names.
 *
 * nano / small / medium share: DINOv2-S with windows (width 384, 6 heads, MLP 1536, 12
 * blocks, patch 16, 2x2 windows, taps [3, 6, 9, 12]), projector to one 256-channel P4 map
 * (C2f hidden 128, 3 bottlenecks), hidden_dim 256, FFN 2048, 8 self- / 16 cross-attention
 * heads, 2 points, 300 queries, 91 logits. They differ in resolution / position grid /
 * decoder layers: 384/24/2, 512/32/3, 576/36/4.
 *
 * Converted and generated files keep the reference's state_dict names; only what inference
 * uses is written (two-stage group 0, the first num_queries rows of refpoint_embed and
 * query_feat; no mask_token), with the hyper-parameters under the reference config's own
 * key names plus ocellus.* keys (docs/FORMAT.md). */
#include "rfdetr.h"

#include <cjson/cJSON.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const rf_variant variants[] = {
    {"nano", 384, 24, 2},
    {"small", 512, 32, 3},
    {"medium", 576, 36, 4},
};

const rf_variant *rf_find_variant(const char *name)
{
    if (!name) return NULL;
    for (size_t i = 0; i < sizeof variants / sizeof variants[0]; i++)
        if (!strcmp(variants[i].name, name)) return &variants[i];
    /* single letters as the other families spell scales */
    if (!strcmp(name, "n")) return &variants[0];
    if (!strcmp(name, "s")) return &variants[1];
    if (!strcmp(name, "m")) return &variants[2];
    return NULL;
}

const char *const rf_variant_names[] = {"nano", "small", "medium", NULL};

oc_status rf_convert_path(const char *in, const char *out, const char *scale)
{
    oc_st_file *src = NULL;
    oc_status st = oc_st_open(in, &src);
    if (st != OC_OK) return st;
    oc_st_writer *w = oc_st_writer_new();
    if (!w) {
        oc_st_close(src);
        return oc_error(OC_ERR_NOMEM, "out of memory");
    }
    st = rf_convert(src, scale, w);
    if (st == OC_OK) st = oc_st_writer_save(w, out);
    oc_st_writer_free(w);
    oc_st_close(src);
    if (st != OC_OK) return st;
    oc_model *m = NULL;
    st = oc_model_load(out, &m);
    oc_model_free(m);
    if (st != OC_OK) remove(out);
    return st;
}

oc_status rf_generate_path(const char *scale, uint32_t seed, const char *out)
{
    oc_st_writer *w = oc_st_writer_new();
    if (!w) return oc_error(OC_ERR_NOMEM, "out of memory");
    oc_status st = rf_generate(scale, 0, 0, seed, w);
    if (st == OC_OK) st = oc_st_writer_save(w, out);
    oc_st_writer_free(w);
    return st;
}

/* COCO category ids as the 91 logits index them (id 0 and 10 retired ids have no class) */
static const char *const coco91[91] = {
    NULL, "person", "bicycle", "car", "motorcycle", "airplane", "bus", "train", "truck",
    "boat", "traffic light", "fire hydrant", NULL, "stop sign", "parking meter", "bench",
    "bird", "cat", "dog", "horse", "sheep", "cow", "elephant", "bear", "zebra", "giraffe",
    NULL, "backpack", "umbrella", NULL, NULL, "handbag", "tie", "suitcase", "frisbee", "skis",
    "snowboard", "sports ball", "kite", "baseball bat", "baseball glove", "skateboard",
    "surfboard", "tennis racket", "bottle", NULL, "wine glass", "cup", "fork", "knife",
    "spoon", "bowl", "banana", "apple", "sandwich", "orange", "broccoli", "carrot", "hot dog",
    "pizza", "donut", "cake", "chair", "couch", "potted plant", "bed", NULL, "dining table",
    NULL, NULL, "toilet", NULL, "tv", "laptop", "mouse", "remote", "keyboard", "cell phone",
    "microwave", "oven", "toaster", "sink", "refrigerator", NULL, "book", "clock", "vase",
    "scissors", "teddy bear", "hair drier", "toothbrush"};

const char *rf_coco91_name(int id)
{
    return id >= 0 && id < 91 ? coco91[id] : NULL;
}

/* ---------------------------------------------------------------- metadata ------------ */

static oc_status meta_int(oc_st_writer *w, const char *key, long v)
{
    char buf[32];
    snprintf(buf, sizeof buf, "%ld", v);
    return oc_st_writer_meta(w, key, buf);
}

oc_status rf_write_meta(oc_st_writer *w, const rf_cfg *c, const char *scale)
{
    oc_status st = OC_OK;
    char buf[512];
#define TRY(x)                       \
    do {                             \
        if ((st = (x)) != OC_OK) return st; \
    } while (0)
    TRY(oc_st_writer_meta(w, "ocellus.format_version", "1"));
    TRY(oc_st_writer_meta(w, "ocellus.arch", "rfdetr"));
    TRY(oc_st_writer_meta(w, "ocellus.task", "detect_detr"));
    if (scale && *scale) TRY(oc_st_writer_meta(w, "ocellus.scale", scale));
    TRY(meta_int(w, "ocellus.input_size", c->res));
    TRY(meta_int(w, "ocellus.num_classes", c->K));
    TRY(oc_st_writer_meta(w, "ocellus.preprocess.mean", "[0.485, 0.456, 0.406]"));
    TRY(oc_st_writer_meta(w, "ocellus.preprocess.std", "[0.229, 0.224, 0.225]"));
    TRY(oc_st_writer_meta(w, "ocellus.conf_threshold", "0.5")); /* RFDETR.predict's default */
    cJSON *names = cJSON_CreateArray();
    if (!names) return oc_error(OC_ERR_NOMEM, "rfdetr: out of memory");
    for (int i = 0; i < c->K; i++) {
        const char *s = c->K == 91 ? rf_coco91_name(i) : NULL;
        char nb[32];
        if (!s && c->K != 91) {
            snprintf(nb, sizeof nb, "class%d", i);
            s = nb;
        }
        cJSON_AddItemToArray(names, cJSON_CreateString(s ? s : ""));
    }
    char *js = cJSON_PrintUnformatted(names);
    cJSON_Delete(names);
    if (!js) return oc_error(OC_ERR_NOMEM, "rfdetr: out of memory");
    st = oc_st_writer_meta(w, "ocellus.class_names", js);
    free(js);
    if (st) return st;
    TRY(meta_int(w, "resolution", c->res));
    TRY(meta_int(w, "patch_size", c->patch));
    TRY(meta_int(w, "num_windows", c->nw));
    TRY(meta_int(w, "positional_encoding_size", c->pes));
    TRY(meta_int(w, "hidden_dim", c->D));
    TRY(meta_int(w, "dim_feedforward", c->ffn));
    TRY(meta_int(w, "dec_layers", c->dec_layers));
    TRY(meta_int(w, "sa_nheads", c->sa_heads));
    TRY(meta_int(w, "ca_nheads", c->ca_heads));
    TRY(meta_int(w, "dec_n_points", c->points));
    TRY(meta_int(w, "num_feature_levels", c->levels));
    TRY(meta_int(w, "num_queries", c->Q));
    TRY(meta_int(w, "num_select", c->Q));
    TRY(meta_int(w, "class_logits", c->K));
    size_t u = (size_t)snprintf(buf, sizeof buf, "[");
    for (int k = 0; k < c->ntaps; k++)
        u += (size_t)snprintf(buf + u, sizeof buf - u, "%s%d", k ? ", " : "", c->taps[k]);
    snprintf(buf + u, sizeof buf - u, "]");
    TRY(oc_st_writer_meta(w, "out_feature_indexes", buf));
    u = (size_t)snprintf(buf, sizeof buf, "{\"hidden_size\": %d, \"num_attention_heads\": %d, "
                         "\"num_hidden_layers\": %d, \"layer_norm_eps\": %g, "
                         "\"window_block_indexes\": [", c->C, c->heads, c->nblocks,
                         (double)c->dino_eps);
    int first = 1;
    for (int i = 0; i < c->nblocks && i < RF_MAX_BLOCKS && u < sizeof buf; i++)
        if (c->windowed[i]) {
            u += (size_t)snprintf(buf + u, sizeof buf - u, "%s%d", first ? "" : ", ", i);
            first = 0;
        }
    if (u < sizeof buf) snprintf(buf + u, sizeof buf - u, "]}");
    TRY(oc_st_writer_meta(w, "dinov2", buf));
#undef TRY
    return OC_OK;
}

/* ---------------------------------------------------------------- generator ----------- */

static void variant_cfg(const rf_variant *v, rf_cfg *c)
{
    memset(c, 0, sizeof *c);
    c->res = v->res, c->patch = 16, c->nw = 2, c->pes = v->pes;
    c->C = 384, c->heads = 6, c->mlp = 1536, c->nblocks = 12, c->nrun = 12;
    c->ntaps = 4, c->taps[0] = 3, c->taps[1] = 6, c->taps[2] = 9, c->taps[3] = 12;
    for (int i = 0; i < 12; i++) c->windowed[i] = !(i == 3 || i == 6 || i == 9);
    c->dino_eps = 1e-6f;
    c->c2f_hidden = 128, c->nbottleneck = 3;
    c->D = 256, c->ffn = 2048, c->dec_layers = v->dec_layers;
    c->sa_heads = 8, c->ca_heads = 16, c->points = 2, c->levels = 1;
    c->Q = 300, c->K = 91, c->qrows = 300;
}

typedef struct {
    oc_st_writer *w;
    uint32_t seed;
    float *buf;
    size_t cap;
    oc_status st;
} gen_ctx;

/* uniform in [-a, a) + shift, from a splitmix64 stream seeded by (seed, name) */
static void gen_tensor(gen_ctx *g, const char *name, int ndim, const int64_t *shape, float a,
                       float shift)
{
    if (g->st != OC_OK) return;
    size_t n = 1;
    for (int i = 0; i < ndim; i++) n *= (size_t)shape[i];
    if (n > g->cap) {
        float *b = oc_realloc(g->buf, n * sizeof(float));
        if (!b) {
            g->st = oc_error(OC_ERR_NOMEM, "rfdetr gen: out of memory for '%s'", name);
            return;
        }
        g->buf = b, g->cap = n;
    }
    uint64_t s = 1469598103934665603ull ^ ((uint64_t)g->seed * 0x9e3779b97f4a7c15ull);
    for (const unsigned char *p = (const unsigned char *)name; *p; p++)
        s = (s ^ *p) * 1099511628211ull;
    for (size_t i = 0; i < n; i++) {
        uint64_t z = (s += 0x9e3779b97f4a7c15ull);
        z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
        z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
        z ^= z >> 31;
        double u = (double)(z >> 11) * (1.0 / 9007199254740992.0);
        g->buf[i] = (float)((2.0 * u - 1.0) * a) + shift;
    }
    g->st = oc_st_writer_add(g->w, name, OC_DT_F32, ndim, shape, g->buf);
}

static void gen_named(gen_ctx *g, int ndim, int64_t d0, int64_t d1, int64_t d2, int64_t d3,
                      float a, float shift, const char *fmt, ...) OC_PRINTF(9, 10);
static void gen_named(gen_ctx *g, int ndim, int64_t d0, int64_t d1, int64_t d2, int64_t d3,
                      float a, float shift, const char *fmt, ...)
{
    char name[256];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(name, sizeof name, fmt, ap);
    va_end(ap);
    int64_t shape[4] = {d0, d1, d2, d3};
    gen_tensor(g, name, ndim, shape, a, shift);
}

/* nn.Linear-like: weight uniform +-gain*sqrt(3/in), bias +-0.02 */
static void gen_linear(gen_ctx *g, const char *prefix, int out, int in, float gain)
{
    gen_named(g, 2, out, in, 0, 0, gain * sqrtf(3.0f / (float)in), 0.0f, "%s.weight", prefix);
    gen_named(g, 1, out, 0, 0, 0, 0.02f, 0.0f, "%s.bias", prefix);
}

static void gen_norm(gen_ctx *g, const char *prefix, int n)
{
    gen_named(g, 1, n, 0, 0, 0, 0.05f, 1.0f, "%s.weight", prefix);
    gen_named(g, 1, n, 0, 0, 0, 0.02f, 0.0f, "%s.bias", prefix);
}

oc_status rf_generate(const char *scale, int num_classes, int imgsz, uint32_t seed,
                      oc_st_writer *out)
{
    const rf_variant *v = rf_find_variant(scale);
    if (!v)
        return oc_error(OC_ERR_INVALID_ARG, "rfdetr gen: unknown variant '%s' (nano, small, "
                        "medium)", scale ? scale : "(none)");
    if (num_classes > 100000 || (imgsz > 0 && (imgsz % 32 || imgsz > 8192)))
        return oc_error(OC_ERR_INVALID_ARG, "rfdetr gen: %d classes / resolution %d: the "
                        "resolution must be a multiple of 32 (patch 16 x 2 windows)",
                        num_classes, imgsz);
    rf_cfg c;
    variant_cfg(v, &c);
    if (num_classes > 0) c.K = num_classes + 1;
    if (imgsz > 0) c.res = imgsz;
    gen_ctx G = {out, seed, NULL, 0, OC_OK}, *g = &G;
    char p[200];
    const int C = c.C, D = c.D, ch = c.c2f_hidden;
#define E "backbone.0.encoder.encoder."
    gen_named(g, 4, C, 3, c.patch, c.patch, sqrtf(3.0f / (3.0f * c.patch * c.patch)), 0.0f,
              E "embeddings.patch_embeddings.projection.weight");
    gen_named(g, 1, C, 0, 0, 0, 0.02f, 0.0f, E "embeddings.patch_embeddings.projection.bias");
    gen_named(g, 3, 1, 1, C, 0, 0.5f, 0.0f, E "embeddings.cls_token");
    gen_named(g, 3, 1, 1 + (int64_t)c.pes * c.pes, C, 0, 0.5f, 0.0f,
              E "embeddings.position_embeddings");
    for (int i = 0; i < c.nblocks; i++) {
        static const char *const qkv[3] = {"query", "key", "value"};
        snprintf(p, sizeof p, E "encoder.layer.%d.norm1", i);
        gen_norm(g, p, C);
        for (int j = 0; j < 3; j++) {
            snprintf(p, sizeof p, E "encoder.layer.%d.attention.attention.%s", i, qkv[j]);
            gen_linear(g, p, C, C, 1.0f);
        }
        snprintf(p, sizeof p, E "encoder.layer.%d.attention.output.dense", i);
        gen_linear(g, p, C, C, 1.0f);
        gen_named(g, 1, C, 0, 0, 0, 0.05f, 0.1f, E "encoder.layer.%d.layer_scale1.lambda1", i);
        snprintf(p, sizeof p, E "encoder.layer.%d.norm2", i);
        gen_norm(g, p, C);
        snprintf(p, sizeof p, E "encoder.layer.%d.mlp.fc1", i);
        gen_linear(g, p, c.mlp, C, 1.0f);
        snprintf(p, sizeof p, E "encoder.layer.%d.mlp.fc2", i);
        gen_linear(g, p, C, c.mlp, 1.0f);
        gen_named(g, 1, C, 0, 0, 0, 0.05f, 0.1f, E "encoder.layer.%d.layer_scale2.lambda1", i);
    }
    gen_norm(g, E "layernorm", C);
#undef E
#define PJ "backbone.0.projector.stages.0."
    gen_named(g, 4, 2 * ch, c.ntaps * C, 1, 1, sqrtf(3.0f / (float)(c.ntaps * C)), 0.0f,
              PJ "0.cv1.conv.weight");
    gen_norm(g, PJ "0.cv1.bn", 2 * ch);
    for (int j = 0; j < c.nbottleneck; j++)
        for (int k = 1; k <= 2; k++) {
            gen_named(g, 4, ch, ch, 3, 3, sqrtf(3.0f / (9.0f * ch)), 0.0f,
                      PJ "0.m.%d.cv%d.conv.weight", j, k);
            snprintf(p, sizeof p, PJ "0.m.%d.cv%d.bn", j, k);
            gen_norm(g, p, ch);
        }
    gen_named(g, 4, D, (2 + c.nbottleneck) * ch, 1, 1,
              sqrtf(3.0f / (float)((2 + c.nbottleneck) * ch)), 0.0f, PJ "0.cv2.conv.weight");
    gen_norm(g, PJ "0.cv2.bn", D);
    gen_norm(g, PJ "1", D);
#undef PJ
    const int hlp = c.ca_heads * c.levels * c.points;
    for (int i = 0; i < c.dec_layers; i++) {
#define L "transformer.decoder.layers.%d."
        gen_named(g, 2, 3 * D, D, 0, 0, sqrtf(3.0f / D), 0.0f, L "self_attn.in_proj_weight", i);
        gen_named(g, 1, 3 * D, 0, 0, 0, 0.02f, 0.0f, L "self_attn.in_proj_bias", i);
        snprintf(p, sizeof p, L "self_attn.out_proj", i);
        gen_linear(g, p, D, D, 1.0f);
        snprintf(p, sizeof p, L "norm1", i);
        gen_norm(g, p, D);
        /* offsets of a few cells, weights near uniform */
        gen_named(g, 2, 2 * hlp, D, 0, 0, 0.02f, 0.0f, L "cross_attn.sampling_offsets.weight",
                  i);
        gen_named(g, 1, 2 * hlp, 0, 0, 0, 2.0f, 0.0f, L "cross_attn.sampling_offsets.bias", i);
        snprintf(p, sizeof p, L "cross_attn.attention_weights", i);
        gen_linear(g, p, hlp, D, 0.5f);
        snprintf(p, sizeof p, L "cross_attn.value_proj", i);
        gen_linear(g, p, D, D, 1.0f);
        snprintf(p, sizeof p, L "cross_attn.output_proj", i);
        gen_linear(g, p, D, D, 1.0f);
        snprintf(p, sizeof p, L "norm2", i);
        gen_norm(g, p, D);
        snprintf(p, sizeof p, L "linear1", i);
        gen_linear(g, p, c.ffn, D, 1.0f);
        snprintf(p, sizeof p, L "linear2", i);
        gen_linear(g, p, D, c.ffn, 1.0f);
        snprintf(p, sizeof p, L "norm3", i);
        gen_norm(g, p, D);
#undef L
    }
    gen_norm(g, "transformer.decoder.norm", D);
    gen_linear(g, "transformer.decoder.ref_point_head.layers.0", D, 2 * D, 1.0f);
    gen_linear(g, "transformer.decoder.ref_point_head.layers.1", D, D, 1.0f);
    gen_linear(g, "transformer.enc_output.0", D, D, 1.0f);
    gen_norm(g, "transformer.enc_output_norm.0", D);
    gen_linear(g, "transformer.enc_out_class_embed.0", c.K, D, 1.0f);
    gen_linear(g, "transformer.enc_out_bbox_embed.0.layers.0", D, D, 1.0f);
    gen_linear(g, "transformer.enc_out_bbox_embed.0.layers.1", D, D, 1.0f);
    gen_linear(g, "transformer.enc_out_bbox_embed.0.layers.2", 4, D, 0.1f);
    gen_linear(g, "class_embed", c.K, D, 1.0f);
    gen_linear(g, "bbox_embed.layers.0", D, D, 1.0f);
    gen_linear(g, "bbox_embed.layers.1", D, D, 1.0f);
    gen_linear(g, "bbox_embed.layers.2", 4, D, 0.1f);
    gen_named(g, 2, c.Q, 4, 0, 0, 0.1f, 0.0f, "refpoint_embed.weight");
    gen_named(g, 2, c.Q, D, 0, 0, 1.0f, 0.0f, "query_feat.weight");
    oc_free(G.buf);
    if (G.st != OC_OK) return G.st;
    return rf_write_meta(out, &c, v->name);
}

/* ---------------------------------------------------------------- converter ----------- */

/* tensors inference does not read: other two-stage groups, the mask token */
static int skip_tensor(const char *name)
{
    static const char *const groups[] = {"transformer.enc_output.", "transformer.enc_output_norm.",
                                         "transformer.enc_out_class_embed.",
                                         "transformer.enc_out_bbox_embed."};
    for (size_t i = 0; i < sizeof groups / sizeof groups[0]; i++) {
        size_t l = strlen(groups[i]);
        if (!strncmp(name, groups[i], l)) return strncmp(name + l, "0.", 2) != 0;
    }
    return strstr(name, "embeddings.mask_token") != NULL;
}

/* the reference config as JSON: `config` (the fixtures) or a checkpoint's `args` (its
 * argparse Namespace, possibly one level down); NULL when neither holds the hyper-parameters */
static cJSON *config_object(const oc_st_file *f, const char *key, cJSON **root)
{
    *root = NULL;
    const char *js = oc_st_meta(f, key);
    if (!js) return NULL;
    cJSON *r = cJSON_Parse(js);
    if (!cJSON_IsObject(r)) {
        cJSON_Delete(r);
        return NULL;
    }
    *root = r;
    if (cJSON_GetObjectItemCaseSensitive(r, "dec_layers") ||
        cJSON_GetObjectItemCaseSensitive(r, "resolution"))
        return r;
    cJSON *it;
    cJSON_ArrayForEach(it, r)
    {
        if (cJSON_IsObject(it) && (cJSON_GetObjectItemCaseSensitive(it, "dec_layers") ||
                                   cJSON_GetObjectItemCaseSensitive(it, "resolution")))
            return it;
    }
    return NULL;
}

static const char *src_meta(const oc_st_file *f, cJSON *const *cfgs, int ncfg, const char *key,
                            char *buf, size_t n)
{
    const char *v = oc_st_meta(f, key);
    if (v) return v;
    for (int i = 0; i < ncfg; i++) {
        const cJSON *j = cfgs[i] ? cJSON_GetObjectItemCaseSensitive(cfgs[i], key) : NULL;
        if (!j || cJSON_IsNull(j)) continue;
        if (cJSON_IsNumber(j)) {
            snprintf(buf, n, "%g", j->valuedouble);
            return buf;
        }
        if (cJSON_IsBool(j)) continue;
        char *s = cJSON_PrintUnformatted(j);
        if (!s) return NULL;
        snprintf(buf, n, "%s", s);
        free(s);
        return buf;
    }
    return NULL;
}

oc_status rf_convert(const oc_st_file *src, const char *scale, oc_st_writer *out)
{
    const char *path = oc_st_path(src);
    cJSON *roots[2], *cfgs[2];
    cfgs[0] = config_object(src, "config", &roots[0]);
    cfgs[1] = config_object(src, "args", &roots[1]);
    cJSON *cfg = cfgs[0] ? cfgs[0] : cfgs[1];
    /* the variant: given, else from the position grid and decoder depth of a real config */
    const rf_variant *v = NULL;
    if (scale && *scale) {
        v = rf_find_variant(scale);
        if (!v) {
            cJSON_Delete(roots[0]), cJSON_Delete(roots[1]);
            return oc_error(OC_ERR_INVALID_ARG, "%s: unknown RF-DETR variant '%s' (nano, small, "
                            "medium)", path, scale);
        }
    }
    const oc_st_tensor *pos = oc_st_find(src, "backbone.0.encoder.encoder.embeddings."
                                              "position_embeddings");
    if (!pos || pos->ndim != 3) {
        cJSON_Delete(roots[0]), cJSON_Delete(roots[1]);
        return oc_error(OC_ERR_FORMAT, "%s: no 'backbone.0.encoder.encoder.embeddings."
                        "position_embeddings' [1, 1+g*g, C]: not an RF-DETR state_dict", path);
    }
    int ndec = 0;
    for (;; ndec++) {
        char nm[96];
        snprintf(nm, sizeof nm, "transformer.decoder.layers.%d.norm1.weight", ndec);
        if (!oc_st_find(src, nm)) break;
    }
    if (!v && !oc_st_meta(src, "resolution") && !cfg) {
        /* a bare state_dict: the variant whose position grid and depth it has */
        for (size_t i = 0; i < sizeof variants / sizeof variants[0]; i++)
            if (1 + (int64_t)variants[i].pes * variants[i].pes == pos->shape[1] &&
                variants[i].dec_layers == ndec)
                v = &variants[i];
        if (!v) {
            cJSON_Delete(roots[0]), cJSON_Delete(roots[1]);
            return oc_error(OC_ERR_FORMAT, "%s: no config metadata and the shapes (position "
                            "grid of %lld entries, %d decoder layers) match no variant: pass "
                            "--variant nano|small|medium", path, (long long)pos->shape[1], ndec);
        }
    }
    oc_status st = OC_OK;
    int64_t Q = 300, res = 0;
    char buf[1024];
    /* hyper-parameters: the source's own keys first, then the variant's */
    static const char *const keys[] = {"resolution", "patch_size", "num_windows",
                                       "positional_encoding_size", "hidden_dim",
                                       "dim_feedforward", "dec_layers", "sa_nheads",
                                       "ca_nheads", "dec_n_points", "num_feature_levels",
                                       "num_queries", "num_select", "class_logits",
                                       "out_feature_indexes", "dinov2"};
    for (size_t i = 0; i < sizeof keys / sizeof keys[0] && st == OC_OK; i++) {
        const char *val = src_meta(src, cfgs, 2, keys[i], buf, sizeof buf);
        char vb[64];
        if (!val && v) {
            val = vb;
            if (!strcmp(keys[i], "resolution")) snprintf(vb, sizeof vb, "%d", v->res);
            else if (!strcmp(keys[i], "num_windows")) snprintf(vb, sizeof vb, "2");
            else if (!strcmp(keys[i], "out_feature_indexes")) snprintf(vb, sizeof vb, "[3, 6, 9, 12]");
            else if (!strcmp(keys[i], "sa_nheads")) snprintf(vb, sizeof vb, "8");
            else if (!strcmp(keys[i], "ca_nheads")) snprintf(vb, sizeof vb, "16");
            else if (!strcmp(keys[i], "num_queries")) snprintf(vb, sizeof vb, "300");
            else val = NULL;
        }
        if (!val) continue;
        if (!strcmp(keys[i], "num_queries")) Q = strtoll(val, NULL, 10);
        if (!strcmp(keys[i], "resolution")) res = strtoll(val, NULL, 10);
        st = oc_st_writer_meta(out, keys[i], val);
    }
    cJSON_Delete(roots[0]), cJSON_Delete(roots[1]);
    if (st != OC_OK) return st;
    if (Q < 1 || Q > 100000)
        return oc_error(OC_ERR_FORMAT, "%s: num_queries %lld is out of range", path, (long long)Q);
    oc_st_writer_meta(out, "ocellus.format_version", "1");
    oc_st_writer_meta(out, "ocellus.arch", "rfdetr");
    oc_st_writer_meta(out, "ocellus.task", "detect_detr");
    if (v) oc_st_writer_meta(out, "ocellus.scale", v->name);
    if (res > 0) {
        snprintf(buf, sizeof buf, "%lld", (long long)res);
        oc_st_writer_meta(out, "ocellus.input_size", buf);
    }
    oc_st_writer_meta(out, "ocellus.preprocess.mean", "[0.485, 0.456, 0.406]");
    oc_st_writer_meta(out, "ocellus.preprocess.std", "[0.229, 0.224, 0.225]");
    oc_st_writer_meta(out, "ocellus.conf_threshold", "0.5"); /* RFDETR.predict's default */
    const oc_st_tensor *ce = oc_st_find(src, "class_embed.weight");
    if (ce && ce->ndim == 2 && ce->shape[0] == 91) {
        cJSON *names = cJSON_CreateArray();
        for (int i = 0; i < 91 && names; i++) {
            const char *s = rf_coco91_name(i);
            cJSON_AddItemToArray(names, cJSON_CreateString(s ? s : ""));
        }
        char *js = names ? cJSON_PrintUnformatted(names) : NULL;
        cJSON_Delete(names);
        if (!js) return oc_error(OC_ERR_NOMEM, "%s: out of memory", path);
        oc_st_writer_meta(out, "ocellus.num_classes", "91");
        st = oc_st_writer_meta(out, "ocellus.class_names", js);
        free(js);
        if (st != OC_OK) return st;
    }

    for (size_t i = 0; i < oc_st_num_tensors(src) && st == OC_OK; i++) {
        const oc_st_tensor *t = oc_st_tensor_at(src, i);
        if (skip_tensor(t->name)) continue;
        int64_t shape[OC_ST_MAX_DIMS];
        memcpy(shape, t->shape, sizeof shape);
        if ((!strcmp(t->name, "refpoint_embed.weight") || !strcmp(t->name, "query_feat.weight")) &&
            t->ndim == 2 && shape[0] > Q)
            shape[0] = Q; /* leading rows: a prefix of the data */
        st = oc_st_writer_add(out, t->name, t->dtype, t->ndim, shape, t->data);
    }
    return st;
}

/* sam2_variants.c -- the image-mode tensors of a SAM2 configuration (names and shapes of
 * SAM2Base.state_dict(), as the official checkpoints' ["model"]), the converter (state_dict
 * -> model file: image-mode tensors kept, video-only keys dropped, float32 or 16-bit) and the
 * synthetic-weights generator. The variants table itself is in sam2.c (sam2_variant_hp). */
#include "sam2.h"

#include <math.h>
#include <stdio.h>
#include <string.h>

typedef void (*tensor_fn)(void *user, const char *name, int ndim, const int64_t *shape,
                          int kind);
/* kind: what a generator should put there */
enum { K_WEIGHT = 0, K_BIAS, K_LN_W, K_LN_B, K_EMBED };

typedef struct {
    tensor_fn fn;
    void *user;
} walker;

static void T(walker *w, int kind, int ndim, int64_t a, int64_t b, int64_t c, int64_t d,
              const char *fmt, ...) OC_PRINTF(8, 9);
static void T(walker *w, int kind, int ndim, int64_t a, int64_t b, int64_t c, int64_t d,
              const char *fmt, ...)
{
    char name[256];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(name, sizeof name, fmt, ap);
    va_end(ap);
    int64_t shape[4] = {a, b, c, d};
    w->fn(w->user, name, ndim, shape, kind);
}

static void linear(walker *w, const char *p, int in, int out)
{
    T(w, K_WEIGHT, 2, out, in, 0, 0, "%s.weight", p);
    T(w, K_BIAS, 1, out, 0, 0, 0, "%s.bias", p);
}

static void lnorm(walker *w, const char *p, int dim)
{
    T(w, K_LN_W, 1, dim, 0, 0, 0, "%s.weight", p);
    T(w, K_LN_B, 1, dim, 0, 0, 0, "%s.bias", p);
}

static void attn(walker *w, const char *p, int D, int I)
{
    char b[256];
    const char *names[4] = {"q_proj", "k_proj", "v_proj", "out_proj"};
    for (int k = 0; k < 4; k++) {
        snprintf(b, sizeof b, "%s.%s", p, names[k]);
        linear(w, b, k == 3 ? I : D, k == 3 ? D : I);
    }
}

/* every image-mode tensor, in the order load_weights reads them */
static void walk(const sam2_hp *hp, walker *w)
{
    const int E = hp->embed_dim, D = hp->d_model, mc = hp->mask_in_chans;
    const int T_ = hp->num_multimask + 1, I = D / hp->tr_downsample;
    char p[256];
    T(w, K_EMBED, 3, 1, 1, D, 0, "no_mem_embed");
    T(w, K_EMBED, 4, 1, E, hp->bkg_h, hp->bkg_w, "image_encoder.trunk.pos_embed");
    T(w, K_EMBED, 4, 1, E, hp->window_spec[0], hp->window_spec[0],
      "image_encoder.trunk.pos_embed_window");
    T(w, K_WEIGHT, 4, E, 3, 7, 7, "image_encoder.trunk.patch_embed.proj.weight");
    T(w, K_BIAS, 1, E, 0, 0, 0, "image_encoder.trunk.patch_embed.proj.bias");
    for (int i = 0; i < hp->nblocks; i++) {
        int d = hp->blk_dim[i], dout = hp->blk_dim_out[i], hid = (int)(dout * hp->mlp_ratio);
        snprintf(p, sizeof p, "image_encoder.trunk.blocks.%d.norm1", i);
        lnorm(w, p, d);
        snprintf(p, sizeof p, "image_encoder.trunk.blocks.%d.attn.qkv", i);
        linear(w, p, d, 3 * dout);
        snprintf(p, sizeof p, "image_encoder.trunk.blocks.%d.attn.proj", i);
        linear(w, p, dout, dout);
        snprintf(p, sizeof p, "image_encoder.trunk.blocks.%d.norm2", i);
        lnorm(w, p, dout);
        snprintf(p, sizeof p, "image_encoder.trunk.blocks.%d.mlp.layers.0", i);
        linear(w, p, dout, hid);
        snprintf(p, sizeof p, "image_encoder.trunk.blocks.%d.mlp.layers.1", i);
        linear(w, p, hid, dout);
        if (d != dout) {
            snprintf(p, sizeof p, "image_encoder.trunk.blocks.%d.proj", i);
            linear(w, p, d, dout);
        }
    }
    for (int k = 0; k < hp->nlevels; k++) {
        T(w, K_WEIGHT, 4, D, hp->backbone_channels[k], 1, 1, "image_encoder.neck.convs.%d.conv.weight", k);
        T(w, K_BIAS, 1, D, 0, 0, 0, "image_encoder.neck.convs.%d.conv.bias", k);
    }
    T(w, K_EMBED, 2, 2, D / 2, 0, 0, "sam_prompt_encoder.pe_layer.positional_encoding_gaussian_matrix");
    for (int k = 0; k < 4; k++)
        T(w, K_EMBED, 2, 1, D, 0, 0, "sam_prompt_encoder.point_embeddings.%d.weight", k);
    T(w, K_EMBED, 2, 1, D, 0, 0, "sam_prompt_encoder.not_a_point_embed.weight");
    T(w, K_EMBED, 2, 1, D, 0, 0, "sam_prompt_encoder.no_mask_embed.weight");
    T(w, K_WEIGHT, 4, mc / 4, 1, 2, 2, "sam_prompt_encoder.mask_downscaling.0.weight");
    T(w, K_BIAS, 1, mc / 4, 0, 0, 0, "sam_prompt_encoder.mask_downscaling.0.bias");
    lnorm(w, "sam_prompt_encoder.mask_downscaling.1", mc / 4);
    T(w, K_WEIGHT, 4, mc, mc / 4, 2, 2, "sam_prompt_encoder.mask_downscaling.3.weight");
    T(w, K_BIAS, 1, mc, 0, 0, 0, "sam_prompt_encoder.mask_downscaling.3.bias");
    lnorm(w, "sam_prompt_encoder.mask_downscaling.4", mc);
    T(w, K_WEIGHT, 4, D, mc, 1, 1, "sam_prompt_encoder.mask_downscaling.6.weight");
    T(w, K_BIAS, 1, D, 0, 0, 0, "sam_prompt_encoder.mask_downscaling.6.bias");
    for (int l = 0; l < hp->tr_depth; l++) {
        snprintf(p, sizeof p, "sam_mask_decoder.transformer.layers.%d.self_attn", l);
        attn(w, p, D, D);
        snprintf(p, sizeof p, "sam_mask_decoder.transformer.layers.%d.cross_attn_token_to_image", l);
        attn(w, p, D, I);
        snprintf(p, sizeof p, "sam_mask_decoder.transformer.layers.%d.cross_attn_image_to_token", l);
        attn(w, p, D, I);
        for (int k = 1; k <= 4; k++) {
            snprintf(p, sizeof p, "sam_mask_decoder.transformer.layers.%d.norm%d", l, k);
            lnorm(w, p, D);
        }
        snprintf(p, sizeof p, "sam_mask_decoder.transformer.layers.%d.mlp.layers.0", l);
        linear(w, p, D, hp->tr_mlp);
        snprintf(p, sizeof p, "sam_mask_decoder.transformer.layers.%d.mlp.layers.1", l);
        linear(w, p, hp->tr_mlp, D);
    }
    attn(w, "sam_mask_decoder.transformer.final_attn_token_to_image", D, I);
    lnorm(w, "sam_mask_decoder.transformer.norm_final_attn", D);
    T(w, K_EMBED, 2, 1, D, 0, 0, "sam_mask_decoder.iou_token.weight");
    T(w, K_EMBED, 2, T_, D, 0, 0, "sam_mask_decoder.mask_tokens.weight");
    T(w, K_EMBED, 2, 1, D, 0, 0, "sam_mask_decoder.obj_score_token.weight");
    T(w, K_WEIGHT, 4, D, D / 4, 2, 2, "sam_mask_decoder.output_upscaling.0.weight");
    T(w, K_BIAS, 1, D / 4, 0, 0, 0, "sam_mask_decoder.output_upscaling.0.bias");
    lnorm(w, "sam_mask_decoder.output_upscaling.1", D / 4);
    T(w, K_WEIGHT, 4, D / 4, D / 8, 2, 2, "sam_mask_decoder.output_upscaling.3.weight");
    T(w, K_BIAS, 1, D / 8, 0, 0, 0, "sam_mask_decoder.output_upscaling.3.bias");
    T(w, K_WEIGHT, 4, D / 8, D, 1, 1, "sam_mask_decoder.conv_s0.weight");
    T(w, K_BIAS, 1, D / 8, 0, 0, 0, "sam_mask_decoder.conv_s0.bias");
    T(w, K_WEIGHT, 4, D / 4, D, 1, 1, "sam_mask_decoder.conv_s1.weight");
    T(w, K_BIAS, 1, D / 4, 0, 0, 0, "sam_mask_decoder.conv_s1.bias");
    for (int t = 0; t < T_; t++)
        for (int k = 0; k < 3; k++) {
            snprintf(p, sizeof p, "sam_mask_decoder.output_hypernetworks_mlps.%d.layers.%d", t, k);
            linear(w, p, D, k == 2 ? D / 8 : D);
        }
    for (int k = 0; k < hp->iou_depth; k++) {
        snprintf(p, sizeof p, "sam_mask_decoder.iou_prediction_head.layers.%d", k);
        linear(w, p, k == 0 ? D : hp->iou_hidden, k == hp->iou_depth - 1 ? T_ : hp->iou_hidden);
    }
    if (hp->pred_obj_scores_mlp) {
        for (int k = 0; k < 3; k++) {
            snprintf(p, sizeof p, "sam_mask_decoder.pred_obj_score_head.layers.%d", k);
            linear(w, p, D, k == 2 ? 1 : D);
        }
    } else {
        linear(w, "sam_mask_decoder.pred_obj_score_head", D, 1);
    }
}

/* ---------------------------------------------------------------- metadata -------------- */

static oc_status write_meta(oc_st_writer *out, const sam2_hp *hp, const char *variant)
{
    char *cfg = sam2_hp_to_json(hp);
    if (!cfg) return oc_error(OC_ERR_NOMEM, "sam2: out of memory for the config JSON");
    oc_status st = oc_st_writer_meta(out, "ocellus.format_version", "1");
    if (!st) st = oc_st_writer_meta(out, "ocellus.arch", "sam2");
    if (!st && variant) st = oc_st_writer_meta(out, "ocellus.variant", variant);
    if (!st) st = oc_st_writer_meta(out, "config", cfg);
    char buf[32];
    snprintf(buf, sizeof buf, "%d", hp->image_size);
    if (!st) st = oc_st_writer_meta(out, "ocellus.input_size", buf);
    oc_free(cfg);
    return st;
}

/* ---------------------------------------------------------------- converter ------------- */

typedef struct {
    const oc_st_file *src;
    oc_st_writer *out;
    int dt;
    oc_status st;
    int n;
} conv_ctx;

static void conv_tensor(void *user, const char *name, int ndim, const int64_t *shape, int kind)
{
    conv_ctx *c = user;
    (void)kind;
    if (c->st != OC_OK) return;
    float *p = NULL;
    c->st = oc_st_load_f32(c->src, name, ndim, shape, &p);
    if (c->st != OC_OK) return;
    uint64_t n = 1;
    for (int i = 0; i < ndim; i++) n *= (uint64_t)shape[i];
    if (c->dt == OC_DT_F32) {
        c->st = oc_st_writer_add(c->out, name, OC_DT_F32, ndim, shape, p);
    } else {
        uint16_t *h = oc_malloc(n * sizeof(uint16_t) + 2);
        if (!h) {
            oc_free(p);
            c->st = oc_error(OC_ERR_NOMEM, "sam2 convert: out of memory");
            return;
        }
        for (uint64_t i = 0; i < n; i++)
            h[i] = c->dt == OC_DT_BF16 ? oc_f32_to_bf16(p[i]) : oc_f32_to_f16(p[i]);
        c->st = oc_st_writer_add(c->out, name, c->dt, ndim, shape, h);
        oc_free(h);
    }
    oc_free(p);
    c->n++;
}

oc_status sam2_convert(const oc_st_file *src, const char *variant, int dt,
                       oc_st_writer *out)
{
    if (!src || !out) return oc_error(OC_ERR_INVALID_ARG, "sam2 convert: NULL argument");
    if (dt != OC_DT_F32 && dt != OC_DT_F16 && dt != OC_DT_BF16)
        return oc_error(OC_ERR_INVALID_ARG, "sam2 convert: weights can be stored as F32, F16 or "
                        "BF16");
    sam2_hp hp;
    /* without a variant, the file's own config (the fixtures' metadata) must say it all */
    if (variant && !sam2_variant_hp(variant, &hp))
        return oc_error(OC_ERR_INVALID_ARG, "sam2 convert: unknown variant '%s' (tiny, small, "
                        "base-plus, large)", variant);
    oc_status st = sam2_hp_from_file(src, variant, &hp);
    if (st != OC_OK) return st;
    conv_ctx c = {src, out, dt, OC_OK, 0};
    walker w = {conv_tensor, &c};
    walk(&hp, &w);
    if (c.st != OC_OK) return c.st;
    return write_meta(out, &hp, variant);
}

/* ---------------------------------------------------------------- generator ------------- */

typedef struct {
    oc_st_writer *out;
    uint64_t seed;
    oc_status st;
} gen_ctx;

static uint64_t splitmix(uint64_t *s)
{
    uint64_t z = (*s += 0x9e3779b97f4a7c15ull);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
}

static void gen_tensor(void *user, const char *name, int ndim, const int64_t *shape, int kind)
{
    gen_ctx *c = user;
    if (c->st != OC_OK) return;
    uint64_t n = 1;
    for (int i = 0; i < ndim; i++) n *= (uint64_t)shape[i];
    float *p = oc_malloc(n * sizeof(float) + 4);
    if (!p) {
        c->st = oc_error(OC_ERR_NOMEM, "sam2 gen: out of memory for %s", name);
        return;
    }
    /* a stream per tensor name, so a file does not depend on the order of generation */
    uint64_t s = c->seed * 0x100000001b3ull;
    for (const char *q = name; *q; q++) s = (s ^ (unsigned char)*q) * 0x100000001b3ull;
    /* fan-in of a weight: every dim but the first */
    double fan = 1;
    for (int i = 1; i < ndim; i++) fan *= (double)shape[i];
    float a = kind == K_WEIGHT ? (float)sqrt(3.0 / fan) : kind == K_BIAS ? 0.02f
              : kind == K_EMBED ? 0.5f : 0.1f;
    for (uint64_t i = 0; i < n; i++) {
        float u = (float)((splitmix(&s) >> 40) * (1.0 / 16777216.0)) * 2.0f - 1.0f;
        p[i] = (kind == K_LN_W ? 1.0f : 0.0f) + a * u;
    }
    c->st = oc_st_writer_add(c->out, name, OC_DT_F32, ndim, shape, p);
    oc_free(p);
}

oc_status sam2_generate(const char *variant, uint64_t seed, oc_st_writer *out)
{
    sam2_hp hp;
    if (!out) return oc_error(OC_ERR_INVALID_ARG, "sam2 gen: NULL writer");
    if (!variant || !sam2_variant_hp(variant, &hp))
        return oc_error(OC_ERR_INVALID_ARG, "sam2 gen: unknown variant '%s' (tiny, small, "
                        "base-plus, large)", variant ? variant : "(none)");
    oc_status st = sam2_hp_derive(&hp, variant);
    if (st != OC_OK) return st;
    gen_ctx c = {out, seed, OC_OK};
    walker w = {gen_tensor, &c};
    walk(&hp, &w);
    if (c.st != OC_OK) return c.st;
    return write_meta(out, &hp, variant);
}

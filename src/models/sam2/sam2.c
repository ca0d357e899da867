/* sam2.c -- SAM 2.1 image mode: configuration from the file's metadata, the weights, the
 * architecture entry (oc_arch_sam2).
 *
 * Configuration, in order of preference: the `config` metadata JSON in the reference's form
 * (what the fixtures and our converter write: trunk / neck / prompt_encoder / mask_decoder
 * objects), flat keys (embed_dim, num_heads, stages, global_att_blocks, window_spec,
 * window_pos_embed_bkg_spatial_size, d_model, backbone_channel_list), then the named
 * variant's defaults (ocellus.variant / ocellus.scale). The per-block layout follows
 * Hiera.__init__ (backbones/hieradet.py): a block's window size is its stage's, looked up
 * before the stage counter advances, so the first (q-pool) block of a stage still uses the
 * previous stage's window; global blocks have window 0. */
#include "sam2.h"

#include <cjson/cJSON.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

/* ---------------------------------------------------------------- configuration --------- */

static void hp_defaults_common(sam2_hp *hp)
{
    hp->image_size = 1024;
    hp->q_pool = 3;
    hp->q_stride = 2;
    hp->dim_mul = 2.0;
    hp->head_mul = 2.0;
    hp->mlp_ratio = 4.0;
    hp->d_model = 256;
    hp->scalp = 1;
    hp->mask_in_chans = 16;
    hp->num_multimask = 3;
    hp->tr_depth = 2;
    hp->tr_heads = 8;
    hp->tr_mlp = 2048;
    hp->tr_downsample = 2;
    hp->iou_depth = 3;
    hp->iou_hidden = 256;
    hp->pred_obj_scores_mlp = 1;
    hp->stab_delta = 0.05;
    hp->stab_thresh = 0.98;
}

typedef struct {
    const char *name, *alias;
    int embed_dim, num_heads, stages[4], global[3], window[4], bkg;
} variant_row;

static const variant_row variants[] = {
    {"tiny", "t", 96, 1, {1, 2, 7, 2}, {5, 7, 9}, {8, 4, 14, 7}, 7},
    {"small", "s", 96, 1, {1, 2, 11, 2}, {7, 10, 13}, {8, 4, 14, 7}, 7},
    {"base-plus", "b+", 112, 2, {2, 3, 16, 3}, {12, 16, 20}, {8, 4, 14, 7}, 14},
    {"large", "l", 144, 2, {2, 6, 36, 4}, {23, 33, 43}, {8, 4, 16, 8}, 7},
};

int sam2_variant_hp(const char *variant, sam2_hp *hp)
{
    if (!variant) return 0;
    for (size_t i = 0; i < sizeof variants / sizeof variants[0]; i++) {
        const variant_row *v = &variants[i];
        if (strcmp(variant, v->name) && strcmp(variant, v->alias) &&
            !(!strcmp(v->name, "base-plus") && (!strcmp(variant, "base_plus") ||
                                                !strcmp(variant, "bp"))))
            continue;
        memset(hp, 0, sizeof *hp);
        hp_defaults_common(hp);
        hp->embed_dim = v->embed_dim;
        hp->num_heads = v->num_heads;
        hp->nstages = 4;
        for (int k = 0; k < 4; k++) {
            hp->stages[k] = v->stages[k];
            hp->window_spec[k] = v->window[k];
        }
        hp->nglobal = 3;
        for (int k = 0; k < 3; k++) hp->global_blocks[k] = v->global[k];
        hp->bkg_h = hp->bkg_w = v->bkg;
        hp->nlevels = 4;
        for (int k = 0; k < 4; k++) hp->backbone_channels[k] = v->embed_dim << (3 - k);
        hp->top_down[2] = hp->top_down[3] = 1;
        return 1;
    }
    return 0;
}

oc_status sam2_hp_derive(sam2_hp *hp, const char *what)
{
    if (hp->nstages < 1 || hp->nstages > SAM2_MAX_STAGES)
        return oc_error(OC_ERR_FORMAT, "%s: SAM2 needs 1..%d trunk stages, got %d", what,
                        SAM2_MAX_STAGES, hp->nstages);
    if (hp->embed_dim < 1 || hp->embed_dim > 65536 || hp->num_heads < 1 ||
        hp->num_heads > hp->embed_dim)
        return oc_error(OC_ERR_FORMAT, "%s: bad embed_dim %d / num_heads %d", what,
                        hp->embed_dim, hp->num_heads);
    if (hp->q_stride != 2)
        return oc_error(OC_ERR_UNSUPPORTED, "%s: q_stride %d (only 2x2 q-pooling is supported)",
                        what, hp->q_stride);
    if (hp->image_size < 64 || hp->image_size > 8192 || hp->image_size % 16)
        return oc_error(OC_ERR_FORMAT, "%s: image_size %d is not a multiple of 16 in 64..8192",
                        what, hp->image_size);
    int total = 0;
    for (int s = 0; s < hp->nstages; s++) {
        if (hp->stages[s] < 1 || hp->stages[s] > SAM2_MAX_BLOCKS)
            return oc_error(OC_ERR_FORMAT, "%s: stage %d has %d blocks", what, s, hp->stages[s]);
        if (hp->window_spec[s] < 0 || hp->window_spec[s] > 1024)
            return oc_error(OC_ERR_FORMAT, "%s: window_spec[%d] = %d", what, s,
                            hp->window_spec[s]);
        total += hp->stages[s];
        if (total > SAM2_MAX_BLOCKS)
            return oc_error(OC_ERR_FORMAT, "%s: more than %d blocks", what, SAM2_MAX_BLOCKS);
        hp->stage_ends[s] = total - 1;
    }
    hp->nblocks = total;
    if (hp->q_pool < 0 || hp->q_pool > hp->nstages - 1)
        return oc_error(OC_ERR_FORMAT, "%s: q_pool %d out of 0..%d", what, hp->q_pool,
                        hp->nstages - 1);
    int dim = hp->embed_dim, heads = hp->num_heads, cur = 1;
    for (int i = 0; i < total; i++) {
        int dim_out = dim;
        int ws = hp->window_spec[cur - 1];
        for (int k = 0; k < hp->nglobal; k++)
            if (hp->global_blocks[k] == i) ws = 0;
        int after_end = 0;
        for (int s = 0; s < hp->nstages; s++)
            if (hp->stage_ends[s] == i - 1) after_end = 1;
        if (after_end) {
            dim_out = (int)(dim * hp->dim_mul);
            heads = (int)(heads * hp->head_mul);
            cur++;
        }
        int qp = 0;
        for (int s = 0; s < hp->q_pool; s++)
            if (hp->stage_ends[s] + 1 == i) qp = 1;
        if (dim_out < 1 || dim_out > 65536 || heads < 1 || dim_out % heads)
            return oc_error(OC_ERR_FORMAT, "%s: block %d: width %d is not divisible by %d heads",
                            what, i, dim_out, heads);
        if (qp && ws % 2)
            return oc_error(OC_ERR_UNSUPPORTED, "%s: q-pool block %d has an odd window %d", what,
                            i, ws);
        hp->blk_dim[i] = dim;
        hp->blk_dim_out[i] = dim_out;
        hp->blk_heads[i] = heads;
        hp->blk_window[i] = ws;
        hp->blk_qpool[i] = qp;
        hp->blk_stage_end[i] = 0;
        for (int s = 0; s < hp->nstages; s++)
            if (hp->stage_ends[s] == i) hp->blk_stage_end[i] = s + 1;
        dim = dim_out;
    }
    if (hp->nlevels != hp->nstages)
        return oc_error(OC_ERR_FORMAT, "%s: the neck has %d levels, the trunk %d stages", what,
                        hp->nlevels, hp->nstages);
    for (int s = 0; s < hp->nstages; s++) {
        int want = hp->blk_dim_out[hp->stage_ends[hp->nstages - 1 - s]];
        if (hp->backbone_channels[s] != want)
            return oc_error(OC_ERR_FORMAT, "%s: backbone_channel_list[%d] = %d, but the trunk's "
                            "stage %d ends with %d channels", what, s, hp->backbone_channels[s],
                            hp->nstages - s, want);
    }
    if (hp->scalp < 0 || hp->nlevels - hp->scalp != 3)
        return oc_error(OC_ERR_UNSUPPORTED, "%s: %d neck levels with scalp %d: the image path "
                        "needs exactly 3 (2 high-resolution levels and the image embedding)",
                        what, hp->nlevels, hp->scalp);
    if (hp->d_model < 8 || hp->d_model % 8 || hp->d_model > 8192)
        return oc_error(OC_ERR_FORMAT, "%s: d_model %d is not a multiple of 8", what,
                        hp->d_model);
    if (hp->tr_heads < 1 || hp->tr_downsample < 1 || hp->d_model % hp->tr_downsample ||
        (hp->d_model / hp->tr_downsample) % hp->tr_heads || hp->d_model % hp->tr_heads ||
        hp->tr_depth < 1 || hp->tr_depth > 4 || hp->tr_mlp < 1 || hp->num_multimask < 1 ||
        hp->num_multimask > 7 || hp->iou_depth < 2 || hp->iou_depth > 4 || hp->iou_hidden < 1 ||
        hp->mask_in_chans < 4 || hp->mask_in_chans % 4)
        return oc_error(OC_ERR_FORMAT, "%s: bad mask decoder settings (heads %d, downsample %d, "
                        "depth %d, mlp %d, multimask %d, iou head %dx%d, mask_in_chans %d)", what,
                        hp->tr_heads, hp->tr_downsample, hp->tr_depth, hp->tr_mlp,
                        hp->num_multimask, hp->iou_depth, hp->iou_hidden, hp->mask_in_chans);
    return OC_OK;
}

/* JSON array of ints into out[max]; returns the count, -1 on a bad array */
static int json_ints(const cJSON *a, int *out, int max)
{
    if (!cJSON_IsArray(a)) return -1;
    int n = 0;
    const cJSON *it;
    cJSON_ArrayForEach(it, a)
    {
        if (!cJSON_IsNumber(it) || n >= max || it->valuedouble != floor(it->valuedouble) ||
            fabs(it->valuedouble) > 1e6)
            return -1;
        out[n++] = (int)it->valuedouble;
    }
    return n;
}

static int json_int(const cJSON *o, const char *key, int *out)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, key);
    if (!v) return 0;
    if (!cJSON_IsNumber(v) || v->valuedouble != floor(v->valuedouble) ||
        fabs(v->valuedouble) > 1e6)
        return -1;
    *out = (int)v->valuedouble;
    return 1;
}

static int json_num(const cJSON *o, const char *key, double *out)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, key);
    if (!v) return 0;
    if (!cJSON_IsNumber(v) || !isfinite(v->valuedouble)) return -1;
    *out = v->valuedouble;
    return 1;
}

static int json_bool(const cJSON *o, const char *key, int *out)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, key);
    if (!v) return 0;
    if (!cJSON_IsBool(v)) return -1;
    *out = cJSON_IsTrue(v) ? 1 : 0;
    return 1;
}

static oc_status hp_from_config(const char *path, const char *js, sam2_hp *hp)
{
    cJSON *root = cJSON_Parse(js);
    if (!root || !cJSON_IsObject(root)) {
        cJSON_Delete(root);
        return oc_error(OC_ERR_FORMAT, "%s: metadata 'config' is not a JSON object", path);
    }
    const cJSON *trunk = cJSON_GetObjectItemCaseSensitive(root, "trunk");
    const cJSON *neck = cJSON_GetObjectItemCaseSensitive(root, "neck");
    const cJSON *pe = cJSON_GetObjectItemCaseSensitive(root, "prompt_encoder");
    const cJSON *md = cJSON_GetObjectItemCaseSensitive(root, "mask_decoder");
    const char *bad = NULL;
    int tmp[SAM2_MAX_BLOCKS];
    if (!cJSON_IsObject(trunk) || !cJSON_IsObject(neck)) {
        bad = "trunk/neck objects";
        goto done;
    }
    if (json_int(root, "image_size", &hp->image_size) < 0) bad = "image_size";
    if (json_int(trunk, "embed_dim", &hp->embed_dim) != 1) bad = "trunk.embed_dim";
    if (json_int(trunk, "num_heads", &hp->num_heads) != 1) bad = "trunk.num_heads";
    if (bad) goto done;
    hp->nstages = json_ints(cJSON_GetObjectItemCaseSensitive(trunk, "stages"), hp->stages,
                            SAM2_MAX_STAGES);
    if (hp->nstages < 1) {
        bad = "trunk.stages";
        goto done;
    }
    if (json_ints(cJSON_GetObjectItemCaseSensitive(trunk, "window_spec"), hp->window_spec,
                  SAM2_MAX_STAGES) != hp->nstages) {
        bad = "trunk.window_spec (one per stage)";
        goto done;
    }
    const cJSON *gb = cJSON_GetObjectItemCaseSensitive(trunk, "global_att_blocks");
    if (gb) {
        hp->nglobal = json_ints(gb, hp->global_blocks, SAM2_MAX_BLOCKS);
        if (hp->nglobal < 0) {
            bad = "trunk.global_att_blocks";
            goto done;
        }
    }
    const cJSON *bk = cJSON_GetObjectItemCaseSensitive(trunk, "window_pos_embed_bkg_spatial_size");
    if (bk) {
        if (json_ints(bk, tmp, 2) != 2) {
            bad = "trunk.window_pos_embed_bkg_spatial_size";
            goto done;
        }
        hp->bkg_h = tmp[0];
        hp->bkg_w = tmp[1];
    }
    if (json_int(trunk, "q_pool", &hp->q_pool) < 0) bad = "trunk.q_pool";
    const cJSON *qs = cJSON_GetObjectItemCaseSensitive(trunk, "q_stride");
    if (qs) {
        if (json_ints(qs, tmp, 2) != 2 || tmp[0] != tmp[1]) {
            bad = "trunk.q_stride (square)";
            goto done;
        }
        hp->q_stride = tmp[0];
    }
    if (json_num(trunk, "dim_mul", &hp->dim_mul) < 0) bad = "trunk.dim_mul";
    if (json_num(trunk, "head_mul", &hp->head_mul) < 0) bad = "trunk.head_mul";
    if (json_num(trunk, "mlp_ratio", &hp->mlp_ratio) < 0) bad = "trunk.mlp_ratio";
    if (json_int(neck, "d_model", &hp->d_model) != 1) bad = "neck.d_model";
    if (bad) goto done;
    hp->nlevels = json_ints(cJSON_GetObjectItemCaseSensitive(neck, "backbone_channel_list"),
                            hp->backbone_channels, SAM2_MAX_LEVELS);
    if (hp->nlevels < 1) {
        bad = "neck.backbone_channel_list";
        goto done;
    }
    const cJSON *td = cJSON_GetObjectItemCaseSensitive(neck, "fpn_top_down_levels");
    if (td) {
        int n = json_ints(td, tmp, SAM2_MAX_LEVELS);
        if (n < 0) {
            bad = "neck.fpn_top_down_levels";
            goto done;
        }
        memset(hp->top_down, 0, sizeof hp->top_down);
        for (int i = 0; i < n; i++) {
            if (tmp[i] < 0 || tmp[i] >= SAM2_MAX_LEVELS) {
                bad = "neck.fpn_top_down_levels";
                goto done;
            }
            hp->top_down[tmp[i]] = 1;
        }
    }
    const cJSON *fi = cJSON_GetObjectItemCaseSensitive(neck, "fpn_interp_model");
    if (fi && (!cJSON_IsString(fi) || strcmp(fi->valuestring, "nearest"))) {
        bad = "neck.fpn_interp_model (only \"nearest\" is supported)";
        goto done;
    }
    const cJSON *ft = cJSON_GetObjectItemCaseSensitive(neck, "fuse_type");
    if (ft && (!cJSON_IsString(ft) || strcmp(ft->valuestring, "sum"))) {
        bad = "neck.fuse_type (only \"sum\" is supported)";
        goto done;
    }
    if (json_int(neck, "scalp", &hp->scalp) < 0) bad = "neck.scalp";
    if (cJSON_IsObject(pe) && json_int(pe, "mask_in_chans", &hp->mask_in_chans) < 0)
        bad = "prompt_encoder.mask_in_chans";
    if (cJSON_IsObject(md)) {
        int b = 1;
        if (json_int(md, "num_multimask_outputs", &hp->num_multimask) < 0) bad = "num_multimask_outputs";
        if (json_int(md, "transformer_depth", &hp->tr_depth) < 0) bad = "transformer_depth";
        if (json_int(md, "transformer_num_heads", &hp->tr_heads) < 0) bad = "transformer_num_heads";
        if (json_int(md, "transformer_mlp_dim", &hp->tr_mlp) < 0) bad = "transformer_mlp_dim";
        if (json_int(md, "attention_downsample_rate", &hp->tr_downsample) < 0)
            bad = "attention_downsample_rate";
        if (json_int(md, "iou_head_depth", &hp->iou_depth) < 0) bad = "iou_head_depth";
        if (json_int(md, "iou_head_hidden_dim", &hp->iou_hidden) < 0) bad = "iou_head_hidden_dim";
        if (json_bool(md, "pred_obj_scores_mlp", &hp->pred_obj_scores_mlp) < 0)
            bad = "pred_obj_scores_mlp";
        if (json_num(md, "dynamic_multimask_stability_delta", &hp->stab_delta) < 0)
            bad = "dynamic_multimask_stability_delta";
        if (json_num(md, "dynamic_multimask_stability_thresh", &hp->stab_thresh) < 0)
            bad = "dynamic_multimask_stability_thresh";
        if (json_bool(md, "use_high_res_features", &b) < 0 || !b)
            bad = "use_high_res_features (must be true)";
        if (json_bool(md, "pred_obj_scores", &b) < 0 || !b) bad = "pred_obj_scores (must be true)";
        if (json_bool(md, "iou_prediction_use_sigmoid", &b) < 0 || !b)
            bad = "iou_prediction_use_sigmoid (must be true)";
        int tdim = hp->d_model;
        if (json_int(md, "transformer_dim", &tdim) < 0 || tdim != hp->d_model)
            bad = "transformer_dim (must equal neck.d_model)";
    }
done:
    cJSON_Delete(root);
    if (bad)
        return oc_error(OC_ERR_FORMAT, "%s: metadata 'config': missing or bad %s", path, bad);
    return OC_OK;
}

/* flat metadata value as a JSON int array ("[1, 2, 7, 2]") */
static int flat_ints(const oc_st_file *f, const char *key, int *out, int max)
{
    const char *v = oc_st_meta(f, key);
    if (!v) return 0;
    cJSON *a = cJSON_Parse(v);
    int n = json_ints(a, out, max);
    cJSON_Delete(a);
    return n;
}

static int flat_int(const oc_st_file *f, const char *key, int *out)
{
    const char *v = oc_st_meta(f, key);
    if (!v) return 0;
    char *end;
    long x = strtol(v, &end, 10);
    if (end == v || *end || x < -1000000 || x > 1000000) return -1;
    *out = (int)x;
    return 1;
}

oc_status sam2_hp_from_file(const oc_st_file *f, const char *variant, sam2_hp *hp)
{
    const char *path = oc_st_path(f);
    memset(hp, 0, sizeof *hp);
    if (!variant) variant = oc_st_meta(f, "ocellus.variant");
    if (!variant) variant = oc_st_meta(f, "ocellus.scale");
    int have_variant = variant && sam2_variant_hp(variant, hp);
    if (!have_variant) {
        hp_defaults_common(hp);
        hp->top_down[2] = hp->top_down[3] = 1;
    }
    oc_status st;
    const char *cfg = oc_st_meta(f, "config");
    if (cfg && cfg[0] == '{') {
        st = hp_from_config(path, cfg, hp);
        if (st != OC_OK) return st;
    } else if (oc_st_meta(f, "embed_dim") || !have_variant) {
        int t[2];
        const char *bad = NULL;
        if (flat_int(f, "embed_dim", &hp->embed_dim) != 1) bad = "embed_dim";
        else if (flat_int(f, "num_heads", &hp->num_heads) != 1) bad = "num_heads";
        else if ((hp->nstages = flat_ints(f, "stages", hp->stages, SAM2_MAX_STAGES)) < 1)
            bad = "stages";
        else if (flat_ints(f, "window_spec", hp->window_spec, SAM2_MAX_STAGES) != hp->nstages)
            bad = "window_spec";
        else if ((hp->nglobal = flat_ints(f, "global_att_blocks", hp->global_blocks,
                                          SAM2_MAX_BLOCKS)) < 0)
            bad = "global_att_blocks";
        else if (flat_ints(f, "window_pos_embed_bkg_spatial_size", t, 2) != 2)
            bad = "window_pos_embed_bkg_spatial_size";
        else if (flat_int(f, "d_model", &hp->d_model) != 1) bad = "d_model";
        else if ((hp->nlevels = flat_ints(f, "backbone_channel_list", hp->backbone_channels,
                                          SAM2_MAX_LEVELS)) < 1)
            bad = "backbone_channel_list";
        else if (flat_int(f, "image_size", &hp->image_size) < 0) bad = "image_size";
        if (bad)
            return oc_error(OC_ERR_FORMAT, "%s: SAM2 metadata '%s' is missing or malformed (and "
                            "no known ocellus.variant: tiny, small, base-plus, large)", path, bad);
        hp->bkg_h = t[0];
        hp->bkg_w = t[1];
    }
    if (hp->bkg_h < 1 || hp->bkg_w < 1 || hp->bkg_h > 1024 || hp->bkg_w > 1024)
        return oc_error(OC_ERR_FORMAT, "%s: bad window_pos_embed_bkg_spatial_size %dx%d", path,
                        hp->bkg_h, hp->bkg_w);
    return sam2_hp_derive(hp, path);
}

static void json_add_ints(cJSON *o, const char *key, const int *v, int n)
{
    cJSON_AddItemToObject(o, key, cJSON_CreateIntArray(v, n));
}

char *sam2_hp_to_json(const sam2_hp *hp)
{
    cJSON *root = cJSON_CreateObject();
    if (!root) return NULL;
    cJSON_AddNumberToObject(root, "image_size", hp->image_size);
    cJSON *t = cJSON_AddObjectToObject(root, "trunk");
    cJSON_AddNumberToObject(t, "embed_dim", hp->embed_dim);
    cJSON_AddNumberToObject(t, "num_heads", hp->num_heads);
    json_add_ints(t, "stages", hp->stages, hp->nstages);
    json_add_ints(t, "global_att_blocks", hp->global_blocks, hp->nglobal);
    int bk[2] = {hp->bkg_h, hp->bkg_w}, qs[2] = {hp->q_stride, hp->q_stride};
    json_add_ints(t, "window_pos_embed_bkg_spatial_size", bk, 2);
    json_add_ints(t, "window_spec", hp->window_spec, hp->nstages);
    cJSON_AddNumberToObject(t, "q_pool", hp->q_pool);
    json_add_ints(t, "q_stride", qs, 2);
    cJSON_AddNumberToObject(t, "dim_mul", hp->dim_mul);
    cJSON_AddNumberToObject(t, "head_mul", hp->head_mul);
    cJSON_AddNumberToObject(t, "mlp_ratio", hp->mlp_ratio);
    cJSON *n = cJSON_AddObjectToObject(root, "neck");
    cJSON_AddNumberToObject(n, "d_model", hp->d_model);
    json_add_ints(n, "backbone_channel_list", hp->backbone_channels, hp->nlevels);
    int td[SAM2_MAX_LEVELS], ntd = 0;
    for (int i = 0; i < hp->nlevels; i++)
        if (hp->top_down[i]) td[ntd++] = i;
    json_add_ints(n, "fpn_top_down_levels", td, ntd);
    cJSON_AddStringToObject(n, "fpn_interp_model", "nearest");
    cJSON_AddStringToObject(n, "fuse_type", "sum");
    cJSON_AddNumberToObject(n, "scalp", hp->scalp);
    cJSON *p = cJSON_AddObjectToObject(root, "prompt_encoder");
    cJSON_AddNumberToObject(p, "embed_dim", hp->d_model);
    cJSON_AddNumberToObject(p, "mask_in_chans", hp->mask_in_chans);
    cJSON *m = cJSON_AddObjectToObject(root, "mask_decoder");
    cJSON_AddNumberToObject(m, "transformer_dim", hp->d_model);
    cJSON_AddNumberToObject(m, "num_multimask_outputs", hp->num_multimask);
    cJSON_AddNumberToObject(m, "transformer_depth", hp->tr_depth);
    cJSON_AddNumberToObject(m, "transformer_num_heads", hp->tr_heads);
    cJSON_AddNumberToObject(m, "transformer_mlp_dim", hp->tr_mlp);
    cJSON_AddNumberToObject(m, "attention_downsample_rate", hp->tr_downsample);
    cJSON_AddNumberToObject(m, "iou_head_depth", hp->iou_depth);
    cJSON_AddNumberToObject(m, "iou_head_hidden_dim", hp->iou_hidden);
    cJSON_AddBoolToObject(m, "use_high_res_features", 1);
    cJSON_AddBoolToObject(m, "iou_prediction_use_sigmoid", 1);
    cJSON_AddBoolToObject(m, "pred_obj_scores", 1);
    cJSON_AddBoolToObject(m, "pred_obj_scores_mlp", hp->pred_obj_scores_mlp);
    cJSON_AddNumberToObject(m, "dynamic_multimask_stability_delta", hp->stab_delta);
    cJSON_AddNumberToObject(m, "dynamic_multimask_stability_thresh", hp->stab_thresh);
    char *s = cJSON_PrintUnformatted(root);
    cJSON_Delete(root);
    if (!s) return NULL;
    char *r = oc_strdup(s);
    cJSON_free(s);
    return r;
}

/* ---------------------------------------------------------------- weights --------------- */

typedef struct {
    sam2_model *sm;
    const oc_st_file *f;
    oc_status st;
    uint64_t unreleased; /* bytes of the mapping read since its pages were last dropped */
} loader;

/* aligned float32 copy of tensor `name` with the given shape (-1 = any); NULL after a failure */
static const float *get(loader *L, const char *name, int ndim, int64_t d0, int64_t d1,
                        int64_t d2, int64_t d3)
{
    if (L->st != OC_OK) return NULL;
    int64_t shape[4] = {d0, d1, d2, d3};
    float *p = NULL;
    L->st = oc_st_load_f32(L->f, name, ndim, shape, &p);
    if (L->st != OC_OK) return NULL;
    /* every tensor is copied: drop the file's pages as we go so the resident set holds the
     * copies only (Large: 0.9 GB instead of 1.8 GB) */
    const oc_st_tensor *t = oc_st_find(L->f, name);
    L->unreleased += t ? t->end - t->begin : 0;
    if (L->unreleased >= (64u << 20)) {
        oc_st_release_pages(L->f);
        L->unreleased = 0;
    }
    sam2_model *sm = L->sm;
    if (sm->nowned == sm->capowned) {
        int cap = sm->capowned ? sm->capowned * 2 : 256;
        float **no = oc_realloc(sm->owned, (size_t)cap * sizeof *no);
        if (!no) {
            oc_free(p);
            L->st = oc_error(OC_ERR_NOMEM, "%s: out of memory", oc_st_path(L->f));
            return NULL;
        }
        sm->owned = no;
        sm->capowned = cap;
    }
    sm->owned[sm->nowned++] = p;
    return p;
}

/* keep p with the model's other copies (freed with it); 0 (and p freed) when out of memory */
static int loader_own(sam2_model *sm, float *p)
{
    if (sm->nowned == sm->capowned) {
        int cap = sm->capowned ? sm->capowned * 2 : 256;
        float **no = oc_realloc(sm->owned, (size_t)cap * sizeof *no);
        if (!no) {
            oc_free(p);
            return 0;
        }
        sm->owned = no;
        sm->capowned = cap;
    }
    sm->owned[sm->nowned++] = p;
    return 1;
}

static const float *getf(loader *L, int ndim, int64_t d0, int64_t d1, int64_t d2, int64_t d3,
                         const char *fmt, ...) OC_PRINTF(7, 8);
static const float *getf(loader *L, int ndim, int64_t d0, int64_t d1, int64_t d2, int64_t d3,
                         const char *fmt, ...)
{
    char name[256];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(name, sizeof name, fmt, ap);
    va_end(ap);
    return get(L, name, ndim, d0, d1, d2, d3);
}

static sam2_lin lin(loader *L, const char *prefix, int in, int out)
{
    sam2_lin l;
    l.in = in;
    l.out = out;
    l.w = getf(L, 2, out, in, 0, 0, "%s.weight", prefix);
    l.b = getf(L, 1, out, 0, 0, 0, "%s.bias", prefix);
    return l;
}

static sam2_ln lnorm(loader *L, const char *prefix, int dim)
{
    sam2_ln n;
    n.g = getf(L, 1, dim, 0, 0, 0, "%s.weight", prefix);
    n.b = getf(L, 1, dim, 0, 0, 0, "%s.bias", prefix);
    return n;
}

static sam2_attn_w attn_w(loader *L, const char *prefix, int D, int internal)
{
    sam2_attn_w a;
    char b[256];
    a.internal = internal;
    snprintf(b, sizeof b, "%s.q_proj", prefix);
    a.q = lin(L, b, D, internal);
    snprintf(b, sizeof b, "%s.k_proj", prefix);
    a.k = lin(L, b, D, internal);
    snprintf(b, sizeof b, "%s.v_proj", prefix);
    a.v = lin(L, b, D, internal);
    snprintf(b, sizeof b, "%s.out_proj", prefix);
    a.out = lin(L, b, internal, D);
    return a;
}

/* 1x1 conv weight [out][in][1][1] as a linear */
static sam2_lin conv1x1(loader *L, const char *prefix, int in, int out)
{
    sam2_lin l;
    l.in = in;
    l.out = out;
    l.w = getf(L, 4, out, in, 1, 1, "%s.weight", prefix);
    l.b = getf(L, 1, out, 0, 0, 0, "%s.bias", prefix);
    return l;
}

static void sam2_free(oc_model *m)
{
    sam2_model *sm = m->arch_data;
    if (!sm) return;
    for (int i = 0; i < sm->nowned; i++) oc_free(sm->owned[i]);
    oc_free(sm->owned);
    for (int i = 0; i < sm->npacked; i++) oc_conv2d_weights_free(sm->packed[i]);
    sam2_pos_cache *c = sm->pos;
    while (c) {
        sam2_pos_cache *nx = c->next;
        oc_free(c->data);
        oc_free(c);
        c = nx;
    }
    oc_free(sm->dense_pe);
    oc_free(sm->dense_pe_hwc);
    oc_free(sm->up0_lin_w);
    oc_free(sm->up0_lin_b);
    oc_free(sm->up3_lin_w);
    oc_free(sm->up3_lin_b);
    pthread_mutex_destroy(&sm->pos_lock);
    oc_free(sm);
    m->arch_data = NULL;
}

static oc_status load_weights(oc_model *m, sam2_model *sm)
{
    const sam2_hp *hp = &sm->hp;
    sam2_weights *W = &sm->w;
    loader L = {sm, m->file, OC_OK, 0};
    const int E = hp->embed_dim, D = hp->d_model;
    char p[256];

    /* trunk */
    W->patch_w = get(&L, "image_encoder.trunk.patch_embed.proj.weight", 4, E, 3, 7, 7);
    W->patch_b = get(&L, "image_encoder.trunk.patch_embed.proj.bias", 1, E, 0, 0, 0);
    W->pos_embed = get(&L, "image_encoder.trunk.pos_embed", 4, 1, E, hp->bkg_h, hp->bkg_w);
    W->pos_embed_window = get(&L, "image_encoder.trunk.pos_embed_window", 4, 1, E,
                              hp->window_spec[0], hp->window_spec[0]);
    for (int i = 0; i < hp->nblocks && L.st == OC_OK; i++) {
        sam2_block_w *B = &W->blk[i];
        int d = hp->blk_dim[i], dout = hp->blk_dim_out[i];
        snprintf(p, sizeof p, "image_encoder.trunk.blocks.%d.norm1", i);
        B->norm1 = lnorm(&L, p, d);
        snprintf(p, sizeof p, "image_encoder.trunk.blocks.%d.attn.qkv", i);
        B->qkv = lin(&L, p, d, 3 * dout);
        snprintf(p, sizeof p, "image_encoder.trunk.blocks.%d.attn.proj", i);
        B->proj_attn = lin(&L, p, dout, dout);
        snprintf(p, sizeof p, "image_encoder.trunk.blocks.%d.norm2", i);
        B->norm2 = lnorm(&L, p, dout);
        int hidden = (int)(dout * hp->mlp_ratio);
        snprintf(p, sizeof p, "image_encoder.trunk.blocks.%d.mlp.layers.0", i);
        B->mlp0 = lin(&L, p, dout, hidden);
        snprintf(p, sizeof p, "image_encoder.trunk.blocks.%d.mlp.layers.1", i);
        B->mlp1 = lin(&L, p, hidden, dout);
        memset(&B->proj, 0, sizeof B->proj);
        if (d != dout) {
            snprintf(p, sizeof p, "image_encoder.trunk.blocks.%d.proj", i);
            B->proj = lin(&L, p, d, dout);
        }
    }
    /* neck: conv k applies to trunk level nlevels-1-k (lowest resolution first) */
    for (int k = 0; k < hp->nlevels; k++) {
        snprintf(p, sizeof p, "image_encoder.neck.convs.%d.conv", k);
        W->neck[k] = conv1x1(&L, p, hp->backbone_channels[k], D);
    }
    W->conv_s0 = conv1x1(&L, "sam_mask_decoder.conv_s0", D, D / 8);
    W->conv_s1 = conv1x1(&L, "sam_mask_decoder.conv_s1", D, D / 4);
    W->no_mem_embed = get(&L, "no_mem_embed", 3, 1, 1, D, 0);

    /* prompt encoder */
    W->pe_gauss = get(&L, "sam_prompt_encoder.pe_layer.positional_encoding_gaussian_matrix", 2,
                      2, D / 2, 0, 0);
    for (int k = 0; k < 4; k++)
        W->point_emb[k] = getf(&L, 2, 1, D, 0, 0, "sam_prompt_encoder.point_embeddings.%d.weight", k);
    W->not_a_point = get(&L, "sam_prompt_encoder.not_a_point_embed.weight", 2, 1, D, 0, 0);
    W->no_mask = get(&L, "sam_prompt_encoder.no_mask_embed.weight", 2, 1, D, 0, 0);
    const int mc = hp->mask_in_chans;
    W->md0_w = get(&L, "sam_prompt_encoder.mask_downscaling.0.weight", 4, mc / 4, 1, 2, 2);
    W->md0_b = get(&L, "sam_prompt_encoder.mask_downscaling.0.bias", 1, mc / 4, 0, 0, 0);
    W->md1 = lnorm(&L, "sam_prompt_encoder.mask_downscaling.1", mc / 4);
    W->md3_w = get(&L, "sam_prompt_encoder.mask_downscaling.3.weight", 4, mc, mc / 4, 2, 2);
    W->md3_b = get(&L, "sam_prompt_encoder.mask_downscaling.3.bias", 1, mc, 0, 0, 0);
    W->md4 = lnorm(&L, "sam_prompt_encoder.mask_downscaling.4", mc);
    W->md6_w = get(&L, "sam_prompt_encoder.mask_downscaling.6.weight", 4, D, mc, 1, 1);
    W->md6_b = get(&L, "sam_prompt_encoder.mask_downscaling.6.bias", 1, D, 0, 0, 0);

    /* mask decoder */
    const int T = hp->num_multimask + 1, internal = D / hp->tr_downsample;
    W->obj_token = get(&L, "sam_mask_decoder.obj_score_token.weight", 2, 1, D, 0, 0);
    W->iou_token = get(&L, "sam_mask_decoder.iou_token.weight", 2, 1, D, 0, 0);
    W->mask_tokens = get(&L, "sam_mask_decoder.mask_tokens.weight", 2, T, D, 0, 0);
    for (int l = 0; l < hp->tr_depth; l++) {
        sam2_tlayer_w *Ly = &W->layer[l];
        snprintf(p, sizeof p, "sam_mask_decoder.transformer.layers.%d.self_attn", l);
        Ly->self_attn = attn_w(&L, p, D, D);
        snprintf(p, sizeof p, "sam_mask_decoder.transformer.layers.%d.cross_attn_token_to_image", l);
        Ly->cross_t2i = attn_w(&L, p, D, internal);
        snprintf(p, sizeof p, "sam_mask_decoder.transformer.layers.%d.cross_attn_image_to_token", l);
        Ly->cross_i2t = attn_w(&L, p, D, internal);
        for (int k = 0; k < 4; k++) {
            snprintf(p, sizeof p, "sam_mask_decoder.transformer.layers.%d.norm%d", l, k + 1);
            sam2_ln n = lnorm(&L, p, D);
            if (k == 0) Ly->norm1 = n;
            else if (k == 1) Ly->norm2 = n;
            else if (k == 2) Ly->norm3 = n;
            else Ly->norm4 = n;
        }
        snprintf(p, sizeof p, "sam_mask_decoder.transformer.layers.%d.mlp.layers.0", l);
        Ly->mlp0 = lin(&L, p, D, hp->tr_mlp);
        snprintf(p, sizeof p, "sam_mask_decoder.transformer.layers.%d.mlp.layers.1", l);
        Ly->mlp1 = lin(&L, p, hp->tr_mlp, D);
    }
    W->final_attn = attn_w(&L, "sam_mask_decoder.transformer.final_attn_token_to_image", D,
                           internal);
    W->norm_final = lnorm(&L, "sam_mask_decoder.transformer.norm_final_attn", D);
    W->up0_w = get(&L, "sam_mask_decoder.output_upscaling.0.weight", 4, D, D / 4, 2, 2);
    W->up0_b = get(&L, "sam_mask_decoder.output_upscaling.0.bias", 1, D / 4, 0, 0, 0);
    W->up1 = lnorm(&L, "sam_mask_decoder.output_upscaling.1", D / 4);
    W->up3_w = get(&L, "sam_mask_decoder.output_upscaling.3.weight", 4, D / 4, D / 8, 2, 2);
    W->up3_b = get(&L, "sam_mask_decoder.output_upscaling.3.bias", 1, D / 8, 0, 0, 0);
    for (int t = 0; t < T; t++)
        for (int k = 0; k < 3; k++) {
            snprintf(p, sizeof p, "sam_mask_decoder.output_hypernetworks_mlps.%d.layers.%d", t, k);
            W->hyper[t][k] = lin(&L, p, D, k == 2 ? D / 8 : D);
        }
    for (int k = 0; k < hp->iou_depth; k++) {
        snprintf(p, sizeof p, "sam_mask_decoder.iou_prediction_head.layers.%d", k);
        W->iou_head[k] = lin(&L, p, k == 0 ? D : hp->iou_hidden,
                             k == hp->iou_depth - 1 ? T : hp->iou_hidden);
    }
    if (hp->pred_obj_scores_mlp) {
        for (int k = 0; k < 3; k++) {
            snprintf(p, sizeof p, "sam_mask_decoder.pred_obj_score_head.layers.%d", k);
            W->obj_head[k] = lin(&L, p, D, k == 2 ? 1 : D);
        }
    } else {
        W->obj_head[0] = lin(&L, "sam_mask_decoder.pred_obj_score_head", D, 1);
    }
    oc_st_release_pages(m->file);
    if (L.st != OC_OK) return L.st;

    /* fold conv_s{0,1} (D -> D/8, D/4) into the lateral conv of level 0 / 1 (C -> D):
     * W = Ws Wl, b = Ws bl + bs, so the D-wide level-0/1 maps are never computed */
    const int nl = hp->nlevels;
    const sam2_lin *hs[2] = {&W->conv_s0, &W->conv_s1};
    sam2_lin *hf[2] = {&W->hr0, &W->hr1};
    for (int lv = 0; lv < 2; lv++) {
        memset(hf[lv], 0, sizeof *hf[lv]);
        if (hp->top_down[0] || hp->top_down[1]) continue; /* level 1 feeds level 0 */
        const sam2_lin *lat = &W->neck[nl - 1 - lv], *sc = hs[lv];
        float *fw = oc_malloc((size_t)sc->out * lat->in * sizeof(float));
        float *fb = oc_malloc((size_t)sc->out * sizeof(float));
        if (!fw || !fb) {
            oc_free(fw);
            oc_free(fb);
            return oc_error(OC_ERR_NOMEM, "%s: out of memory", m->path);
        }
        for (int o = 0; o < sc->out; o++) {
            double bacc = sc->b[o];
            for (int d = 0; d < D; d++) bacc += (double)sc->w[(size_t)o * D + d] * lat->b[d];
            fb[o] = (float)bacc;
            for (int i = 0; i < lat->in; i++) {
                double acc = 0;
                for (int d = 0; d < D; d++)
                    acc += (double)sc->w[(size_t)o * D + d] * lat->w[(size_t)d * lat->in + i];
                fw[(size_t)o * lat->in + i] = (float)acc;
            }
        }
        if (!loader_own(sm, fw)) {
            oc_free(fb);
            return oc_error(OC_ERR_NOMEM, "%s: out of memory", m->path);
        }
        if (!loader_own(sm, fb)) return oc_error(OC_ERR_NOMEM, "%s: out of memory", m->path);
        hf[lv]->w = fw;
        hf[lv]->b = fb;
        hf[lv]->in = lat->in;
        hf[lv]->out = sc->out;
    }

    /* patch embedding conv (k7 s4 p3), packed for this model's isa */
    oc_conv2d_desc cd;
    memset(&cd, 0, sizeof cd);
    cd.cin = 3;
    cd.cout = E;
    cd.kh = cd.kw = 7;
    cd.groups = 1;
    cd.stride_h = cd.stride_w = 4;
    cd.pad_t = cd.pad_l = cd.pad_b = cd.pad_r = 3;
    cd.dil_h = cd.dil_w = 1;
    cd.act = OC_ACT_NONE;
    oc_status st = oc_conv2d_prepack(&cd, W->patch_w, W->patch_b, m->isa, &W->patch);
    if (st != OC_OK) return st;
    sm->packed[sm->npacked++] = W->patch;

    /* mask_downscaling: conv2x2 s2 1 -> mc/4, conv2x2 s2 mc/4 -> mc, conv1x1 mc -> D */
    const float *mw[3] = {W->md0_w, W->md3_w, W->md6_w}, *mb[3] = {W->md0_b, W->md3_b, W->md6_b};
    const int mcin[3] = {1, mc / 4, mc}, mcout[3] = {mc / 4, mc, D}, mk[3] = {2, 2, 1};
    for (int k = 0; k < 3; k++) {
        oc_conv2d_desc *d = &sm->md_desc[k];
        memset(d, 0, sizeof *d);
        d->cin = mcin[k];
        d->cout = mcout[k];
        d->kh = d->kw = d->stride_h = d->stride_w = mk[k];
        d->groups = d->dil_h = d->dil_w = 1;
        st = oc_conv2d_prepack(d, mw[k], mb[k], m->isa, &sm->md_conv[k]);
        if (st != OC_OK) return st;
        sm->packed[sm->npacked++] = sm->md_conv[k];
    }
    return OC_OK;
}

/* ConvTranspose2d(cin -> c, k 2, s 2) weight [cin][c][2][2] -> linear [4*c][cin] whose row
 * (ky*2+kx)*c + co gives output pixel (2y+ky, 2x+kx), channel co; bias repeated 4 times */
static oc_status convt_as_linear(const float *w, const float *b, int cin, int c, float **lw,
                                 float **lb)
{
    *lw = oc_malloc((size_t)4 * c * cin * sizeof(float));
    *lb = oc_malloc((size_t)4 * c * sizeof(float));
    if (!*lw || !*lb) return oc_error(OC_ERR_NOMEM, "sam2: out of memory for the upscaling");
    for (int k = 0; k < 4; k++)
        for (int co = 0; co < c; co++) {
            float *row = *lw + ((size_t)k * c + co) * cin;
            for (int ci = 0; ci < cin; ci++) row[ci] = w[((size_t)ci * c + co) * 4 + k];
            (*lb)[k * c + co] = b[co];
        }
    return OC_OK;
}

/* the prompt encoder's dense positional encoding get_dense_pe(): [D][h][w] */
static oc_status make_dense_pe(sam2_model *sm)
{
    const int D = sm->hp.d_model, h = sm->emb_h, w = sm->emb_w, half = D / 2;
    sm->dense_pe = oc_malloc((size_t)D * h * w * sizeof(float));
    sm->dense_pe_hwc = oc_malloc((size_t)D * h * w * sizeof(float));
    if (!sm->dense_pe || !sm->dense_pe_hwc)
        return oc_error(OC_ERR_NOMEM, "sam2: out of memory for the dense PE");
    const float *G = sm->w.pe_gauss;
    for (int i = 0; i < h; i++)
        for (int j = 0; j < w; j++) {
            float x = 2.0f * (((float)j + 0.5f) / (float)w) - 1.0f;
            float y = 2.0f * (((float)i + 0.5f) / (float)h) - 1.0f;
            for (int c = 0; c < half; c++) {
                float v = 2.0f * (float)M_PI * (x * G[c] + y * G[half + c]);
                sm->dense_pe[((size_t)c * h + i) * w + j] = sinf(v);
                sm->dense_pe[((size_t)(c + half) * h + i) * w + j] = cosf(v);
            }
        }
    for (int c = 0; c < D; c++)
        for (int k = 0; k < h * w; k++)
            sm->dense_pe_hwc[(size_t)k * D + c] = sm->dense_pe[(size_t)c * h * w + k];
    return OC_OK;
}

static oc_status sam2_load(oc_model *m)
{
    sam2_model *sm = oc_calloc(1, sizeof *sm);
    if (!sm) return oc_error(OC_ERR_NOMEM, "%s: out of memory", m->path);
    pthread_mutex_init(&sm->pos_lock, NULL);
    m->arch_data = sm;
    oc_status st = sam2_hp_from_file(m->file, m->scale[0] ? m->scale : NULL, &sm->hp);
    if (st != OC_OK) return st;
    m->input_h = m->input_w = sm->hp.image_size;
    sm->emb_h = sm->emb_w = sm->hp.image_size / 16;
    st = load_weights(m, sm);
    if (st != OC_OK) return st;
    if (st == OC_OK)
        st = convt_as_linear(sm->w.up0_w, sm->w.up0_b, sm->hp.d_model, sm->hp.d_model / 4,
                             &sm->up0_lin_w, &sm->up0_lin_b);
    if (st == OC_OK)
        st = convt_as_linear(sm->w.up3_w, sm->w.up3_b, sm->hp.d_model / 4, sm->hp.d_model / 8,
                             &sm->up3_lin_w, &sm->up3_lin_b);
    if (st == OC_OK) st = make_dense_pe(sm);
    if (st != OC_OK) return st;
    /* the default grid's position embedding now, so the first run does not pay for it */
    if (!sam2_pos_embed(m, sm->hp.image_size / 4, sm->hp.image_size / 4)) return OC_ERR_NOMEM;
    return OC_OK;
}

const float *sam2_pos_embed(const oc_model *m, int gh, int gw)
{
    sam2_model *sm = m->arch_data;
    const sam2_hp *hp = &sm->hp;
    const int E = hp->embed_dim, ws = hp->window_spec[0];
    if (ws < 1 || gh % ws || gw % ws) {
        oc_error(OC_ERR_SHAPE, "sam2: the %dx%d patch grid is not a multiple of the %dx%d window "
                 "position embedding (input sides must be multiples of %d)", gh, gw, ws, ws,
                 4 * ws);
        return NULL;
    }
    pthread_mutex_lock(&sm->pos_lock);
    for (sam2_pos_cache *c = sm->pos; c; c = c->next)
        if (c->gh == gh && c->gw == gw) {
            pthread_mutex_unlock(&sm->pos_lock);
            return c->data;
        }
    float *chw = oc_malloc((size_t)E * gh * gw * sizeof(float));
    float *nhwc = oc_malloc((size_t)E * gh * gw * sizeof(float));
    sam2_pos_cache *c = oc_calloc(1, sizeof *c);
    if (!chw || !nhwc || !c) {
        oc_free(chw);
        oc_free(nhwc);
        oc_free(c);
        pthread_mutex_unlock(&sm->pos_lock);
        oc_error(OC_ERR_NOMEM, "sam2: out of memory for the position embedding");
        return NULL;
    }
    sam2_bicubic_resize(sm->w.pos_embed, E, hp->bkg_h, hp->bkg_w, chw, gh, gw);
    const float *win = sm->w.pos_embed_window;
    for (int y = 0; y < gh; y++)
        for (int x = 0; x < gw; x++)
            for (int e = 0; e < E; e++)
                nhwc[((size_t)y * gw + x) * E + e] =
                    chw[((size_t)e * gh + y) * gw + x] + win[((size_t)e * ws + y % ws) * ws + x % ws];
    oc_free(chw);
    c->gh = gh;
    c->gw = gw;
    c->data = nhwc;
    c->next = sm->pos;
    sm->pos = c;
    pthread_mutex_unlock(&sm->pos_lock);
    return nhwc;
}

static const char *const sam2_stages[] = {"encode", "decode", NULL};
static const char *const sam2_scales[] = {"tiny", "small", "base-plus", "large", NULL};

static oc_status build_decode(const oc_model *m, oc_graph *g, const oc_io_desc *in, int n_in)
{
    const sam2_model *sm = m->arch_data;
    const int D = sm->hp.d_model;
    const oc_io_desc *pc = oc_io_find(in, n_in, "point_coords");
    const oc_io_desc *pl = oc_io_find(in, n_in, "point_labels");
    const oc_io_desc *mk = oc_io_find(in, n_in, "mask_input");
    const oc_io_desc *emb = oc_io_find(in, n_in, "image_embed");
    if (!emb || !oc_io_find(in, n_in, "high_res_feats_0") ||
        !oc_io_find(in, n_in, "high_res_feats_1"))
        return oc_graph_fail(g, oc_error(OC_ERR_INVALID_ARG, "sam2 decode: image_embed and "
                                         "high_res_feats_0/1 are missing: run the \"encode\" "
                                         "stage on an image first"));
    if (emb->ndim != 4 || emb->dims[0] != 1 || emb->dims[1] != D || emb->dims[2] != sm->emb_h ||
        emb->dims[3] != sm->emb_w)
        return oc_graph_fail(g, oc_error(OC_ERR_SHAPE, "sam2 decode: image_embed must be [1, %d, "
                                         "%d, %d] (one image per decode)", D, sm->emb_h,
                                         sm->emb_w));
    if (!pc || !pl)
        return oc_graph_fail(g, oc_error(OC_ERR_INVALID_ARG, "sam2 decode: needs point_coords "
                                         "[B, P, 2] and point_labels [B, P] (a box is two points "
                                         "with labels 2 and 3)"));
    if (pc->ndim != 3 || pc->dims[2] != 2 || pc->dtype != OC_DTYPE_F32 || pl->ndim != 2 ||
        pl->dims[0] != pc->dims[0] || pl->dims[1] != pc->dims[1] ||
        pc->dims[0] > SAM2_MAX_PROMPT_SETS || pc->dims[1] > 4096)
        return oc_graph_fail(g, oc_error(OC_ERR_SHAPE, "sam2 decode: point_coords must be float32 "
                                         "[B, P, 2] and point_labels [B, P] with the same B, P "
                                         "(B <= %d, P <= 4096)", SAM2_MAX_PROMPT_SETS));
    if (pl->dtype == OC_DTYPE_U8)
        return oc_graph_fail(g, oc_error(OC_ERR_UNSUPPORTED, "sam2 decode: point_labels cannot be "
                                         "u8 (label -1 marks padding): use i32, i64 or f32"));
    if (mk && (mk->ndim != 4 || mk->dims[0] != pc->dims[0] || mk->dims[1] != 1 ||
               mk->dims[2] != 4 * sm->emb_h || mk->dims[3] != 4 * sm->emb_w ||
               mk->dtype != OC_DTYPE_F32))
        return oc_graph_fail(g, oc_error(OC_ERR_SHAPE, "sam2 decode: mask_input must be float32 "
                                         "[B, 1, %d, %d]", 4 * sm->emb_h, 4 * sm->emb_w));
    /* the encode stage's prompt-independent image tokens, when it made them for this grid */
    int have_tokens = sm->hp.tr_depth >= 1;
    static const char *const tok_names[4] = {"image_tokens", "image_tokens_t2i_k",
                                             "image_tokens_t2i_v", "image_tokens_i2t_q"};
    for (int k = 0; k < 4 && have_tokens; k++) {
        const oc_io_desc *t = oc_io_find(in, n_in, tok_names[k]);
        const int64_t width = k ? sm->w.layer[0].cross_t2i.internal : D;
        have_tokens = t && t->ndim == 3 && t->dims[0] == 1 &&
                      t->dims[1] == (int64_t)sm->emb_h * sm->emb_w && t->dims[2] == width &&
                      t->dtype == OC_DTYPE_F32;
    }
    return sam2_build_decoder(m, g, (int)pc->dims[0], (int)pc->dims[1], mk != NULL, have_tokens,
                              pl->dtype);
}

static oc_status sam2_build(const oc_model *m, oc_graph *g, const char *stage,
                            const oc_io_desc *in, int n_in)
{
    if (stage && !strcmp(stage, "decode")) return build_decode(m, g, in, n_in);
    if (stage && strcmp(stage, "encode"))
        return oc_graph_fail(g, oc_error(OC_ERR_INVALID_ARG, "sam2: no stage '%s' (encode, "
                                         "decode)", stage));
    const oc_io_desc *img = oc_io_find_image(in, n_in, "image");
    if (!img || img->ndim != 4 || img->dims[1] != 3 || img->dims[0] > SAM2_MAX_PROMPT_SETS ||
        img->dims[2] > 65536 || img->dims[3] > 65536)
        return oc_graph_fail(g, oc_error(OC_ERR_SHAPE, "sam2: the encoder takes one NCHW float "
                                         "input 'image' [N, 3, H, W]"));
    return sam2_build_encoder(m, g, (int)img->dims[0], (int)img->dims[2], (int)img->dims[3]);
}

static oc_status sam2_gen_hook(const oc_gen_options *o, oc_st_writer *out)
{
    return sam2_generate(o ? o->scale : NULL, o ? o->seed : 1, out);
}

static oc_status sam2_convert_hook(const oc_st_file *src, const oc_convert_options *o,
                                   oc_st_writer *out)
{
    return sam2_convert(src, o ? o->scale : NULL, OC_DT_F32, out);
}

const oc_arch oc_arch_sam2 = {
    .name = "sam2",
    .task = "segment_sam",
    .stages = sam2_stages,
    .load = sam2_load,
    .build = sam2_build,
    .free = sam2_free,
    .scales = sam2_scales,
    .generate = sam2_gen_hook,
    .convert = sam2_convert_hook,
};

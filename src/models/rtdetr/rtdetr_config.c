/* rtdetr_config.c -- RT-DETR hyper-parameters: the variants table (the paper's
 * configs/rtdetr/rtdetr_r{18,34,50,101}vd_6x_coco.yml) and the reference config JSON, the
 * form the fixtures' `config` metadata has: {"PResNet": {...}, "HybridEncoder": {...},
 * "RTDETRTransformer": {...}, "RTDETRPostProcessor": {...}} with the constructors' argument
 * names. Missing keys take the constructors' defaults (rtdetr_r50vd.yml for the encoder and
 * decoder). Converted and generated files carry it as `ocellus.rtdetr.config`. */
#include "rtdetr.h"

#include <cjson/cJSON.h>
#include <math.h>
#include <stdio.h>
#include <string.h>

const char *const rtdetr_variants[] = {"r18vd", "r34vd", "r50vd", "r101vd", NULL};

static void base_hp(rtdetr_hp *hp)
{
    memset(hp, 0, sizeof *hp);
    snprintf(hp->variant, sizeof hp->variant, "custom");
    hp->depth = 50;
    hp->bottleneck = 1;
    hp->stem = 64;
    const int sc[4] = {64, 128, 256, 512}, bl[4] = {3, 4, 6, 3};
    memcpy(hp->stage_ch, sc, sizeof sc);
    memcpy(hp->blocks, bl, sizeof bl);
    hp->enc_hidden = 256;
    hp->enc_ffn = 1024;
    hp->enc_heads = 8;
    hp->enc_ffn_act = OC_ACT_GELU;
    hp->enc_idx[0] = 2;
    hp->n_enc_idx = 1;
    hp->enc_layers = 1;
    hp->pe_temperature = 10000.0;
    hp->expansion = 1.0;
    hp->csp_blocks = 3;
    hp->csp_act = OC_ACT_SILU;
    hp->dec_hidden = 256;
    hp->dec_ffn = 1024;
    hp->dec_heads = 8;
    hp->dec_layers = 6;
    hp->dec_points = 4;
    hp->eval_idx = 5;
    hp->num_queries = 300;
    hp->num_classes = 80;
    hp->dec_ffn_act = OC_ACT_RELU;
    hp->eps = 0.01;
    hp->eval_h = hp->eval_w = 640;
    hp->num_top = 300;
}

static void derive(rtdetr_hp *hp)
{
    int ex = hp->bottleneck ? 4 : 1;
    for (int i = 0; i < RTDETR_LEVELS; i++) hp->back_out[i] = hp->stage_ch[i + 1] * ex;
}

int rtdetr_variant_hp(const char *name, rtdetr_hp *hp)
{
    if (!name) return 0;
    base_hp(hp);
    if (!strcmp(name, "r18vd") || !strcmp(name, "r34vd")) {
        int r18 = name[1] == '1';
        const int b18[4] = {2, 2, 2, 2}, b34[4] = {3, 4, 6, 3};
        hp->depth = r18 ? 18 : 34;
        hp->bottleneck = 0;
        memcpy(hp->blocks, r18 ? b18 : b34, sizeof b18);
        hp->expansion = 0.5;
        hp->dec_layers = r18 ? 3 : 4;
    } else if (!strcmp(name, "r50vd")) {
        hp->depth = 50;
    } else if (!strcmp(name, "r101vd")) {
        hp->depth = 101;
        hp->blocks[2] = 23;
        hp->enc_hidden = 384;
        hp->enc_ffn = 2048;
    } else {
        return 0;
    }
    hp->eval_idx = hp->dec_layers - 1;
    snprintf(hp->variant, sizeof hp->variant, "%s", name);
    derive(hp);
    return 1;
}

/* ---- JSON reading ---- */
typedef struct {
    const char *path;
    oc_status st;
} jctx;

static const cJSON *jobj(const cJSON *root, const char *name)
{
    const cJSON *o = cJSON_GetObjectItemCaseSensitive(root, name);
    return cJSON_IsObject(o) ? o : NULL;
}

static void jint(jctx *c, const cJSON *o, const char *sec, const char *key, long lo, long hi,
                 int *out)
{
    if (c->st || !o) return;
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, key);
    if (!v || cJSON_IsNull(v)) return;
    if (!cJSON_IsNumber(v) || v->valuedouble != floor(v->valuedouble) || v->valuedouble < lo ||
        v->valuedouble > hi)
        c->st = oc_error(OC_ERR_FORMAT, "%s: config %s.%s is not an integer in [%ld, %ld]",
                         c->path, sec, key, lo, hi);
    else
        *out = (int)v->valuedouble;
}

static void jdbl(jctx *c, const cJSON *o, const char *sec, const char *key, double lo, double hi,
                 double *out)
{
    if (c->st || !o) return;
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, key);
    if (!v || cJSON_IsNull(v)) return;
    if (!cJSON_IsNumber(v) || !(v->valuedouble >= lo && v->valuedouble <= hi))
        c->st = oc_error(OC_ERR_FORMAT, "%s: config %s.%s is not a number in [%g, %g]", c->path,
                         sec, key, lo, hi);
    else
        *out = v->valuedouble;
}

/* an integer array of exactly n entries (n < 0: 1..-n entries, count in *got) */
static void jarr(jctx *c, const cJSON *o, const char *sec, const char *key, int n, long lo,
                 long hi, int *out, int *got)
{
    if (c->st || !o) return;
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, key);
    if (!v || cJSON_IsNull(v)) return;
    int len = cJSON_IsArray(v) ? cJSON_GetArraySize(v) : -1;
    int okn = n >= 0 ? len == n : (len >= 1 && len <= -n);
    if (!okn) {
        c->st = oc_error(OC_ERR_FORMAT, "%s: config %s.%s is not an array of %s%d integers",
                         c->path, sec, key, n >= 0 ? "" : "up to ", n >= 0 ? n : -n);
        return;
    }
    int i = 0;
    const cJSON *e;
    cJSON_ArrayForEach(e, v)
    {
        if (!cJSON_IsNumber(e) || e->valuedouble != floor(e->valuedouble) || e->valuedouble < lo ||
            e->valuedouble > hi) {
            c->st = oc_error(OC_ERR_FORMAT, "%s: config %s.%s[%d] is not an integer in [%ld, "
                             "%ld]", c->path, sec, key, i, lo, hi);
            return;
        }
        out[i++] = (int)e->valuedouble;
    }
    if (got) *got = len;
}

static void jstr(jctx *c, const cJSON *o, const char *sec, const char *key, const char *const *ok,
                 int *out)
{
    if (c->st || !o) return;
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, key);
    if (!v || cJSON_IsNull(v)) return;
    if (cJSON_IsString(v))
        for (int i = 0; ok[i]; i++)
            if (!strcmp(v->valuestring, ok[i])) {
                *out = i;
                return;
            }
    char list[128] = "";
    for (int i = 0; ok[i]; i++)
        snprintf(list + strlen(list), sizeof list - strlen(list), "%s'%s'", i ? ", " : "", ok[i]);
    c->st = oc_error(OC_ERR_FORMAT, "%s: config %s.%s must be one of %s", c->path, sec, key, list);
}

static void jbool(jctx *c, const cJSON *o, const char *sec, const char *key, int *out)
{
    if (c->st || !o) return;
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, key);
    if (!v || cJSON_IsNull(v)) return;
    if (!cJSON_IsBool(v))
        c->st = oc_error(OC_ERR_FORMAT, "%s: config %s.%s is not a boolean", c->path, sec, key);
    else
        *out = cJSON_IsTrue(v);
}

static oc_act act_of(int i) { return i == 0 ? OC_ACT_RELU : i == 1 ? OC_ACT_GELU : OC_ACT_SILU; }

oc_status rtdetr_hp_from_json(const char *json, const char *path, rtdetr_hp *hp)
{
    cJSON *root = json ? cJSON_Parse(json) : NULL;
    if (!root || !cJSON_IsObject(root)) {
        cJSON_Delete(root);
        return oc_error(OC_ERR_FORMAT, "%s: the RT-DETR config is not a JSON object", path);
    }
    const cJSON *bb = jobj(root, "PResNet"), *en = jobj(root, "HybridEncoder"),
                *de = jobj(root, "RTDETRTransformer"), *pp = jobj(root, "RTDETRPostProcessor");
    if (!bb || !en || !de) {
        cJSON_Delete(root);
        return oc_error(OC_ERR_FORMAT, "%s: the RT-DETR config lacks %s", path,
                        !bb ? "PResNet" : !en ? "HybridEncoder" : "RTDETRTransformer");
    }
    jctx c = {path, OC_OK};
    base_hp(hp);
    /* backbone: depth chooses the block and the counts, as ResNet_cfg does */
    jint(&c, bb, "PResNet", "depth", 1, 1000, &hp->depth);
    if (!c.st) {
        const int b18[4] = {2, 2, 2, 2}, b34[4] = {3, 4, 6, 3}, b101[4] = {3, 4, 23, 3};
        hp->bottleneck = hp->depth >= 50;
        memcpy(hp->blocks, hp->depth == 18 ? b18 : hp->depth == 101 ? b101 : b34, sizeof b18);
    }
    static const char *const variants[] = {"d", NULL}, *const blocks[] = {"BasicBlock",
                                                                          "BottleNeck", NULL};
    static const char *const acts[] = {"relu", "gelu", "silu", NULL};
    int vd = 0, blk = hp->bottleneck, bb_act = 0, nst = 4, ret[4] = {1, 2, 3, 0}, nret = 3;
    jstr(&c, bb, "PResNet", "variant", variants, &vd);
    jstr(&c, bb, "PResNet", "block", blocks, &blk);
    hp->bottleneck = blk;
    jstr(&c, bb, "PResNet", "act", acts, &bb_act);
    jint(&c, bb, "PResNet", "num_stages", 4, 4, &nst);
    jarr(&c, bb, "PResNet", "return_idx", -4, 0, 3, ret, &nret);
    if (!c.st && (bb_act != 0 || nret != 3 || ret[0] != 1 || ret[1] != 2 || ret[2] != 3))
        c.st = oc_error(OC_ERR_UNSUPPORTED, "%s: config PResNet: only act 'relu' with "
                        "return_idx [1, 2, 3] is supported", path);
    jint(&c, bb, "PResNet", "stem_channels", 2, 1 << 16, &hp->stem);
    jarr(&c, bb, "PResNet", "stage_channels", 4, 1, 1 << 16, hp->stage_ch, NULL);
    jarr(&c, bb, "PResNet", "block_counts", 4, 1, 1000, hp->blocks, NULL);
    if (!c.st && hp->stem % 2)
        c.st = oc_error(OC_ERR_FORMAT, "%s: config PResNet.stem_channels %d is odd", path,
                        hp->stem);
    derive(hp);
    int outc[RTDETR_LEVELS];
    memcpy(outc, hp->back_out, sizeof outc);
    jarr(&c, bb, "PResNet", "out_channels", RTDETR_LEVELS, 1, 1 << 18, outc, NULL);
    if (!c.st && memcmp(outc, hp->back_out, sizeof outc))
        c.st = oc_error(OC_ERR_FORMAT, "%s: config PResNet.out_channels [%d, %d, %d] disagree "
                        "with the stages [%d, %d, %d]", path, outc[0], outc[1], outc[2],
                        hp->back_out[0], hp->back_out[1], hp->back_out[2]);

    /* encoder */
    int inc[RTDETR_LEVELS], strides[RTDETR_LEVELS] = {8, 16, 32};
    memcpy(inc, hp->back_out, sizeof inc);
    jarr(&c, en, "HybridEncoder", "in_channels", RTDETR_LEVELS, 1, 1 << 18, inc, NULL);
    jarr(&c, en, "HybridEncoder", "feat_strides", RTDETR_LEVELS, 1, 1 << 10, strides, NULL);
    if (!c.st && memcmp(inc, hp->back_out, sizeof inc))
        c.st = oc_error(OC_ERR_FORMAT, "%s: config HybridEncoder.in_channels [%d, %d, %d] "
                        "disagree with the backbone's outputs [%d, %d, %d]", path, inc[0],
                        inc[1], inc[2], hp->back_out[0], hp->back_out[1], hp->back_out[2]);
    if (!c.st && (strides[0] != 8 || strides[1] != 16 || strides[2] != 32))
        c.st = oc_error(OC_ERR_UNSUPPORTED, "%s: config HybridEncoder.feat_strides must be [8, "
                        "16, 32]", path);
    jint(&c, en, "HybridEncoder", "hidden_dim", 1, 1 << 16, &hp->enc_hidden);
    jint(&c, en, "HybridEncoder", "nhead", 1, 1024, &hp->enc_heads);
    jint(&c, en, "HybridEncoder", "dim_feedforward", 1, 1 << 18, &hp->enc_ffn);
    int ea = 1, ca = 2;
    jstr(&c, en, "HybridEncoder", "enc_act", acts, &ea);
    hp->enc_ffn_act = act_of(ea);
    jstr(&c, en, "HybridEncoder", "act", acts, &ca);
    hp->csp_act = act_of(ca);
    jarr(&c, en, "HybridEncoder", "use_encoder_idx", -RTDETR_LEVELS, 0, RTDETR_LEVELS - 1,
         hp->enc_idx, &hp->n_enc_idx);
    jint(&c, en, "HybridEncoder", "num_encoder_layers", 0, 64, &hp->enc_layers);
    jdbl(&c, en, "HybridEncoder", "pe_temperature", 1e-6, 1e12, &hp->pe_temperature);
    jdbl(&c, en, "HybridEncoder", "expansion", 1e-6, 64.0, &hp->expansion);
    double dm = 1.0;
    jdbl(&c, en, "HybridEncoder", "depth_mult", 0.0, 64.0, &dm);
    hp->csp_blocks = (int)lround(3.0 * dm);
    int esz[2] = {640, 640};
    jarr(&c, en, "HybridEncoder", "eval_spatial_size", 2, 32, 16384, esz, NULL);

    /* decoder */
    int fch[RTDETR_LEVELS] = {hp->enc_hidden, hp->enc_hidden, hp->enc_hidden};
    int fstr[RTDETR_LEVELS] = {8, 16, 32}, nlev = RTDETR_LEVELS, lq = 0;
    jarr(&c, de, "RTDETRTransformer", "feat_channels", RTDETR_LEVELS, 1, 1 << 18, fch, NULL);
    jarr(&c, de, "RTDETRTransformer", "feat_strides", RTDETR_LEVELS, 1, 1 << 10, fstr, NULL);
    jint(&c, de, "RTDETRTransformer", "num_levels", 1, 16, &nlev);
    if (!c.st && (nlev != RTDETR_LEVELS || fch[0] != hp->enc_hidden || fch[1] != hp->enc_hidden ||
                  fch[2] != hp->enc_hidden || fstr[0] != 8 || fstr[1] != 16 || fstr[2] != 32))
        c.st = oc_error(OC_ERR_UNSUPPORTED, "%s: config RTDETRTransformer: num_levels must be 3 "
                        "and feat_channels the encoder's hidden_dim %d (strides 8, 16, 32)",
                        path, hp->enc_hidden);
    jint(&c, de, "RTDETRTransformer", "hidden_dim", 1, 1 << 16, &hp->dec_hidden);
    jint(&c, de, "RTDETRTransformer", "nhead", 1, 1024, &hp->dec_heads);
    jint(&c, de, "RTDETRTransformer", "dim_feedforward", 1, 1 << 18, &hp->dec_ffn);
    jint(&c, de, "RTDETRTransformer", "num_decoder_layers", 1, 64, &hp->dec_layers);
    jint(&c, de, "RTDETRTransformer", "num_decoder_points", 1, 64, &hp->dec_points);
    jint(&c, de, "RTDETRTransformer", "num_queries", 1, RTDETR_MAX_QUERIES, &hp->num_queries);
    jint(&c, de, "RTDETRTransformer", "num_classes", 1, 100000, &hp->num_classes);
    int da = 0, eidx = -1;
    jstr(&c, de, "RTDETRTransformer", "activation", acts, &da);
    hp->dec_ffn_act = act_of(da);
    jint(&c, de, "RTDETRTransformer", "eval_idx", -64, 63, &eidx);
    jbool(&c, de, "RTDETRTransformer", "learnt_init_query", &lq);
    jdbl(&c, de, "RTDETRTransformer", "eps", 0.0, 0.5, &hp->eps);
    int dsz[2] = {esz[0], esz[1]};
    jarr(&c, de, "RTDETRTransformer", "eval_spatial_size", 2, 32, 16384, dsz, NULL);
    if (!c.st && lq)
        c.st = oc_error(OC_ERR_UNSUPPORTED, "%s: config RTDETRTransformer.learnt_init_query "
                        "true is not supported", path);
    if (!c.st) {
        int e = eidx < 0 ? hp->dec_layers + eidx : eidx;
        if (e < 0 || e >= hp->dec_layers)
            c.st = oc_error(OC_ERR_FORMAT, "%s: config RTDETRTransformer.eval_idx %d is outside "
                            "the %d decoder layers", path, eidx, hp->dec_layers);
        hp->eval_idx = e;
    }
    hp->eval_h = dsz[0];
    hp->eval_w = dsz[1];
    hp->num_top = hp->num_queries;
    if (pp) {
        int focal = 1, ncp = hp->num_classes;
        jint(&c, pp, "RTDETRPostProcessor", "num_top_queries", 1, RTDETR_MAX_QUERIES,
             &hp->num_top);
        jbool(&c, pp, "RTDETRPostProcessor", "use_focal_loss", &focal);
        jint(&c, pp, "RTDETRPostProcessor", "num_classes", 1, 100000, &ncp);
        if (!c.st && !focal)
            c.st = oc_error(OC_ERR_UNSUPPORTED, "%s: config RTDETRPostProcessor.use_focal_loss "
                            "false (softmax scores) is not supported", path);
        if (!c.st && ncp != hp->num_classes)
            c.st = oc_error(OC_ERR_FORMAT, "%s: config RTDETRPostProcessor.num_classes %d "
                            "disagrees with RTDETRTransformer.num_classes %d", path, ncp,
                            hp->num_classes);
    }
    const cJSON *rv = cJSON_GetObjectItemCaseSensitive(root, "variant");
    if (cJSON_IsString(rv) && strlen(rv->valuestring) < sizeof hp->variant)
        snprintf(hp->variant, sizeof hp->variant, "%s", rv->valuestring);
    cJSON_Delete(root);
    if (c.st) return c.st;
    return rtdetr_hp_check(hp, path);
}

oc_status rtdetr_hp_check(const rtdetr_hp *hp, const char *path)
{
    if (hp->enc_hidden % hp->enc_heads)
        return oc_error(OC_ERR_FORMAT, "%s: encoder hidden_dim %d is not a multiple of its %d "
                        "heads", path, hp->enc_hidden, hp->enc_heads);
    if (hp->n_enc_idx > 0 && hp->enc_layers > 0 && hp->enc_hidden % 4)
        return oc_error(OC_ERR_FORMAT, "%s: encoder hidden_dim %d is not a multiple of 4 (the "
                        "2-d sin-cos position embedding)", path, hp->enc_hidden);
    if (hp->dec_hidden % hp->dec_heads)
        return oc_error(OC_ERR_FORMAT, "%s: decoder hidden_dim %d is not a multiple of its %d "
                        "heads", path, hp->dec_hidden, hp->dec_heads);
    if ((int)(hp->enc_hidden * hp->expansion) < 1)
        return oc_error(OC_ERR_FORMAT, "%s: CSP expansion %g of %d channels leaves none", path,
                        hp->expansion, hp->enc_hidden);
    if (hp->num_top > hp->num_queries * (int64_t)hp->num_classes)
        return oc_error(OC_ERR_FORMAT, "%s: num_top_queries %d exceeds queries x classes", path,
                        hp->num_top);
    for (int i = 0; i < 4; i++)
        if (hp->stage_ch[i] < 1 || hp->blocks[i] < 1)
            return oc_error(OC_ERR_FORMAT, "%s: backbone stage %d has %d channels, %d blocks",
                            path, i, hp->stage_ch[i], hp->blocks[i]);
    return OC_OK;
}

static const char *act_name(oc_act a)
{
    return a == OC_ACT_GELU ? "gelu" : a == OC_ACT_SILU ? "silu" : "relu";
}

char *rtdetr_hp_to_json(const rtdetr_hp *hp)
{
    char ids[64] = "";
    for (int i = 0; i < hp->n_enc_idx; i++)
        snprintf(ids + strlen(ids), sizeof ids - strlen(ids), "%s%d", i ? ", " : "", hp->enc_idx[i]);
    size_t cap = 4096;
    char *s = oc_malloc(cap);
    if (!s) return NULL;
    int eidx = hp->eval_idx == hp->dec_layers - 1 ? -1 : hp->eval_idx;
    snprintf(s, cap,
             "{\"PResNet\": {\"depth\": %d, \"variant\": \"d\", \"return_idx\": [1, 2, 3], "
             "\"num_stages\": 4, \"act\": \"relu\", \"stem_channels\": %d, \"stage_channels\": "
             "[%d, %d, %d, %d], \"block\": \"%s\", \"block_counts\": [%d, %d, %d, %d], "
             "\"out_channels\": [%d, %d, %d]}, "
             "\"HybridEncoder\": {\"in_channels\": [%d, %d, %d], \"feat_strides\": [8, 16, 32], "
             "\"hidden_dim\": %d, \"use_encoder_idx\": [%s], \"num_encoder_layers\": %d, "
             "\"nhead\": %d, \"dim_feedforward\": %d, \"enc_act\": \"%s\", \"pe_temperature\": "
             "%.17g, \"expansion\": %.17g, \"depth_mult\": %.17g, \"act\": \"%s\", "
             "\"eval_spatial_size\": [%d, %d]}, "
             "\"RTDETRTransformer\": {\"feat_channels\": [%d, %d, %d], \"feat_strides\": [8, 16, "
             "32], \"hidden_dim\": %d, \"num_levels\": 3, \"num_queries\": %d, "
             "\"num_decoder_layers\": %d, \"eval_idx\": %d, \"eval_spatial_size\": [%d, %d], "
             "\"num_classes\": %d, \"dim_feedforward\": %d, \"nhead\": %d, "
             "\"num_decoder_points\": %d, \"activation\": \"%s\", \"learnt_init_query\": false, "
             "\"eps\": %.17g}, "
             "\"RTDETRPostProcessor\": {\"num_classes\": %d, \"use_focal_loss\": true, "
             "\"num_top_queries\": %d}, \"variant\": \"%s\"}",
             hp->depth, hp->stem, hp->stage_ch[0], hp->stage_ch[1], hp->stage_ch[2],
             hp->stage_ch[3], hp->bottleneck ? "BottleNeck" : "BasicBlock", hp->blocks[0],
             hp->blocks[1], hp->blocks[2], hp->blocks[3], hp->back_out[0], hp->back_out[1],
             hp->back_out[2], hp->back_out[0], hp->back_out[1], hp->back_out[2], hp->enc_hidden,
             ids, hp->enc_layers, hp->enc_heads, hp->enc_ffn, act_name(hp->enc_ffn_act),
             hp->pe_temperature, hp->expansion, hp->csp_blocks / 3.0, act_name(hp->csp_act),
             hp->eval_h, hp->eval_w, hp->enc_hidden, hp->enc_hidden, hp->enc_hidden,
             hp->dec_hidden, hp->num_queries, hp->dec_layers, eidx, hp->eval_h, hp->eval_w,
             hp->num_classes, hp->dec_ffn, hp->dec_heads, hp->dec_points,
             act_name(hp->dec_ffn_act), hp->eps, hp->num_classes, hp->num_top, hp->variant);
    return s;
}

oc_status rtdetr_hp_from_model(const struct oc_model *m, rtdetr_hp *hp)
{
    const char *path = m->path ? m->path : oc_st_path(m->file);
    const char *js = oc_st_meta(m->file, "ocellus.rtdetr.config");
    if (!js) js = oc_st_meta(m->file, "config");
    if (!js)
        return oc_error(OC_ERR_FORMAT, "%s: metadata 'ocellus.rtdetr.config' is missing (convert "
                        "the state_dict with `ocellus convert --arch rtdetr`)", path);
    oc_status st = rtdetr_hp_from_json(js, path, hp);
    if (st) return st;
    if (hp->num_classes != m->num_classes)
        return oc_error(OC_ERR_FORMAT, "%s: the config has %d classes, the metadata %d", path,
                        hp->num_classes, m->num_classes);
    /* a file that names a table variant must be that variant's architecture */
    const char *sc = m->scale;
    rtdetr_hp v;
    if (sc && *sc && rtdetr_variant_hp(sc, &v) &&
        (v.bottleneck != hp->bottleneck || memcmp(v.blocks, hp->blocks, sizeof v.blocks) ||
         v.dec_layers != hp->dec_layers))
        return oc_error(OC_ERR_FORMAT, "%s: metadata names variant '%s' but the config is a "
                        "%s backbone with blocks [%d, %d, %d, %d] and %d decoder layers", path,
                        sc, hp->bottleneck ? "BottleNeck" : "BasicBlock", hp->blocks[0],
                        hp->blocks[1], hp->blocks[2], hp->blocks[3], hp->dec_layers);
    return OC_OK;
}

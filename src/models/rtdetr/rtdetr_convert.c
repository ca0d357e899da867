/* rtdetr_convert.c -- `ocellus convert --arch rtdetr` (a reference state_dict in safetensors ->
 * a model file) and `ocellus gen --arch rtdetr` (synthetic weights of a table variant).
 *
 * The model file keeps the reference's train-form tensors under their state_dict names (the
 * loader folds BatchNorm and fuses RepVGG itself) and adds the metadata: ocellus.arch,
 * ocellus.scale (the variant), ocellus.num_classes, ocellus.input_size, ocellus.class_names and
 * ocellus.rtdetr.config (the reference config as JSON, rtdetr_config.c). */
#include "rtdetr.h"

#include <stdio.h>
#include <string.h>

extern const char *const oc_coco_names[80];

static int has(const oc_st_file *f, const char *fmt, int a, int b)
{
    char n[256];
    snprintf(n, sizeof n, fmt, a, b);
    return oc_st_find(f, n) != NULL;
}

/* the table variant with this structure (block type, counts, decoder layers), or NULL */
static const char *variant_of(const rtdetr_hp *hp)
{
    for (int i = 0; rtdetr_variants[i]; i++) {
        rtdetr_hp v;
        rtdetr_variant_hp(rtdetr_variants[i], &v);
        if (v.bottleneck == hp->bottleneck && !memcmp(v.blocks, hp->blocks, sizeof v.blocks) &&
            v.dec_layers == hp->dec_layers)
            return rtdetr_variants[i];
    }
    return NULL;
}

static oc_status infer_from_tensors(const oc_st_file *src, const char *path, rtdetr_hp *hp)
{
    int bottleneck = has(src, "backbone.res_layers.%d.blocks.%d.branch2c.conv.weight", 0, 0);
    int blocks[4], layers = 0;
    for (int s = 0; s < 4; s++) {
        blocks[s] = 0;
        while (blocks[s] < 1000 &&
               has(src, "backbone.res_layers.%d.blocks.%d.branch2a.conv.weight", s, blocks[s]))
            blocks[s]++;
    }
    while (layers < 64 && has(src, "decoder.decoder.layers.%d.norm3.weight", layers, 0)) layers++;
    for (int i = 0; rtdetr_variants[i]; i++) {
        rtdetr_variant_hp(rtdetr_variants[i], hp);
        if (hp->bottleneck == bottleneck && !memcmp(hp->blocks, blocks, sizeof blocks) &&
            hp->dec_layers == layers)
            return OC_OK;
    }
    return oc_error(OC_ERR_FORMAT, "%s: no RT-DETR variant has a %s backbone with blocks [%d, "
                    "%d, %d, %d] and %d decoder layers (give --variant, or a file whose "
                    "metadata carries the reference config)", path,
                    bottleneck ? "BottleNeck" : "BasicBlock", blocks[0], blocks[1], blocks[2],
                    blocks[3], layers);
}

static oc_status write_meta(const rtdetr_hp *hp, oc_st_writer *out, const char *source)
{
    char v[64];
    const char *scale = variant_of(hp);
    oc_status st = oc_st_writer_meta(out, "ocellus.format_version", "1");
    if (!st) st = oc_st_writer_meta(out, "ocellus.arch", "rtdetr");
    if (!st) st = oc_st_writer_meta(out, "ocellus.scale", scale ? scale : "custom");
    snprintf(v, sizeof v, "%d", hp->num_classes);
    if (!st) st = oc_st_writer_meta(out, "ocellus.num_classes", v);
    if (hp->eval_h == hp->eval_w) snprintf(v, sizeof v, "%d", hp->eval_h);
    else snprintf(v, sizeof v, "%dx%d", hp->eval_h, hp->eval_w);
    if (!st) st = oc_st_writer_meta(out, "ocellus.input_size", v);
    if (!st && source) st = oc_st_writer_meta(out, "ocellus.source", source);
    /* the reference's tools/infer.py draws boxes whose score > 0.6: `ocellus detect`'s
     * default for this model */
    if (!st) st = oc_st_writer_meta(out, "ocellus.conf_threshold", "0.6");
    if (!st) {
        char *js = rtdetr_hp_to_json(hp);
        st = js ? oc_st_writer_meta(out, "ocellus.rtdetr.config", js)
                : oc_error(OC_ERR_NOMEM, "convert: out of memory");
        oc_free(js);
    }
    if (!st) {
        size_t cap = 32 + (size_t)hp->num_classes * 24, len = 0;
        char *s = oc_malloc(cap);
        if (!s) return oc_error(OC_ERR_NOMEM, "convert: out of memory");
        s[len++] = '[';
        for (int i = 0; i < hp->num_classes; i++) {
            char buf[32];
            const char *nm = buf;
            if (hp->num_classes == 80) nm = oc_coco_names[i];
            else snprintf(buf, sizeof buf, "class%d", i);
            if (len + strlen(nm) + 8 > cap) {
                cap = cap * 2 + strlen(nm) + 8;
                char *t = oc_realloc(s, cap);
                if (!t) {
                    oc_free(s);
                    return oc_error(OC_ERR_NOMEM, "convert: out of memory");
                }
                s = t;
            }
            len += (size_t)snprintf(s + len, cap - len, "%s\"%s\"", i ? "," : "", nm);
        }
        s[len++] = ']';
        s[len] = '\0';
        st = oc_st_writer_meta(out, "ocellus.class_names", s);
        oc_free(s);
    }
    return st;
}

oc_status rtdetr_convert(const oc_st_file *src, const char *variant, oc_st_writer *out)
{
    if (!src || !out) return oc_error(OC_ERR_INVALID_ARG, "rtdetr_convert: NULL argument");
    const char *path = oc_st_path(src);
    if (!oc_st_find(src, "backbone.conv1.conv1_1.conv.weight") ||
        !oc_st_find(src, "decoder.enc_score_head.weight"))
        return oc_error(OC_ERR_FORMAT, "%s: not an RT-DETR (PResNet-vd) state_dict: it has no "
                        "'backbone.conv1.conv1_1.conv.weight' / 'decoder.enc_score_head.weight'",
                        path);
    rtdetr_hp hp, vt;
    if (variant && !rtdetr_variant_hp(variant, &vt))
        return oc_error(OC_ERR_INVALID_ARG, "convert: unknown RT-DETR variant '%s' (r18vd, "
                        "r34vd, r50vd, r101vd)", variant);
    const char *cfg = oc_st_meta(src, "ocellus.rtdetr.config");
    if (!cfg) cfg = oc_st_meta(src, "config");
    oc_status st;
    if (cfg) {
        st = rtdetr_hp_from_json(cfg, path, &hp);
        if (st) return st;
    } else {
        st = infer_from_tensors(src, path, &hp);
        if (st && !variant) return st;
        if (variant) hp = vt; /* the tensors' check below names any mismatch */
        const oc_st_tensor *t = oc_st_find(src, "decoder.enc_score_head.weight");
        if (t->ndim == 2 && t->shape[0] >= 1 && t->shape[0] <= 100000)
            hp.num_classes = (int)t->shape[0];
    }
    if (variant) {
        rtdetr_hp inf;
        int known = infer_from_tensors(src, path, &inf) == OC_OK;
        const rtdetr_hp *have = cfg ? &hp : (known ? &inf : NULL);
        if (have && (have->bottleneck != vt.bottleneck ||
                     memcmp(have->blocks, vt.blocks, sizeof vt.blocks) ||
                     have->dec_layers != vt.dec_layers))
            return oc_error(OC_ERR_FORMAT, "%s: --variant %s does not match the file: it holds a "
                            "%s backbone with blocks [%d, %d, %d, %d] and %d decoder layers "
                            "(%s has %s [%d, %d, %d, %d], %d layers)", path, variant,
                            have->bottleneck ? "BottleNeck" : "BasicBlock", have->blocks[0],
                            have->blocks[1], have->blocks[2], have->blocks[3], have->dec_layers,
                            variant, vt.bottleneck ? "BottleNeck" : "BasicBlock", vt.blocks[0],
                            vt.blocks[1], vt.blocks[2], vt.blocks[3], vt.dec_layers);
    }
    st = rtdetr_hp_check(&hp, path);
    if (!st) st = rtdetr_copy_tensors(&hp, src, path, out);
    if (!st) st = write_meta(&hp, out, oc_st_meta(src, "source"));
    return st;
}

oc_status rtdetr_convert_file(const char *in_path, const char *variant, const char *out_path)
{
    oc_st_file *src = NULL;
    oc_status st = oc_st_open(in_path, &src);
    if (st) return st;
    oc_st_writer *w = oc_st_writer_new();
    if (!w) st = oc_error(OC_ERR_NOMEM, "convert: out of memory");
    if (!st) st = rtdetr_convert(src, variant, w);
    if (!st) st = oc_st_writer_save(w, out_path);
    oc_st_writer_free(w);
    oc_st_close(src);
    return st;
}

oc_status rtdetr_generate(const char *variant, int num_classes, int imgsz, uint32_t seed,
                          oc_st_writer *out)
{
    rtdetr_hp hp;
    if (!variant || !rtdetr_variant_hp(variant, &hp))
        return oc_error(OC_ERR_INVALID_ARG, "gen: unknown RT-DETR variant '%s' (r18vd, r34vd, "
                        "r50vd, r101vd)", variant ? variant : "(none)");
    if (num_classes > 0) {
        if (num_classes > 100000)
            return oc_error(OC_ERR_INVALID_ARG, "gen: --classes %d out of range", num_classes);
        hp.num_classes = num_classes;
    }
    if (imgsz > 0) {
        if (imgsz < 160 || imgsz % 32 || imgsz > 8192)
            return oc_error(OC_ERR_INVALID_ARG, "gen: --imgsz %d must be a multiple of 32 in "
                            "[160, 8192]", imgsz);
        hp.eval_h = hp.eval_w = imgsz;
    }
    oc_status st = rtdetr_gen_tensors(&hp, seed, out);
    if (!st) st = write_meta(&hp, out, "ocellus gen (synthetic weights)");
    char v[32];
    snprintf(v, sizeof v, "%u", seed);
    if (!st) st = oc_st_writer_meta(out, "ocellus.synthetic_seed", v);
    return st;
}

oc_status rtdetr_generate_file(const char *variant, int num_classes, int imgsz, uint32_t seed,
                               const char *out_path)
{
    oc_st_writer *w = oc_st_writer_new();
    if (!w) return oc_error(OC_ERR_NOMEM, "gen: out of memory");
    oc_status st = rtdetr_generate(variant, num_classes, imgsz, seed, w);
    if (!st) st = oc_st_writer_save(w, out_path);
    oc_st_writer_free(w);
    return st;
}

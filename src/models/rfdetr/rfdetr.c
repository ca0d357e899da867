/* rfdetr.c -- the RF-DETR family entry: hyper-parameters from metadata and tensor shapes,
 * weights by state_dict name with shape checks (load), and the graph (build).
 *
 * Metadata read (plain keys as the reference config names them, "ocellus."-prefixed also
 * accepted): resolution, num_windows, out_feature_indexes (JSON array), sa_nheads,
 * ca_nheads, num_queries, num_feature_levels, and the optional `dinov2` JSON object
 * (num_attention_heads, window_block_indexes, layer_norm_eps). Widths, depths, patch size,
 * position grid, FFN size, decoder depth, points and logits come from the tensors' shapes.
 *
 * Load-time folding (exact up to rounding): the DINOv2 layer scales are multiplied into the
 * attention output and fc2 rows; query/key/value become one [3C, C] linear. */
#include "rfdetr.h"

#include <cjson/cJSON.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define E "backbone.0.encoder.encoder."
#define PJ "backbone.0.projector.stages.0."
#define TR "transformer."

typedef struct {
    oc_model *m;
    rf_model *M;
    oc_status st;
} rf_loader;

static const char *rf_path(const oc_model *m)
{
    return m->path ? m->path : "model";
}

static int has(const oc_model *m, const char *name)
{
    return oc_st_find(m->file, name) != NULL;
}

static float *keep(rf_loader *L, float *p)
{
    rf_model *M = L->M;
    if (!p) return NULL;
    if (M->nowned == M->capowned) {
        int cap = M->capowned ? 2 * M->capowned : 256;
        float **n = oc_realloc(M->owned, (size_t)cap * sizeof *n);
        if (!n) {
            oc_free(p);
            L->st = oc_error(OC_ERR_NOMEM, "%s: out of memory", rf_path(L->m));
            return NULL;
        }
        M->owned = n;
        M->capowned = cap;
    }
    M->owned[M->nowned++] = p;
    return p;
}

/* a float32 copy of `name`, shape checked (-1 = any); NULL after the first failure */
static float *get(rf_loader *L, const char *name, int ndim, int64_t d0, int64_t d1, int64_t d2,
                  int64_t d3)
{
    if (L->st != OC_OK) return NULL;
    int64_t shape[4] = {d0, d1, d2, d3};
    float *p = NULL;
    oc_status st = oc_st_load_f32(L->m->file, name, ndim, shape, &p);
    if (st != OC_OK) {
        L->st = st;
        return NULL;
    }
    return keep(L, p);
}

static float *getf(rf_loader *L, int ndim, int64_t d0, int64_t d1, const char *fmt, ...)
    OC_PRINTF(5, 6);
static float *getf(rf_loader *L, int ndim, int64_t d0, int64_t d1, const char *fmt, ...)
{
    char name[256];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(name, sizeof name, fmt, ap);
    va_end(ap);
    return get(L, name, ndim, d0, d1, -1, -1);
}

static const oc_st_tensor *find(const oc_model *m, const char *name)
{
    return oc_st_find(m->file, name);
}

/* ---------------------------------------------------------------- config -------------- */

static oc_status shape_err(const oc_model *m, const char *name, const char *why)
{
    const oc_st_tensor *t = find(m, name);
    if (!t) return oc_error(OC_ERR_FORMAT, "%s: tensor '%s' is missing (not an RF-DETR "
                            "state_dict?)", rf_path(m), name);
    return oc_error(OC_ERR_FORMAT, "%s: tensor '%s' (%d dims, first %lld): %s", rf_path(m), name,
                    t->ndim, t->ndim ? (long long)t->shape[0] : 0LL, why);
}

static int json_int_array(const cJSON *a, int *out, int max, int lo, int hi)
{
    if (!cJSON_IsArray(a)) return -1;
    int n = 0;
    const cJSON *it;
    cJSON_ArrayForEach(it, a)
    {
        if (!cJSON_IsNumber(it) || n >= max) return -1;
        double v = it->valuedouble;
        if (v != floor(v) || v < lo || v > hi) return -1;
        out[n++] = (int)v;
    }
    return n;
}

static oc_status parse_cfg(oc_model *m, rf_cfg *c)
{
    const char *path = rf_path(m);
    memset(c, 0, sizeof *c);
    const oc_st_tensor *t;

    /* DINOv2 */
    const char *n_cls = E "embeddings.cls_token";
    const char *n_pw = E "embeddings.patch_embeddings.projection.weight";
    const char *n_pos = E "embeddings.position_embeddings";
    t = find(m, n_cls);
    if (!t || t->ndim != 3 || t->shape[0] != 1 || t->shape[1] != 1 || t->shape[2] < 1 ||
        t->shape[2] > 8192)
        return shape_err(m, n_cls, "expected [1, 1, C]");
    c->C = (int)t->shape[2];
    t = find(m, n_pw);
    if (!t || t->ndim != 4 || t->shape[0] != c->C || t->shape[1] != 3 || t->shape[2] < 1 ||
        t->shape[2] > 64 || t->shape[3] != t->shape[2])
        return shape_err(m, n_pw, "expected [C, 3, p, p]");
    c->patch = (int)t->shape[2];
    t = find(m, n_pos);
    if (!t || t->ndim != 3 || t->shape[0] != 1 || t->shape[2] != c->C || t->shape[1] < 2)
        return shape_err(m, n_pos, "expected [1, 1 + g*g, C]");
    int64_t np = t->shape[1] - 1;
    c->pes = (int)llround(sqrt((double)np));
    if ((int64_t)c->pes * c->pes != np)
        return shape_err(m, n_pos, "the patch positions are not a square grid");
    while (c->nblocks < RF_MAX_BLOCKS) {
        char nm[160];
        snprintf(nm, sizeof nm, E "encoder.layer.%d.norm1.weight", c->nblocks);
        if (!has(m, nm)) break;
        c->nblocks++;
    }
    {
        char nm[160];
        snprintf(nm, sizeof nm, E "encoder.layer.%d.norm1.weight", RF_MAX_BLOCKS);
        if (has(m, nm))
            return oc_error(OC_ERR_UNSUPPORTED, "%s: more than %d DINOv2 blocks", path,
                            RF_MAX_BLOCKS);
    }
    if (c->nblocks < 1)
        return oc_error(OC_ERR_FORMAT, "%s: no DINOv2 blocks ('" E "encoder.layer.0.*' missing)",
                        path);
    t = find(m, E "encoder.layer.0.mlp.fc1.weight");
    if (!t || t->ndim != 2 || t->shape[1] != c->C || t->shape[0] < 1)
        return shape_err(m, E "encoder.layer.0.mlp.fc1.weight", "expected [hidden, C]");
    c->mlp = (int)t->shape[0];

    cJSON *dj = NULL;
    const char *dv = oc_st_meta(m->file, "dinov2");
    if (!dv) dv = oc_st_meta(m->file, "ocellus.dinov2");
    if (dv) {
        dj = cJSON_Parse(dv);
        if (!cJSON_IsObject(dj)) {
            cJSON_Delete(dj);
            return oc_error(OC_ERR_FORMAT, "%s: metadata 'dinov2' is not a JSON object", path);
        }
    }
    const cJSON *jh = dj ? cJSON_GetObjectItemCaseSensitive(dj, "num_attention_heads") : NULL;
    c->heads = cJSON_IsNumber(jh) ? jh->valueint : c->C / 64;
    const cJSON *je = dj ? cJSON_GetObjectItemCaseSensitive(dj, "layer_norm_eps") : NULL;
    c->dino_eps = cJSON_IsNumber(je) ? (float)je->valuedouble : 1e-6f;
    if (c->heads < 1 || c->C % c->heads || !(c->dino_eps >= 0.0f && c->dino_eps < 1.0f)) {
        cJSON_Delete(dj);
        return oc_error(OC_ERR_FORMAT, "%s: DINOv2 width %d does not split into %d heads (or a "
                        "bad layer_norm_eps)", path, c->C, c->heads);
    }

    /* taps */
    const char *tv = oc_st_meta(m->file, "out_feature_indexes");
    if (!tv) tv = oc_st_meta(m->file, "ocellus.out_feature_indexes");
    if (!tv) {
        cJSON_Delete(dj);
        return oc_error(OC_ERR_FORMAT, "%s: metadata 'out_feature_indexes' (the tapped DINOv2 "
                        "stages, e.g. [3, 6, 9, 12]) is missing", path);
    }
    cJSON *tj = cJSON_Parse(tv);
    c->ntaps = json_int_array(tj, c->taps, RF_MAX_TAPS, 1, c->nblocks);
    cJSON_Delete(tj);
    if (c->ntaps < 1) {
        cJSON_Delete(dj);
        return oc_error(OC_ERR_FORMAT, "%s: metadata 'out_feature_indexes' = '%.64s' is not a "
                        "JSON array of 1..%d stage numbers (1 to %d of the file's %d blocks)",
                        path, tv, RF_MAX_TAPS, c->nblocks, c->nblocks);
    }
    for (int k = 0; k < c->ntaps; k++) c->nrun = c->taps[k] > c->nrun ? c->taps[k] : c->nrun;
    /* windowed blocks: the config's list, else rfdetr's rule (every block up to the last tap
     * that is not itself a tap index) */
    const cJSON *jw = dj ? cJSON_GetObjectItemCaseSensitive(dj, "window_block_indexes") : NULL;
    if (jw) {
        int idx[RF_MAX_BLOCKS];
        int n = json_int_array(jw, idx, RF_MAX_BLOCKS, 0, 1 << 20);
        if (n < 0) {
            cJSON_Delete(dj);
            return oc_error(OC_ERR_FORMAT, "%s: metadata 'dinov2' window_block_indexes is not "
                            "an array of block numbers", path);
        }
        for (int i = 0; i < n; i++)
            if (idx[i] < RF_MAX_BLOCKS) c->windowed[idx[i]] = 1;
    } else {
        for (int i = 0; i < c->nrun; i++) {
            int tap = 0;
            for (int k = 0; k < c->ntaps; k++) tap |= c->taps[k] == i;
            c->windowed[i] = !tap;
        }
    }
    cJSON_Delete(dj);

    long v;
    oc_status st;
    st = oc_meta_int(m, "num_windows", 1, 1, 1, 64, &v);
    if (st) return st;
    c->nw = (int)v;
    st = oc_meta_int(m, "resolution", 0, (long)c->pes * c->patch, 1, 16384, &v);
    if (st) return st;
    c->res = (int)v;
    if (c->res % (c->patch * c->nw))
        return oc_error(OC_ERR_FORMAT, "%s: resolution %d is not a multiple of patch %d x "
                        "windows %d", path, c->res, c->patch, c->nw);

    /* projector */
    t = find(m, PJ "0.cv1.conv.weight");
    if (!t || t->ndim != 4 || t->shape[1] != (int64_t)c->ntaps * c->C || t->shape[2] != 1 ||
        t->shape[3] != 1 || t->shape[0] < 2 || t->shape[0] % 2)
        return shape_err(m, PJ "0.cv1.conv.weight", "expected [2c, taps*C, 1, 1]");
    c->c2f_hidden = (int)t->shape[0] / 2;
    while (c->nbottleneck < 8) {
        char nm[160];
        snprintf(nm, sizeof nm, PJ "0.m.%d.cv1.conv.weight", c->nbottleneck);
        if (!has(m, nm)) break;
        c->nbottleneck++;
    }
    {
        char nm[160];
        snprintf(nm, sizeof nm, PJ "0.m.%d.cv1.conv.weight", 8);
        if (has(m, nm))
            return oc_error(OC_ERR_UNSUPPORTED, "%s: more than 8 C2f bottlenecks", path);
    }
    t = find(m, PJ "1.weight");
    if (!t || t->ndim != 1 || t->shape[0] < 1)
        return shape_err(m, PJ "1.weight", "expected [hidden_dim]");
    c->D = (int)t->shape[0];

    /* decoder */
    while (c->dec_layers < RF_MAX_DEC) {
        char nm[160];
        snprintf(nm, sizeof nm, TR "decoder.layers.%d.norm1.weight", c->dec_layers);
        if (!has(m, nm)) break;
        c->dec_layers++;
    }
    {
        char nm[160];
        snprintf(nm, sizeof nm, TR "decoder.layers.%d.norm1.weight", RF_MAX_DEC);
        if (has(m, nm))
            return oc_error(OC_ERR_UNSUPPORTED, "%s: more than %d decoder layers", path,
                            RF_MAX_DEC);
    }
    if (c->dec_layers < 1)
        return oc_error(OC_ERR_FORMAT, "%s: no decoder layers ('" TR "decoder.layers.0.*' "
                        "missing)", path);
    t = find(m, TR "decoder.layers.0.linear1.weight");
    if (!t || t->ndim != 2 || t->shape[1] != c->D)
        return shape_err(m, TR "decoder.layers.0.linear1.weight", "expected [ffn, hidden_dim]");
    c->ffn = (int)t->shape[0];
    st = oc_meta_int(m, "sa_nheads", 0, 8, 1, 4096, &v);
    if (st) return st;
    c->sa_heads = (int)v;
    st = oc_meta_int(m, "ca_nheads", 0, 16, 1, 4096, &v);
    if (st) return st;
    c->ca_heads = (int)v;
    st = oc_meta_int(m, "num_feature_levels", 0, 1, 1, 16, &v);
    if (st) return st;
    c->levels = (int)v;
    if (c->levels != 1)
        return oc_error(OC_ERR_UNSUPPORTED, "%s: %d feature levels; this build supports the "
                        "single P4 level of nano/small/medium", path, c->levels);
    if (c->D % c->sa_heads || c->D % c->ca_heads)
        return oc_error(OC_ERR_FORMAT, "%s: hidden_dim %d does not split into %d self- / %d "
                        "cross-attention heads", path, c->D, c->sa_heads, c->ca_heads);
    t = find(m, TR "decoder.layers.0.cross_attn.attention_weights.weight");
    if (!t || t->ndim != 2 || t->shape[1] != c->D ||
        t->shape[0] % ((int64_t)c->ca_heads * c->levels) || t->shape[0] == 0)
        return shape_err(m, TR "decoder.layers.0.cross_attn.attention_weights.weight",
                         "expected [heads*levels*points, hidden_dim]");
    c->points = (int)(t->shape[0] / ((int64_t)c->ca_heads * c->levels));
    st = oc_meta_int(m, "num_queries", 0, 300, 1, 100000, &v);
    if (st) return st;
    c->Q = (int)v;
    t = find(m, "refpoint_embed.weight");
    if (!t || t->ndim != 2 || t->shape[1] != 4 || t->shape[0] < c->Q)
        return shape_err(m, "refpoint_embed.weight", "expected [>= num_queries, 4]");
    c->qrows = (int)t->shape[0];
    t = find(m, "class_embed.weight");
    if (!t || t->ndim != 2 || t->shape[1] != c->D || t->shape[0] < 1)
        return shape_err(m, "class_embed.weight", "expected [classes, hidden_dim]");
    c->K = (int)t->shape[0];

    /* metadata that repeats a shape must agree with it */
    struct {
        const char *key;
        int val;
    } same[] = {{"hidden_dim", c->D}, {"dim_feedforward", c->ffn}, {"dec_layers", c->dec_layers},
                {"dec_n_points", c->points}, {"patch_size", c->patch},
                {"positional_encoding_size", c->pes}, {"class_logits", c->K}};
    for (size_t i = 0; i < sizeof same / sizeof same[0]; i++) {
        st = oc_meta_int(m, same[i].key, 0, same[i].val, 0, 1 << 24, &v);
        if (st) return st;
        if (v != same[i].val)
            return oc_error(OC_ERR_FORMAT, "%s: metadata '%s' = %ld disagrees with the tensors "
                            "(%d)", path, same[i].key, v, same[i].val);
    }
    return OC_OK;
}

/* ---------------------------------------------------------------- weights ------------- */

static oc_conv2d_weights *conv(rf_loader *L, const char *name, int cin, int cout, int k,
                               int stride, const float *bias)
{
    if (L->st != OC_OK) return NULL;
    float *w = NULL;
    int64_t shape[4] = {cout, cin, k, k};
    L->st = oc_st_load_f32(L->m->file, name, 4, shape, &w);
    if (L->st != OC_OK) return NULL;
    oc_conv2d_desc d;
    memset(&d, 0, sizeof d);
    d.cin = cin, d.cout = cout, d.kh = d.kw = k, d.groups = 1;
    d.stride_h = d.stride_w = stride;
    d.pad_t = d.pad_l = d.pad_b = d.pad_r = stride == 1 ? k / 2 : 0;
    d.dil_h = d.dil_w = 1;
    d.act = OC_ACT_NONE;
    oc_conv2d_weights *pw = NULL;
    L->st = oc_conv2d_prepack(&d, w, bias, L->m->isa, &pw);
    oc_free(w);
    return L->st == OC_OK ? pw : NULL;
}

static void mlp3(rf_loader *L, rf_mlp3 *o, const char *prefix, int in, int hid, int out)
{
    o->in = in, o->hid = hid, o->out = out;
    int dims[4] = {in, hid, hid, out};
    for (int i = 0; i < 3; i++) {
        o->w[i] = getf(L, 2, dims[i + 1], dims[i], "%s.layers.%d.weight", prefix, i);
        o->b[i] = getf(L, 1, dims[i + 1], -1, "%s.layers.%d.bias", prefix, i);
    }
}

static void load_weights(rf_loader *L)
{
    rf_model *M = L->M;
    const rf_cfg *c = &M->cfg;
    const int C = c->C, D = c->D;

    /* DINOv2 */
    const float *pb = get(L, E "embeddings.patch_embeddings.projection.bias", 1, C, -1, -1, -1);
    M->patch = conv(L, E "embeddings.patch_embeddings.projection.weight", 3, C, c->patch,
                    c->patch, pb);
    M->cls = get(L, E "embeddings.cls_token", 3, 1, 1, C, -1);
    M->pos = get(L, E "embeddings.position_embeddings", 3, 1, 1 + (int64_t)c->pes * c->pes, C,
                 -1);
    for (int i = 0; i < c->nrun && L->st == OC_OK; i++) {
        rf_block *b = &M->blocks[i];
        const char *f = E "encoder.layer.%d.%s";
        b->ln1_g = getf(L, 1, C, -1, f, i, "norm1.weight");
        b->ln1_b = getf(L, 1, C, -1, f, i, "norm1.bias");
        b->ln2_g = getf(L, 1, C, -1, f, i, "norm2.weight");
        b->ln2_b = getf(L, 1, C, -1, f, i, "norm2.bias");
        float *qkv_w = keep(L, oc_malloc((size_t)3 * C * C * sizeof(float)));
        float *qkv_b = keep(L, oc_malloc((size_t)3 * C * sizeof(float)));
        if (L->st == OC_OK && (!qkv_w || !qkv_b))
            L->st = oc_error(OC_ERR_NOMEM, "%s: out of memory", rf_path(L->m));
        static const char *const qkvn[3] = {"query", "key", "value"};
        for (int j = 0; j < 3 && L->st == OC_OK; j++) {
            char nm[160];
            snprintf(nm, sizeof nm, "attention.attention.%s.weight", qkvn[j]);
            const float *w = getf(L, 2, C, C, f, i, nm);
            snprintf(nm, sizeof nm, "attention.attention.%s.bias", qkvn[j]);
            const float *bb = getf(L, 1, C, -1, f, i, nm);
            if (L->st != OC_OK) break;
            memcpy(qkv_w + (size_t)j * C * C, w, (size_t)C * C * sizeof(float));
            memcpy(qkv_b + (size_t)j * C, bb, (size_t)C * sizeof(float));
        }
        b->qkv_w = qkv_w, b->qkv_b = qkv_b;
        float *pw = getf(L, 2, C, C, f, i, "attention.output.dense.weight");
        float *pbb = getf(L, 1, C, -1, f, i, "attention.output.dense.bias");
        const float *ls1 = getf(L, 1, C, -1, f, i, "layer_scale1.lambda1");
        b->fc1_w = getf(L, 2, c->mlp, C, f, i, "mlp.fc1.weight");
        b->fc1_b = getf(L, 1, c->mlp, -1, f, i, "mlp.fc1.bias");
        float *f2w = getf(L, 2, C, c->mlp, f, i, "mlp.fc2.weight");
        float *f2b = getf(L, 1, C, -1, f, i, "mlp.fc2.bias");
        const float *ls2 = getf(L, 1, C, -1, f, i, "layer_scale2.lambda1");
        if (L->st != OC_OK) break;
        for (int r = 0; r < C; r++) {
            for (int k = 0; k < C; k++) pw[(size_t)r * C + k] *= ls1[r];
            pbb[r] *= ls1[r];
            for (int k = 0; k < c->mlp; k++) f2w[(size_t)r * c->mlp + k] *= ls2[r];
            f2b[r] *= ls2[r];
        }
        b->proj_w = pw, b->proj_b = pbb, b->fc2_w = f2w, b->fc2_b = f2b;
        /* every tensor is copied (or packed): the file's pages need not stay resident */
        oc_st_release_pages(L->m->file);
    }
    M->ln_g = get(L, E "layernorm.weight", 1, C, -1, -1, -1);
    M->ln_b = get(L, E "layernorm.bias", 1, C, -1, -1, -1);

    /* projector */
    const int ch = c->c2f_hidden;
    M->cv1 = conv(L, PJ "0.cv1.conv.weight", c->ntaps * C, 2 * ch, 1, 1, NULL);
    M->cv1_g = get(L, PJ "0.cv1.bn.weight", 1, 2 * ch, -1, -1, -1);
    M->cv1_b = get(L, PJ "0.cv1.bn.bias", 1, 2 * ch, -1, -1, -1);
    for (int j = 0; j < c->nbottleneck && L->st == OC_OK; j++)
        for (int k = 0; k < 2; k++) {
            char nm[160];
            snprintf(nm, sizeof nm, PJ "0.m.%d.cv%d.conv.weight", j, k + 1);
            M->m[j][k] = conv(L, nm, ch, ch, 3, 1, NULL);
            M->m_g[j][k] = getf(L, 1, ch, -1, PJ "0.m.%d.cv%d.bn.weight", j, k + 1);
            M->m_b[j][k] = getf(L, 1, ch, -1, PJ "0.m.%d.cv%d.bn.bias", j, k + 1);
        }
    M->cv2 = conv(L, PJ "0.cv2.conv.weight", (2 + c->nbottleneck) * ch, D, 1, 1, NULL);
    M->cv2_g = get(L, PJ "0.cv2.bn.weight", 1, D, -1, -1, -1);
    M->cv2_b = get(L, PJ "0.cv2.bn.bias", 1, D, -1, -1, -1);
    M->out_g = get(L, PJ "1.weight", 1, D, -1, -1, -1);
    M->out_b = get(L, PJ "1.bias", 1, D, -1, -1, -1);

    /* two-stage heads, group 0 */
    M->enc_w = get(L, TR "enc_output.0.weight", 2, D, D, -1, -1);
    M->enc_b = get(L, TR "enc_output.0.bias", 1, D, -1, -1, -1);
    M->enc_ng = get(L, TR "enc_output_norm.0.weight", 1, D, -1, -1, -1);
    M->enc_nb = get(L, TR "enc_output_norm.0.bias", 1, D, -1, -1, -1);
    M->enc_cls_w = get(L, TR "enc_out_class_embed.0.weight", 2, c->K, D, -1, -1);
    M->enc_cls_b = get(L, TR "enc_out_class_embed.0.bias", 1, c->K, -1, -1, -1);
    mlp3(L, &M->enc_box, TR "enc_out_bbox_embed.0", D, D, 4);

    /* decoder */
    M->refpoint = get(L, "refpoint_embed.weight", 2, c->qrows, 4, -1, -1);
    M->query_feat = get(L, "query_feat.weight", 2, c->qrows, D, -1, -1);
    M->rph_w0 = get(L, TR "decoder.ref_point_head.layers.0.weight", 2, D, 2 * D, -1, -1);
    M->rph_b0 = get(L, TR "decoder.ref_point_head.layers.0.bias", 1, D, -1, -1, -1);
    M->rph_w1 = get(L, TR "decoder.ref_point_head.layers.1.weight", 2, D, D, -1, -1);
    M->rph_b1 = get(L, TR "decoder.ref_point_head.layers.1.bias", 1, D, -1, -1, -1);
    const int hlp = c->ca_heads * c->levels * c->points;
    for (int i = 0; i < c->dec_layers && L->st == OC_OK; i++) {
        rf_dec_layer *l = &M->dec[i];
        const char *f = TR "decoder.layers.%d.%s";
        const float *ipw = getf(L, 2, 3 * D, D, f, i, "self_attn.in_proj_weight");
        const float *ipb = getf(L, 1, 3 * D, -1, f, i, "self_attn.in_proj_bias");
        if (L->st != OC_OK) break;
        l->qk_w = ipw, l->qk_b = ipb;
        l->v_w = ipw + (size_t)2 * D * D, l->v_b = ipb + 2 * D;
        l->out_w = getf(L, 2, D, D, f, i, "self_attn.out_proj.weight");
        l->out_b = getf(L, 1, D, -1, f, i, "self_attn.out_proj.bias");
        l->n1_g = getf(L, 1, D, -1, f, i, "norm1.weight");
        l->n1_b = getf(L, 1, D, -1, f, i, "norm1.bias");
        l->n2_g = getf(L, 1, D, -1, f, i, "norm2.weight");
        l->n2_b = getf(L, 1, D, -1, f, i, "norm2.bias");
        l->n3_g = getf(L, 1, D, -1, f, i, "norm3.weight");
        l->n3_b = getf(L, 1, D, -1, f, i, "norm3.bias");
        l->off_w = getf(L, 2, 2 * hlp, D, f, i, "cross_attn.sampling_offsets.weight");
        l->off_b = getf(L, 1, 2 * hlp, -1, f, i, "cross_attn.sampling_offsets.bias");
        l->aw_w = getf(L, 2, hlp, D, f, i, "cross_attn.attention_weights.weight");
        l->aw_b = getf(L, 1, hlp, -1, f, i, "cross_attn.attention_weights.bias");
        l->val_w = getf(L, 2, D, D, f, i, "cross_attn.value_proj.weight");
        l->val_b = getf(L, 1, D, -1, f, i, "cross_attn.value_proj.bias");
        l->op_w = getf(L, 2, D, D, f, i, "cross_attn.output_proj.weight");
        l->op_b = getf(L, 1, D, -1, f, i, "cross_attn.output_proj.bias");
        l->l1_w = getf(L, 2, c->ffn, D, f, i, "linear1.weight");
        l->l1_b = getf(L, 1, c->ffn, -1, f, i, "linear1.bias");
        l->l2_w = getf(L, 2, D, c->ffn, f, i, "linear2.weight");
        l->l2_b = getf(L, 1, D, -1, f, i, "linear2.bias");
    }
    M->dn_g = get(L, TR "decoder.norm.weight", 1, D, -1, -1, -1);
    M->dn_b = get(L, TR "decoder.norm.bias", 1, D, -1, -1, -1);
    M->cls_w = get(L, "class_embed.weight", 2, c->K, D, -1, -1);
    M->cls_b = get(L, "class_embed.bias", 1, c->K, -1, -1, -1);
    mlp3(L, &M->box, "bbox_embed", D, D, 4);
}

static void rfdetr_free(oc_model *m)
{
    rf_model *M = m->arch_data;
    if (!M) return;
    oc_conv2d_weights_free(M->patch);
    oc_conv2d_weights_free(M->cv1);
    oc_conv2d_weights_free(M->cv2);
    for (int j = 0; j < 8; j++)
        for (int k = 0; k < 2; k++) oc_conv2d_weights_free(M->m[j][k]);
    for (int i = 0; i < M->nowned; i++) oc_free(M->owned[i]);
    oc_free(M->owned);
    oc_free(M);
    m->arch_data = NULL;
}

/* class names: COCO category ids when the file has 91 logits and gives no names */
static oc_status set_class_names(oc_model *m, int K)
{
    int named = oc_st_meta(m->file, "ocellus.class_names") != NULL;
    if (named && m->num_classes == K) return OC_OK;
    char **names = oc_calloc((size_t)K, sizeof *names);
    if (!names) return oc_error(OC_ERR_NOMEM, "%s: out of memory", rf_path(m));
    for (int i = 0; i < K; i++) {
        char buf[32];
        const char *s = K == 91 ? rf_coco91_name(i) : NULL;
        if (!s && K != 91) {
            snprintf(buf, sizeof buf, "class%d", i);
            s = buf;
        }
        names[i] = oc_strdup(s ? s : "");
        if (!names[i]) {
            for (int j = 0; j < i; j++) oc_free(names[j]);
            oc_free(names);
            return oc_error(OC_ERR_NOMEM, "%s: out of memory", rf_path(m));
        }
    }
    if (m->class_names)
        for (int i = 0; i < m->num_classes; i++) oc_free(m->class_names[i]);
    oc_free(m->class_names);
    m->class_names = names;
    m->num_classes = K;
    return OC_OK;
}

static oc_status rfdetr_load(oc_model *m)
{
    rf_model *M = oc_calloc(1, sizeof *M);
    if (!M) return oc_error(OC_ERR_NOMEM, "%s: out of memory", rf_path(m));
    m->arch_data = M;
    oc_status st = parse_cfg(m, &M->cfg);
    if (st != OC_OK) return st;
    rf_loader L = {m, M, OC_OK};
    load_weights(&L);
    oc_st_release_pages(m->file);
    if (L.st != OC_OK) return L.st;
    m->input_h = m->input_w = M->cfg.res;
    return set_class_names(m, M->cfg.K);
}

static oc_status rfdetr_build(const oc_model *m, oc_graph *g, const char *stage,
                             const oc_io_desc *inputs, int n_inputs)
{
    (void)stage;
    const rf_model *M = m->arch_data;
    if (!M) return oc_graph_fail(g, oc_error(OC_ERR_INVALID_ARG, "%s: model weights are not "
                                             "loaded", rf_path(m)));
    const rf_cfg *c = &M->cfg;
    const oc_io_desc *img = oc_io_find_image(inputs, n_inputs, "images");
    if (!img)
        return oc_graph_fail(g, oc_error(OC_ERR_INVALID_ARG, "%s: an RF-DETR graph takes an "
                                         "NCHW float input 'images'", rf_path(m)));
    const int step = c->patch * c->nw;
    if (img->ndim != 4 || img->dtype != OC_DTYPE_F32 || img->dims[1] != 3 ||
        img->dims[0] < 1 || img->dims[0] > 4096 || img->dims[2] < step || img->dims[3] < step ||
        img->dims[2] > 16384 || img->dims[3] > 16384 || img->dims[2] % step ||
        img->dims[3] % step)
        return oc_graph_fail(g, oc_error(OC_ERR_SHAPE, "%s: RF-DETR needs images [N, 3, H, W] "
                                         "(float32) with H and W multiples of %d (patch %d x %d "
                                         "windows); got %d dims [%lld, %lld, %lld, %lld] (the "
                                         "model's size is %dx%d)",
                                         rf_path(m), step, c->patch, c->nw, img->ndim,
                                         (long long)img->dims[0], (long long)img->dims[1],
                                         img->ndim > 2 ? (long long)img->dims[2] : 0LL,
                                         img->ndim > 3 ? (long long)img->dims[3] : 0LL, c->res,
                                         c->res));
    const int n = (int)img->dims[0], h = (int)img->dims[2], w = (int)img->dims[3];
    oc_tid x = oc_g_input(g, "images", oc_shape4(n, 3, h, w));
    /* optional: the decoder's query order given (debugging, stage-wise parity) */
    const oc_io_desc *sel = oc_io_find(inputs, n_inputs, "topk_indices");
    oc_tid topk = OC_NONE;
    if (sel) {
        const int64_t T = (int64_t)(h / c->patch) * (w / c->patch);
        const int64_t k = T < c->Q ? T : c->Q;
        if (sel->ndim != 2 || sel->dims[0] != n || sel->dims[1] != k ||
            sel->dtype == OC_DTYPE_U8)
            return oc_graph_fail(g, oc_error(OC_ERR_SHAPE, "%s: input 'topk_indices' must be "
                                             "[%d, %lld] (int32/int64/float32 proposal indices)",
                                             rf_path(m), n, (long long)k));
        topk = oc_g_input_typed(g, "topk_indices", oc_shape2(n, k), sel->dtype);
    }
    oc_tid src = rf_build_backbone(M, g, x, n, h, w);
    if (oc_graph_status(g) != OC_OK) return oc_graph_status(g);
    oc_status st = rf_build_decoder(M, g, src, topk, n, h / c->patch, w / c->patch);
    if (st != OC_OK) return st;
    return oc_graph_status(g);
}

static oc_status rfdetr_generate(const oc_gen_options *o, oc_st_writer *out)
{
    return rf_generate(o->scale, o->num_classes, o->imgsz, o->seed, out);
}

static oc_status rfdetr_convert(const oc_st_file *src, const oc_convert_options *o,
                                oc_st_writer *out)
{
    if (o->num_classes > 0)
        return oc_error(OC_ERR_INVALID_ARG, "rfdetr convert: the class count comes from the "
                        "state_dict (class_embed)");
    return rf_convert(src, o->scale, out);
}

const oc_arch oc_arch_rfdetr = {.name = "rfdetr",
                                .task = "detect_detr",
                                .load = rfdetr_load,
                                .build = rfdetr_build,
                                .free = rfdetr_free,
                                .scales = rf_variant_names,
                                .generate = rfdetr_generate,
                                .convert = rfdetr_convert};

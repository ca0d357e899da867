/* rtdetr.c -- RT-DETR (lyuwenyu/RT-DETR @068dfde, rtdetr_pytorch): PResNet-vd backbone,
 * HybridEncoder (AIFI + CCFM), RTDETRTransformer decoder with multi-scale deformable
 * cross-attention, deploy post-processing.
 *
 * One walk describes the architecture in the reference's module order and runs in four modes
 * (as the YOLO families do, see yolo_common.h):
 *   RB_LOAD   fetch each tensor by its state_dict name with a shape check, fold BatchNorm /
 *             FrozenBatchNorm (eps 1e-5) into the convs, fuse each RepVGG block's 3x3 + 1x1
 *             branches into one 3x3 conv, prepack; keep linear/norm tensors as float arrays;
 *   RB_CHECK  the same lookups and shape checks without keeping anything (the converter);
 *   RB_GEN    synthesise every tensor of the train-form state_dict into a writer;
 *   RB_BUILD  add the graph nodes, taking the packed weights from the tables in order.
 * Channel counts come from the hyper-parameters (rtdetr_config.c), never from the file. */
#include "rtdetr.h"
#include "models/conv_table.h"

#include <math.h>
#include <stdio.h>
#include <string.h>

/* tensor names are at most ~70 characters ("decoder.decoder.layers.5.cross_attn.
 * sampling_offsets.weight"); the 256-byte buffers cannot truncate them */
#pragma GCC diagnostic ignored "-Wformat-truncation"

#define BN_EPS 1e-5f
#define LN_EPS 1e-5f

typedef enum { RB_LOAD = 0, RB_CHECK, RB_GEN, RB_BUILD } rb_mode;

typedef struct {
    char *name;
    float *data;
} rb_raw;

typedef struct {
    oc_conv_table convs;
    rb_raw *raws;
    int nraw, capraw;
} rb_weights;

typedef struct {
    rtdetr_hp hp;
    rb_weights W;
} rtdetr_model;

typedef struct {
    rb_mode mode;
    const char *path;
    const rtdetr_hp *hp;
    const oc_st_file *file; /* LOAD, CHECK */
    oc_isa isa;
    oc_st_writer *wr;       /* GEN */
    uint32_t seed;
    oc_graph *g;            /* BUILD */
    int next_conv, next_raw;
    rb_weights *W;
    oc_status st;
    size_t loaded;          /* LOAD: bytes read since the file's pages were last released */
    /* BUILD: the post-processing's default size and whether orig_target_sizes is an input */
    int in_h, in_w, with_sizes;
} rb;

static int ok(const rb *b) { return b->st == OC_OK; }

static oc_status fail(rb *b, oc_status st)
{
    if (b->st == OC_OK) b->st = st ? st : OC_ERR_INTERNAL;
    if (b->g) oc_graph_fail(b->g, b->st);
    return b->st;
}

static void weights_free(rb_weights *W)
{
    oc_conv_table_free(&W->convs);
    for (int i = 0; i < W->nraw; i++) {
        oc_free(W->raws[i].name);
        oc_free(W->raws[i].data);
    }
    oc_free(W->raws);
    memset(W, 0, sizeof *W);
}

/* ---------------------------------------------------------------- synthetic values ----- */
static uint64_t splitmix(uint64_t *s)
{
    uint64_t z = (*s += 0x9e3779b97f4a7c15ull);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
}

/* c + U(-a, a), deterministic per (name, seed) */
static void gen_fill(float *x, size_t n, const char *name, uint32_t seed, float a, float c)
{
    uint64_t s = 1469598103934665603ull ^ ((uint64_t)seed * 0x9e3779b97f4a7c15ull);
    for (const unsigned char *p = (const unsigned char *)name; *p; p++) s = (s ^ *p) * 1099511628211ull;
    for (size_t i = 0; i < n; i++) {
        double u = (double)(splitmix(&s) >> 11) * (1.0 / 9007199254740992.0);
        x[i] = c + (float)((2.0 * u - 1.0) * a);
    }
}

typedef enum { G_WEIGHT = 0, G_BIAS, G_ONE, G_ZERO, G_CLS_BIAS, G_DAMPED_ONE } gen_kind;

/* Every kept tensor is a copy or a repacked conv, so the file's pages need not stay resident:
 * drop them every 64 MB read, which keeps the load's peak RSS near the packed weights'. */
static void note_loaded(rb *b, size_t bytes)
{
    b->loaded += bytes;
    if (b->loaded >= ((size_t)64 << 20)) {
        oc_st_release_pages(b->file);
        b->loaded = 0;
    }
}

/* ---------------------------------------------------------------- raw tensors ---------- */
/* LOAD: a float copy kept in the table; CHECK: presence and shape; GEN: synthesised (fan_in
 * = last dim) and written; BUILD: the table's copy. Returns the data (NULL in CHECK/GEN or
 * on failure). */
static const float *raw(rb *b, const char *name, int ndim, const int64_t *shape, gen_kind gk)
{
    if (!ok(b)) return NULL;
    int64_t numel = 1;
    for (int i = 0; i < ndim; i++) numel *= shape[i];
    if (b->mode == RB_BUILD) {
        if (b->next_raw >= b->W->nraw || strcmp(b->W->raws[b->next_raw].name, name)) {
            fail(b, oc_error(OC_ERR_INTERNAL, "%s: weight table out of step at '%s'", b->path,
                             name));
            return NULL;
        }
        return b->W->raws[b->next_raw++].data;
    }
    if (b->mode == RB_GEN) {
        float *x = oc_malloc((size_t)numel * sizeof(float));
        if (!x) {
            fail(b, oc_error(OC_ERR_NOMEM, "gen: out of memory for '%s'", name));
            return NULL;
        }
        float fan = (float)shape[ndim - 1];
        switch (gk) {
        case G_WEIGHT: gen_fill(x, (size_t)numel, name, b->seed, sqrtf(3.0f / fan), 0.0f); break;
        case G_BIAS: gen_fill(x, (size_t)numel, name, b->seed, 0.02f, 0.0f); break;
        case G_ONE: gen_fill(x, (size_t)numel, name, b->seed, 0.05f, 1.0f); break;
        case G_DAMPED_ONE: gen_fill(x, (size_t)numel, name, b->seed, 0.05f, 0.25f); break;
        case G_ZERO: gen_fill(x, (size_t)numel, name, b->seed, 0.0f, 0.0f); break;
        case G_CLS_BIAS: gen_fill(x, (size_t)numel, name, b->seed, 0.5f, -4.6f); break;
        }
        oc_status st = oc_st_writer_add(b->wr, name, OC_DT_F32, ndim, shape, x);
        oc_free(x);
        if (st) fail(b, st);
        return NULL;
    }
    if (b->mode == RB_CHECK) {
        const oc_st_tensor *t = oc_st_find(b->file, name);
        int same = t && t->ndim == ndim;
        for (int i = 0; same && i < ndim; i++) same = t->shape[i] == shape[i];
        if (!same || (t->dtype != OC_DT_F32 && t->dtype != OC_DT_F16 && t->dtype != OC_DT_BF16 &&
                      t->dtype != OC_DT_F64)) {
            char want[96] = "";
            for (int i = 0; i < ndim; i++)
                snprintf(want + strlen(want), sizeof want - strlen(want), "%s%lld", i ? ", " : "",
                         (long long)shape[i]);
            if (!t)
                fail(b, oc_error(OC_ERR_FORMAT, "%s: tensor '%s' [%s] not found (is this an "
                                 "RT-DETR state_dict of this variant?)", b->path, name, want));
            else
                fail(b, oc_error(OC_ERR_SHAPE, "%s: tensor '%s' is %s with %d dims, expected a "
                                 "float tensor [%s]", b->path, name, oc_st_dtype_name(t->dtype),
                                 t->ndim, want));
        }
        return NULL;
    }
    float *data = NULL;
    oc_status st = oc_st_load_f32(b->file, name, ndim, shape, &data);
    if (st) {
        fail(b, st);
        return NULL;
    }
    note_loaded(b, (size_t)numel * sizeof(float));
    rb_weights *W = b->W;
    if (W->nraw == W->capraw) {
        int cap = W->capraw ? W->capraw * 2 : 64;
        rb_raw *n = oc_realloc(W->raws, (size_t)cap * sizeof *n);
        if (!n) {
            oc_free(data);
            fail(b, oc_error(OC_ERR_NOMEM, "%s: out of memory", b->path));
            return NULL;
        }
        W->raws = n;
        W->capraw = cap;
    }
    W->raws[W->nraw].name = oc_strdup(name);
    W->raws[W->nraw].data = data;
    if (!W->raws[W->nraw].name) {
        oc_free(data);
        fail(b, oc_error(OC_ERR_NOMEM, "%s: out of memory", b->path));
        return NULL;
    }
    W->nraw++;
    return data;
}

static const float *rawf(rb *b, gen_kind gk, int ndim, const int64_t *shape, const char *fmt, ...)
    OC_PRINTF(5, 6);
static const float *rawf(rb *b, gen_kind gk, int ndim, const int64_t *shape, const char *fmt, ...)
{
    char name[256];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(name, sizeof name, fmt, ap);
    va_end(ap);
    return raw(b, name, ndim, shape, gk);
}

/* ---------------------------------------------------------------- convs ---------------- */
static oc_conv2d_desc make_desc(int cin, int cout, int k, int s, oc_act act)
{
    oc_conv2d_desc d;
    memset(&d, 0, sizeof d);
    d.cin = cin;
    d.cout = cout;
    d.kh = d.kw = k;
    d.groups = 1;
    d.stride_h = d.stride_w = s;
    d.pad_t = d.pad_l = d.pad_b = d.pad_r = (k - 1) / 2;
    d.dil_h = d.dil_w = 1;
    d.act = act;
    return d;
}

/* A conv without bias followed by a (Frozen)BatchNorm: LOAD returns the folded weight/bias
 * (oc_malloc'd); GEN writes the train-form tensors (and returns NULLs); CHECK checks them.
 * wname: the conv weight's name; nprefix: the norm's prefix. */
static oc_status convnorm_weights(rb *b, const char *wname, const char *nprefix, int cin, int cout,
                                  int k, int damped, float **wout, float **bout)
{
    *wout = *bout = NULL;
    const int64_t wshape[4] = {cout, cin, k, k}, vshape[1] = {cout};
    const char *sfx[4] = {"weight", "bias", "running_mean", "running_var"};
    char nn[4][256];
    for (int i = 0; i < 4; i++) snprintf(nn[i], sizeof nn[i], "%s.%s", nprefix, sfx[i]);
    if (b->mode == RB_GEN || b->mode == RB_CHECK) {
        /* GEN: weights with fan_in cin*k*k (shape's last dim is k: use a flat view) */
        if (b->mode == RB_GEN) {
            size_t n = (size_t)cout * cin * k * k;
            float *w = oc_malloc(n * sizeof(float));
            if (!w) return fail(b, oc_error(OC_ERR_NOMEM, "gen: out of memory for '%s'", wname));
            gen_fill(w, n, wname, b->seed, 1.4f * sqrtf(3.0f / (float)(cin * k * k)), 0.0f);
            oc_status st = oc_st_writer_add(b->wr, wname, OC_DT_F32, 4, wshape, w);
            oc_free(w);
            if (st) return fail(b, st);
        } else {
            raw(b, wname, 4, wshape, G_WEIGHT);
        }
        raw(b, nn[0], 1, vshape, damped ? G_DAMPED_ONE : G_ONE);
        raw(b, nn[1], 1, vshape, G_BIAS);
        raw(b, nn[2], 1, vshape, G_ZERO);
        raw(b, nn[3], 1, vshape, G_ONE);
        return b->st;
    }
    float *w = NULL, *v[4] = {NULL, NULL, NULL, NULL};
    oc_status st = oc_st_load_f32(b->file, wname, 4, wshape, &w);
    for (int i = 0; i < 4 && !st; i++) st = oc_st_load_f32(b->file, nn[i], 1, vshape, &v[i]);
    if (!st) {
        const size_t per = (size_t)cin * k * k;
        for (int o = 0; o < cout; o++) {
            if (!(v[3][o] >= 0.0f) || !isfinite(v[3][o])) {
                st = oc_error(OC_ERR_FORMAT, "%s: tensor '%s': element %d is %g (a variance "
                              "must be finite and >= 0)", b->path, nn[3], o, (double)v[3][o]);
                break;
            }
            /* x * s + (b - rm * s), s = w / sqrt(rv + eps): BatchNorm2d and FrozenBatchNorm2d */
            float s = v[0][o] / sqrtf(v[3][o] + BN_EPS);
            for (size_t i = 0; i < per; i++) w[o * per + i] *= s;
            v[1][o] = v[1][o] - v[2][o] * s;
        }
    }
    note_loaded(b, ((size_t)cout * cin * k * k + 4 * (size_t)cout) * sizeof(float));
    oc_free(v[0]);
    oc_free(v[2]);
    oc_free(v[3]);
    if (st) {
        oc_free(w);
        oc_free(v[1]);
        return fail(b, st);
    }
    *wout = w;
    *bout = v[1];
    return OC_OK;
}

static oc_status push_conv(rb *b, const char *name, const oc_conv2d_desc *d, const float *w,
                           const float *bias)
{
    oc_status st = oc_conv_table_push(&b->W->convs, b->path, name, d, w, bias, b->isa);
    return st ? fail(b, st) : OC_OK;
}

static oc_tid build_conv(rb *b, oc_tid x, const char *name, oc_tid residual)
{
    oc_status st = OC_OK;
    oc_tid y = oc_conv_table_build(&b->W->convs, &b->next_conv, b->g, x, residual, b->path, name,
                                   &st);
    if (y == OC_NONE) fail(b, st);
    return y;
}

typedef enum { CN_CONVNORM = 0, CN_SEQ } cn_style; /* p.conv.weight + p.norm.* | p.0 + p.1 */

/* ConvNormLayer (+ act); y = act(bn(conv(x))) + residual */
static oc_tid convnorm(rb *b, oc_tid x, const char *prefix, cn_style style, int cin, int cout,
                       int k, int s, oc_act act, oc_tid residual, int damped)
{
    if (!ok(b)) return OC_NONE;
    if (b->mode == RB_BUILD) return build_conv(b, x, prefix, residual);
    char wn[256], np[256];
    snprintf(wn, sizeof wn, style == CN_SEQ ? "%s.0.weight" : "%s.conv.weight", prefix);
    snprintf(np, sizeof np, style == CN_SEQ ? "%s.1" : "%s.norm", prefix);
    float *w = NULL, *bias = NULL;
    if (convnorm_weights(b, wn, np, cin, cout, k, damped, &w, &bias) == OC_OK && b->mode == RB_LOAD) {
        oc_conv2d_desc d = make_desc(cin, cout, k, s, act);
        push_conv(b, prefix, &d, w, bias);
    }
    oc_free(w);
    oc_free(bias);
    return ok(b) ? 0 : OC_NONE;
}

/* RepVggBlock: act(conv1 (3x3 ConvNorm) + conv2 (1x1 ConvNorm)) fused into one 3x3 conv, as
 * the reference's convert_to_deploy does; + residual */
static oc_tid repvgg(rb *b, oc_tid x, const char *prefix, int ch, oc_act act, oc_tid residual)
{
    if (!ok(b)) return OC_NONE;
    if (b->mode == RB_BUILD) return build_conv(b, x, prefix, residual);
    char wn[2][256], np[2][256];
    for (int i = 0; i < 2; i++) {
        snprintf(wn[i], sizeof wn[i], "%s.conv%d.conv.weight", prefix, i + 1);
        snprintf(np[i], sizeof np[i], "%s.conv%d.norm", prefix, i + 1);
    }
    float *w3 = NULL, *b3 = NULL, *w1 = NULL, *b1 = NULL;
    if (convnorm_weights(b, wn[0], np[0], ch, ch, 3, 0, &w3, &b3) == OC_OK &&
        convnorm_weights(b, wn[1], np[1], ch, ch, 1, 0, &w1, &b1) == OC_OK && b->mode == RB_LOAD) {
        for (int64_t i = 0; i < (int64_t)ch * ch; i++) w3[i * 9 + 4] += w1[i]; /* centre tap */
        for (int o = 0; o < ch; o++) b3[o] += b1[o];
        oc_conv2d_desc d = make_desc(ch, ch, 3, 1, act);
        push_conv(b, prefix, &d, w3, b3);
    }
    oc_free(w3);
    oc_free(b3);
    oc_free(w1);
    oc_free(b1);
    return ok(b) ? 0 : OC_NONE;
}

/* ---------------------------------------------------------------- graph wrappers ------- */
static oc_tid gck(rb *b, oc_tid y)
{
    if (y == OC_NONE && ok(b)) fail(b, oc_graph_status(b->g));
    return y;
}

static int building(const rb *b) { return ok(b) && b->mode == RB_BUILD; }

static void name_t(rb *b, oc_tid t, const char *nm)
{
    if (building(b)) oc_g_name(b->g, t, "%s", nm);
}

static oc_tid g_act(rb *b, oc_act a, oc_tid x)
{
    return building(b) ? gck(b, oc_g_act(b->g, a, x)) : 0;
}

static oc_tid g_add(rb *b, oc_tid x, oc_tid y)
{
    return building(b) ? gck(b, oc_g_binary(b->g, OC_BIN_ADD, x, y)) : 0;
}

/* nn.Linear: prefix.weight [out][in], prefix.bias [out] */
static oc_tid linear(rb *b, oc_tid x, const char *prefix, int in, int out, oc_act act,
                     gen_kind bias_kind)
{
    const int64_t ws[2] = {out, in}, bs[1] = {out};
    const float *w = rawf(b, G_WEIGHT, 2, ws, "%s.weight", prefix);
    const float *bias = rawf(b, bias_kind, 1, bs, "%s.bias", prefix);
    return building(b) ? gck(b, oc_g_linear(b->g, x, w, bias, in, out, act)) : 0;
}

static oc_tid layernorm(rb *b, oc_tid x, const char *prefix, int dim)
{
    const int64_t s[1] = {dim};
    const float *w = rawf(b, G_ONE, 1, s, "%s.weight", prefix);
    const float *bias = rawf(b, G_BIAS, 1, s, "%s.bias", prefix);
    return building(b) ? gck(b, oc_g_layernorm(b->g, x, w, bias, LN_EPS)) : 0;
}

/* MLP: layers.{i} linear, ReLU between */
static oc_tid mlp(rb *b, oc_tid x, const char *prefix, int in, int hidden, int out, int nlayers,
                  gen_kind last_bias)
{
    char p[256];
    for (int i = 0; i < nlayers; i++) {
        snprintf(p, sizeof p, "%s.layers.%d", prefix, i);
        int last = i == nlayers - 1;
        x = linear(b, x, p, i == 0 ? in : hidden, last ? out : hidden,
                   last ? OC_ACT_NONE : OC_ACT_RELU, last ? last_bias : G_BIAS);
    }
    return x;
}

/* nn.MultiheadAttention (batch_first): q = k = qk_in, v = v_in; x [N, L, C] -> [N, L, C] */
static oc_tid mha(rb *b, oc_tid qk_in, oc_tid v_in, const char *prefix, int C, int heads)
{
    const int64_t ws[2] = {3LL * C, C}, bs[1] = {3LL * C};
    const float *w = rawf(b, G_WEIGHT, 2, ws, "%s.in_proj_weight", prefix);
    const float *bias = rawf(b, G_BIAS, 1, bs, "%s.in_proj_bias", prefix);
    oc_tid q = 0, k = 0, v = 0, o = 0;
    if (building(b)) {
        const int64_t cc = (int64_t)C * C;
        /* q and k in one product ([N, L, 2C]: in_proj rows 0..2C); k is a zero-copy view of
         * it from element C on, read with the same strides */
        oc_tid qk = gck(b, oc_g_linear(b->g, qk_in, w, bias, C, 2 * C, OC_ACT_NONE));
        v = gck(b, oc_g_linear(b->g, v_in, w + 2 * cc, bias + 2 * C, C, C, OC_ACT_NONE));
        oc_shape s = ok(b) ? oc_g_shape(b->g, v) : oc_shape1(1);
        if (ok(b)) {
            int64_t all = 2 * s.d[0] * s.d[1] * C;
            q = gck(b, oc_g_reshape(b->g, qk, oc_shape1(all)));
            if (ok(b)) k = gck(b, oc_g_slice(b->g, q, 0, C, all));
        }
        if (ok(b)) {
            const int64_t n = s.d[0], L = s.d[1], dh = C / heads;
            oc_attn_desc d;
            memset(&d, 0, sizeof d);
            d.batch = (int)n;
            d.heads = heads;
            d.lq = d.lk = (int)L;
            d.d = d.dv = (int)dh;
            d.scale = 1.0f / sqrtf((float)dh);
            d.q_sb = d.k_sb = 2 * L * C;
            d.v_sb = d.o_sb = L * C;
            d.q_sh = d.k_sh = d.v_sh = d.o_sh = dh;
            d.q_st = d.k_st = 2 * C;
            d.v_st = d.o_st = C;
            d.q_sd = d.k_sd = d.v_sd = d.o_sd = 1;
            o = gck(b, oc_g_attention(b->g, q, k, v, OC_NONE, &d, s));
        }
    }
    char p[256];
    snprintf(p, sizeof p, "%s.out_proj", prefix);
    return linear(b, o, p, C, C, OC_ACT_NONE, G_BIAS);
}

/* [N, C, H, W] -> [N, H*W, C] */
static oc_tid to_tokens(rb *b, oc_tid x)
{
    if (!building(b)) return 0;
    oc_shape s = oc_g_shape(b->g, x);
    oc_tid r = gck(b, oc_g_reshape(b->g, x, oc_shape3(s.d[0], s.d[1], s.d[2] * s.d[3])));
    const int perm[3] = {0, 2, 1};
    return ok(b) ? gck(b, oc_g_permute(b->g, r, perm)) : OC_NONE;
}

/* [N, H*W, C] -> [N, C, H, W] */
static oc_tid from_tokens(rb *b, oc_tid x, int64_t h, int64_t w)
{
    if (!building(b)) return 0;
    const int perm[3] = {0, 2, 1};
    oc_tid p = gck(b, oc_g_permute(b->g, x, perm));
    if (!ok(b)) return OC_NONE;
    oc_shape s = oc_g_shape(b->g, p);
    return gck(b, oc_g_reshape(b->g, p, oc_shape4(s.d[0], s.d[1], h, w)));
}

/* ---------------------------------------------------------------- backbone ------------- */
static void backbone(rb *b, oc_tid x, oc_tid outs[RTDETR_LEVELS])
{
    const rtdetr_hp *hp = b->hp;
    const int st = hp->stem;
    x = convnorm(b, x, "backbone.conv1.conv1_1", CN_CONVNORM, 3, st / 2, 3, 2, OC_ACT_RELU, OC_NONE, 0);
    x = convnorm(b, x, "backbone.conv1.conv1_2", CN_CONVNORM, st / 2, st / 2, 3, 1, OC_ACT_RELU,
                 OC_NONE, 0);
    x = convnorm(b, x, "backbone.conv1.conv1_3", CN_CONVNORM, st / 2, st, 3, 1, OC_ACT_RELU,
                 OC_NONE, 0);
    if (building(b)) {
        oc_pool2d_desc pd = {3, 3, 2, 2, 1, 1, 1, 1, 0, 0};
        x = gck(b, oc_g_maxpool2d(b->g, x, &pd));
    }
    int cin = st;
    const int ex = hp->bottleneck ? 4 : 1;
    char p[192], q[256];
    for (int s = 0; s < 4; s++) {
        const int co = hp->stage_ch[s];
        for (int i = 0; i < hp->blocks[s] && ok(b); i++) {
            const int stride = (i == 0 && s != 0) ? 2 : 1;
            snprintf(p, sizeof p, "backbone.res_layers.%d.blocks.%d", s, i);
            oc_tid sc = x;
            if (i == 0 && stride == 2) {
                /* variant d: AvgPool2d(2, 2, ceil_mode=True) then a 1x1 ConvNorm */
                oc_tid pooled = 0;
                if (building(b)) {
                    oc_pool2d_desc pd = {2, 2, 2, 2, 0, 0, 0, 0, 1, 1};
                    pooled = gck(b, oc_g_avgpool2d(b->g, x, &pd));
                }
                snprintf(q, sizeof q, "%s.short.conv", p);
                sc = convnorm(b, pooled, q, CN_CONVNORM, cin, co * ex, 1, 1, OC_ACT_NONE, OC_NONE, 0);
            } else if (i == 0) {
                snprintf(q, sizeof q, "%s.short", p);
                sc = convnorm(b, x, q, CN_CONVNORM, cin, co * ex, 1, stride, OC_ACT_NONE, OC_NONE, 0);
            }
            oc_tid y;
            if (!hp->bottleneck) {
                snprintf(q, sizeof q, "%s.branch2a", p);
                y = convnorm(b, x, q, CN_CONVNORM, cin, co, 3, stride, OC_ACT_RELU, OC_NONE, 0);
                snprintf(q, sizeof q, "%s.branch2b", p);
                y = convnorm(b, y, q, CN_CONVNORM, co, co, 3, 1, OC_ACT_NONE, sc, 1);
            } else {
                snprintf(q, sizeof q, "%s.branch2a", p);
                y = convnorm(b, x, q, CN_CONVNORM, cin, co, 1, 1, OC_ACT_RELU, OC_NONE, 0);
                snprintf(q, sizeof q, "%s.branch2b", p);
                y = convnorm(b, y, q, CN_CONVNORM, co, co, 3, stride, OC_ACT_RELU, OC_NONE, 0);
                snprintf(q, sizeof q, "%s.branch2c", p);
                y = convnorm(b, y, q, CN_CONVNORM, co, co * 4, 1, 1, OC_ACT_NONE, sc, 1);
            }
            x = g_act(b, OC_ACT_RELU, y);
            cin = co * ex;
        }
        if (s >= 1) {
            outs[s - 1] = x;
            if (building(b)) oc_g_name(b->g, x, "backbone_out%d", s - 1);
        }
    }
}

/* ---------------------------------------------------------------- encoder -------------- */
static oc_tid csp_rep(rb *b, oc_tid x, const char *prefix, int C)
{
    const rtdetr_hp *hp = b->hp;
    const int h = (int)(C * hp->expansion);
    char q[256];
    snprintf(q, sizeof q, "%s.conv1", prefix);
    oc_tid x1 = convnorm(b, x, q, CN_CONVNORM, 2 * C, h, 1, 1, hp->csp_act, OC_NONE, 0);
    snprintf(q, sizeof q, "%s.conv2", prefix);
    oc_tid x2 = convnorm(b, x, q, CN_CONVNORM, 2 * C, h, 1, 1, hp->csp_act, OC_NONE, 0);
    for (int j = 0; j < hp->csp_blocks; j++) {
        snprintf(q, sizeof q, "%s.bottlenecks.%d", prefix, j);
        /* the last block's epilogue adds conv2's branch: act(rep(x1)) + x2 */
        x1 = repvgg(b, x1, q, h, hp->csp_act, j == hp->csp_blocks - 1 ? x2 : OC_NONE);
    }
    oc_tid y = hp->csp_blocks > 0 ? x1 : g_add(b, x1, x2);
    if (h != C) {
        snprintf(q, sizeof q, "%s.conv3", prefix);
        y = convnorm(b, y, q, CN_CONVNORM, h, C, 1, 1, hp->csp_act, OC_NONE, 0);
    }
    return y;
}

/* post-norm TransformerEncoderLayer with the position embedding on q and k */
static oc_tid aifi_layer(rb *b, oc_tid src, oc_tid pos, const char *prefix)
{
    const rtdetr_hp *hp = b->hp;
    const int C = hp->enc_hidden;
    char q[256];
    oc_tid qk = g_add(b, src, pos);
    snprintf(q, sizeof q, "%s.self_attn", prefix);
    oc_tid a = mha(b, qk, src, q, C, hp->enc_heads);
    snprintf(q, sizeof q, "%s.norm1", prefix);
    src = layernorm(b, g_add(b, src, a), q, C);
    snprintf(q, sizeof q, "%s.linear1", prefix);
    oc_tid f = linear(b, src, q, C, hp->enc_ffn, hp->enc_ffn_act, G_BIAS);
    snprintf(q, sizeof q, "%s.linear2", prefix);
    f = linear(b, f, q, hp->enc_ffn, C, OC_ACT_NONE, G_BIAS);
    snprintf(q, sizeof q, "%s.norm2", prefix);
    return layernorm(b, g_add(b, src, f), q, C);
}

static void encoder(rb *b, const oc_tid feats[RTDETR_LEVELS], oc_tid outs[RTDETR_LEVELS])
{
    const rtdetr_hp *hp = b->hp;
    const int C = hp->enc_hidden;
    oc_tid proj[RTDETR_LEVELS];
    char q[256];
    for (int i = 0; i < RTDETR_LEVELS; i++) {
        snprintf(q, sizeof q, "encoder.input_proj.%d", i);
        proj[i] = convnorm(b, feats[i], q, CN_SEQ, hp->back_out[i], C, 1, 1, OC_ACT_NONE, OC_NONE, 0);
        if (building(b)) oc_g_name(b->g, proj[i], "encoder_input_proj%d", i);
    }
    for (int e = 0; e < hp->n_enc_idx && hp->enc_layers > 0; e++) {
        const int idx = hp->enc_idx[e];
        int64_t h = 0, w = 0;
        oc_tid src = to_tokens(b, proj[idx]), pos = 0;
        if (building(b)) {
            oc_shape s = oc_g_shape(b->g, proj[idx]);
            h = s.d[2];
            w = s.d[3];
            pos = gck(b, rtdetr_pos_embed(b->g, src, (int)h, (int)w, C, (float)hp->pe_temperature));
            if (ok(b)) oc_g_name(b->g, pos, "encoder_pos_embed%d", idx);
        }
        for (int l = 0; l < hp->enc_layers; l++) {
            snprintf(q, sizeof q, "encoder.encoder.%d.layers.%d", e, l);
            src = aifi_layer(b, src, pos, q);
        }
        if (building(b)) {
            if (idx == RTDETR_LEVELS - 1) oc_g_name(b->g, src, "encoder_aifi_out");
            else oc_g_name(b->g, src, "encoder_aifi_out%d", idx);
        }
        proj[idx] = from_tokens(b, src, h, w);
    }
    /* CCFM top-down */
    oc_tid inner[RTDETR_LEVELS];
    inner[RTDETR_LEVELS - 1] = proj[RTDETR_LEVELS - 1];
    for (int idx = RTDETR_LEVELS - 1; idx > 0; idx--) {
        const int j = RTDETR_LEVELS - 1 - idx;
        snprintf(q, sizeof q, "encoder.lateral_convs.%d", j);
        oc_tid high = convnorm(b, inner[idx], q, CN_CONVNORM, C, C, 1, 1, hp->csp_act, OC_NONE, 0);
        inner[idx] = high;
        oc_tid cat = 0;
        if (building(b)) {
            oc_shape s = oc_g_shape(b->g, high);
            oc_tid up = gck(b, oc_g_upsample_nearest(b->g, high, (int)s.d[2] * 2, (int)s.d[3] * 2));
            oc_tid xs[2] = {up, proj[idx - 1]};
            if (ok(b)) cat = gck(b, oc_g_concat(b->g, xs, 2, 1));
        }
        snprintf(q, sizeof q, "encoder.fpn_blocks.%d", j);
        inner[idx - 1] = csp_rep(b, cat, q, C);
        if (building(b) && j == 0) oc_g_name(b->g, inner[idx - 1], "encoder_fpn_out1");
    }
    /* bottom-up */
    outs[0] = inner[0];
    for (int idx = 0; idx < RTDETR_LEVELS - 1; idx++) {
        snprintf(q, sizeof q, "encoder.downsample_convs.%d", idx);
        oc_tid down = convnorm(b, outs[idx], q, CN_CONVNORM, C, C, 3, 2, hp->csp_act, OC_NONE, 0);
        oc_tid cat = 0;
        if (building(b)) {
            oc_tid xs[2] = {down, inner[idx + 1]};
            cat = gck(b, oc_g_concat(b->g, xs, 2, 1));
        }
        snprintf(q, sizeof q, "encoder.pan_blocks.%d", idx);
        outs[idx + 1] = csp_rep(b, cat, q, C);
    }
    for (int i = 0; i < RTDETR_LEVELS; i++)
        if (building(b)) oc_g_name(b->g, outs[i], "encoder_out%d", i);
}

/* ---------------------------------------------------------------- decoder -------------- */
static void decoder(rb *b, const oc_tid feats[RTDETR_LEVELS], oc_tid *pred_logits,
                    oc_tid *pred_boxes)
{
    const rtdetr_hp *hp = b->hp;
    const int Cd = hp->dec_hidden, H = hp->dec_heads, P = hp->dec_points, nc = hp->num_classes;
    const int per = H * RTDETR_LEVELS * P;
    char q[256], p[192];
    oc_tid toks[RTDETR_LEVELS];
    int64_t level_hw[2 * RTDETR_LEVELS] = {0};
    for (int i = 0; i < RTDETR_LEVELS; i++) {
        snprintf(q, sizeof q, "decoder.input_proj.%d", i);
        oc_tid y = convnorm(b, feats[i], q, CN_CONVNORM, hp->enc_hidden, Cd, 1, 1, OC_ACT_NONE,
                            OC_NONE, 0);
        if (building(b)) {
            oc_shape s = oc_g_shape(b->g, y);
            level_hw[2 * i] = s.d[2];
            level_hw[2 * i + 1] = s.d[3];
        }
        toks[i] = to_tokens(b, y);
    }
    oc_tid memory = 0, anchors = 0, masked = 0;
    if (building(b)) {
        memory = gck(b, oc_g_concat(b->g, toks, RTDETR_LEVELS, 1));
        name_t(b, memory, "decoder_memory");
        if (ok(b)) anchors = gck(b, rtdetr_anchors(b->g, memory, level_hw, RTDETR_LEVELS, (float)hp->eps));
        name_t(b, anchors, "decoder_anchors");
        if (ok(b)) masked = gck(b, rtdetr_mask_invalid(b->g, memory, anchors));
    }
    oc_tid om = linear(b, masked, "decoder.enc_output.0", Cd, Cd, OC_ACT_NONE, G_BIAS);
    om = layernorm(b, om, "decoder.enc_output.1", Cd);
    oc_tid enc_logits = linear(b, om, "decoder.enc_score_head", Cd, nc, OC_ACT_NONE, G_CLS_BIAS);
    oc_tid idx = 0, target = 0, topk_logits = 0, anc = 0;
    if (building(b)) {
        idx = gck(b, rtdetr_topk_select(b->g, enc_logits, hp->num_queries));
        name_t(b, idx, "decoder_topk_index");
        if (ok(b)) target = gck(b, rtdetr_gather_rows(b->g, om, idx));
        name_t(b, target, "decoder_target");
        if (ok(b)) topk_logits = gck(b, rtdetr_gather_rows(b->g, enc_logits, idx));
        name_t(b, topk_logits, "decoder_enc_topk_logits");
        if (ok(b)) anc = gck(b, rtdetr_gather_rows(b->g, anchors, idx));
    }
    /* the box head on the selected rows only: it is row-wise, so this equals gathering
     * enc_bbox_head(output_memory) + anchors */
    oc_tid ref_unact = g_add(b, mlp(b, target, "decoder.enc_bbox_head", Cd, Cd, 4, 3, G_BIAS), anc);
    oc_tid ref = g_act(b, OC_ACT_SIGMOID, ref_unact);
    name_t(b, ref, "decoder_enc_topk_boxes");

    /* query_pos_head is shared by the layers: fetched once */
    const int64_t q0w[2] = {2 * Cd, 4}, q0b[1] = {2 * Cd}, q1w[2] = {Cd, 2 * Cd}, q1b[1] = {Cd};
    const float *qw0 = rawf(b, G_WEIGHT, 2, q0w, "decoder.query_pos_head.layers.0.weight");
    const float *qb0 = rawf(b, G_BIAS, 1, q0b, "decoder.query_pos_head.layers.0.bias");
    const float *qw1 = rawf(b, G_WEIGHT, 2, q1w, "decoder.query_pos_head.layers.1.weight");
    const float *qb1 = rawf(b, G_BIAS, 1, q1b, "decoder.query_pos_head.layers.1.bias");
    oc_tid tgt = target;
    for (int l = 0; l < hp->dec_layers && ok(b); l++) {
        if (l > hp->eval_idx && b->mode != RB_GEN) break;
        snprintf(p, sizeof p, "decoder.decoder.layers.%d", l);
        oc_tid qpos = 0;
        if (building(b)) {
            qpos = gck(b, oc_g_linear(b->g, ref, qw0, qb0, 4, 2 * Cd, OC_ACT_RELU));
            if (ok(b)) qpos = gck(b, oc_g_linear(b->g, qpos, qw1, qb1, 2 * Cd, Cd, OC_ACT_NONE));
        }
        oc_tid qk = g_add(b, tgt, qpos);
        snprintf(q, sizeof q, "%s.self_attn", p);
        oc_tid a = mha(b, qk, tgt, q, Cd, H);
        snprintf(q, sizeof q, "%s.norm1", p);
        tgt = layernorm(b, g_add(b, tgt, a), q, Cd);
        /* deformable cross-attention on the unmasked memory */
        oc_tid query = g_add(b, tgt, qpos);
        snprintf(q, sizeof q, "%s.cross_attn.sampling_offsets", p);
        oc_tid off = linear(b, query, q, Cd, 2 * per, OC_ACT_NONE, G_BIAS);
        snprintf(q, sizeof q, "%s.cross_attn.attention_weights", p);
        oc_tid aw = linear(b, query, q, Cd, per, OC_ACT_NONE, G_BIAS);
        snprintf(q, sizeof q, "%s.cross_attn.value_proj", p);
        oc_tid value = linear(b, memory, q, Cd, Cd, OC_ACT_NONE, G_BIAS);
        oc_tid ca = 0;
        if (building(b)) {
            oc_shape s = oc_g_shape(b->g, aw);
            oc_tid r = gck(b, oc_g_reshape(b->g, aw, oc_shape4(s.d[0], s.d[1], H, RTDETR_LEVELS * P)));
            if (ok(b)) r = gck(b, oc_g_softmax(b->g, r, -1));
            if (ok(b)) aw = gck(b, oc_g_reshape(b->g, r, s));
            oc_tid loc = ok(b) ? gck(b, rtdetr_deform_loc(b->g, off, ref, H, RTDETR_LEVELS, P)) : OC_NONE;
            if (ok(b))
                ca = gck(b, oc_g_ms_deform_attn(b->g, value, loc, aw, level_hw, RTDETR_LEVELS, H, P));
        }
        snprintf(q, sizeof q, "%s.cross_attn.output_proj", p);
        ca = linear(b, ca, q, Cd, Cd, OC_ACT_NONE, G_BIAS);
        snprintf(q, sizeof q, "%s.norm2", p);
        tgt = layernorm(b, g_add(b, tgt, ca), q, Cd);
        snprintf(q, sizeof q, "%s.linear1", p);
        oc_tid f = linear(b, tgt, q, Cd, hp->dec_ffn, hp->dec_ffn_act, G_BIAS);
        snprintf(q, sizeof q, "%s.linear2", p);
        f = linear(b, f, q, hp->dec_ffn, Cd, OC_ACT_NONE, G_BIAS);
        oc_tid t2 = g_add(b, tgt, f);
        if (building(b)) t2 = gck(b, rtdetr_clamp_f16(b->g, t2));
        snprintf(q, sizeof q, "%s.norm3", p);
        tgt = layernorm(b, t2, q, Cd);
        if (building(b)) oc_g_name(b->g, tgt, "decoder_layer%d_hidden", l);
        snprintf(q, sizeof q, "decoder.dec_bbox_head.%d", l);
        oc_tid delta = mlp(b, tgt, q, Cd, Cd, 4, 3, G_BIAS);
        oc_tid boxes = building(b) ? gck(b, rtdetr_refine(b->g, delta, ref)) : 0;
        if (building(b)) oc_g_name(b->g, boxes, "decoder_layer%d_boxes", l);
        /* the class head only where the reference evaluates it (eval_idx); gen writes all */
        if (l == hp->eval_idx || b->mode == RB_GEN) {
            snprintf(q, sizeof q, "decoder.dec_score_head.%d", l);
            oc_tid lg = linear(b, tgt, q, Cd, nc, OC_ACT_NONE, G_CLS_BIAS);
            if (l == hp->eval_idx) {
                if (building(b)) oc_g_name(b->g, lg, "decoder_layer%d_logits", l);
                *pred_logits = lg;
                *pred_boxes = boxes;
            }
        }
        ref = boxes;
    }
}

/* the whole walk; images [N,3,H,W] in BUILD */
static void walk(rb *b, oc_tid images, oc_tid sizes)
{
    oc_tid feats[RTDETR_LEVELS] = {0, 0, 0}, enc[RTDETR_LEVELS] = {0, 0, 0};
    backbone(b, images, feats);
    encoder(b, feats, enc);
    oc_tid logits = 0, boxes = 0;
    decoder(b, enc, &logits, &boxes);
    if (b->mode == RB_GEN) {
        /* training-only, unused at inference; written so a generated file is a whole
         * state_dict */
        const int64_t s[2] = {b->hp->num_classes + 1, b->hp->dec_hidden};
        raw(b, "decoder.denoising_class_embed.weight", 2, s, G_WEIGHT);
    }
    if (!building(b)) return;
    oc_g_output(b->g, logits, "pred_logits");
    oc_g_output(b->g, boxes, "pred_boxes");
    oc_tid post = gck(b, rtdetr_postprocess(b->g, logits, boxes, sizes, b->hp->num_top,
                                            (float)b->in_w, (float)b->in_h));
    const char *names[4] = {"labels", "boxes", "scores", "post_topk_index"};
    const int lo[4] = {0, 1, 5, 6}, hi[4] = {1, 5, 6, 7};
    for (int i = 0; i < 4 && ok(b); i++) {
        oc_tid t = gck(b, oc_g_slice(b->g, post, 2, lo[i], hi[i]));
        oc_shape s = ok(b) ? oc_g_shape(b->g, t) : oc_shape1(1);
        if (ok(b) && i != 1) t = gck(b, oc_g_reshape(b->g, t, oc_shape2(s.d[0], s.d[1])));
        if (!ok(b)) break;
        if (i < 3) oc_g_output(b->g, t, names[i]);
        else oc_g_name(b->g, t, "%s", names[i]);
    }
}

/* ---------------------------------------------------------------- entry points --------- */
static oc_status rtdetr_load(struct oc_model *m)
{
    rtdetr_model *md = oc_calloc(1, sizeof *md);
    const char *path = m->path ? m->path : oc_st_path(m->file);
    if (!md) return oc_error(OC_ERR_NOMEM, "%s: out of memory", path);
    oc_status st = rtdetr_hp_from_model(m, &md->hp);
    if (st) {
        oc_free(md);
        return st;
    }
    rb b;
    memset(&b, 0, sizeof b);
    b.mode = RB_LOAD;
    b.path = path;
    b.hp = &md->hp;
    b.file = m->file;
    b.isa = m->isa;
    b.W = &md->W;
    walk(&b, 0, OC_NONE);
    if (b.st) {
        weights_free(&md->W);
        oc_free(md);
        return b.st;
    }
    /* every kept tensor is a copy or a repacked conv: the mapping need not stay resident */
    oc_st_release_pages(m->file);
    m->input_h = md->hp.eval_h;
    m->input_w = md->hp.eval_w;
    m->arch_data = md;
    return OC_OK;
}

oc_status rtdetr_build_graph(const struct oc_model *m, oc_graph *g, int n, int h, int w,
                             int with_sizes)
{
    const rtdetr_model *md = m->arch_data;
    const char *path = m->path ? m->path : "model";
    if (!md) return oc_graph_fail(g, oc_error(OC_ERR_INVALID_ARG, "%s: not loaded", path));
    if (n < 1 || h < 32 || w < 32 || h % 32 || w % 32)
        return oc_graph_fail(g, oc_error(OC_ERR_SHAPE, "input %dx3x%dx%d: an RT-DETR input needs "
                                         "batch >= 1 and height and width multiples of 32 (at "
                                         "least 32)", n, h, w));
    int64_t s = (int64_t)(h / 8) * (w / 8) + (int64_t)(h / 16) * (w / 16) +
                (int64_t)(h / 32) * (w / 32);
    if (s < md->hp.num_queries)
        return oc_graph_fail(g, oc_error(OC_ERR_SHAPE, "input %dx%d: its %lld anchors are fewer "
                                         "than the %d queries", h, w, (long long)s,
                                         md->hp.num_queries));
    rb b;
    memset(&b, 0, sizeof b);
    b.mode = RB_BUILD;
    b.path = path;
    b.hp = &md->hp;
    b.g = g;
    b.W = (rb_weights *)&md->W; /* read only in BUILD */
    b.in_h = h;
    b.in_w = w;
    b.with_sizes = with_sizes;
    oc_tid x = oc_g_input(g, "images", oc_shape4(n, 3, h, w));
    oc_tid sizes = with_sizes ? oc_g_input_typed(g, "orig_target_sizes", oc_shape2(n, 2),
                                                 (oc_dtype)(with_sizes - 1))
                              : OC_NONE;
    walk(&b, x, sizes);
    if (b.st) return b.st;
    if (b.next_conv != md->W.convs.n || b.next_raw != md->W.nraw)
        return oc_graph_fail(g, oc_error(OC_ERR_INTERNAL, "%s: build used %d of %d convs, %d of "
                                         "%d tensors", path, b.next_conv, md->W.convs.n,
                                         b.next_raw, md->W.nraw));
    return oc_graph_status(g);
}

/* inputs: `images` [N,3,H,W] (or the only 4-d float tensor), optional `orig_target_sizes`
 * [N,2] as (w, h) like the reference's postprocessor, any dtype; without it the boxes are
 * scaled to the input size */
static oc_status rtdetr_build(const struct oc_model *m, oc_graph *g, const char *stage,
                              const oc_io_desc *in, int n_in)
{
    (void)stage;
    const oc_io_desc *img = oc_io_find_image(in, n_in, "images");
    if (!img || img->ndim != 4 || img->dims[1] != 3 || img->dims[0] > INT32_MAX ||
        img->dims[2] > INT32_MAX || img->dims[3] > INT32_MAX)
        return oc_graph_fail(g, oc_error(OC_ERR_SHAPE, "%s: RT-DETR needs an input 'images' "
                                         "[N, 3, H, W]", m->path ? m->path : "model"));
    const oc_io_desc *sz = oc_io_find(in, n_in, "orig_target_sizes");
    if (sz && (sz->ndim != 2 || sz->dims[0] != img->dims[0] || sz->dims[1] != 2))
        return oc_graph_fail(g, oc_error(OC_ERR_SHAPE, "%s: 'orig_target_sizes' must be [%lld, "
                                         "2] (width, height per image)",
                                         m->path ? m->path : "model", (long long)img->dims[0]));
    return rtdetr_build_graph(m, g, (int)img->dims[0], (int)img->dims[2], (int)img->dims[3],
                              sz ? 1 + (int)sz->dtype : 0);
}

static void rtdetr_free(struct oc_model *m)
{
    rtdetr_model *md = m->arch_data;
    if (!md) return;
    weights_free(&md->W);
    oc_free(md);
    m->arch_data = NULL;
}

oc_status rtdetr_gen_tensors(const rtdetr_hp *hp, uint32_t seed, oc_st_writer *wr)
{
    rb b;
    memset(&b, 0, sizeof b);
    b.mode = RB_GEN;
    b.path = "gen";
    b.hp = hp;
    b.wr = wr;
    b.seed = seed;
    walk(&b, 0, OC_NONE);
    return b.st;
}

oc_status rtdetr_copy_tensors(const rtdetr_hp *hp, const oc_st_file *src, const char *path,
                              oc_st_writer *wr)
{
    rb b;
    memset(&b, 0, sizeof b);
    b.mode = RB_CHECK;
    b.path = path;
    b.hp = hp;
    b.file = src;
    walk(&b, 0, OC_NONE);
    if (b.st) return b.st;
    /* every float tensor as it is (the loader folds and fuses; F64 becomes F32); training
     * counters and other integer tensors dropped */
    for (size_t i = 0; i < oc_st_num_tensors(src); i++) {
        const oc_st_tensor *t = oc_st_tensor_at(src, i);
        size_t L = strlen(t->name);
        if (L >= 19 && !strcmp(t->name + L - 19, "num_batches_tracked")) continue;
        oc_status st = OC_OK;
        if (t->dtype == OC_DT_F64) { /* written as F32 (the model computes in float32) */
            float *x = oc_malloc((size_t)t->numel * sizeof(float) + 1);
            if (!x) return oc_error(OC_ERR_NOMEM, "%s: out of memory", path);
            st = oc_st_to_f32(src, t, x);
            if (!st) st = oc_st_writer_add(wr, t->name, OC_DT_F32, t->ndim, t->shape, x);
            oc_free(x);
        } else if (t->dtype == OC_DT_F32 || t->dtype == OC_DT_F16 || t->dtype == OC_DT_BF16) {
            st = oc_st_writer_add(wr, t->name, t->dtype, t->ndim, t->shape, t->data);
        }
        if (st) return st;
    }
    return OC_OK;
}

static oc_status rtdetr_gen_hook(const oc_gen_options *o, oc_st_writer *out)
{
    return rtdetr_generate(o->scale, o->num_classes, o->imgsz, o->seed, out);
}

static oc_status rtdetr_convert_hook(const oc_st_file *src, const oc_convert_options *o,
                                     oc_st_writer *out)
{
    return rtdetr_convert(src, o ? o->scale : NULL, out);
}

const oc_arch oc_arch_rtdetr = {
    .name = "rtdetr", .task = "detect_detr", .load = rtdetr_load, .build = rtdetr_build,
    .free = rtdetr_free, .scales = rtdetr_variants, .generate = rtdetr_gen_hook,
    .convert = rtdetr_convert_hook};

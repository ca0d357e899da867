/* yolo.c -- the YOLO11 and YOLOv8 detectors (ultralytics yolo11.yaml / yolov8.yaml), the
 * shared YOLO building blocks (yolo_common.h) and the synthetic-weights generator.
 *
 * The architecture is described once per family by a walk function (yolo11_walk,
 * yolov8_walk) which calls the block helpers in the reference's module order. The same walk
 * loads weights (LOAD), synthesises them (GEN) or builds the graph (BUILD): see
 * yolo_common.h. Facts about the reference (ultralytics 8.3.x) this follows:
 *   - parse_model: c2 = make_divisible(min(c2, max_channels) * width, 8); repeats
 *     n = max(round(n * depth), 1) for n > 1; C3k2's c3k flag forced on for scales m/l/x.
 *   - Conv = conv(k, s, pad k/2, groups, no bias) + BatchNorm(eps 1e-3) + SiLU.
 *   - Detect: per level box branch cv2 (Conv3x3, Conv3x3, Conv2d 1x1 -> 4*16) and class
 *     branch cv3 (YOLO11: DWConv3x3+Conv1x1 twice then Conv2d 1x1 -> nc; YOLOv8 "legacy":
 *     Conv3x3 twice then Conv2d 1x1); export form: DFL (softmax over 16 bins, expectation
 *     with the dfl conv's weights), dist2bbox as xywh around anchors at cell centres (+0.5),
 *     times the stride (8, 16, 32); classes through a sigmoid.
 *
 * Synthetic weights (oc_yolo_generate, `ocellus gen`) are written fused (conv.weight +
 * conv.bias), uniform per tensor from a splitmix64 stream seeded by (seed, tensor name), so
 * a file does not depend on generation order. Scales: SiLU convs gain GEN_GAIN (slightly
 * below the variance-preserving value, a contraction) with biases uniform in +-GEN_BIAS
 * that hold activations up; measured per-layer max |x| on a 640 input stays in 0.5..7.2 at
 * every scale n..x of both families. Class logits start near -4.5 (few anchors pass 0.25).
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "parallel.h"
#include "yolo_common.h"

#define BN_EPS 1e-3f
#define REG_MAX 16
#ifndef GEN_GAIN
#define GEN_GAIN 1.3f
#endif
#ifndef GEN_CLS_GAIN
#define GEN_CLS_GAIN 4.0f
#endif
#ifndef GEN_BIAS
#define GEN_BIAS 0.5f
#endif


/* ------------------------------------------------------------------------------------------
 * hyper-parameters
 * ---------------------------------------------------------------------------------------- */
typedef struct {
    const char *arch;
    char scale;
    double depth, width;
    int max_channels;
} scale_row;

static const scale_row scale_table[] = {
    {"yolo11", 'n', 0.50, 0.25, 1024}, {"yolo11", 's', 0.50, 0.50, 1024},
    {"yolo11", 'm', 0.50, 1.00, 512},  {"yolo11", 'l', 1.00, 1.00, 512},
    {"yolo11", 'x', 1.00, 1.50, 512},  {"yolov8", 'n', 0.33, 0.25, 1024},
    {"yolov8", 's', 0.33, 0.50, 1024}, {"yolov8", 'm', 0.67, 0.75, 768},
    {"yolov8", 'l', 1.00, 1.00, 512},  {"yolov8", 'x', 1.00, 1.25, 512},
    {"yolo12", 'n', 0.50, 0.25, 1024}, {"yolo12", 's', 0.50, 0.50, 1024},
    {"yolo12", 'm', 0.50, 1.00, 512},  {"yolo12", 'l', 1.00, 1.00, 512},
    {"yolo12", 'x', 1.00, 1.50, 512},
};

int yolo_scale_defaults(const char *arch, const char *scale, double *depth, double *width,
                        int *max_channels)
{
    if (!arch || !scale || strlen(scale) != 1) return 0;
    for (size_t i = 0; i < sizeof scale_table / sizeof scale_table[0]; i++) {
        if (strcmp(scale_table[i].arch, arch) || scale_table[i].scale != scale[0]) continue;
        *depth = scale_table[i].depth;
        *width = scale_table[i].width;
        *max_channels = scale_table[i].max_channels;
        return 1;
    }
    return 0;
}

static const char *meta2(const struct oc_model *m, const char *k1, const char *k2,
                         const char **used)
{
    const char *v = oc_st_meta(m->file, k1);
    *used = k1;
    if (!v && k2) {
        v = oc_st_meta(m->file, k2);
        *used = k2;
    }
    return v;
}

static oc_status parse_double(const char *path, const char *key, const char *v, double lo,
                              double hi, double *out)
{
    char *end = NULL;
    double d = strtod(v, &end);
    if (end == v || *end != '\0' || !(d >= lo && d <= hi))
        return oc_error(OC_ERR_FORMAT, "%s: metadata '%s' = '%s' is not a number in [%g, %g]",
                        path, key, v, lo, hi);
    *out = d;
    return OC_OK;
}

oc_status yolo_hp_from_model(const struct oc_model *m, const char *arch, yolo_hp *hp)
{
    const char *path = m->path ? m->path : "model";
    const char *key;
    memset(hp, 0, sizeof *hp);
    snprintf(hp->arch, sizeof hp->arch, "%s", arch);

    const char *sc = m->scale[0] ? m->scale : meta2(m, "ocellus.scale", "scale", &key);
    if (!sc || !*sc)
        return oc_error(OC_ERR_FORMAT, "%s: metadata 'ocellus.scale' (the scale letter n/s/m/l/x) "
                        "is missing", path);
    if (strlen(sc) >= sizeof hp->scale)
        return oc_error(OC_ERR_FORMAT, "%s: metadata scale '%s' is too long", path, sc);
    snprintf(hp->scale, sizeof hp->scale, "%s", sc);

    double d0 = 0, w0 = 0;
    int mc0 = 0;
    int have_defaults = yolo_scale_defaults(arch, hp->scale, &d0, &w0, &mc0);

    const char *v = meta2(m, "ocellus.depth_multiple", "depth_multiple", &key);
    if (v) {
        oc_status st = parse_double(path, key, v, 0.01, 10.0, &hp->depth);
        if (st) return st;
    } else hp->depth = d0;
    v = meta2(m, "ocellus.width_multiple", "width_multiple", &key);
    if (v) {
        oc_status st = parse_double(path, key, v, 0.01, 10.0, &hp->width);
        if (st) return st;
    } else hp->width = w0;
    v = meta2(m, "ocellus.max_channels", "max_channels", &key);
    if (v) {
        double d;
        oc_status st = parse_double(path, key, v, 8, 65536, &d);
        if (st) return st;
        hp->max_channels = (int)d;
    } else hp->max_channels = mc0;
    /* the scale letter names a row of the reference's table; 'q' with hand-written
     * multipliers is a corrupt or hand-edited file, not a model anyone trained */
    if (!have_defaults)
        return oc_error(OC_ERR_FORMAT, "%s: metadata scale '%s' is not a %s scale (n, s, m, l, "
                        "x)", path, hp->scale, arch);

    if (m->num_classes > 0) {
        hp->nc = m->num_classes;
    } else {
        v = meta2(m, "ocellus.num_classes", "nc", &key);
        double d = 80;
        if (v) {
            oc_status st = parse_double(path, key, v, 1, 100000, &d);
            if (st) return st;
        }
        hp->nc = (int)d;
    }
    return OC_OK;
}

int yolo_ch(const yolo_hp *hp, int c)
{
    double x = (double)(c < hp->max_channels ? c : hp->max_channels) * hp->width;
    return (int)ceil(x / 8.0 - 1e-9) * 8;
}

int yolo_rep(const yolo_hp *hp, int n)
{
    if (n <= 1) return n;
    int r = (int)nearbyint((double)n * hp->depth); /* Python round: half to even */
    return r > 1 ? r : 1;
}

int yolo_scale_is_mlx(const yolo_hp *hp)
{
    return hp->scale[0] && strchr("mlx", hp->scale[0]) && hp->scale[1] == '\0';
}

/* ------------------------------------------------------------------------------------------
 * weights table
 * ---------------------------------------------------------------------------------------- */
void yolo_weights_free(yolo_weights *W)
{
    if (!W) return;
    oc_conv_table_free(&W->convs);
    for (int i = 0; i < W->nraw; i++) {
        oc_free(W->raws[i].name);
        oc_free(W->raws[i].data);
    }
    oc_free(W->raws);
    memset(W, 0, sizeof *W);
}

static int ok(const yb *b) { return b->st == OC_OK; }

static oc_status fail(yb *b, oc_status st)
{
    if (b->st == OC_OK) b->st = st;
    if (b->g) oc_graph_fail(b->g, st);
    return st;
}

/* ---- deterministic synthetic values (GEN) ---- */
static uint64_t splitmix(uint64_t *s)
{
    uint64_t z = (*s += 0x9e3779b97f4a7c15ull);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
}

static uint64_t name_seed(const char *name, uint32_t seed)
{
    uint64_t h = 1469598103934665603ull ^ ((uint64_t)seed * 0x9e3779b97f4a7c15ull);
    for (const unsigned char *p = (const unsigned char *)name; *p; p++) h = (h ^ *p) * 1099511628211ull;
    return h;
}

/* uniform in [-a, a) */
static void gen_uniform(float *x, size_t n, const char *name, uint32_t seed, float a, float c)
{
    uint64_t s = name_seed(name, seed);
    for (size_t i = 0; i < n; i++) {
        double u = (double)(splitmix(&s) >> 11) * (1.0 / 9007199254740992.0);
        x[i] = c + (float)((2.0 * u - 1.0) * a);
    }
}

static oc_status gen_add(yb *b, const char *name, int ndim, const int64_t *shape,
                         const float *data)
{
    oc_status st = oc_st_writer_add(b->wr, name, OC_DT_F32, ndim, shape, data);
    if (st) return fail(b, st);
    uint64_t n = 1;
    for (int i = 0; i < ndim; i++) n *= (uint64_t)shape[i];
    b->gen_params += n;
    return OC_OK;
}

static oc_status load_vec(yb *b, const char *name, int n, float **out)
{
    int64_t shape[1] = {n};
    oc_status st = oc_st_load_f32(b->file, name, 1, shape, out);
    return st ? fail(b, st) : OC_OK;
}

/* Fetch (LOAD) or synthesise (GEN) one conv's folded weight/bias; conv_style: ultralytics
 * Conv (prefix.conv.weight + BN or fused conv.bias) vs plain nn.Conv2d (prefix.weight/.bias). */
static oc_status conv_weights(yb *b, const char *prefix, const oc_conv2d_desc *d,
                              int conv_style, float **wout, float **bout)
{
    char nw[256], nb[256], t[256];
    const int cin_g = d->cin / d->groups;
    int64_t wshape[4] = {d->cout, cin_g, d->kh, d->kw};
    size_t per = (size_t)cin_g * d->kh * d->kw;
    size_t wn = (size_t)d->cout * per;
    *wout = *bout = NULL;
    snprintf(nw, sizeof nw, conv_style ? "%s.conv.weight" : "%s.weight", prefix);
    snprintf(nb, sizeof nb, conv_style ? "%s.conv.bias" : "%s.bias", prefix);

    if (b->mode == YB_GEN) {
        float *w = oc_malloc(wn * sizeof(float)), *bias = oc_malloc((size_t)d->cout * sizeof(float));
        if (!w || !bias) {
            oc_free(w);
            oc_free(bias);
            return fail(b, oc_error(OC_ERR_NOMEM, "gen: out of memory for '%s'", nw));
        }
        /* Variance-preserving uniform init: SiLU passes ~0.36 of a unit Gaussian's second
         * moment, hence the gain; linear convs keep unit gain. Biases are small, except the
         * class logits, which start negative so that few anchors pass a 0.25 threshold. */
        float gain = d->act == OC_ACT_SILU ? GEN_GAIN : 1.0f;
        float a = gain * sqrtf(3.0f / (float)per);
        gen_uniform(w, wn, nw, b->seed, a, 0.0f);
        int is_cls = !conv_style && d->act == OC_ACT_SIGMOID;
        if (is_cls) {
            gen_uniform(w, wn, nw, b->seed, GEN_CLS_GAIN * sqrtf(3.0f / (float)per), 0.0f);
            gen_uniform(bias, (size_t)d->cout, nb, b->seed, 0.5f, -4.5f);
        } else {
            gen_uniform(bias, (size_t)d->cout, nb, b->seed, GEN_BIAS, 0.0f);
        }
        int64_t bshape[1] = {d->cout};
        if (gen_add(b, nw, 4, wshape, w) == OC_OK) gen_add(b, nb, 1, bshape, bias);
        *wout = w;
        *bout = bias;
        return b->st;
    }

    /* YB_LOAD */
    float *w = NULL, *bias = NULL;
    oc_status st = oc_st_load_f32(b->file, nw, 4, wshape, &w);
    if (st) return fail(b, st);
    if (!conv_style) {
        if (load_vec(b, nb, d->cout, &bias)) {
            oc_free(w);
            return b->st;
        }
        *wout = w;
        *bout = bias;
        return OC_OK;
    }
    snprintf(t, sizeof t, "%s.bn.weight", prefix);
    if (oc_st_find(b->file, t)) {
        /* unfused: fold BatchNorm (eps 1e-3) into the conv */
        float *g = NULL, *be = NULL, *mu = NULL, *var = NULL, *cb = NULL;
        char n2[256], n3[256], n4[256];
        snprintf(n2, sizeof n2, "%s.bn.bias", prefix);
        snprintf(n3, sizeof n3, "%s.bn.running_mean", prefix);
        snprintf(n4, sizeof n4, "%s.bn.running_var", prefix);
        if (!load_vec(b, t, d->cout, &g) && !load_vec(b, n2, d->cout, &be) &&
            !load_vec(b, n3, d->cout, &mu) && !load_vec(b, n4, d->cout, &var) &&
            (!oc_st_find(b->file, nb) || !load_vec(b, nb, d->cout, &cb))) {
            for (int o = 0; o < d->cout; o++) {
                if (!(var[o] >= 0.0f) || !isfinite(var[o])) {
                    fail(b, oc_error(OC_ERR_FORMAT, "%s: tensor '%s': element %d is %g (a "
                                     "variance must be finite and >= 0)", b->path, n4, o,
                                     (double)var[o]));
                    break;
                }
                float s = g[o] / sqrtf(var[o] + BN_EPS);
                for (size_t i = 0; i < per; i++) w[(size_t)o * per + i] *= s;
                be[o] = be[o] - mu[o] * s + (cb ? cb[o] * s : 0.0f);
            }
        }
        oc_free(g);
        oc_free(mu);
        oc_free(var);
        oc_free(cb);
        if (!ok(b)) {
            oc_free(be);
            oc_free(w);
            return b->st;
        }
        bias = be;
    } else if (oc_st_find(b->file, nb)) {
        if (load_vec(b, nb, d->cout, &bias)) {
            oc_free(w);
            return b->st;
        }
    } else {
        oc_free(w);
        return fail(b, oc_error(OC_ERR_FORMAT, "%s: tensor '%s' (or, for a fused export, '%s') "
                                "not found", b->path, t, nb));
    }
    *wout = w;
    *bout = bias;
    return OC_OK;
}

static oc_tid conv_common(yb *b, oc_tid x, const char *prefix, const oc_conv2d_desc *d,
                          int conv_style, oc_tid residual)
{
    if (!ok(b)) return OC_NONE;
    if (d->cin <= 0 || d->cout <= 0 || d->groups <= 0 || d->cin % d->groups ||
        d->cout % d->groups) {
        fail(b, oc_error(OC_ERR_INTERNAL, "%s: conv '%s': bad channels %d -> %d groups %d",
                         b->path, prefix, d->cin, d->cout, d->groups));
        return OC_NONE;
    }
    if (b->mode == YB_BUILD) {
        oc_status st = OC_OK;
        oc_tid y = oc_conv_table_build(&b->W->convs, &b->next_conv, b->g, x, residual, b->path,
                                       prefix, &st);
        if (y == OC_NONE) fail(b, st);
        return y;
    }
    float *w = NULL, *bias = NULL;
    if (conv_weights(b, prefix, d, conv_style, &w, &bias) == OC_OK && b->mode == YB_LOAD) {
        oc_status st = oc_conv_table_push(&b->W->convs, b->path, prefix, d, w, bias, b->isa);
        if (st) fail(b, st);
    }
    oc_free(w);
    oc_free(bias);
    return ok(b) ? 0 : OC_NONE;
}

static oc_conv2d_desc make_desc(int cin, int cout, int k, int s, int groups, oc_act act)
{
    oc_conv2d_desc d;
    memset(&d, 0, sizeof d);
    d.cin = cin;
    d.cout = cout;
    d.kh = d.kw = k;
    d.groups = groups;
    d.stride_h = d.stride_w = s;
    d.pad_t = d.pad_l = d.pad_b = d.pad_r = k / 2;
    d.dil_h = d.dil_w = 1;
    d.act = act;
    return d;
}

oc_tid yb_conv(yb *b, oc_tid x, const char *prefix, int cin, int cout, int k, int s, int groups,
               oc_act act, oc_tid residual)
{
    oc_conv2d_desc d = make_desc(cin, cout, k, s, groups, act);
    return conv_common(b, x, prefix, &d, 1, residual);
}

oc_tid yb_conv2d(yb *b, oc_tid x, const char *prefix, int cin, int cout, int k, int s,
                 oc_act act)
{
    oc_conv2d_desc d = make_desc(cin, cout, k, s, 1, act);
    return conv_common(b, x, prefix, &d, 0, OC_NONE);
}

const float *yb_raw(yb *b, const char *name, int ndim, const int64_t *shape,
                    const float *gen_values, int optional)
{
    if (!ok(b)) return NULL;
    int64_t numel = 1;
    for (int i = 0; i < ndim; i++) numel *= shape[i];
    if (b->mode == YB_BUILD) {
        if (b->next_raw >= b->W->nraw || strcmp(b->W->raws[b->next_raw].name, name)) {
            fail(b, oc_error(OC_ERR_INTERNAL, "%s: raw table out of step at '%s'", b->path, name));
            return NULL;
        }
        return b->W->raws[b->next_raw++].data;
    }
    if (b->mode == YB_GEN) {
        if (!gen_values) {
            fail(b, oc_error(OC_ERR_INTERNAL, "gen: no values for '%s'", name));
            return NULL;
        }
        gen_add(b, name, ndim, shape, gen_values);
        return ok(b) ? gen_values : NULL;
    }
    float *data = NULL;
    if (optional && !oc_st_find(b->file, name) && gen_values) {
        data = oc_malloc((size_t)numel * sizeof(float));
        if (!data) {
            fail(b, oc_error(OC_ERR_NOMEM, "%s: out of memory", b->path));
            return NULL;
        }
        memcpy(data, gen_values, (size_t)numel * sizeof(float));
    } else {
        oc_status st = oc_st_load_f32(b->file, name, ndim, shape, &data);
        if (st) {
            fail(b, st);
            return NULL;
        }
    }
    yolo_weights *W = b->W;
    if (W->nraw == W->capraw) {
        int cap = W->capraw ? W->capraw * 2 : 8;
        yb_raw_entry *n = oc_realloc(W->raws, (size_t)cap * sizeof *n);
        if (!n) {
            oc_free(data);
            fail(b, oc_error(OC_ERR_NOMEM, "%s: out of memory", b->path));
            return NULL;
        }
        W->raws = n;
        W->capraw = cap;
    }
    yb_raw_entry *e = &W->raws[W->nraw];
    e->name = oc_strdup(name);
    if (!e->name) {
        oc_free(data);
        fail(b, oc_error(OC_ERR_NOMEM, "%s: out of memory", b->path));
        return NULL;
    }
    e->data = data;
    e->numel = numel;
    W->nraw++;
    return data;
}

/* ---- graph wrappers ---- */
static oc_tid gcheck(yb *b, oc_tid y, const char *what)
{
    if (y == OC_NONE && ok(b)) {
        oc_status st = oc_graph_status(b->g);
        if (!st) st = oc_error(OC_ERR_INTERNAL, "%s failed", what);
        fail(b, st);
    }
    return y;
}

oc_tid yb_concat(yb *b, const oc_tid *xs, int n)
{
    if (!ok(b)) return OC_NONE;
    if (b->mode != YB_BUILD) return 0;
    return gcheck(b, oc_g_concat(b->g, xs, n, 1), "concat");
}

oc_tid yb_slice_ch(yb *b, oc_tid x, int start, int end)
{
    if (!ok(b)) return OC_NONE;
    if (b->mode != YB_BUILD) return 0;
    return gcheck(b, oc_g_slice(b->g, x, 1, start, end), "slice");
}

oc_tid yb_upsample2(yb *b, oc_tid x)
{
    if (!ok(b)) return OC_NONE;
    if (b->mode != YB_BUILD) return 0;
    oc_shape s = oc_g_shape(b->g, x);
    if (s.ndim != 4) return gcheck(b, OC_NONE, "upsample");
    return gcheck(b, oc_g_upsample_nearest(b->g, x, (int)s.d[2] * 2, (int)s.d[3] * 2),
                  "upsample");
}

oc_tid yb_maxpool(yb *b, oc_tid x, int k)
{
    if (!ok(b)) return OC_NONE;
    if (b->mode != YB_BUILD) return 0;
    oc_pool2d_desc d;
    memset(&d, 0, sizeof d);
    d.kh = d.kw = k;
    d.stride_h = d.stride_w = 1;
    d.pad_t = d.pad_l = d.pad_b = d.pad_r = k / 2;
    return gcheck(b, oc_g_maxpool2d(b->g, x, &d), "maxpool");
}

void yb_name_layer(yb *b, oc_tid t, int idx)
{
    if (!ok(b) || b->mode != YB_BUILD || t == OC_NONE) return;
    oc_g_name(b->g, t, "layer%d", idx);
}

/* ------------------------------------------------------------------------------------------
 * blocks
 * ---------------------------------------------------------------------------------------- */
#define NAME(buf, ...) snprintf(buf, sizeof buf, __VA_ARGS__)

oc_tid yb_bottleneck(yb *b, oc_tid x, const char *prefix, int c1, int c2, int shortcut, int k1,
                     int k2, double e)
{
    char n1[200], n2[200];
    int c_ = (int)(c2 * e);
    NAME(n1, "%s.cv1", prefix);
    NAME(n2, "%s.cv2", prefix);
    oc_tid h = yb_conv(b, x, n1, c1, c_, k1, 1, 1, OC_ACT_SILU, OC_NONE);
    return yb_conv(b, h, n2, c_, c2, k2, 1, 1, OC_ACT_SILU,
                   (shortcut && c1 == c2) ? x : OC_NONE);
}

/* the C2f skeleton: cv1 -> split in two halves of c; m_i chained on the second; cv2(concat) */
static oc_tid c2f_like(yb *b, oc_tid x, const char *prefix, int c1, int c2, int n, double e,
                       int kind /* 0 Bottleneck e=1, 1 Bottleneck e=.5, 2 C3k */, int shortcut)
{
    char nm[200];
    int c = (int)(c2 * e);
    if (n < 0 || n > 64) {
        fail(b, oc_error(OC_ERR_INTERNAL, "%s: bad repeat count %d", prefix, n));
        return OC_NONE;
    }
    NAME(nm, "%s.cv1", prefix);
    oc_tid y = yb_conv(b, x, nm, c1, 2 * c, 1, 1, 1, OC_ACT_SILU, OC_NONE);
    oc_tid parts[2 + 64];
    parts[0] = yb_slice_ch(b, y, 0, c);
    parts[1] = yb_slice_ch(b, y, c, 2 * c);
    for (int i = 0; i < n; i++) {
        NAME(nm, "%s.m.%d", prefix, i);
        oc_tid in = parts[1 + i];
        if (kind == 2) parts[2 + i] = yb_c3k(b, in, nm, c, c, 2, shortcut);
        else parts[2 + i] = yb_bottleneck(b, in, nm, c, c, shortcut, 3, 3, kind == 0 ? 1.0 : 0.5);
    }
    oc_tid cat = yb_concat(b, parts, 2 + n);
    NAME(nm, "%s.cv2", prefix);
    return yb_conv(b, cat, nm, (2 + n) * c, c2, 1, 1, 1, OC_ACT_SILU, OC_NONE);
}

oc_tid yb_c2f(yb *b, oc_tid x, const char *prefix, int c1, int c2, int n, int shortcut)
{
    return c2f_like(b, x, prefix, c1, c2, n, 0.5, 0, shortcut);
}

oc_tid yb_c3k(yb *b, oc_tid x, const char *prefix, int c1, int c2, int n, int shortcut)
{
    char nm[200];
    int c_ = (int)(c2 * 0.5);
    NAME(nm, "%s.cv1", prefix);
    oc_tid a = yb_conv(b, x, nm, c1, c_, 1, 1, 1, OC_ACT_SILU, OC_NONE);
    NAME(nm, "%s.cv2", prefix);
    oc_tid s = yb_conv(b, x, nm, c1, c_, 1, 1, 1, OC_ACT_SILU, OC_NONE);
    for (int i = 0; i < n; i++) {
        NAME(nm, "%s.m.%d", prefix, i);
        a = yb_bottleneck(b, a, nm, c_, c_, shortcut, 3, 3, 1.0);
    }
    oc_tid parts[2] = {a, s};
    oc_tid cat = yb_concat(b, parts, 2);
    NAME(nm, "%s.cv3", prefix);
    return yb_conv(b, cat, nm, 2 * c_, c2, 1, 1, 1, OC_ACT_SILU, OC_NONE);
}

oc_tid yb_c3k2(yb *b, oc_tid x, const char *prefix, int c1, int c2, int n, int c3k, double e)
{
    return c2f_like(b, x, prefix, c1, c2, n, e, c3k ? 2 : 1, 1);
}

oc_tid yb_sppf(yb *b, oc_tid x, const char *prefix, int c1, int c2, int k)
{
    char nm[200];
    int c_ = c1 / 2;
    NAME(nm, "%s.cv1", prefix);
    oc_tid p[4];
    p[0] = yb_conv(b, x, nm, c1, c_, 1, 1, 1, OC_ACT_SILU, OC_NONE);
    for (int i = 1; i < 4; i++) p[i] = yb_maxpool(b, p[i - 1], k);
    oc_tid cat = yb_concat(b, p, 4);
    NAME(nm, "%s.cv2", prefix);
    return yb_conv(b, cat, nm, 4 * c_, c2, 1, 1, 1, OC_ACT_SILU, OC_NONE);
}

oc_tid yb_psa_attention(yb *b, oc_tid x, const char *prefix, int dim, int heads,
                        oc_tid residual)
{
    char nm[200];
    if (heads <= 0 || dim % heads) {
        fail(b, oc_error(OC_ERR_UNSUPPORTED, "%s: attention '%s': %d channels cannot be split "
                         "into %d heads", b->path, prefix, dim, heads));
        return OC_NONE;
    }
    const int hd = dim / heads;
    const int kd = (int)(hd * 0.5);
    const int per = 2 * kd + hd;          /* channels of one head in the qkv output */
    const int ctot = dim + 2 * kd * heads;
    NAME(nm, "%s.qkv", prefix);
    oc_tid qkv = yb_conv(b, x, nm, dim, ctot, 1, 1, 1, OC_ACT_NONE, OC_NONE);
    oc_tid att = 0, v = 0;
    if (ok(b) && b->mode == YB_BUILD) {
        oc_shape s = oc_g_shape(b->g, qkv);
        const int64_t B = s.d[0], N = s.d[2] * s.d[3];
        /* q/k/v are read in place from qkv ([B][heads][per][N], feature-major): k and v are
         * channel-offset views of it (zero-copy for one image; a copy for a batch, whose
         * layout the batch strides below follow) */
        oc_tid kt = yb_slice_ch(b, qkv, kd, ctot);
        oc_tid vt = yb_slice_ch(b, qkv, 2 * kd, ctot);
        oc_attn_desc d;
        memset(&d, 0, sizeof d);
        d.batch = (int)B;
        d.heads = heads;
        d.lq = d.lk = (int)N;
        d.d = kd;
        d.dv = hd;
        d.scale = 1.0f / sqrtf((float)kd);
        d.q_sb = (int64_t)ctot * N, d.q_sh = (int64_t)per * N, d.q_st = 1, d.q_sd = N;
        d.k_sb = (int64_t)(ctot - kd) * N, d.k_sh = (int64_t)per * N, d.k_st = 1, d.k_sd = N;
        d.v_sb = (int64_t)(ctot - 2 * kd) * N, d.v_sh = (int64_t)per * N, d.v_st = 1,
        d.v_sd = N;
        d.o_sb = (int64_t)dim * N, d.o_sh = (int64_t)hd * N, d.o_st = 1, d.o_sd = N;
        att = gcheck(b, oc_g_attention(b->g, qkv, kt, vt, OC_NONE, &d,
                                       oc_shape4(B, dim, s.d[2], s.d[3])), "attention");
        /* v as a [B][dim][H][W] image for the positional conv */
        oc_tid vs[64];
        if (heads > 64) {
            fail(b, oc_error(OC_ERR_UNSUPPORTED, "%s: too many heads (%d)", prefix, heads));
            return OC_NONE;
        }
        for (int h = 0; h < heads; h++) vs[h] = yb_slice_ch(b, qkv, h * per + 2 * kd, h * per + 2 * kd + hd);
        v = heads == 1 ? vs[0] : yb_concat(b, vs, heads);
    }
    NAME(nm, "%s.pe", prefix);
    oc_tid pe = yb_conv(b, v, nm, dim, dim, 3, 1, dim, OC_ACT_NONE, att);
    NAME(nm, "%s.proj", prefix);
    return yb_conv(b, pe, nm, dim, dim, 1, 1, 1, OC_ACT_NONE, residual);
}

oc_tid yb_c2psa(yb *b, oc_tid x, const char *prefix, int c1, int c2, int n)
{
    char nm[200];
    if (c1 != c2) {
        fail(b, oc_error(OC_ERR_INTERNAL, "%s: C2PSA needs c1 == c2 (%d, %d)", prefix, c1, c2));
        return OC_NONE;
    }
    int c = (int)(c1 * 0.5);
    NAME(nm, "%s.cv1", prefix);
    oc_tid y = yb_conv(b, x, nm, c1, 2 * c, 1, 1, 1, OC_ACT_SILU, OC_NONE);
    oc_tid a = yb_slice_ch(b, y, 0, c);
    oc_tid t = yb_slice_ch(b, y, c, 2 * c);
    for (int i = 0; i < n; i++) {
        NAME(nm, "%s.m.%d.attn", prefix, i);
        t = yb_psa_attention(b, t, nm, c, c / 64, t);
        NAME(nm, "%s.m.%d.ffn.0", prefix, i);
        oc_tid f = yb_conv(b, t, nm, c, 2 * c, 1, 1, 1, OC_ACT_SILU, OC_NONE);
        NAME(nm, "%s.m.%d.ffn.1", prefix, i);
        t = yb_conv(b, f, nm, 2 * c, c, 1, 1, 1, OC_ACT_NONE, t);
    }
    oc_tid parts[2] = {a, t};
    oc_tid cat = yb_concat(b, parts, 2);
    NAME(nm, "%s.cv2", prefix);
    return yb_conv(b, cat, nm, 2 * c, c1, 1, 1, 1, OC_ACT_SILU, OC_NONE);
}

/* ---- Detect: DFL + anchor decode as a custom node ---- */
typedef struct {
    int nlevels, nc, reg_max;
    int strides[4];
    float dfl[REG_MAX];
} detect_params;

typedef struct {
    const detect_params *p;
    const float *bx;
    const float *cl;
    float *o;
    int64_t HW;
    int64_t W;
    int R;
    int64_t A;
    int nc;
    float st;
} detect_decode_anchors_job;

static void detect_decode_anchors(void *arg, int64_t first, int64_t last, int tid)
{
    const detect_decode_anchors_job *job = arg;
    const detect_params *p = job->p;
    const float *bx = job->bx;
    const float *cl = job->cl;
    float *o = job->o;
    int64_t HW = job->HW;
    int64_t W = job->W;
    int R = job->R;
    int64_t A = job->A;
    int nc = job->nc;
    float st = job->st;
    (void)tid;
    for (int64_t i = first; i < last; i++) {
        float dist[4];
        for (int k = 0; k < 4; k++) {
            const float *v = bx + (int64_t)k * R * HW + i;
            float mx = v[0];
            for (int j = 1; j < R; j++) mx = v[j * HW] > mx ? v[j * HW] : mx;
            float se = 0.0f, acc = 0.0f;
            for (int j = 0; j < R; j++) {
                float e = expf(v[j * HW] - mx);
                se += e;
                acc += e * p->dfl[j];
            }
            dist[k] = acc / se;
        }
        const float ax = (float)(i % W) + 0.5f, ay = (float)(i / W) + 0.5f;
        const float x1 = ax - dist[0], y1 = ay - dist[1];
        const float x2 = ax + dist[2], y2 = ay + dist[3];
        o[0 * A + i] = (x1 + x2) * 0.5f * st;
        o[1 * A + i] = (y1 + y2) * 0.5f * st;
        o[2 * A + i] = (x2 - x1) * st;
        o[3 * A + i] = (y2 - y1) * st;
        for (int c = 0; c < nc; c++) o[(4 + c) * A + i] = cl[(int64_t)c * HW + i];
    }
}

static void detect_decode(const oc_ctx *ctx, const void *params, const float *const *ins,
                          const oc_shape *in_shapes, int nin, float *out,
                          const oc_shape *out_shape)
{
    const detect_params *p = params;
    (void)nin;
    const int64_t B = out_shape->d[0], A = out_shape->d[2];
    const int nc = p->nc, R = p->reg_max;
    int64_t a0 = 0;
    for (int l = 0; l < p->nlevels; l++) {
        const float *box = ins[2 * l], *cls = ins[2 * l + 1];
        const int64_t H = in_shapes[2 * l].d[2], W = in_shapes[2 * l].d[3], HW = H * W;
        const float st = (float)p->strides[l];
        for (int64_t bi = 0; bi < B; bi++) {
            const float *bx = box + bi * 4 * R * HW;
            const float *cl = cls + bi * nc * HW;
            float *o = out + bi * (4 + nc) * A + a0;
            detect_decode_anchors_job job = {p, bx, cl, o, HW, W, R, A, nc, st};
            oc_parallel_for(ctx->nthreads, HW, 0, detect_decode_anchors, &job);
        }
        a0 += HW;
    }
}

oc_tid yb_detect(yb *b, const oc_tid *feats, const int *ch, int nlevels, const char *prefix,
                 int nc, int legacy)
{
    char nm[200];
    if (!ok(b)) return OC_NONE;
    if (nlevels < 1 || nlevels > 3 || nc < 1) {
        fail(b, oc_error(OC_ERR_INTERNAL, "%s: Detect with %d levels, %d classes", prefix,
                         nlevels, nc));
        return OC_NONE;
    }
    /* c2 = max(16, ch[0] // 4, reg_max * 4); c3 = max(ch[0], min(nc, 100)) */
    int c2 = 16, c3 = nc < 100 ? nc : 100;
    if (ch[0] / 4 > c2) c2 = ch[0] / 4;
    if (4 * REG_MAX > c2) c2 = 4 * REG_MAX;
    if (ch[0] > c3) c3 = ch[0];
    oc_tid ins[6];
    for (int i = 0; i < nlevels; i++) {
        oc_tid x = feats[i];
        NAME(nm, "%s.cv2.%d.0", prefix, i);
        oc_tid t = yb_conv(b, x, nm, ch[i], c2, 3, 1, 1, OC_ACT_SILU, OC_NONE);
        NAME(nm, "%s.cv2.%d.1", prefix, i);
        t = yb_conv(b, t, nm, c2, c2, 3, 1, 1, OC_ACT_SILU, OC_NONE);
        NAME(nm, "%s.cv2.%d.2", prefix, i);
        ins[2 * i] = yb_conv2d(b, t, nm, c2, 4 * REG_MAX, 1, 1, OC_ACT_NONE);
        if (legacy) {
            NAME(nm, "%s.cv3.%d.0", prefix, i);
            t = yb_conv(b, x, nm, ch[i], c3, 3, 1, 1, OC_ACT_SILU, OC_NONE);
            NAME(nm, "%s.cv3.%d.1", prefix, i);
            t = yb_conv(b, t, nm, c3, c3, 3, 1, 1, OC_ACT_SILU, OC_NONE);
        } else {
            NAME(nm, "%s.cv3.%d.0.0", prefix, i);
            t = yb_conv(b, x, nm, ch[i], ch[i], 3, 1, ch[i], OC_ACT_SILU, OC_NONE);
            NAME(nm, "%s.cv3.%d.0.1", prefix, i);
            t = yb_conv(b, t, nm, ch[i], c3, 1, 1, 1, OC_ACT_SILU, OC_NONE);
            NAME(nm, "%s.cv3.%d.1.0", prefix, i);
            t = yb_conv(b, t, nm, c3, c3, 3, 1, c3, OC_ACT_SILU, OC_NONE);
            NAME(nm, "%s.cv3.%d.1.1", prefix, i);
            t = yb_conv(b, t, nm, c3, c3, 1, 1, 1, OC_ACT_SILU, OC_NONE);
        }
        NAME(nm, "%s.cv3.%d.2", prefix, i);
        /* the export form's class sigmoid, fused into the conv's epilogue */
        ins[2 * i + 1] = yb_conv2d(b, t, nm, c3, nc, 1, 1, OC_ACT_SIGMOID);
    }
    float arange[REG_MAX];
    for (int j = 0; j < REG_MAX; j++) arange[j] = (float)j;
    int64_t dshape[4] = {1, REG_MAX, 1, 1};
    NAME(nm, "%s.dfl.conv.weight", prefix);
    const float *dfl = yb_raw(b, nm, 4, dshape, arange, 1);
    if (!ok(b)) return OC_NONE;
    if (b->mode != YB_BUILD) return 0;

    detect_params p;
    memset(&p, 0, sizeof p);
    p.nlevels = nlevels;
    p.nc = nc;
    p.reg_max = REG_MAX;
    memcpy(p.dfl, dfl, sizeof p.dfl);
    oc_shape s0 = oc_g_shape(b->g, feats[0]);
    int64_t A = 0;
    for (int i = 0; i < nlevels; i++) {
        oc_shape s = oc_g_shape(b->g, ins[2 * i]);
        A += s.d[2] * s.d[3];
        p.strides[i] = 8 << i;
    }
    double flops = (double)s0.d[0] * (double)A * (4.0 * REG_MAX * 4 + 12 + nc);
    oc_tid y = oc_g_custom(b->g, "yolo_detect_decode", ins, 2 * nlevels,
                           oc_shape3(s0.d[0], 4 + nc, A), detect_decode, &p, sizeof p, flops);
    return gcheck(b, y, "detect decode");
}

/* ------------------------------------------------------------------------------------------
 * the two families
 * ---------------------------------------------------------------------------------------- */
static oc_tid yolo11_walk(yb *b, oc_tid x)
{
    const yolo_hp *hp = &b->hp;
    const int mlx = yolo_scale_is_mlx(hp);
    const int c64 = yolo_ch(hp, 64), c128 = yolo_ch(hp, 128), c256 = yolo_ch(hp, 256),
              c512 = yolo_ch(hp, 512), c1024 = yolo_ch(hp, 1024);
    const int n2 = yolo_rep(hp, 2);
    oc_tid L[24];
    L[0] = yb_conv(b, x, "model.0", 3, c64, 3, 2, 1, OC_ACT_SILU, OC_NONE);
    L[1] = yb_conv(b, L[0], "model.1", c64, c128, 3, 2, 1, OC_ACT_SILU, OC_NONE);
    L[2] = yb_c3k2(b, L[1], "model.2", c128, c256, n2, mlx, 0.25);
    L[3] = yb_conv(b, L[2], "model.3", c256, c256, 3, 2, 1, OC_ACT_SILU, OC_NONE);
    L[4] = yb_c3k2(b, L[3], "model.4", c256, c512, n2, mlx, 0.25);
    L[5] = yb_conv(b, L[4], "model.5", c512, c512, 3, 2, 1, OC_ACT_SILU, OC_NONE);
    L[6] = yb_c3k2(b, L[5], "model.6", c512, c512, n2, 1, 0.5);
    L[7] = yb_conv(b, L[6], "model.7", c512, c1024, 3, 2, 1, OC_ACT_SILU, OC_NONE);
    L[8] = yb_c3k2(b, L[7], "model.8", c1024, c1024, n2, 1, 0.5);
    L[9] = yb_sppf(b, L[8], "model.9", c1024, c1024, 5);
    L[10] = yb_c2psa(b, L[9], "model.10", c1024, c1024, n2);
    L[11] = yb_upsample2(b, L[10]);
    oc_tid cat12[2] = {L[11], L[6]};
    L[12] = yb_concat(b, cat12, 2);
    L[13] = yb_c3k2(b, L[12], "model.13", c1024 + c512, c512, n2, mlx, 0.5);
    L[14] = yb_upsample2(b, L[13]);
    oc_tid cat15[2] = {L[14], L[4]};
    L[15] = yb_concat(b, cat15, 2);
    L[16] = yb_c3k2(b, L[15], "model.16", c512 + c512, c256, n2, mlx, 0.5);
    L[17] = yb_conv(b, L[16], "model.17", c256, c256, 3, 2, 1, OC_ACT_SILU, OC_NONE);
    oc_tid cat18[2] = {L[17], L[13]};
    L[18] = yb_concat(b, cat18, 2);
    L[19] = yb_c3k2(b, L[18], "model.19", c256 + c512, c512, n2, mlx, 0.5);
    L[20] = yb_conv(b, L[19], "model.20", c512, c512, 3, 2, 1, OC_ACT_SILU, OC_NONE);
    oc_tid cat21[2] = {L[20], L[10]};
    L[21] = yb_concat(b, cat21, 2);
    L[22] = yb_c3k2(b, L[21], "model.22", c512 + c1024, c1024, n2, 1, 0.5);
    for (int i = 0; i <= 22; i++) yb_name_layer(b, L[i], i);
    oc_tid feats[3] = {L[16], L[19], L[22]};
    int ch[3] = {c256, c512, c1024};
    return yb_detect(b, feats, ch, 3, "model.23", b->hp.nc, 0);
}

static oc_tid yolov8_walk(yb *b, oc_tid x)
{
    const yolo_hp *hp = &b->hp;
    const int c64 = yolo_ch(hp, 64), c128 = yolo_ch(hp, 128), c256 = yolo_ch(hp, 256),
              c512 = yolo_ch(hp, 512), c1024 = yolo_ch(hp, 1024);
    const int n3 = yolo_rep(hp, 3), n6 = yolo_rep(hp, 6);
    oc_tid L[23];
    L[0] = yb_conv(b, x, "model.0", 3, c64, 3, 2, 1, OC_ACT_SILU, OC_NONE);
    L[1] = yb_conv(b, L[0], "model.1", c64, c128, 3, 2, 1, OC_ACT_SILU, OC_NONE);
    L[2] = yb_c2f(b, L[1], "model.2", c128, c128, n3, 1);
    L[3] = yb_conv(b, L[2], "model.3", c128, c256, 3, 2, 1, OC_ACT_SILU, OC_NONE);
    L[4] = yb_c2f(b, L[3], "model.4", c256, c256, n6, 1);
    L[5] = yb_conv(b, L[4], "model.5", c256, c512, 3, 2, 1, OC_ACT_SILU, OC_NONE);
    L[6] = yb_c2f(b, L[5], "model.6", c512, c512, n6, 1);
    L[7] = yb_conv(b, L[6], "model.7", c512, c1024, 3, 2, 1, OC_ACT_SILU, OC_NONE);
    L[8] = yb_c2f(b, L[7], "model.8", c1024, c1024, n3, 1);
    L[9] = yb_sppf(b, L[8], "model.9", c1024, c1024, 5);
    L[10] = yb_upsample2(b, L[9]);
    oc_tid cat11[2] = {L[10], L[6]};
    L[11] = yb_concat(b, cat11, 2);
    L[12] = yb_c2f(b, L[11], "model.12", c1024 + c512, c512, n3, 0);
    L[13] = yb_upsample2(b, L[12]);
    oc_tid cat14[2] = {L[13], L[4]};
    L[14] = yb_concat(b, cat14, 2);
    L[15] = yb_c2f(b, L[14], "model.15", c512 + c256, c256, n3, 0);
    L[16] = yb_conv(b, L[15], "model.16", c256, c256, 3, 2, 1, OC_ACT_SILU, OC_NONE);
    oc_tid cat17[2] = {L[16], L[12]};
    L[17] = yb_concat(b, cat17, 2);
    L[18] = yb_c2f(b, L[17], "model.18", c256 + c512, c512, n3, 0);
    L[19] = yb_conv(b, L[18], "model.19", c512, c512, 3, 2, 1, OC_ACT_SILU, OC_NONE);
    oc_tid cat20[2] = {L[19], L[9]};
    L[20] = yb_concat(b, cat20, 2);
    L[21] = yb_c2f(b, L[20], "model.21", c512 + c1024, c1024, n3, 0);
    for (int i = 0; i <= 21; i++) yb_name_layer(b, L[i], i);
    oc_tid feats[3] = {L[15], L[18], L[21]};
    int ch[3] = {c256, c512, c1024};
    return yb_detect(b, feats, ch, 3, "model.22", b->hp.nc, 1);
}

/* ------------------------------------------------------------------------------------------
 * generic load / build / free / generate
 * ---------------------------------------------------------------------------------------- */
oc_status yolo_load_with(struct oc_model *m, const char *arch, yolo_walk_fn walk)
{
    yolo_model_data *md = oc_calloc(1, sizeof *md);
    if (!md) return oc_error(OC_ERR_NOMEM, "%s: out of memory", m->path ? m->path : "model");
    oc_status st = yolo_hp_from_model(m, arch, &md->hp);
    if (st) {
        oc_free(md);
        return st;
    }
    yb b;
    memset(&b, 0, sizeof b);
    b.mode = YB_LOAD;
    b.path = m->path ? m->path : oc_st_path(m->file);
    b.hp = md->hp;
    b.file = m->file;
    b.isa = m->isa;
    b.W = &md->W;
    walk(&b, 0);
    if (b.st) {
        yolo_weights_free(&md->W);
        oc_free(md);
        return b.st;
    }
    md->walk = walk;
    m->arch_data = md;
    return OC_OK;
}

oc_status yolo_build(const struct oc_model *m, oc_graph *g, const char *stage,
                     const oc_io_desc *inputs, int n_inputs)
{
    (void)stage; /* one stage */
    const yolo_model_data *md = m->arch_data;
    const char *path = m->path ? m->path : "model";
    if (!md) return oc_error(OC_ERR_INVALID_ARG, "%s: model weights are not loaded", path);
    const oc_io_desc *img = oc_io_find_image(inputs, n_inputs, "images");
    if (!img)
        return oc_graph_fail(g, oc_error(OC_ERR_INVALID_ARG, "a %s graph takes one NCHW float "
                                         "input 'images'", md->hp.arch));
    if (img->ndim != 4)
        return oc_graph_fail(g, oc_error(OC_ERR_SHAPE, "input '%s' must be NCHW (4 dims), got "
                                         "%d dims", img->name ? img->name : "images",
                                         img->ndim));
    if (img->dims[0] > INT32_MAX || img->dims[2] > INT32_MAX || img->dims[3] > INT32_MAX)
        return oc_graph_fail(g, oc_error(OC_ERR_SHAPE, "input '%s' is too large",
                                         img->name ? img->name : "images"));
    int n = (int)img->dims[0], h = (int)img->dims[2], w = (int)img->dims[3];
    if (n < 1 || h < 32 || w < 32 || h % 32 || w % 32)
        return oc_graph_fail(g, oc_error(OC_ERR_SHAPE, "input %dx3x%dx%d: a %s input needs "
                                         "batch >= 1, and height and width each a multiple of "
                                         "32 (at least 32)", n, h, w, md->hp.arch));
    yb b;
    memset(&b, 0, sizeof b);
    b.mode = YB_BUILD;
    b.path = path;
    b.hp = md->hp;
    b.g = g;
    b.W = (yolo_weights *)&md->W; /* read only in build mode */
    oc_tid x = oc_g_input(g, "images", oc_shape4(n, 3, h, w));
    oc_tid y = md->walk(&b, x);
    if (b.st) return b.st;
    if (b.next_conv != md->W.convs.n || b.next_raw != md->W.nraw)
        return oc_graph_fail(g, oc_error(OC_ERR_INTERNAL, "%s: build used %d of %d convs",
                                         path, b.next_conv, md->W.convs.n));
    oc_g_output(g, y, "output0");
    return oc_graph_status(g);
}

void yolo_free(struct oc_model *m)
{
    yolo_model_data *md = m->arch_data;
    if (!md) return;
    yolo_weights_free(&md->W);
    oc_free(md);
    m->arch_data = NULL;
}

static char *class_names_json(int nc)
{
    size_t cap = 64 + (size_t)nc * 24, len = 0;
    char *s = oc_malloc(cap);
    if (!s) return NULL;
    s[len++] = '[';
    for (int i = 0; i < nc; i++) {
        char buf[40];
        const char *nm = buf;
        if (nc == 80) nm = oc_coco_names[i];
        else snprintf(buf, sizeof buf, "class%d", i);
        size_t need = strlen(nm) + 4;
        if (len + need + 2 > cap) {
            cap = cap * 2 + need;
            char *t = oc_realloc(s, cap);
            if (!t) {
                oc_free(s);
                return NULL;
            }
            s = t;
        }
        len += (size_t)snprintf(s + len, cap - len, "%s\"%s\"", i ? "," : "", nm);
    }
    s[len++] = ']';
    s[len] = '\0';
    return s;
}

/* the tensors and metadata of a synthetic model into wr */
static oc_status yolo_generate_into(const yolo_hp *hp, yolo_walk_fn walk, int imgsz,
                                    uint32_t seed, oc_st_writer *wr)
{
    yb b;
    memset(&b, 0, sizeof b);
    b.mode = YB_GEN;
    b.path = "gen";
    b.hp = *hp;
    b.seed = seed;
    b.wr = wr;
    walk(&b, 0);
    if (b.st) return b.st;
    char v[64];
    oc_status st = oc_st_writer_meta(b.wr, "ocellus.format_version", "1");
    if (!st) st = oc_st_writer_meta(b.wr, "ocellus.arch", hp->arch);
    if (!st) st = oc_st_writer_meta(b.wr, "ocellus.scale", hp->scale);
    snprintf(v, sizeof v, "%d", hp->nc);
    if (!st) st = oc_st_writer_meta(b.wr, "ocellus.num_classes", v);
    snprintf(v, sizeof v, "%d", imgsz);
    if (!st) st = oc_st_writer_meta(b.wr, "ocellus.input_size", v);
    snprintf(v, sizeof v, "%.17g", hp->depth);
    if (!st) st = oc_st_writer_meta(b.wr, "ocellus.depth_multiple", v);
    snprintf(v, sizeof v, "%.17g", hp->width);
    if (!st) st = oc_st_writer_meta(b.wr, "ocellus.width_multiple", v);
    snprintf(v, sizeof v, "%d", hp->max_channels);
    if (!st) st = oc_st_writer_meta(b.wr, "ocellus.max_channels", v);
    snprintf(v, sizeof v, "%u", seed);
    if (!st) st = oc_st_writer_meta(b.wr, "ocellus.synthetic_seed", v);
    if (!st) st = oc_st_writer_meta(b.wr, "ocellus.source", "ocellus gen (synthetic weights)");
    if (!st) {
        char *names = class_names_json(hp->nc);
        if (!names) st = oc_error(OC_ERR_NOMEM, "gen: out of memory");
        else {
            st = oc_st_writer_meta(b.wr, "ocellus.class_names", names);
            oc_free(names);
        }
    }
    return st;
}

oc_status yolo_generate_with(const yolo_hp *hp, yolo_walk_fn walk, int imgsz, uint32_t seed,
                             const char *out_path)
{
    oc_st_writer *wr = oc_st_writer_new();
    if (!wr) return oc_error(OC_ERR_NOMEM, "gen: out of memory");
    oc_status st = yolo_generate_into(hp, walk, imgsz, seed, wr);
    if (!st) st = oc_st_writer_save(wr, out_path);
    oc_st_writer_free(wr);
    return st;
}

oc_tid yolo12_walk(yb *b, oc_tid images) __attribute__((weak));

/* the architectures `ocellus gen` can write: the dispatch below and the CLI's help text both
 * read this table, so the help never lists one that fails or misses one that works */
static yolo_walk_fn gen_walk(int i, const char **name)
{
    switch (i) {
    case 0: *name = "yolo11"; return yolo11_walk;
    case 1: *name = "yolov8"; return yolov8_walk;
    case 2: *name = "yolo12"; return yolo12_walk; /* weak: NULL when yolo12.c is not linked */
    }
    *name = NULL;
    return NULL;
}

void oc_yolo_gen_archs(char *buf, size_t n)
{
    size_t used = 0;
    const char *name;
    if (n) buf[0] = '\0';
    for (int i = 0; (void)gen_walk(i, &name), name; i++)
        if (gen_walk(i, &name) && used < n)
            used += (size_t)snprintf(buf + used, n - used, "%s%s", used ? ", " : "", name);
}

/* hyper-parameters and walk of a synthetic arch/scale; checks the options */
static oc_status gen_setup(const char *arch, const char *scale, int num_classes, int imgsz,
                           yolo_hp *hp, yolo_walk_fn *walk_out)
{
    if (!arch || !scale) return oc_error(OC_ERR_INVALID_ARG, "gen: NULL arch or scale");
    if (num_classes < 1 || num_classes > 100000)
        return oc_error(OC_ERR_INVALID_ARG, "gen: --classes %d out of range [1, 100000]",
                        num_classes);
    if (imgsz < 32 || imgsz % 32 || imgsz > 8192)
        return oc_error(OC_ERR_INVALID_ARG, "gen: --imgsz %d must be a multiple of 32 in "
                        "[32, 8192]", imgsz);
    yolo_walk_fn walk = NULL;
    const char *name;
    for (int i = 0; !walk && ((void)gen_walk(i, &name), name); i++)
        if (!strcmp(arch, name)) walk = gen_walk(i, &name);
    if (!walk) {
        char known[128];
        oc_yolo_gen_archs(known, sizeof known);
        return oc_error(OC_ERR_UNSUPPORTED, "gen: unknown arch '%s' (%s)", arch, known);
    }
    memset(hp, 0, sizeof *hp);
    snprintf(hp->arch, sizeof hp->arch, "%s", arch);
    if (!yolo_scale_defaults(arch, scale, &hp->depth, &hp->width, &hp->max_channels))
        return oc_error(OC_ERR_INVALID_ARG, "gen: unknown scale '%s' for %s (n, s, m, l, x)",
                        scale, arch);
    snprintf(hp->scale, sizeof hp->scale, "%s", scale);
    hp->nc = num_classes;
    *walk_out = walk;
    return OC_OK;
}

oc_status oc_yolo_generate(const char *arch, const char *scale, int num_classes, int imgsz,
                           uint32_t seed, const char *out_path)
{
    if (!out_path) return oc_error(OC_ERR_INVALID_ARG, "oc_yolo_generate: NULL argument");
    yolo_hp hp;
    yolo_walk_fn walk;
    oc_status st = gen_setup(arch, scale, num_classes, imgsz, &hp, &walk);
    if (st) return st;
    return yolo_generate_with(&hp, walk, imgsz, seed, out_path);
}

/* oc_arch.generate of the YOLO families (defaults: 80 classes, 640) */
oc_status yolo_generate_hook(const char *arch, const oc_gen_options *o, oc_st_writer *out)
{
    if (!o || !out) return oc_error(OC_ERR_INVALID_ARG, "gen: NULL argument");
    yolo_hp hp;
    yolo_walk_fn walk;
    int imgsz = o->imgsz > 0 ? o->imgsz : 640;
    oc_status st = gen_setup(arch, o->scale, o->num_classes > 0 ? o->num_classes : 80, imgsz,
                             &hp, &walk);
    if (st) return st;
    return yolo_generate_into(&hp, walk, imgsz, o->seed, out);
}

const char *const yolo_scales[] = {"n", "s", "m", "l", "x", NULL};

/* ---- oc_arch entries ---- */
static oc_status yolo11_load(struct oc_model *m) { return yolo_load_with(m, "yolo11", yolo11_walk); }
static oc_status yolov8_load(struct oc_model *m) { return yolo_load_with(m, "yolov8", yolov8_walk); }
static oc_status yolo11_gen(const oc_gen_options *o, oc_st_writer *w)
{
    return yolo_generate_hook("yolo11", o, w);
}
static oc_status yolov8_gen(const oc_gen_options *o, oc_st_writer *w)
{
    return yolo_generate_hook("yolov8", o, w);
}

const oc_arch oc_arch_yolo11 = {
    .name = "yolo11", .task = "detect_yolo", .load = yolo11_load, .build = yolo_build,
    .free = yolo_free, .scales = yolo_scales, .generate = yolo11_gen,
    .convert = yolo_convert, .convert_onnx = yolo_convert_onnx};
const oc_arch oc_arch_yolov8 = {
    .name = "yolov8", .task = "detect_yolo", .load = yolov8_load, .build = yolo_build,
    .free = yolo_free, .scales = yolo_scales, .generate = yolov8_gen,
    .convert = yolo_convert, .convert_onnx = yolo_convert_onnx};

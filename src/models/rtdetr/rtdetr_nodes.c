/* rtdetr_nodes.c -- RT-DETR's custom graph nodes: the steps that are not a plain op. Each
 * follows a line of the reference (hybrid_encoder.py, rtdetr_decoder.py, utils.py,
 * rtdetr_postprocessor.py); all take any batch size. Indices travel as float32 (exact below
 * 2^24), as graph compute is float32. */
#include "parallel.h"
#include "rtdetr.h"

#include "tasks/detr.h"

#include <math.h>
#include <string.h>

static oc_shape in_shape(oc_graph *g, oc_tid t) { return oc_g_shape(g, t); }

static oc_tid bad(oc_graph *g, const char *fmt, const char *what)
{
    oc_graph_fail(g, oc_error(OC_ERR_SHAPE, fmt, what));
    return OC_NONE;
}

/* ---------------------------------------------------------------- position embedding -- */
typedef struct {
    int h, w, dim;
    float temperature;
} pos_params;

static void pos_fn(const oc_ctx *ctx, const void *pp, const float *const *ins,
                   const oc_shape *is, int nin, float *out, const oc_shape *os)
{
    (void)ctx, (void)ins, (void)is, (void)nin, (void)os;
    const pos_params *p = pp;
    /* build_2d_sincos_position_embedding(w, h): meshgrid(arange(w), arange(h), 'ij') flattened,
     * so token t has grid_w = t / h and grid_h = t % h; the first half of the features uses
     * grid_w. (For the square maps of a square input: token y*W + x gets y first.) */
    const int pd = p->dim / 4;
    for (int t = 0; t < p->h * p->w; t++) {
        float gw = (float)(t / p->h), gh = (float)(t % p->h);
        float *o = out + (int64_t)t * p->dim;
        for (int i = 0; i < pd; i++) {
            float omega = 1.0f / powf(p->temperature, (float)i / (float)pd);
            float a = gw * omega, b = gh * omega;
            o[i] = sinf(a);
            o[pd + i] = cosf(a);
            o[2 * pd + i] = sinf(b);
            o[3 * pd + i] = cosf(b);
        }
    }
}

oc_tid rtdetr_pos_embed(oc_graph *g, oc_tid dep, int h, int w, int dim, float temperature)
{
    pos_params p = {h, w, dim, temperature};
    return oc_g_custom(g, "pos_embed", &dep, 1, oc_shape3(1, (int64_t)h * w, dim), pos_fn, &p,
                       sizeof p, 4.0 * h * w * dim);
}

/* ---------------------------------------------------------------- anchors -------------- */
typedef struct {
    int nlevels;
    int64_t hw[2 * RTDETR_LEVELS];
    float eps;
} anchor_params;

static void anchors_fn(const oc_ctx *ctx, const void *pp, const float *const *ins,
                       const oc_shape *is, int nin, float *out, const oc_shape *os)
{
    (void)ctx, (void)ins, (void)is, (void)nin, (void)os;
    const anchor_params *p = pp;
    float *o = out;
    for (int l = 0; l < p->nlevels; l++) {
        int64_t H = p->hw[2 * l], W = p->hw[2 * l + 1];
        float wh = 0.05f * (float)(1 << l);
        for (int64_t y = 0; y < H; y++)
            for (int64_t x = 0; x < W; x++, o += 4) {
                float a[4] = {((float)x + 0.5f) / (float)W, ((float)y + 0.5f) / (float)H, wh, wh};
                int valid = 1;
                for (int k = 0; k < 4; k++) valid &= a[k] > p->eps && a[k] < 1.0f - p->eps;
                for (int k = 0; k < 4; k++)
                    o[k] = valid ? logf(a[k] / (1.0f - a[k])) : INFINITY;
            }
    }
}

oc_tid rtdetr_anchors(oc_graph *g, oc_tid dep, const int64_t *level_hw, int nlevels, float eps)
{
    anchor_params p;
    memset(&p, 0, sizeof p);
    p.nlevels = nlevels;
    p.eps = eps;
    int64_t s = 0;
    for (int l = 0; l < nlevels && l < RTDETR_LEVELS; l++) {
        p.hw[2 * l] = level_hw[2 * l];
        p.hw[2 * l + 1] = level_hw[2 * l + 1];
        s += level_hw[2 * l] * level_hw[2 * l + 1];
    }
    return oc_g_custom(g, "anchors", &dep, 1, oc_shape3(1, s, 4), anchors_fn, &p, sizeof p,
                       8.0 * s);
}

/* ---------------------------------------------------------------- valid mask ----------- */
typedef struct {
    const float *const *ins;
    float *out;
    int64_t s;
    int64_t d;
} mask_rows_job;

static void mask_rows(void *arg, int64_t first, int64_t last, int tid)
{
    const mask_rows_job *job = arg;
    const float *const *ins = job->ins;
    float *out = job->out;
    int64_t s = job->s;
    int64_t d = job->d;
    (void)tid;
    for (int64_t r = first; r < last; r++) {
        /* memory * valid_mask: an invalid anchor's features are 0 * x (NaN stays NaN) */
        float v = isfinite(ins[1][(r % s) * 4]) ? 1.0f : 0.0f;
        for (int64_t j = 0; j < d; j++) out[r * d + j] = ins[0][r * d + j] * v;
    }
}

static void mask_fn(const oc_ctx *ctx, const void *pp, const float *const *ins,
                    const oc_shape *is, int nin, float *out, const oc_shape *os)
{
    (void)pp, (void)nin, (void)os;
    const int64_t n = is[0].d[0], s = is[0].d[1], d = is[0].d[2];
    const int nt = ctx->nthreads > 0 ? ctx->nthreads : 1;
    mask_rows_job job = {ins, out, s, d};
    oc_parallel_for(nt > 1 && n * s * d > 65536 ? nt : 1, n * s, 0, mask_rows, &job);
}

oc_tid rtdetr_mask_invalid(oc_graph *g, oc_tid memory, oc_tid anchors)
{
    oc_shape ms = in_shape(g, memory), as = in_shape(g, anchors);
    if (oc_graph_status(g)) return OC_NONE;
    if (ms.ndim != 3 || as.ndim != 3 || as.d[1] != ms.d[1] || as.d[2] != 4)
        return bad(g, "rtdetr %s: memory/anchors shapes disagree", "mask_invalid");
    oc_tid ins[2] = {memory, anchors};
    return oc_g_custom(g, "mask_invalid", ins, 2, ms, mask_fn, NULL, 0,
                       (double)oc_shape_numel(&ms));
}

/* ---------------------------------------------------------------- top-k ---------------- */
/* a min-heap of the k best (value, index) pairs; better = larger value, ties lower index
 * (torch.topk's order on ties is unspecified; the fixtures' selections have margins) */
static int tk_better(float va, int64_t ia, float vb, int64_t ib)
{
    return va > vb || (va == vb && ia < ib);
}

static void tk_sift(float *v, int64_t *ix, int n, int i)
{
    for (;;) {
        int l = 2 * i + 1, r = l + 1, w = i;
        if (l < n && tk_better(v[w], ix[w], v[l], ix[l])) w = l;
        if (r < n && tk_better(v[w], ix[w], v[r], ix[r])) w = r;
        if (w == i) return;
        float tv = v[i];
        v[i] = v[w];
        v[w] = tv;
        int64_t ti = ix[i];
        ix[i] = ix[w];
        ix[w] = ti;
        i = w;
    }
}

typedef struct {
    float *v;
    int64_t *ix;
    int k, n;
} topk_heap;

static void tk_push(topk_heap *h, float v, int64_t i)
{
    if (v != v) v = -INFINITY; /* NaN ranks last */
    if (h->n < h->k) {
        int c = h->n++;
        h->v[c] = v;
        h->ix[c] = i;
        while (c > 0) { /* sift up: the worst stays at the root */
            int p = (c - 1) / 2;
            if (!tk_better(h->v[p], h->ix[p], h->v[c], h->ix[c])) break;
            float tv = h->v[p];
            h->v[p] = h->v[c];
            h->v[c] = tv;
            int64_t ti = h->ix[p];
            h->ix[p] = h->ix[c];
            h->ix[c] = ti;
            c = p;
        }
    } else if (tk_better(v, i, h->v[0], h->ix[0])) {
        h->v[0] = v;
        h->ix[0] = i;
        tk_sift(h->v, h->ix, h->n, 0);
    }
}

/* sort the heap best first */
static void tk_finish(topk_heap *h)
{
    for (int end = h->n - 1; end > 0; end--) {
        float tv = h->v[0];
        h->v[0] = h->v[end];
        h->v[end] = tv;
        int64_t ti = h->ix[0];
        h->ix[0] = h->ix[end];
        h->ix[end] = ti;
        tk_sift(h->v, h->ix, end, 0);
    }
}

typedef struct {
    int k;
} topk_params;

static void topk_fn(const oc_ctx *ctx, const void *pp, const float *const *ins,
                    const oc_shape *is, int nin, float *out, const oc_shape *os)
{
    (void)ctx, (void)nin, (void)os;
    const topk_params *p = pp;
    const int64_t n = is[0].d[0], s = is[0].d[1], c = is[0].d[2];
    float v[RTDETR_MAX_QUERIES];
    int64_t ix[RTDETR_MAX_QUERIES];
    for (int64_t b = 0; b < n; b++) {
        topk_heap h = {v, ix, p->k, 0};
        const float *x = ins[0] + b * s * c;
        for (int64_t i = 0; i < s; i++) {
            float m = x[i * c];
            for (int64_t j = 1; j < c; j++) m = x[i * c + j] > m ? x[i * c + j] : m;
            tk_push(&h, m, i);
        }
        tk_finish(&h);
        for (int i = 0; i < p->k; i++) out[b * p->k + i] = i < h.n ? (float)ix[i] : 0.0f;
    }
}

oc_tid rtdetr_topk_select(oc_graph *g, oc_tid logits, int k)
{
    oc_shape s = in_shape(g, logits);
    if (oc_graph_status(g)) return OC_NONE;
    if (s.ndim != 3 || k < 1 || k > RTDETR_MAX_QUERIES || s.d[1] < k || s.d[1] >= (1 << 24))
        return bad(g, "rtdetr %s: need [N, S >= num_queries, C] logits (S < 2^24)", "topk");
    topk_params p = {k};
    return oc_g_custom(g, "topk_select", &logits, 1, oc_shape2(s.d[0], k), topk_fn, &p,
                       sizeof p, (double)oc_shape_numel(&s));
}

/* ---------------------------------------------------------------- gather rows ---------- */
static void gather_fn(const oc_ctx *ctx, const void *pp, const float *const *ins,
                      const oc_shape *is, int nin, float *out, const oc_shape *os)
{
    (void)ctx, (void)pp, (void)nin, (void)os;
    const int64_t ns = is[0].d[0], s = is[0].d[1], d = is[0].d[2];
    const int64_t n = is[1].d[0], k = is[1].d[1];
    for (int64_t b = 0; b < n; b++) {
        const float *src = ins[0] + (ns == 1 ? 0 : b) * s * d;
        for (int64_t i = 0; i < k; i++) {
            int64_t r = (int64_t)ins[1][b * k + i];
            if (r < 0 || r >= s) r = 0; /* cannot happen: indices come from topk_select */
            memcpy(out + (b * k + i) * d, src + r * d, (size_t)d * sizeof(float));
        }
    }
}

oc_tid rtdetr_gather_rows(oc_graph *g, oc_tid src, oc_tid idx)
{
    oc_shape s = in_shape(g, src), is = in_shape(g, idx);
    if (oc_graph_status(g)) return OC_NONE;
    if (s.ndim != 3 || is.ndim != 2 || (s.d[0] != 1 && s.d[0] != is.d[0]))
        return bad(g, "rtdetr %s: need src [N or 1, S, D] and idx [N, K]", "gather_rows");
    oc_tid ins[2] = {src, idx};
    return oc_g_custom(g, "gather_rows", ins, 2, oc_shape3(is.d[0], is.d[1], s.d[2]), gather_fn,
                       NULL, 0, 0.0);
}

/* ---------------------------------------------------------------- sampling locations --- */
typedef struct {
    int heads, levels, points;
} loc_params;

static void loc_fn(const oc_ctx *ctx, const void *pp, const float *const *ins,
                   const oc_shape *is, int nin, float *out, const oc_shape *os)
{
    (void)ctx, (void)nin, (void)os;
    const loc_params *p = pp;
    const int64_t rows = is[1].d[0] * is[1].d[1];
    const int per = p->heads * p->levels * p->points;
    const float inv_p = 1.0f / (float)p->points;
    for (int64_t r = 0; r < rows; r++) {
        const float *ref = ins[1] + r * 4, *off = ins[0] + r * per * 2;
        float *o = out + r * per * 2;
        /* reference_points[..., :2] + sampling_offsets / num_points * reference_points[..., 2:]
         * * 0.5, the reference's order of operations */
        for (int i = 0; i < per; i++) {
            o[2 * i] = ref[0] + off[2 * i] * inv_p * ref[2] * 0.5f;
            o[2 * i + 1] = ref[1] + off[2 * i + 1] * inv_p * ref[3] * 0.5f;
        }
    }
}

oc_tid rtdetr_deform_loc(oc_graph *g, oc_tid off, oc_tid ref, int heads, int levels, int points)
{
    oc_shape os = in_shape(g, off), rs = in_shape(g, ref);
    if (oc_graph_status(g)) return OC_NONE;
    if (os.ndim != 3 || rs.ndim != 3 || rs.d[2] != 4 || os.d[0] != rs.d[0] || os.d[1] != rs.d[1] ||
        os.d[2] != 2LL * heads * levels * points)
        return bad(g, "rtdetr %s: offsets / reference boxes shapes disagree", "deform_loc");
    loc_params p = {heads, levels, points};
    oc_tid ins[2] = {off, ref};
    return oc_g_custom(g, "deform_loc", ins, 2, os, loc_fn, &p, sizeof p,
                       4.0 * (double)oc_shape_numel(&os));
}

/* ---------------------------------------------------------------- box refinement ------- */
static float inverse_sigmoid(float x)
{
    /* utils.inverse_sigmoid(eps=1e-5): clip to [0,1], log(max(x,eps) / max(1-x,eps)) */
    x = x < 0.0f ? 0.0f : x > 1.0f ? 1.0f : x;
    float a = x > 1e-5f ? x : 1e-5f, b = 1.0f - x;
    b = b > 1e-5f ? b : 1e-5f;
    return logf(a / b);
}

static void refine_fn(const oc_ctx *ctx, const void *pp, const float *const *ins,
                      const oc_shape *is, int nin, float *out, const oc_shape *os)
{
    (void)ctx, (void)pp, (void)nin, (void)os;
    const int64_t n = oc_shape_numel(&is[0]);
    for (int64_t i = 0; i < n; i++) {
        float z = ins[0][i] + inverse_sigmoid(ins[1][i]);
        out[i] = 1.0f / (1.0f + expf(-z));
    }
}

oc_tid rtdetr_refine(oc_graph *g, oc_tid delta, oc_tid ref)
{
    oc_shape ds = in_shape(g, delta), rs = in_shape(g, ref);
    if (oc_graph_status(g)) return OC_NONE;
    if (oc_shape_numel(&ds) != oc_shape_numel(&rs))
        return bad(g, "rtdetr %s: box delta / reference shapes disagree", "refine");
    oc_tid ins[2] = {delta, ref};
    return oc_g_custom(g, "refine", ins, 2, ds, refine_fn, NULL, 0,
                       20.0 * (double)oc_shape_numel(&ds));
}

/* ---------------------------------------------------------------- clamp ---------------- */
static void clamp_fn(const oc_ctx *ctx, const void *pp, const float *const *ins,
                     const oc_shape *is, int nin, float *out, const oc_shape *os)
{
    (void)pp, (void)nin, (void)os;
    oc_clamp(ctx, ins[0], out, (size_t)oc_shape_numel(&is[0]), -65504.0f, 65504.0f);
}

oc_tid rtdetr_clamp_f16(oc_graph *g, oc_tid x)
{
    oc_shape s = in_shape(g, x);
    if (oc_graph_status(g)) return OC_NONE;
    return oc_g_custom(g, "clamp", &x, 1, s, clamp_fn, NULL, 0, (double)oc_shape_numel(&s));
}

/* ---------------------------------------------------------------- post-processing ------ */
typedef struct {
    int k, has_sizes;
    float img_w, img_h;
} post_params;

static void post_fn(const oc_ctx *ctx, const void *pp, const float *const *ins,
                    const oc_shape *is, int nin, float *out, const oc_shape *os)
{
    (void)ctx, (void)nin, (void)os;
    const post_params *p = pp;
    const int64_t n = is[0].d[0], q = is[0].d[1], c = is[0].d[2];
    int64_t labels[RTDETR_MAX_QUERIES], ix[RTDETR_MAX_QUERIES];
    float boxes[4 * RTDETR_MAX_QUERIES], scores[RTDETR_MAX_QUERIES], iv[RTDETR_MAX_QUERIES];
    for (int64_t b = 0; b < n; b++) {
        const float *lg = ins[0] + b * q * c, *bx = ins[1] + b * q * 4;
        float W = p->has_sizes ? ins[2][b * 2] : p->img_w, H = p->has_sizes ? ins[2][b * 2 + 1]
                                                                           : p->img_h;
        /* the deploy postprocessor, shared with the detect_detr task */
        oc_detr_topk(lg, bx, (int)q, (int)c, p->k, W, H, labels, boxes, scores);
        for (int i = 0; i < p->k; i++) {
            float *o = out + (b * p->k + i) * 7;
            o[0] = (float)labels[i];
            memcpy(o + 1, boxes + 4 * i, 4 * sizeof(float));
            o[5] = scores[i];
            o[6] = 0.0f;
        }
        /* the flat indices q*C + label (for --layers and parity pairing), by the same rule
         * as oc_detr_topk: higher logit first, ties by the lower index */
        topk_heap h = {iv, ix, p->k, 0};
        for (int64_t i = 0; i < q * c; i++) tk_push(&h, lg[i], i);
        tk_finish(&h);
        for (int i = 0; i < h.n; i++) out[(b * p->k + i) * 7 + 6] = (float)ix[i];
    }
}

oc_tid rtdetr_postprocess(oc_graph *g, oc_tid logits, oc_tid boxes, oc_tid sizes, int k,
                          float img_w, float img_h)
{
    oc_shape ls = in_shape(g, logits), bs = in_shape(g, boxes);
    if (oc_graph_status(g)) return OC_NONE;
    if (ls.ndim != 3 || bs.ndim != 3 || bs.d[2] != 4 || ls.d[0] != bs.d[0] || ls.d[1] != bs.d[1] ||
        k < 1 || k > RTDETR_MAX_QUERIES || k > ls.d[1] * ls.d[2] || ls.d[1] * ls.d[2] >= (1 << 24))
        return bad(g, "rtdetr %s: logits [N,Q,C] / boxes [N,Q,4] / k disagree", "postprocess");
    oc_tid ins[3] = {logits, boxes, sizes};
    post_params p = {k, sizes != OC_NONE, img_w, img_h};
    if (sizes != OC_NONE) {
        oc_shape ss = in_shape(g, sizes);
        if (ss.ndim != 2 || ss.d[0] != ls.d[0] || ss.d[1] != 2)
            return bad(g, "rtdetr %s: orig_target_sizes must be [N, 2]", "postprocess");
    }
    return oc_g_custom(g, "postprocess", ins, sizes != OC_NONE ? 3 : 2, oc_shape3(ls.d[0], k, 7),
                       post_fn, &p, sizeof p, 10.0 * (double)oc_shape_numel(&ls));
}

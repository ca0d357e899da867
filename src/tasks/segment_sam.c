/* segment_sam.c -- oc_segment_set_image / oc_segment: SAM2ImagePredictor's pre- and
 * post-processing around the model's "encode" and "decode" stages.
 *
 * set_image: resize to the model's input (1024x1024, aspect not kept, no padding), /255,
 * ImageNet mean/std (SAM2Transforms), written straight into the encode stage's input slot.
 * segment: prompts in image pixels scaled to the input (x * W_in / w, y * H_in / h); a box
 * becomes two points labelled 2 and 3 placed before the clicks (the predictor's order); the
 * graph appends the padding point. The low-res logits (unclamped, as the predictor
 * interpolates them) are upsampled bilinearly (align_corners False) to the image size and
 * thresholded at 0; the clamped low-res logits are returned for a follow-up mask_input. */
#include <math.h>
#include <string.h>

#include "tasks.h"

#define SEG_MAX_POINTS 4096
#define SEG_MAX_SETS 4096 /* prompt sets per oc_segment_batch call */
#define SEG_MAX_BATCH 16  /* sets per decoder run: bounds the decode arena (~20 MB a set) */
#define SEG_LOW_RES 256   /* the decoder's mask logits: 256 x 256 */

static const float imagenet_mean[3] = {0.485f, 0.456f, 0.406f};
static const float imagenet_std[3] = {0.229f, 0.224f, 0.225f};

oc_status oc_segment_set_image(oc_session *s, const oc_image *img)
{
    if (!s || !img) return oc_error(OC_ERR_INVALID_ARG, "oc_segment_set_image: NULL argument");
    const oc_model *m = oc_session_model(s);
    if (!oc_model_has_task(m, "segment_sam"))
        return oc_error(OC_ERR_UNSUPPORTED, "oc_segment_set_image: model '%s' (arch %s) is not "
                        "a promptable segmenter", m && m->path ? m->path : "?", oc_model_arch(m));
    if (!img->data || img->width < 1 || img->height < 1 ||
        (img->channels != 3 && img->channels != 1))
        return oc_error(OC_ERR_INVALID_ARG, "oc_segment_set_image: image %dx%d with %d channels "
                        "is not usable (RGB or gray)", img->width, img->height, img->channels);
    int64_t *slot = oc_session_task_slot(s);
    slot[0] = slot[1] = 0; /* no image until this one is encoded */
    const int W = m->input_w, H = m->input_h;
    oc_tensor in;
    memset(&in, 0, sizeof in);
    in.name = "image";
    in.ndim = 4;
    in.dims[0] = 1;
    in.dims[1] = 3;
    in.dims[2] = H;
    in.dims[3] = W;
    oc_status st = oc_session_prepare_stage(s, "encode", &in, 1);
    if (st != OC_OK) return st;
    float *buf = oc_session_input_buffer(s, "encode", "image");
    if (!buf) return oc_error(OC_ERR_INVALID_ARG, "oc_segment_set_image: no input slot");
    st = oc_resize_chw(img, W, H, imagenet_mean, imagenet_std, buf);
    if (st != OC_OK) return st;
    in.data = buf;
    st = oc_session_run_stage(s, "encode", &in, 1);
    if (st != OC_OK) return st;
    slot[0] = img->width;
    slot[1] = img->height;
    return OC_OK;
}

void oc_segmentation_free(oc_segmentation *r)
{
    if (!r) return;
    oc_free(r->masks);
    oc_free(r->logits);
    oc_free(r->scores);
    oc_free(r->boxes);
    oc_free(r->areas);
    oc_free(r->low_res);
    memset(r, 0, sizeof *r);
}

static oc_status check_prompt(const oc_segment_prompt *p, int set)
{
    if (p->n_points < 0 || p->n_points > SEG_MAX_POINTS)
        return oc_error(OC_ERR_INVALID_ARG, "oc_segment: prompt set %d: %d points (0..%d)", set,
                        p->n_points, SEG_MAX_POINTS);
    if (p->n_points == 0 && !p->has_box)
        return oc_error(OC_ERR_INVALID_ARG, "oc_segment: prompt set %d has no point and no box",
                        set);
    if (p->n_points > 0 && (!p->points || !p->labels))
        return oc_error(OC_ERR_INVALID_ARG, "oc_segment: prompt set %d: %d points but NULL "
                        "points or labels", set, p->n_points);
    for (int i = 0; i < p->n_points; i++) {
        if (!isfinite(p->points[2 * i]) || !isfinite(p->points[2 * i + 1]))
            return oc_error(OC_ERR_INVALID_ARG, "oc_segment: prompt set %d: point %d (%g, %g) is "
                            "not finite", set, i, (double)p->points[2 * i],
                            (double)p->points[2 * i + 1]);
        if (p->labels[i] != 0 && p->labels[i] != 1)
            return oc_error(OC_ERR_INVALID_ARG, "oc_segment: prompt set %d: point %d has label %d "
                            "(1 foreground, 0 background)", set, i, (int)p->labels[i]);
    }
    if (p->has_box) {
        for (int k = 0; k < 4; k++)
            if (!isfinite(p->box[k]))
                return oc_error(OC_ERR_INVALID_ARG, "oc_segment: prompt set %d: the box has a "
                                "non-finite coordinate", set);
        if (p->box[2] < p->box[0] || p->box[3] < p->box[1])
            return oc_error(OC_ERR_INVALID_ARG, "oc_segment: prompt set %d: box (%g, %g, %g, %g) "
                            "has x2 < x1 or y2 < y1", set, (double)p->box[0], (double)p->box[1],
                            (double)p->box[2], (double)p->box[3]);
    }
    if (p->mask_input)
        for (int k = 0; k < SEG_LOW_RES * SEG_LOW_RES; k++)
            if (!isfinite(p->mask_input[k]))
                return oc_error(OC_ERR_INVALID_ARG, "oc_segment: prompt set %d: mask_input has a "
                                "non-finite value at %d", set, k);
    return OC_OK;
}

static oc_status get_out(oc_session *s, const char *name, int ndim, int B, oc_tensor *t)
{
    oc_status st = oc_session_tensor(s, name, t);
    if (st != OC_OK) return st;
    if (t->ndim != ndim || t->dims[0] != B)
        return oc_error(OC_ERR_SHAPE, "oc_segment: decode output '%s' has %d dims (batch %lld, "
                        "expected %d)", name, t->ndim, (long long)t->dims[0], B);
    return OC_OK;
}

/* ---------------------------------------------------------------- upsampling ------------ */

/* One axis of the bilinear map (align_corners=False, as F.interpolate): output index d reads
 * source i0[d] and i0[d] + 1 (clamped) with weight f[d] on the second. */
typedef struct {
    int *i0, *i1;
    float *f;
} seg_axis;

static void axis_fill(seg_axis *a, int L, int n)
{
    const float scale = (float)L / (float)n;
    for (int d = 0; d < n; d++) {
        float src = ((float)d + 0.5f) * scale - 0.5f;
        if (src < 0) src = 0;
        int i0 = (int)src;
        if (i0 > L - 1) i0 = L - 1;
        a->i0[d] = i0;
        a->i1[d] = i0 < L - 1 ? i0 + 1 : L - 1;
        a->f[d] = src - (float)i0;
    }
}

typedef struct {
    int lw, lh, w, h;
    seg_axis ax, ay;
    float *top, *bot; /* [w] the two source rows resampled along x */
    int *row_lo, *row_hi; /* [lh] first / last column > 0 of a source row, -1 when none */
    int *col_first, *col_last; /* [lw] first output x reading column >= c / last reading <= c */
} seg_up;

static size_t seg_up_bytes(int lw, int lh, int w, int h)
{
    return sizeof(int) * (2 * (size_t)w + 2 * (size_t)h + 2 * (size_t)lh + 2 * (size_t)lw) +
           sizeof(float) * ((size_t)w + h + 2 * (size_t)w) + 16 * 8;
}

static void seg_up_init(seg_up *u, void *work, int lw, int lh, int w, int h)
{
    char *p = work;
#define TAKE(ptr, n)                                                                           \
    do {                                                                                       \
        (ptr) = (void *)p;                                                                     \
        p += ((sizeof *(ptr) * (size_t)(n)) + 15) & ~(size_t)15;                               \
    } while (0)
    u->lw = lw, u->lh = lh, u->w = w, u->h = h;
    TAKE(u->ax.i0, w);
    TAKE(u->ax.i1, w);
    TAKE(u->ax.f, w);
    TAKE(u->ay.i0, h);
    TAKE(u->ay.i1, h);
    TAKE(u->ay.f, h);
    TAKE(u->top, w);
    TAKE(u->bot, w);
    TAKE(u->row_lo, lh);
    TAKE(u->row_hi, lh);
    TAKE(u->col_first, lw);
    TAKE(u->col_last, lw);
#undef TAKE
    axis_fill(&u->ax, lw, w);
    axis_fill(&u->ay, lh, h);
    /* ax is non-decreasing: x reads column >= c from col_first[c] on, <= c up to col_last[c] */
    for (int c = 0, x = 0; c < lw; c++) {
        while (x < w && u->ax.i1[x] < c) x++;
        u->col_first[c] = x;
    }
    for (int c = lw - 1, x = w - 1; c >= 0; c--) {
        while (x >= 0 && u->ax.i0[x] > c) x--;
        u->col_last[c] = x;
    }
}

static void hlerp(const seg_up *u, const float *src, int x0, int x1, float *dst)
{
    for (int x = x0; x <= x1; x++) {
        float a = src[u->ax.i0[x]], b = src[u->ax.i1[x]];
        dst[x] = a + (b - a) * u->ax.f[x];
    }
}

/* Upsample one lh x lw logit map to the image (bilinear, align_corners=False), threshold at
 * 0 into mask, count the area and the inclusive bbox. Without logits, only the parts that can
 * be positive are computed: a bilinear value is a convex combination of its 4 sources, so
 * where those are all <= 0 it is <= 0 too (also after rounding), and the output is 0 there. */
static void upsample_mask(seg_up *u, const float *low, uint8_t *mask, float *logits,
                          int64_t *area_out, int box[4])
{
    const int w = u->w, h = u->h, lw = u->lw;
    for (int r = 0; r < u->lh; r++) {
        const float *row = low + (size_t)r * lw;
        int lo = -1, hi = -1;
        if (logits) {
            lo = 0, hi = lw - 1;
        } else {
            for (int c = 0; c < lw; c++)
                if (row[c] > 0.0f) {
                    lo = c;
                    break;
                }
            if (lo >= 0)
                for (int c = lw - 1; c >= lo; c--)
                    if (row[c] > 0.0f) {
                        hi = c;
                        break;
                    }
        }
        u->row_lo[r] = lo;
        u->row_hi[r] = hi;
    }
    int64_t area = 0;
    int bx1 = w, by1 = h, bx2 = -1, by2 = -1;
    int cached_r0 = -1, cached_r1 = -1, cx0 = 0, cx1 = -1;
    for (int y = 0; y < h; y++) {
        const int r0 = u->ay.i0[y], r1 = u->ay.i1[y];
        uint8_t *mrow = mask + (size_t)y * w;
        int lo = u->row_lo[r0], hi = u->row_hi[r0];
        if (u->row_lo[r1] >= 0) {
            if (lo < 0 || u->row_lo[r1] < lo) lo = u->row_lo[r1];
            if (u->row_hi[r1] > hi) hi = u->row_hi[r1];
        }
        if (lo < 0) {
            memset(mrow, 0, (size_t)w);
            continue;
        }
        const int x0 = u->col_first[lo], x1 = u->col_last[hi];
        if (r0 != cached_r0 || r1 != cached_r1 || x0 != cx0 || x1 != cx1) {
            hlerp(u, low + (size_t)r0 * lw, x0, x1, u->top);
            hlerp(u, low + (size_t)r1 * lw, x0, x1, u->bot);
            cached_r0 = r0, cached_r1 = r1, cx0 = x0, cx1 = x1;
        }
        if (x0 > 0) memset(mrow, 0, (size_t)x0);
        if (x1 < w - 1) memset(mrow + x1 + 1, 0, (size_t)(w - 1 - x1));
        const float fy = u->ay.f[y];
        const float *top = u->top, *bot = u->bot;
        float *lrow = logits ? logits + (size_t)y * w : NULL;
        int n = 0;
        if (lrow) {
            for (int x = x0; x <= x1; x++) {
                float v = top[x] + (bot[x] - top[x]) * fy;
                lrow[x] = v;
                mrow[x] = v > 0.0f;
                n += mrow[x];
            }
        } else {
            for (int x = x0; x <= x1; x++) {
                float v = top[x] + (bot[x] - top[x]) * fy;
                mrow[x] = v > 0.0f;
                n += mrow[x];
            }
        }
        if (!n) continue;
        area += n;
        int a = x0, b = x1;
        while (!mrow[a]) a++;
        while (!mrow[b]) b--;
        if (a < bx1) bx1 = a;
        if (b > bx2) bx2 = b;
        if (y < by1) by1 = y;
        by2 = y;
    }
    *area_out = area;
    if (!area) bx1 = by1 = bx2 = by2 = 0;
    box[0] = bx1, box[1] = by1, box[2] = bx2, box[3] = by2;
}

/* ---------------------------------------------------------------- decoding -------------- */

static int set_points(const oc_segment_prompt *p) { return p->n_points + (p->has_box ? 2 : 0); }

/* Decode the sets idx[0..B) (same point count and mask_input use) as one batch and fill
 * out[idx[b]]. */
static oc_status decode_group(oc_session *s, const oc_model *m, const oc_segment_prompt *prompts,
                              const int *idx, int B, oc_segmentation *out)
{
    const int64_t *slot = oc_session_task_slot(s);
    const int w = (int)slot[0], h = (int)slot[1];
    const int P = set_points(&prompts[idx[0]]);
    const int with_mask = prompts[idx[0]].mask_input != NULL;
    const size_t lplane = (size_t)SEG_LOW_RES * SEG_LOW_RES;
    const size_t in_bytes = (size_t)B * P * 2 * sizeof(float) + (size_t)B * P * sizeof(int32_t) +
                            (with_mask ? (size_t)B * lplane * sizeof(float) : 0) + 64;
    const size_t up_bytes = seg_up_bytes(SEG_LOW_RES, SEG_LOW_RES, w, h);
    char *work = oc_session_task_work(s, in_bytes + up_bytes + 64);
    if (!work) return oc_error(OC_ERR_NOMEM, "oc_segment: out of memory");
    float *coords = (float *)work;
    int32_t *labels = (int32_t *)(coords + (size_t)B * P * 2);
    float *mask_in = (float *)(labels + (size_t)B * P);
    const float sx = (float)m->input_w / (float)w, sy = (float)m->input_h / (float)h;
    for (int b = 0; b < B; b++) {
        const oc_segment_prompt *p = &prompts[idx[b]];
        float *c = coords + (size_t)b * P * 2;
        int32_t *l = labels + (size_t)b * P;
        int k = 0;
        if (p->has_box) { /* the box's corners come first, labelled 2 and 3 (the predictor) */
            c[0] = p->box[0] * sx;
            c[1] = p->box[1] * sy;
            c[2] = p->box[2] * sx;
            c[3] = p->box[3] * sy;
            l[0] = 2;
            l[1] = 3;
            k = 2;
        }
        for (int i = 0; i < p->n_points; i++, k++) {
            c[2 * k] = p->points[2 * i] * sx;
            c[2 * k + 1] = p->points[2 * i + 1] * sy;
            l[k] = p->labels[i];
        }
        if (with_mask) memcpy(mask_in + (size_t)b * lplane, p->mask_input, lplane * sizeof(float));
    }
    oc_tensor in[3] = {
        {.name = "point_coords", .ndim = 3, .dims = {B, P, 2}, .data = coords},
        {.name = "point_labels", .ndim = 2, .dims = {B, P}, .data = (float *)labels,
         .dtype = OC_DTYPE_I32},
        {.name = "mask_input", .ndim = 4, .dims = {B, 1, SEG_LOW_RES, SEG_LOW_RES},
         .data = mask_in},
    };
    oc_status st = oc_session_run_stage(s, "decode", in, with_mask ? 3 : 2);
    if (st != OC_OK) return st;

    oc_tensor all, lr_m, iou_m, lr_s, iou_s, tok, obj;
    if ((st = get_out(s, "masks_all", 4, B, &all)) != OC_OK ||
        (st = get_out(s, "low_res_masks", 4, B, &lr_m)) != OC_OK ||
        (st = get_out(s, "iou_predictions", 2, B, &iou_m)) != OC_OK ||
        (st = get_out(s, "low_res_masks_single", 4, B, &lr_s)) != OC_OK ||
        (st = get_out(s, "iou_predictions_single", 2, B, &iou_s)) != OC_OK ||
        (st = get_out(s, "single_token", 2, B, &tok)) != OC_OK ||
        (st = get_out(s, "object_score_logits", 2, B, &obj)) != OC_OK)
        return st;
    const int T = (int)all.dims[1];
    if (all.dims[2] != SEG_LOW_RES || all.dims[3] != SEG_LOW_RES || lr_m.dims[1] != T - 1 ||
        iou_m.dims[1] != T - 1 || lr_s.dims[1] != 1)
        return oc_error(OC_ERR_SHAPE, "oc_segment: unexpected decode output shapes");
    seg_up up;
    seg_up_init(&up, work + ((in_bytes + 63) & ~(size_t)63), SEG_LOW_RES, SEG_LOW_RES, w, h);
    const size_t plane = (size_t)w * h;
    for (int b = 0; b < B; b++) {
        const oc_segment_prompt *p = &prompts[idx[b]];
        oc_segmentation *r = &out[idx[b]];
        const int multi = p->multimask ? 1 : 0, n = multi ? T - 1 : 1;
        r->n_masks = n;
        r->width = w;
        r->height = h;
        r->object_score = obj.data[b];
        r->masks = oc_malloc((size_t)n * plane);
        r->logits = p->return_logits ? oc_malloc((size_t)n * plane * sizeof(float)) : NULL;
        r->scores = oc_malloc((size_t)n * sizeof(float));
        r->boxes = oc_malloc((size_t)n * sizeof *r->boxes);
        r->areas = oc_malloc((size_t)n * sizeof(int64_t));
        r->low_res = oc_malloc((size_t)n * lplane * sizeof(float));
        if (!r->masks || (p->return_logits && !r->logits) || !r->scores || !r->boxes ||
            !r->areas || !r->low_res)
            return oc_error(OC_ERR_NOMEM, "oc_segment: out of memory for %d masks of %dx%d", n, w,
                            h);
        const float *lr = multi ? lr_m.data + (size_t)b * (T - 1) * lplane
                                : lr_s.data + (size_t)b * lplane;
        memcpy(r->low_res, lr, (size_t)n * lplane * sizeof(float));
        for (int j = 0; j < n; j++) {
            int t = multi ? j + 1 : (int)tok.data[b];
            if (t < 0 || t >= T) t = 0;
            r->scores[j] = multi ? iou_m.data[(size_t)b * (T - 1) + j] : iou_s.data[b];
            upsample_mask(&up, all.data + ((size_t)b * T + t) * lplane, r->masks + (size_t)j * plane,
                          r->logits ? r->logits + (size_t)j * plane : NULL, &r->areas[j],
                          r->boxes[j]);
        }
    }
    return OC_OK;
}

oc_status oc_segment_batch(oc_session *s, const oc_segment_prompt *prompts, int n,
                           oc_segmentation *out)
{
    if (out && n > 0) memset(out, 0, (size_t)n * sizeof *out);
    if (!s || !prompts || !out) return oc_error(OC_ERR_INVALID_ARG, "oc_segment: NULL argument");
    if (n < 1 || n > SEG_MAX_SETS)
        return oc_error(OC_ERR_INVALID_ARG, "oc_segment: %d prompt sets (1..%d)", n, SEG_MAX_SETS);
    const oc_model *m = oc_session_model(s);
    if (!oc_model_has_task(m, "segment_sam"))
        return oc_error(OC_ERR_UNSUPPORTED, "oc_segment: model (arch %s) is not a promptable "
                        "segmenter", oc_model_arch(m));
    const int64_t *slot = oc_session_task_slot(s);
    if (slot[0] < 1 || slot[1] < 1)
        return oc_error(OC_ERR_INVALID_ARG, "oc_segment: no image: call oc_segment_set_image "
                        "first");
    for (int i = 0; i < n; i++) {
        oc_status st = check_prompt(&prompts[i], i);
        if (st != OC_OK) return st;
    }
    /* Sets with the same point count and mask_input use decode together (the decoder's
     * tokens are the set's points, so sets of other counts cannot share a batch without
     * padding tokens, which would change their masks), SEG_MAX_BATCH at a time, in order of
     * first appearance; each result is the one a call with that set alone gives. */
    int *idx = oc_malloc((size_t)n * 2 * sizeof(int));
    if (!idx) return oc_error(OC_ERR_NOMEM, "oc_segment: out of memory");
    int *done = idx + n;
    memset(done, 0, (size_t)n * sizeof(int));
    oc_status st = OC_OK;
    for (int i = 0; i < n && st == OC_OK;) {
        if (done[i]) {
            i++;
            continue;
        }
        const int P = set_points(&prompts[i]), mk = prompts[i].mask_input != NULL;
        int B = 0;
        for (int j = i; j < n && B < SEG_MAX_BATCH; j++)
            if (!done[j] && set_points(&prompts[j]) == P && (prompts[j].mask_input != NULL) == mk) {
                idx[B++] = j;
                done[j] = 1;
            }
        st = decode_group(s, m, prompts, idx, B, out);
    }
    oc_free(idx);
    if (st != OC_OK)
        for (int i = 0; i < n; i++) oc_segmentation_free(&out[i]);
    return st;
}

oc_status oc_segment(oc_session *s, const oc_segment_prompt *p, oc_segmentation *out)
{
    return oc_segment_batch(s, p, 1, out);
}

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

static oc_status check_prompt(const oc_segment_prompt *p)
{
    if (p->n_points < 0 || p->n_points > SEG_MAX_POINTS)
        return oc_error(OC_ERR_INVALID_ARG, "oc_segment: %d points (0..%d)", p->n_points,
                        SEG_MAX_POINTS);
    if (p->n_points == 0 && !p->has_box)
        return oc_error(OC_ERR_INVALID_ARG, "oc_segment: the prompt has no point and no box");
    if (p->n_points > 0 && (!p->points || !p->labels))
        return oc_error(OC_ERR_INVALID_ARG, "oc_segment: %d points but NULL points or labels",
                        p->n_points);
    for (int i = 0; i < p->n_points; i++) {
        if (!isfinite(p->points[2 * i]) || !isfinite(p->points[2 * i + 1]))
            return oc_error(OC_ERR_INVALID_ARG, "oc_segment: point %d (%g, %g) is not finite", i,
                            (double)p->points[2 * i], (double)p->points[2 * i + 1]);
        if (p->labels[i] != 0 && p->labels[i] != 1)
            return oc_error(OC_ERR_INVALID_ARG, "oc_segment: point %d has label %d (1 foreground, "
                            "0 background)", i, (int)p->labels[i]);
    }
    if (p->has_box) {
        for (int k = 0; k < 4; k++)
            if (!isfinite(p->box[k]))
                return oc_error(OC_ERR_INVALID_ARG, "oc_segment: the box has a non-finite "
                                "coordinate");
        if (p->box[2] < p->box[0] || p->box[3] < p->box[1])
            return oc_error(OC_ERR_INVALID_ARG, "oc_segment: box (%g, %g, %g, %g) has x2 < x1 or "
                            "y2 < y1", (double)p->box[0], (double)p->box[1], (double)p->box[2],
                            (double)p->box[3]);
    }
    if (p->mask_input)
        for (int k = 0; k < 256 * 256; k++)
            if (!isfinite(p->mask_input[k]))
                return oc_error(OC_ERR_INVALID_ARG, "oc_segment: mask_input has a non-finite "
                                "value at %d", k);
    return OC_OK;
}

static oc_status get_out(oc_session *s, const char *name, int ndim, oc_tensor *t)
{
    oc_status st = oc_session_tensor(s, name, t);
    if (st != OC_OK) return st;
    if (t->ndim != ndim)
        return oc_error(OC_ERR_SHAPE, "oc_segment: decode output '%s' has %d dims", name, t->ndim);
    return OC_OK;
}

oc_status oc_segment(oc_session *s, const oc_segment_prompt *p, oc_segmentation *out)
{
    if (out) memset(out, 0, sizeof *out);
    if (!s || !p || !out) return oc_error(OC_ERR_INVALID_ARG, "oc_segment: NULL argument");
    const oc_model *m = oc_session_model(s);
    if (!oc_model_has_task(m, "segment_sam"))
        return oc_error(OC_ERR_UNSUPPORTED, "oc_segment: model (arch %s) is not a promptable "
                        "segmenter", oc_model_arch(m));
    const int64_t *slot = oc_session_task_slot(s);
    const int w = (int)slot[0], h = (int)slot[1];
    if (w < 1 || h < 1)
        return oc_error(OC_ERR_INVALID_ARG, "oc_segment: no image: call oc_segment_set_image "
                        "first");
    oc_status st = check_prompt(p);
    if (st != OC_OK) return st;

    const int P = p->n_points + (p->has_box ? 2 : 0);
    float *coords = oc_malloc((size_t)P * 2 * sizeof(float));
    int32_t *labels = oc_malloc((size_t)P * sizeof(int32_t));
    if (!coords || !labels) {
        oc_free(coords);
        oc_free(labels);
        return oc_error(OC_ERR_NOMEM, "oc_segment: out of memory");
    }
    const float sx = (float)m->input_w / (float)w, sy = (float)m->input_h / (float)h;
    int k = 0;
    if (p->has_box) {
        coords[0] = p->box[0] * sx;
        coords[1] = p->box[1] * sy;
        coords[2] = p->box[2] * sx;
        coords[3] = p->box[3] * sy;
        labels[0] = 2;
        labels[1] = 3;
        k = 2;
    }
    for (int i = 0; i < p->n_points; i++, k++) {
        coords[2 * k] = p->points[2 * i] * sx;
        coords[2 * k + 1] = p->points[2 * i + 1] * sy;
        labels[k] = p->labels[i];
    }
    oc_tensor in[3];
    memset(in, 0, sizeof in);
    in[0].name = "point_coords";
    in[0].ndim = 3;
    in[0].dims[0] = 1;
    in[0].dims[1] = P;
    in[0].dims[2] = 2;
    in[0].data = coords;
    in[1].name = "point_labels";
    in[1].ndim = 2;
    in[1].dims[0] = 1;
    in[1].dims[1] = P;
    in[1].data = (float *)labels;
    in[1].dtype = OC_DTYPE_I32;
    int nin = 2;
    if (p->mask_input) {
        in[2].name = "mask_input";
        in[2].ndim = 4;
        in[2].dims[0] = 1;
        in[2].dims[1] = 1;
        in[2].dims[2] = 256;
        in[2].dims[3] = 256;
        in[2].data = (float *)p->mask_input;
        nin = 3;
    }
    st = oc_session_run_stage(s, "decode", in, nin);
    oc_free(coords);
    oc_free(labels);
    if (st != OC_OK) return st;

    oc_tensor all, lr, iou, tok, obj;
    const int multi = p->multimask ? 1 : 0;
    if ((st = get_out(s, "masks_all", 4, &all)) != OC_OK ||
        (st = get_out(s, multi ? "low_res_masks" : "low_res_masks_single", 4, &lr)) != OC_OK ||
        (st = get_out(s, multi ? "iou_predictions" : "iou_predictions_single", 2, &iou)) != OC_OK ||
        (st = get_out(s, "single_token", 2, &tok)) != OC_OK ||
        (st = get_out(s, "object_score_logits", 2, &obj)) != OC_OK)
        return st;
    const int T = (int)all.dims[1], lh = (int)all.dims[2], lw = (int)all.dims[3];
    const int n = multi ? T - 1 : 1;
    if (lr.dims[1] != n || iou.dims[1] != n || lh < 1 || lw < 1)
        return oc_error(OC_ERR_SHAPE, "oc_segment: unexpected decode output shapes");
    out->n_masks = n;
    out->width = w;
    out->height = h;
    out->object_score = obj.data[0];
    const size_t plane = (size_t)w * h, lplane = (size_t)lh * lw;
    out->masks = oc_malloc((size_t)n * plane);
    out->logits = oc_malloc((size_t)n * plane * sizeof(float));
    out->scores = oc_malloc((size_t)n * sizeof(float));
    out->boxes = oc_malloc((size_t)n * sizeof *out->boxes);
    out->areas = oc_malloc((size_t)n * sizeof(int64_t));
    out->low_res = oc_malloc((size_t)n * lplane * sizeof(float));
    if (!out->masks || !out->logits || !out->scores || !out->boxes || !out->areas ||
        !out->low_res) {
        oc_segmentation_free(out);
        return oc_error(OC_ERR_NOMEM, "oc_segment: out of memory for %d masks of %dx%d", n, w, h);
    }
    memcpy(out->low_res, lr.data, (size_t)n * lplane * sizeof(float));
    oc_ctx ctx;
    memset(&ctx, 0, sizeof ctx);
    ctx.isa = m->isa;
    ctx.nthreads = oc_get_num_threads();
    for (int j = 0; j < n; j++) {
        int t = multi ? j + 1 : (int)tok.data[0];
        if (t < 0 || t >= T) t = 0;
        out->scores[j] = iou.data[j];
        float *lg = out->logits + (size_t)j * plane;
        oc_upsample_bilinear(&ctx, all.data + (size_t)t * lplane, 1, 1, lh, lw, h, w, 0, lg);
        uint8_t *mk = out->masks + (size_t)j * plane;
        int x1 = w, y1 = h, x2 = -1, y2 = -1;
        int64_t area = 0;
        for (int y = 0; y < h; y++)
            for (int x = 0; x < w; x++) {
                uint8_t v = lg[(size_t)y * w + x] > 0.0f;
                mk[(size_t)y * w + x] = v;
                if (v) {
                    area++;
                    if (x < x1) x1 = x;
                    if (x > x2) x2 = x;
                    if (y < y1) y1 = y;
                    if (y > y2) y2 = y;
                }
            }
        out->areas[j] = area;
        if (!area) x1 = y1 = x2 = y2 = 0;
        out->boxes[j][0] = x1;
        out->boxes[j][1] = y1;
        out->boxes[j][2] = x2;
        out->boxes[j][3] = y2;
    }
    return OC_OK;
}

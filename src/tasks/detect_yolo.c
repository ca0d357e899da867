/* detect_yolo.c -- the "detect_yolo" task: letterbox, run, decode the YOLO Detect output
 * (output0), NMS, map back to the image. */
#include "tasks/detect.h"
#include "tasks/tasks.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "model.h"

#define MAX_NMS 30000

float oc_box_iou(const oc_det_box *a, const oc_det_box *b)
{
    float iw = fminf(a->x2, b->x2) - fmaxf(a->x1, b->x1);
    float ih = fminf(a->y2, b->y2) - fmaxf(a->y1, b->y1);
    if (!(iw > 0) || !(ih > 0)) return 0.0f;
    float inter = iw * ih;
    float aa = fmaxf(a->x2 - a->x1, 0) * fmaxf(a->y2 - a->y1, 0);
    float ab = fmaxf(b->x2 - b->x1, 0) * fmaxf(b->y2 - b->y1, 0);
    float uni = aa + ab - inter;
    return uni > 0 ? inter / uni : 0.0f;
}

typedef struct {
    float score;
    int anchor;
} cand_key;

static int cmp_cand(const void *pa, const void *pb)
{
    const cand_key *a = pa, *b = pb;
    if (a->score > b->score) return -1;
    if (a->score < b->score) return 1;
    return (a->anchor > b->anchor) - (a->anchor < b->anchor);
}

static size_t align64(size_t n) { return (n + 63) / 64 * 64; }

/* work of oc_detect_candidates for A anchors: best scores, best classes, sort keys */
static size_t candidates_work_bytes(int64_t A)
{
    return align64((size_t)A * sizeof(float)) + align64((size_t)A * sizeof(int)) +
           align64((size_t)A * sizeof(cand_key));
}

static int candidates_work(const float *out0, int nc, int64_t anchors, float conf,
                           oc_det_box *out, int cap, void *work);

int oc_detect_candidates(const float *out0, int nc, int64_t anchors, float conf, oc_det_box *out,
                         int cap)
{
    if (!out0 || nc < 1 || anchors < 1 || !out || cap < 1 || anchors > INT32_MAX) return 0;
    void *work = oc_malloc(candidates_work_bytes(anchors));
    if (!work) return -1;
    int n = candidates_work(out0, nc, anchors, conf, out, cap, work);
    oc_free(work);
    return n;
}

static int candidates_work(const float *out0, int nc, int64_t anchors, float conf,
                           oc_det_box *out, int cap, void *work)
{
    if (!out0 || nc < 1 || anchors < 1 || !out || cap < 1 || anchors > INT32_MAX) return 0;
    int A = (int)anchors;
    /* best class per anchor, walking rows (contiguous) */
    float *best = (float *)work;
    int *bcls = (int *)((char *)work + align64((size_t)A * sizeof(float)));
    cand_key *keys = (cand_key *)((char *)bcls + align64((size_t)A * sizeof(int)));
    const float *row = out0 + 4 * (size_t)A;
    for (int a = 0; a < A; a++) {
        best[a] = row[a];
        bcls[a] = 0;
    }
    for (int c = 1; c < nc; c++) {
        row = out0 + (size_t)(4 + c) * (size_t)A;
        for (int a = 0; a < A; a++)
            if (row[a] > best[a]) {
                best[a] = row[a];
                bcls[a] = c;
            }
    }
    int n = 0;
    for (int a = 0; a < A; a++)
        if (best[a] > conf) { /* NaN scores never pass */
            keys[n].score = best[a];
            keys[n].anchor = a;
            n++;
        }
    qsort(keys, (size_t)n, sizeof *keys, cmp_cand);
    if (n > MAX_NMS) n = MAX_NMS;
    if (n > cap) n = cap;
    for (int i = 0; i < n; i++) {
        int a = keys[i].anchor;
        float cx = out0[a], cy = out0[(size_t)A + a];
        float w = out0[2 * (size_t)A + a], h = out0[3 * (size_t)A + a];
        out[i].x1 = cx - w / 2;
        out[i].y1 = cy - h / 2;
        out[i].x2 = cx + w / 2;
        out[i].y2 = cy + h / 2;
        out[i].score = keys[i].score;
        out[i].cls = bcls[a];
    }
    return n;
}

int oc_detect_nms(oc_det_box *boxes, int n, float iou, int agnostic, int max_det)
{
    if (!boxes || n <= 0 || max_det <= 0) return 0;
    int kept = 0;
    for (int i = 0; i < n && kept < max_det; i++) {
        int keep = 1;
        for (int k = 0; k < kept; k++) {
            if (!agnostic && boxes[k].cls != boxes[i].cls) continue;
            if (oc_box_iou(&boxes[k], &boxes[i]) > iou) {
                keep = 0;
                break;
            }
        }
        if (keep) boxes[kept++] = boxes[i];
    }
    return kept;
}

static float clampf(float v, float lo, float hi)
{
    if (!(v > lo)) return lo; /* also NaN */
    return v < hi ? v : hi;
}

void oc_detect_unletterbox(oc_det_box *b, int n, const oc_letterbox_info *lb, int img_w,
                           int img_h)
{
    float s = (lb && lb->scale > 0) ? lb->scale : 1.0f;
    float pl = lb ? (float)lb->pad_left : 0, pt = lb ? (float)lb->pad_top : 0;
    for (int i = 0; i < n; i++) {
        b[i].x1 = clampf((b[i].x1 - pl) / s, 0, (float)img_w);
        b[i].x2 = clampf((b[i].x2 - pl) / s, 0, (float)img_w);
        b[i].y1 = clampf((b[i].y1 - pt) / s, 0, (float)img_h);
        b[i].y2 = clampf((b[i].y2 - pt) / s, 0, (float)img_h);
    }
}

/* boxes (at most MAX_NMS) then the candidates' work */
static size_t postprocess_work_bytes(int64_t anchors)
{
    int cap = anchors < MAX_NMS ? (int)anchors : MAX_NMS;
    return align64((size_t)cap * sizeof(oc_det_box)) + candidates_work_bytes(anchors);
}

static oc_status postprocess_work(const float *out0, int nc, int64_t anchors,
                                  const oc_detect_options *opts, const oc_letterbox_info *lb,
                                  int img_w, int img_h, const char *const *class_names,
                                  int n_names, oc_detections *out, void *work)
{
    if (!out0 || !out || nc < 1 || anchors < 1 || anchors > INT32_MAX)
        return oc_error(OC_ERR_INVALID_ARG, "oc_detect_postprocess: bad arguments (nc %d, "
                        "anchors %lld)", nc, (long long)anchors);
    oc_detect_options def;
    if (!opts) {
        oc_detect_options_default(&def);
        opts = &def;
    }
    out->items = NULL;
    out->count = 0;
    int cap = anchors < MAX_NMS ? (int)anchors : MAX_NMS;
    oc_det_box *boxes = (oc_det_box *)work;
    int n = candidates_work(out0, nc, anchors, opts->conf_threshold, boxes, cap,
                            (char *)work + align64((size_t)cap * sizeof *boxes));
    n = oc_detect_nms(boxes, n, opts->iou_threshold, opts->agnostic_nms, opts->max_det);
    oc_detect_unletterbox(boxes, n, lb, img_w, img_h);
    oc_detection *items = oc_malloc((size_t)(n ? n : 1) * sizeof *items);
    if (!items) {
        return oc_error(OC_ERR_NOMEM, "detect: out of memory for %d detections", n);
    }
    for (int i = 0; i < n; i++) {
        items[i].x1 = boxes[i].x1;
        items[i].y1 = boxes[i].y1;
        items[i].x2 = boxes[i].x2;
        items[i].y2 = boxes[i].y2;
        items[i].score = boxes[i].score;
        items[i].class_id = boxes[i].cls;
        items[i].class_name =
            (class_names && boxes[i].cls < n_names) ? class_names[boxes[i].cls] : NULL;
    }
    out->items = items;
    out->count = n;
    return OC_OK;
}

oc_status oc_detect_postprocess(const float *out0, int nc, int64_t anchors,
                                const oc_detect_options *opts, const oc_letterbox_info *lb,
                                int img_w, int img_h, const char *const *class_names,
                                int n_names, oc_detections *out)
{
    if (!out0 || !out || nc < 1 || anchors < 1 || anchors > INT32_MAX)
        return oc_error(OC_ERR_INVALID_ARG, "oc_detect_postprocess: bad arguments (nc %d, "
                        "anchors %lld)", nc, (long long)anchors);
    void *work = oc_malloc(postprocess_work_bytes(anchors));
    if (!work) return oc_error(OC_ERR_NOMEM, "detect: out of memory for %lld anchors",
                               (long long)anchors);
    oc_status st = postprocess_work(out0, nc, anchors, opts, lb, img_w, img_h, class_names,
                                    n_names, out, work);
    oc_free(work);
    return st;
}

oc_status oc_detect_yolo(oc_session *s, const oc_image *img, const oc_detect_options *o,
                         oc_detections *out)
{
    const oc_model *m = oc_session_model(s);
    int in_h, in_w;
    oc_task_input_size(m, o, &in_h, &in_w);
    /* letterbox straight into the graph's input slot */
    double t0 = oc_now_ms();
    oc_tensor in;
    oc_status st = oc_task_image_input(s, NULL, "images", in_h, in_w, &in);
    if (st) return st;
    /* one session-owned work buffer for the resize and, after the run, the NMS candidates:
     * a same-shape call allocates only its result */
    oc_letterbox_info lb;
    size_t lw = oc_letterbox_work_bytes(img, in_w, in_h);
    void *work = lw ? oc_session_task_work(s, lw) : NULL;
    if (lw && !work) return oc_error(OC_ERR_NOMEM, "oc_detect: out of memory");
    st = oc_letterbox_chw_work(img, in_w, in_h, 114, in.data, &lb, work);
    if (st) return st;
    double t1 = oc_now_ms();
    st = oc_session_run(s, &in, 1);
    if (st) return st;
    double t2 = oc_now_ms();
    oc_tensor y;
    if (oc_session_tensor(s, "output0", &y) != OC_OK) {
        if ((st = oc_session_output(s, 0, &y)))
            return oc_error_prefix(st, "oc_detect: no output0: ");
    }
    int nc_model = oc_model_num_classes(m);
    if (y.ndim != 3 || y.dims[0] != 1 || y.dims[1] < 5 || y.dims[2] < 1 ||
        (nc_model > 0 && y.dims[1] != 4 + nc_model))
        return oc_error(OC_ERR_SHAPE, "oc_detect: output0 has shape [%lld, %lld, %lld] (ndim %d), "
                        "expected [1, %d, anchors]", (long long)y.dims[0],
                        (long long)(y.ndim > 1 ? y.dims[1] : 0),
                        (long long)(y.ndim > 2 ? y.dims[2] : 0), y.ndim, 4 + nc_model);
    int nc = (int)(y.dims[1] - 4);
    if (y.dims[2] > INT32_MAX) return oc_error(OC_ERR_SHAPE, "oc_detect: too many anchors");
    work = oc_session_task_work(s, postprocess_work_bytes(y.dims[2]));
    if (!work) return oc_error(OC_ERR_NOMEM, "oc_detect: out of memory");
    st = postprocess_work(y.data, nc, y.dims[2], o, &lb, img->width, img->height,
                          (const char *const *)m->class_names,
                          m->class_names ? m->num_classes : 0, out, work);
    if (st) return st;
    double t3 = oc_now_ms();
    out->ms_preprocess = t1 - t0;
    out->ms_inference = t2 - t1;
    out->ms_postprocess = t3 - t2;
    return OC_OK;
}

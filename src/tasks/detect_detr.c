/* detect_detr.c -- the "detect_detr" task (RT-DETR, RF-DETR): resize to the model's input
 * size (no letterbox), RGB / 255, optional per-channel mean/std from the metadata; graph
 * input "images" [1][3][H][W]; outputs "pred_logits" [1][Q][C] and "pred_boxes" [1][Q][4]
 * (cx, cy, w, h normalised); sigmoid top-k (src/tasks/detr.h), then the confidence
 * threshold. No NMS. */
#include "tasks/detr.h"
#include "tasks/detect.h"
#include "tasks/tasks.h"

#include <math.h>
#include <string.h>

/* a before b: higher logit, then lower flat index */
static int better(float la, int64_t ia, float lb, int64_t ib)
{
    return la > lb || (la == lb && ia < ib);
}

/* min-heap on "better": the root is the worst kept candidate */
static void sift_down(float *v, int64_t *id, int n, int i)
{
    for (;;) {
        int l = 2 * i + 1, r = l + 1, w = i;
        if (l < n && better(v[w], id[w], v[l], id[l])) w = l;
        if (r < n && better(v[w], id[w], v[r], id[r])) w = r;
        if (w == i) return;
        float tv = v[i];
        v[i] = v[w];
        v[w] = tv;
        int64_t ti = id[i];
        id[i] = id[w];
        id[w] = ti;
        i = w;
    }
}

void oc_detr_topk(const float *logits, const float *boxes, int Q, int C, int k, float img_w,
                  float img_h, int64_t *labels, float *boxes_xyxy, float *scores)
{
    if (!logits || !boxes || Q < 1 || C < 1 || k < 1 || !labels || !boxes_xyxy || !scores)
        return;
    int64_t total = (int64_t)Q * C;
    if (k > total) k = (int)total;
    /* the heap lives in the outputs: scores holds logits, labels the flat indices */
    int n = 0;
    for (int64_t i = 0; i < total; i++) {
        float v = logits[i];
        if (isnan(v)) v = -INFINITY;
        if (n < k) {
            scores[n] = v;
            labels[n] = i;
            n++;
            if (n == k)
                for (int j = k / 2 - 1; j >= 0; j--) sift_down(scores, labels, k, j);
        } else if (better(v, i, scores[0], labels[0])) {
            scores[0] = v;
            labels[0] = i;
            sift_down(scores, labels, k, 0);
        }
    }
    if (n < k) /* only when k > total, which was clamped: defensive */
        k = n;
    /* heapsort: move the worst to the end each time -> best first */
    for (int end = k - 1; end > 0; end--) {
        float tv = scores[0];
        scores[0] = scores[end];
        scores[end] = tv;
        int64_t ti = labels[0];
        labels[0] = labels[end];
        labels[end] = ti;
        sift_down(scores, labels, end, 0);
    }
    for (int j = 0; j < k; j++) {
        int64_t flat = labels[j];
        int64_t q = flat / C;
        const float *b = boxes + q * 4;
        float cx = b[0], cy = b[1], w = b[2], h = b[3];
        boxes_xyxy[4 * j + 0] = (cx - 0.5f * w) * img_w;
        boxes_xyxy[4 * j + 1] = (cy - 0.5f * h) * img_h;
        boxes_xyxy[4 * j + 2] = (cx + 0.5f * w) * img_w;
        boxes_xyxy[4 * j + 3] = (cy + 0.5f * h) * img_h;
        labels[j] = flat % C;
        scores[j] = 1.0f / (1.0f + expf(-scores[j]));
    }
}

static float clip(float v, float hi)
{
    if (!(v > 0)) return 0;
    return v < hi ? v : hi;
}

/* The mean/std of the model, parsed from its metadata on a session's first call and kept in
 * the session's task slot (4 x int64), so later calls neither parse nor allocate. */
typedef struct {
    int32_t parsed, have;
    float mean[3], std[3];
} norm_cache;
_Static_assert(sizeof(norm_cache) <= 4 * sizeof(int64_t), "norm_cache must fit the task slot");

static oc_status session_norm(oc_session *s, const oc_model *m, norm_cache *c)
{
    int64_t *slot = oc_session_task_slot(s);
    memcpy(c, slot, sizeof *c);
    if (c->parsed) return OC_OK;
    int have = 0;
    oc_status st = oc_model_preprocess_norm(m, c->mean, c->std, &have);
    if (st) return st;
    c->have = have;
    c->parsed = 1;
    memcpy(slot, c, sizeof *c);
    return OC_OK;
}

static size_t align64(size_t n) { return (n + 63) & ~(size_t)63; }

/* the top-k's labels, boxes and scores for k candidates */
static size_t topk_work_bytes(int64_t k)
{
    return align64((size_t)k * sizeof(int64_t)) + align64((size_t)k * 4 * sizeof(float)) +
           align64((size_t)k * sizeof(float));
}

oc_status oc_detect_detr(oc_session *s, const oc_image *img, const oc_detect_options *o,
                         oc_detections *out)
{
    const oc_model *m = oc_session_model(s);
    int in_h, in_w;
    oc_task_input_size(m, o, &in_h, &in_w);
    norm_cache norm;
    oc_status st = session_norm(s, m, &norm);
    if (st) return st;

    double t0 = oc_now_ms();
    oc_tensor in;
    st = oc_task_image_input(s, NULL, "images", in_h, in_w, &in);
    if (st) return st;
    /* one session-owned work buffer (it only grows): the resize's taps and rows, then after
     * the run the top-k's arrays; a same-shape call allocates only its result */
    size_t rw = oc_resize_work_bytes(img->width, img->height, in_w, in_h);
    if (!rw) return oc_error(OC_ERR_INVALID_ARG, "oc_detect: image %d x %d cannot be resized to "
                             "%d x %d", img->width, img->height, in_w, in_h);
    void *work = oc_session_task_work(s, rw);
    if (!work) return oc_error(OC_ERR_NOMEM, "oc_detect: out of memory for the resize");
    st = oc_resize_chw_work(img, in_w, in_h, norm.have ? norm.mean : NULL,
                            norm.have ? norm.std : NULL, in.data, work);
    if (st) return st;
    double t1 = oc_now_ms();
    st = oc_session_run(s, &in, 1);
    if (st) return st;
    double t2 = oc_now_ms();

    oc_tensor lg, bx;
    if ((st = oc_session_tensor(s, "pred_logits", &lg)) ||
        (st = oc_session_tensor(s, "pred_boxes", &bx)))
        return oc_error_prefix(st, "oc_detect: ");
    if (lg.ndim != 3 || lg.dims[0] != 1 || bx.ndim != 3 || bx.dims[0] != 1 ||
        bx.dims[1] != lg.dims[1] || bx.dims[2] != 4 || lg.dims[1] > INT32_MAX ||
        lg.dims[2] > INT32_MAX)
        return oc_error(OC_ERR_SHAPE, "oc_detect: pred_logits [%lld, %lld, %lld] and pred_boxes "
                        "[%lld, %lld, %lld] are not [1, Q, C] and [1, Q, 4]",
                        (long long)lg.dims[0], (long long)lg.dims[1], (long long)lg.dims[2],
                        (long long)bx.dims[0], (long long)bx.dims[1], (long long)bx.dims[2]);
    int Q = (int)lg.dims[1], C = (int)lg.dims[2];
    int64_t total = (int64_t)Q * C;
    int k = o->max_det < total ? o->max_det : (int)total;
    if (k < 1) k = 1;
    char *tk = oc_session_task_work(s, topk_work_bytes(k));
    if (!tk) return oc_error(OC_ERR_NOMEM, "oc_detect: out of memory for %d candidates", k);
    int64_t *labels = (int64_t *)tk;
    float *boxes = (float *)(tk + align64((size_t)k * sizeof(int64_t)));
    float *scores = (float *)(tk + align64((size_t)k * sizeof(int64_t)) +
                              align64((size_t)k * 4 * sizeof(float)));
    oc_detr_topk(lg.data, bx.data, Q, C, k, (float)img->width, (float)img->height, labels, boxes,
                 scores);
    /* scores are in descending order: the kept ones are a prefix */
    int n = 0;
    while (n < k && scores[n] > o->conf_threshold) n++;
    oc_detection *items = oc_malloc(sizeof *items * (size_t)(n ? n : 1));
    if (!items) return oc_error(OC_ERR_NOMEM, "oc_detect: out of memory for %d detections", n);
    for (int j = 0; j < n; j++) {
        oc_detection *d = &items[j];
        d->x1 = clip(boxes[4 * j + 0], (float)img->width);
        d->y1 = clip(boxes[4 * j + 1], (float)img->height);
        d->x2 = clip(boxes[4 * j + 2], (float)img->width);
        d->y2 = clip(boxes[4 * j + 3], (float)img->height);
        d->score = scores[j];
        d->class_id = (int)labels[j];
        const char *nm = oc_model_class_name(m, d->class_id);
        d->class_name = nm && *nm ? nm : NULL; /* ids without a name (COCO-91 gaps) */
    }
    out->items = items;
    out->count = n;
    double t3 = oc_now_ms();
    out->ms_preprocess = t1 - t0;
    out->ms_inference = t2 - t1;
    out->ms_postprocess = t3 - t2;
    return OC_OK;
}

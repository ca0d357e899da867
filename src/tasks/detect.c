/* detect.c -- oc_detect: checks the arguments, then hands the image to the task the model's
 * arch names (detect_yolo.c, detect_detr.c). Also the result helpers and the CLI's JSON. */
#include "tasks/detect.h"
#include "tasks/tasks.h"

#include <cjson/cJSON.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

int oc_model_has_task(const oc_model *m, const char *task)
{
    return m && m->arch && m->arch->task && task && !strcmp(m->arch->task, task);
}

void oc_task_input_size(const oc_model *m, const oc_detect_options *o, int *h, int *w)
{
    if (o->input_size) {
        *h = *w = o->input_size;
        return;
    }
    oc_model_input_size(m, h, w);
    if (*h < 32 || *w < 32 || *h > 4096 || *w > 4096) *h = *w = 640;
}

oc_status oc_task_image_input(oc_session *s, const char *stage, const char *name, int h, int w,
                              oc_tensor *in)
{
    memset(in, 0, sizeof *in);
    in->name = name;
    in->ndim = 4;
    in->dims[0] = 1;
    in->dims[1] = 3;
    in->dims[2] = h;
    in->dims[3] = w;
    oc_status st = oc_session_prepare_stage(s, stage, in, 1);
    if (st) return st;
    in->data = oc_session_input_buffer(s, stage, name);
    if (!in->data)
        return oc_error(OC_ERR_INTERNAL, "the %s graph has no input '%s'",
                        oc_model_arch(oc_session_model(s)), name);
    return OC_OK;
}

oc_status oc_detect(oc_session *s, const oc_image *img, const oc_detect_options *opts,
                    oc_detections *out)
{
    if (out) memset(out, 0, sizeof *out);
    if (!s || !img || !out) return oc_error(OC_ERR_INVALID_ARG, "oc_detect: NULL argument");
    if (!img->data || img->width < 1 || img->height < 1 ||
        (img->channels != 3 && img->channels != 1))
        return oc_error(OC_ERR_INVALID_ARG, "oc_detect: image %dx%d with %d channels is not a "
                        "decoded RGB or gray image", img->width, img->height, img->channels);
    oc_detect_options o;
    if (opts) o = *opts;
    else oc_detect_options_default(&o);
    if (!(o.conf_threshold >= 0 && o.conf_threshold <= 1))
        return oc_error(OC_ERR_INVALID_ARG, "oc_detect: conf_threshold %g is not in [0, 1]",
                        (double)o.conf_threshold);
    if (!(o.iou_threshold >= 0 && o.iou_threshold <= 1))
        return oc_error(OC_ERR_INVALID_ARG, "oc_detect: iou_threshold %g is not in [0, 1]",
                        (double)o.iou_threshold);
    if (o.max_det < 1)
        return oc_error(OC_ERR_INVALID_ARG, "oc_detect: max_det %d must be >= 1", o.max_det);
    if (o.input_size != 0 && (o.input_size < 32 || o.input_size > 4096 || o.input_size % 32))
        return oc_error(OC_ERR_INVALID_ARG, "oc_detect: input_size %d must be 0 or a multiple "
                        "of 32 in [32, 4096]", o.input_size);
    const oc_model *m = oc_session_model(s);
    if (!m) return oc_error(OC_ERR_INVALID_ARG, "oc_detect: the session has no model");
    if (oc_model_has_task(m, "detect_yolo")) return oc_detect_yolo(s, img, &o, out);
    if (oc_model_has_task(m, "detect_detr")) return oc_detect_detr(s, img, &o, out);
    const char *task = m->arch && m->arch->task ? m->arch->task : "";
    return oc_error(OC_ERR_UNSUPPORTED, "oc_detect: model '%s' (arch %s) is not a detector%s%s%s",
                    m->path ? m->path : "?", oc_model_arch(m), *task ? " (task " : "", task,
                    !strcmp(task, "segment_sam")
                        ? "): use oc_segment_set_image and oc_segment"
                        : (*task ? ")" : ": it gives raw tensors only (oc_session_run)"));
}

void oc_detect_options_default(oc_detect_options *o)
{
    if (!o) return;
    o->conf_threshold = 0.25f;
    o->iou_threshold = 0.7f;
    o->max_det = 300;
    o->agnostic_nms = 0;
    o->input_size = 0;
}

void oc_detections_free(oc_detections *d)
{
    if (!d) return;
    oc_free(d->items);
    d->items = NULL;
    d->count = 0;
}

/* ---- JSON ---- */
static double round_to(double v, double q) { return round(v / q) * q; }

char *oc_detections_json(const char *image_path, int width, int height, const char *model,
                         double ms_decode, const oc_detections *d, int pretty)
{
    cJSON *root = cJSON_CreateObject(), *im = NULL, *t = NULL, *arr = NULL;
    int ok = root != NULL;
    if (ok) ok = (im = cJSON_AddObjectToObject(root, "image")) != NULL;
    if (ok) ok = cJSON_AddStringToObject(im, "path", image_path ? image_path : "") != NULL;
    if (ok) ok = cJSON_AddNumberToObject(im, "width", width) != NULL;
    if (ok) ok = cJSON_AddNumberToObject(im, "height", height) != NULL;
    if (ok) ok = cJSON_AddStringToObject(root, "model", model ? model : "") != NULL;
    if (ok) ok = (t = cJSON_AddObjectToObject(root, "timing_ms")) != NULL;
    if (ok) ok = cJSON_AddNumberToObject(t, "decode", round_to(ms_decode, 0.001)) != NULL;
    if (ok) ok = cJSON_AddNumberToObject(t, "preprocess",
                                         round_to(d ? d->ms_preprocess : 0, 0.001)) != NULL;
    if (ok) ok = cJSON_AddNumberToObject(t, "inference",
                                         round_to(d ? d->ms_inference : 0, 0.001)) != NULL;
    if (ok) ok = cJSON_AddNumberToObject(t, "postprocess",
                                         round_to(d ? d->ms_postprocess : 0, 0.001)) != NULL;
    if (ok) ok = (arr = cJSON_AddArrayToObject(root, "detections")) != NULL;
    for (int i = 0; ok && d && i < d->count; i++) {
        const oc_detection *e = &d->items[i];
        cJSON *o = cJSON_CreateObject(), *b = NULL;
        ok = o && cJSON_AddItemToArray(arr, o);
        if (!ok) {
            cJSON_Delete(o);
            break;
        }
        char gen[32];
        snprintf(gen, sizeof gen, "class%d", e->class_id);
        ok = cJSON_AddNumberToObject(o, "class_id", e->class_id) &&
             cJSON_AddStringToObject(o, "class_name", e->class_name ? e->class_name : gen) &&
             cJSON_AddNumberToObject(o, "score", round_to(e->score, 0.0001)) &&
             (b = cJSON_AddArrayToObject(o, "box_xyxy")) != NULL;
        const float v[4] = {e->x1, e->y1, e->x2, e->y2};
        for (int k = 0; ok && k < 4; k++) {
            cJSON *n = cJSON_CreateNumber(round_to(v[k], 0.1));
            ok = n && cJSON_AddItemToArray(b, n);
            if (!ok) cJSON_Delete(n);
        }
    }
    char *s = ok ? (pretty ? cJSON_Print(root) : cJSON_PrintUnformatted(root)) : NULL;
    cJSON_Delete(root);
    if (!s) return NULL;
    char *r = oc_strdup(s);
    cJSON_free(s);
    return r;
}

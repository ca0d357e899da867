/* tasks.h -- the task entry points behind the public oc_detect / oc_segment_* (src/tasks/)
 * and the preprocessing they share. A model's oc_arch.task names its task:
 *   "detect_yolo"  letterbox, output0 [N][4+nc][anchors], NMS        (detect_yolo.c)
 *   "detect_detr"  resize, pred_logits + pred_boxes, sigmoid top-k   (detect_detr.c)
 *   "segment_sam"  resize, encode once per image, decode per prompt  (segment_sam.c) */
#ifndef OC_TASKS_H
#define OC_TASKS_H

#include "image.h"
#include "internal.h"
#include "model.h"
#include "session.h"

/* options are validated and defaulted by oc_detect */
oc_status oc_detect_yolo(oc_session *s, const oc_image *img, const oc_detect_options *o,
                         oc_detections *out);
oc_status oc_detect_detr(oc_session *s, const oc_image *img, const oc_detect_options *o,
                         oc_detections *out);

/* The input size a detector runs at: opts->input_size (square) when set, else the model's
 * (640x640 when that is outside 32..4096). */
void oc_task_input_size(const oc_model *m, const oc_detect_options *o, int *h, int *w);
/* Prepare `stage` (NULL: the first) for one [1][3][h][w] float image input called name and
 * point in->data at that input's arena slot: the task writes the image there and runs the
 * stage with *in, so nothing is copied. */
oc_status oc_task_image_input(oc_session *s, const char *stage, const char *name, int h, int w,
                              oc_tensor *in);

/* 1 when the model's task is `task` */
int oc_model_has_task(const oc_model *m, const char *task);

/* Resize an 8-bit image (1 or 3 channels; gray is replicated) to out_w x out_h and write
 * planar float RGB into chw [3][out_h][out_w] as ((v / 255) - mean[c]) / std[c] (mean, std
 * NULL: 0 and 1). Bilinear with antialiasing when shrinking, as torchvision's
 * resize(antialias=True) on a float tensor does (a triangle filter widened by the scale
 * factor, half-pixel centres; plain bilinear when enlarging). */
oc_status oc_resize_chw(const oc_image *src, int out_w, int out_h, const float *mean,
                        const float *std, float *chw);
/* The same without allocating: work holds oc_resize_work_bytes(src->width, src->height, out_w,
 * out_h) bytes (64-byte aligned, e.g. oc_session_task_work); 0 when the sizes are refused. */
size_t oc_resize_work_bytes(int in_w, int in_h, int out_w, int out_h);
oc_status oc_resize_chw_work(const oc_image *src, int out_w, int out_h, const float *mean,
                             const float *std, float *chw, void *work);

/* mean/std from the metadata keys ocellus.preprocess.mean / ocellus.preprocess.std (JSON
 * arrays of 3 numbers, std > 0). *have = 0 when both are absent (mean/std untouched). */
oc_status oc_model_preprocess_norm(const oc_model *m, float mean[3], float std[3], int *have);

#endif

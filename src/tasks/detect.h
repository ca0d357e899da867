/* detect.h -- the YOLO detection post-processing behind oc_detect (src/detect.c), exposed
 * for tests and the CLI.
 *
 * output0 is the Detect head in export form: [4 + nc][A] row-major (one image), rows 0-3 the
 * box centre x, centre y, width, height in letterboxed input pixels, rows 4.. the class
 * sigmoid scores. As the reference's non_max_suppression (multi_label=False):
 *   - a candidate is an anchor whose best class score is > conf (strictly);
 *   - candidates sorted by score (descending), at most 30000 kept;
 *   - greedy NMS: a box is dropped when its IoU with a kept box of the same class (any class
 *     when agnostic) is > iou (strictly); stops at max_det boxes.
 */
#ifndef OC_DETECT_H
#define OC_DETECT_H

#include "image.h"
#include "internal.h"
#include "session.h"

typedef struct {
    float x1, y1, x2, y2;
    float score;
    int cls;
} oc_det_box;

/* Candidates from output0 into out (room for cap boxes; A is always enough). Returns the
 * count, sorted by score descending (ties: lower anchor index first), at most 30000; -1 when
 * out of memory. */
int oc_detect_candidates(const float *out0, int nc, int64_t anchors, float conf, oc_det_box *out,
                         int cap);
/* Greedy NMS in place on boxes sorted by score; returns how many are kept (at the front). */
int oc_detect_nms(oc_det_box *boxes, int n, float iou, int agnostic, int max_det);
/* IoU of two xyxy boxes (0 when the union is empty). */
float oc_box_iou(const oc_det_box *a, const oc_det_box *b);
/* Map boxes from letterbox coordinates back to the image (subtract the padding, divide by the
 * scale) and clip them to [0, img_w] x [0, img_h]. */
void oc_detect_unletterbox(oc_det_box *boxes, int n, const oc_letterbox_info *lb, int img_w,
                           int img_h);

/* The whole post-processing: candidates, NMS, mapping back; fills out->items/count (oc_malloc'd;
 * class_name from class_names[cls] when class_names is given and cls < n_names, else NULL). */
oc_status oc_detect_postprocess(const float *out0, int nc, int64_t anchors,
                                const oc_detect_options *opts, const oc_letterbox_info *lb,
                                int img_w, int img_h, const char *const *class_names,
                                int n_names, oc_detections *out);

/* The CLI's JSON for one image:
 *   {"image": {"path", "width", "height"}, "model", "timing_ms": {"decode", "preprocess",
 *    "inference", "postprocess"}, "detections": [{"class_id", "class_name", "score",
 *    "box_xyxy": [x1, y1, x2, y2]}]}
 * Strings are JSON-escaped (cJSON); scores rounded to 4 decimals, boxes to 0.1 pixel.
 * Returns an oc_malloc'd NUL-terminated string, or NULL when out of memory. */
char *oc_detections_json(const char *image_path, int width, int height, const char *model,
                         double ms_decode, const oc_detections *d, int pretty);

#endif

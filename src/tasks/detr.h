/* detr.h -- the DETR post-processing (src/tasks/detect_detr.c), shared by RT-DETR and RF-DETR
 * and exported for graph custom nodes (RT-DETR's labels/boxes/scores outputs).
 *
 * As the references' PostProcess (focal-loss / sigmoid variant): scores = sigmoid(logits);
 * the k best of the Q*C scores (scores descending, ties by the lower flat index q*C + c);
 * label = index % C, query = index / C; the query's box (cx, cy, w, h, normalised 0-1) becomes
 * xyxy scaled by (img_w, img_h). NaN logits never rank. k <= Q*C. No allocation. */
#ifndef OC_TASKS_DETR_H
#define OC_TASKS_DETR_H

#include <stdint.h>

void oc_detr_topk(const float *logits, const float *boxes, int Q, int C, int k, float img_w,
                  float img_h, int64_t *labels, float *boxes_xyxy, float *scores);

#endif

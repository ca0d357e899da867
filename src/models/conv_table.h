/* conv_table.h -- the packed convolutions of one loaded model, in build order.
 *
 * A family that describes its architecture as one walk run in several modes (YOLO, RT-DETR;
 * see src/models/yolo/yolo_common.h) prepacks each conv while LOADing and appends it here
 * under its module name; BUILD then walks the same code again and takes the entries back in
 * the same order, checking the name, so a walk that took a different branch the second time
 * fails with a message instead of wiring the wrong weights. The table owns the packed weights
 * and is read-only after load, so every session's graph shares it. */
#ifndef OC_MODELS_CONV_TABLE_H
#define OC_MODELS_CONV_TABLE_H

#include "graph.h"

typedef struct {
    char *name;               /* module prefix, e.g. "model.2.cv1" */
    oc_conv2d_desc d;
    oc_conv2d_weights *w;
} oc_conv_entry;

typedef struct {
    oc_conv_entry *e;
    int n, cap;
    size_t packed_bytes;      /* sum of oc_conv2d_weights_bytes over the entries */
} oc_conv_table;

/* Prepack weight [cout][cin/groups][kh][kw] and bias ([cout] or NULL) for isa and append them
 * as `name`. The caller keeps weight/bias. On failure nothing is appended and the message
 * names path and the conv. */
oc_status oc_conv_table_push(oc_conv_table *t, const char *path, const char *name,
                             const oc_conv2d_desc *d, const float *weight, const float *bias,
                             oc_isa isa);

/* The entry at *cursor, which must be named `name`; advances *cursor. NULL (with a message
 * naming path and name) when the table is exhausted or out of step. */
const oc_conv_entry *oc_conv_table_next(const oc_conv_table *t, int *cursor, const char *path,
                                        const char *name);

/* oc_conv_table_next, then the conv node on x (residual: OC_NONE or a tensor of the output's
 * shape, added after the activation). On failure returns OC_NONE and stores the status in
 * *st, with a message naming the conv; the graph is not marked failed (the caller's sticky
 * error handling does that). */
oc_tid oc_conv_table_build(const oc_conv_table *t, int *cursor, oc_graph *g, oc_tid x,
                           oc_tid residual, const char *path, const char *name, oc_status *st);

void oc_conv_table_free(oc_conv_table *t);

#endif

/* model.h -- what a model family (a file in src/models/) plugs into (src/model.c, src/session.c). */
#ifndef OC_MODEL_H
#define OC_MODEL_H

#include "graph.h"
#include "safetensors.h"

typedef enum {
    OC_TASK_NONE = 0,     /* raw tensors only */
    OC_TASK_DETECT_YOLO   /* output0 [N][4+nc][anchors]: cx, cy, w, h, class scores */
} oc_task;

struct oc_model;

typedef struct oc_arch {
    const char *name;     /* value of ocellus.arch, e.g. "yolo11" */
    oc_task task;
    /* Read hyper-parameters from the metadata, fetch/check/fold/prepack weights into
     * m->arch_data (for m->isa). Messages name the file and tensor. */
    oc_status (*load)(struct oc_model *m);
    /* Build the graph for an NCHW input of n x 3 x h x w into g (inputs, outputs named). */
    oc_status (*build)(const struct oc_model *m, oc_graph *g, int n, int h, int w);
    void (*free)(struct oc_model *m);
} oc_arch;

struct oc_model {
    char *path;
    oc_st_file *file;
    const oc_arch *arch;
    void *arch_data;
    char scale[8];
    int num_classes;
    char **class_names;   /* num_classes strings */
    int input_h, input_w; /* default input size */
    uint64_t num_params;
    oc_isa isa;           /* weights are packed for this path */
};

/* the registry of model families (src/model.c) */
const oc_arch *oc_find_arch(const char *name);
/* (added by H5) Register an architecture at run time (tests, plug-ins); a registered name is
 * found before the built-in families and re-registering a name replaces it. The arch must
 * outlive every model loaded with it. */
oc_status oc_register_arch(const oc_arch *a);

/* metadata helpers: parse an integer/float metadata value; fail with a message naming the
 * key when missing or malformed (def used when missing and required == 0). A key missing
 * from the file is also looked up with the "ocellus." prefix added or removed, so
 * "ocellus.num_classes" finds a plain "num_classes" and "nc" finds "ocellus.nc". */
oc_status oc_meta_int(const struct oc_model *m, const char *key, int required, long def,
                      long lo, long hi, long *out);
oc_status oc_meta_float(const struct oc_model *m, const char *key, int required, double def,
                        double *out);

#endif

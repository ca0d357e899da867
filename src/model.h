/* model.h -- what a model family (src/models/<family>/) plugs into (src/model.c, src/session.c). */
#ifndef OC_MODEL_H
#define OC_MODEL_H

#include "graph.h"
#include "safetensors.h"

struct oc_model;

/* What a stage's builder is given: every tensor available by name, i.e. what the caller passed
 * plus the tensors earlier stages of this session exported. */
typedef struct {
    const char *name;
    oc_dtype dtype;
    int ndim;
    int64_t dims[OC_MAX_DIMS];
} oc_io_desc;

/* The descriptor named name, or NULL when absent. */
const oc_io_desc *oc_io_find(const oc_io_desc *in, int n, const char *name);
/* For image models: the descriptor named name or, when there is none, the only 4-d float32
 * one (a caller's tensor named after its fixture, "images_320"); NULL otherwise. */
const oc_io_desc *oc_io_find_image(const oc_io_desc *in, int n, const char *name);

/* `ocellus gen`: synthetic weights for one variant of a family. */
typedef struct {
    const char *scale;    /* variant name ("n", "tiny", "r18", ...) */
    int num_classes;      /* <= 0: the family's default */
    int imgsz;            /* <= 0: the family's default input size */
    uint32_t seed;
} oc_gen_options;

/* `ocellus convert`: a reference state_dict (tensor names as in PyTorch) to a model file. */
typedef struct {
    const char *scale;    /* NULL: from the source's metadata or its tensor shapes */
    int num_classes;      /* <= 0: from the source */
    /* the arch asked for or named by the file (a hook shared by several archs, as YOLO's,
     * needs it); NULL: the hook tells it from the source */
    const char *arch;
    const char *source;   /* the input file's path, for messages and ocellus.source */
} oc_convert_options;

struct oc_onnx_model;

typedef struct oc_arch {
    const char *name;     /* value of ocellus.arch, e.g. "yolo11" */
    /* pre/post-processing (src/tasks/): "detect_yolo", "detect_detr", "segment_sam", or NULL
     * for raw tensors only */
    const char *task;
    /* NULL-terminated stage names; NULL = one stage "main" */
    const char *const *stages;
    /* Read hyper-parameters from the metadata, fetch/check/fold/prepack weights into
     * m->arch_data (for m->isa). Messages name the file and tensor. */
    oc_status (*load)(struct oc_model *m);
    /* Build the graph of one stage into g (inputs, outputs named). inputs describes every
     * tensor available by name (see oc_io_desc); the graph declares the ones it uses with
     * oc_g_input / oc_g_input_typed under the same names. */
    oc_status (*build)(const struct oc_model *m, oc_graph *g, const char *stage,
                       const oc_io_desc *inputs, int n_inputs);
    void (*free)(struct oc_model *m);
    /* optional: `ocellus gen` / `ocellus convert` for this family. Both add tensors and the
     * ocellus.* metadata (ocellus.arch included) to out; the caller saves it. */
    const char *const *scales;  /* NULL-terminated variant names gen accepts (for --help) */
    oc_status (*generate)(const oc_gen_options *o, oc_st_writer *out);
    oc_status (*convert)(const oc_st_file *src, const oc_convert_options *o, oc_st_writer *out);
    /* optional: the same from an ONNX export (src/onnx.h) */
    oc_status (*convert_onnx)(const struct oc_onnx_model *src, const oc_convert_options *o,
                              oc_st_writer *out);
} oc_arch;

/* stage i's name ("main" for single-stage archs), NULL when out of range */
const char *oc_arch_stage(const oc_arch *a, int i);
int oc_arch_num_stages(const oc_arch *a);

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
    /* packed forms of the weights graph builders pass raw (oc_g_linear), made on the first
     * build and shared by every session (src/weight_cache.h) */
    struct oc_weight_cache *wcache;
};

/* COCO's 80 class names (the default names of an 80-class model; src/model.c) */
extern const char *const oc_coco_names[80];

/* the registry of model families (src/model.c) */
const oc_arch *oc_find_arch(const char *name);
/* Register an architecture at run time (tests, plug-ins); a registered name is
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

/*
 * ocellus.h -- the one public header of Ocellus, a CPU inference library for vision models.
 *
 * A five-minute tour
 * ------------------
 *   #include <ocellus.h>
 *
 *   oc_model *model;                                    // immutable weights + graph recipe
 *   if (oc_model_load("weights/yolo11n.safetensors", &model) != OC_OK) {
 *       fprintf(stderr, "%s\n", oc_last_error());       // says which file/tensor/offset
 *       return 1;
 *   }
 *   oc_session *s;                                      // one per thread that runs inference
 *   oc_session_create(model, &s);
 *   oc_image img;
 *   oc_image_load("bus.jpg", &img);                     // PNG or JPEG -> 8-bit RGB
 *   oc_detections dets;
 *   oc_detect(s, &img, NULL, &dets);                    // NULL: default thresholds
 *   for (int i = 0; i < dets.count; i++)
 *       printf("%s %.2f\n", dets.items[i].class_name, dets.items[i].score);
 *   oc_detections_free(&dets);
 *   oc_image_free(&img);
 *   oc_session_free(s);
 *   oc_model_free(model);
 *
 * Ownership and threads
 * ---------------------
 * - Every function returning oc_status sets a thread-local message on failure, read with
 *   oc_last_error(). The library never exits, aborts or writes to stdout.
 * - An oc_model is read-only after oc_model_load and may be shared by any number of threads.
 * - An oc_session belongs to one thread at a time. Several sessions on one model run
 *   concurrently from different threads (documented guarantee, tested).
 * - Pointers returned inside results (tensor data, detections) stay valid until the next
 *   call on the same session or until the matching *_free function.
 */
#ifndef OCELLUS_H
#define OCELLUS_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#ifdef __cplusplus
extern "C" {
#endif

#define OCELLUS_VERSION_MAJOR 0
#define OCELLUS_VERSION_MINOR 1
#define OCELLUS_VERSION_PATCH 0

/* ---- Status codes ------------------------------------------------------------------- */
typedef enum {
    OC_OK = 0,
    OC_ERR_INVALID_ARG,  /* a NULL pointer, a negative size, a bad option value */
    OC_ERR_IO,           /* a file could not be opened, read, mapped or written */
    OC_ERR_FORMAT,       /* a file is malformed: header, JSON, offsets, image data */
    OC_ERR_UNSUPPORTED,  /* well-formed but not something Ocellus handles (arch, dtype) */
    OC_ERR_SHAPE,        /* a tensor's shape disagrees with what the model expects */
    OC_ERR_NOMEM,        /* an allocation failed, or a size limit was exceeded */
    OC_ERR_INTERNAL      /* a bug in Ocellus: please report it with the message */
} oc_status;

/* Short constant name of a status ("OC_ERR_FORMAT"). Never NULL. */
const char *oc_status_name(oc_status s);
/* The message of the last failed call on this thread ("" when none). Never NULL. */
const char *oc_last_error(void);
/* "0.1.0" */
const char *oc_version(void);

/* ---- Logging: optional; by default the library is silent ---------------------------- */
typedef enum { OC_LOG_DEBUG = 0, OC_LOG_INFO, OC_LOG_WARN, OC_LOG_ERROR } oc_log_level;
typedef void (*oc_log_fn)(oc_log_level level, const char *msg, void *user);
void oc_set_log_callback(oc_log_fn fn, void *user);

/* ---- CPU paths and threads ----------------------------------------------------------- */
typedef enum { OC_ISA_SCALAR = 0, OC_ISA_AVX2 = 1, OC_ISA_AVX512 = 2 } oc_isa;
/* The path in use: the best the CPU has, or OCELLUS_ISA=scalar|avx2|avx512 (never above
 * what the CPU supports). */
oc_isa oc_get_isa(void);
/* The best path this CPU supports. */
oc_isa oc_cpu_best_isa(void);
/* Force a path (for tests and benchmarks). Fails when the CPU lacks it. */
oc_status oc_set_isa(oc_isa isa);
const char *oc_isa_name(oc_isa isa);
/* Default thread count for new sessions: OCELLUS_NUM_THREADS, else all cores. n >= 1. */
oc_status oc_set_num_threads(int n);
int oc_get_num_threads(void);
/* How long, in microseconds, an idle kernel thread spins before it sleeps (default 20; also
 * OCELLUS_SPIN=<us>|passive|active). Threads sleep on a futex after the spin, so on a machine
 * shared with other jobs they do not burn the time the thread with the work needs; a user who
 * owns the cores can set a longer spin (e.g. 1000) to save the wake-up latency between
 * kernels. 0 = sleep at once. */
oc_status oc_set_spin_us(int us);
int oc_get_spin_us(void);

/* ---- Images -------------------------------------------------------------------------- */
typedef struct {
    int width, height;
    int channels;        /* always 3 (RGB) for decoded images */
    uint8_t *data;       /* row-major, interleaved, width*channels bytes per row */
} oc_image;

/* Decode PNG (8/16-bit, gray, gray+alpha, RGB, RGBA, palette) or JPEG (gray, RGB; CMYK
 * converted) to 8-bit RGB. Alpha is dropped; a JPEG's EXIF orientation is applied (as
 * OpenCV's imread does). Corrupt, truncated or too-large images fail with a message. */
oc_status oc_image_load(const char *path, oc_image *out);
oc_status oc_image_decode(const void *buf, size_t len, oc_image *out);
/* Write an 8-bit RGB (channels 3) or gray (channels 1) image as PNG. */
oc_status oc_image_save_png(const char *path, const oc_image *img);
/* Allocate a zeroed image (channels 1 or 3). */
oc_status oc_image_alloc(oc_image *img, int width, int height, int channels);
void oc_image_free(oc_image *img);
/* Largest pixel count a decoder accepts (default 100 megapixels); 0 restores the default. */
void oc_set_image_pixel_limit(uint64_t max_pixels);
uint64_t oc_get_image_pixel_limit(void);

/* ---- Models -------------------------------------------------------------------------- */
typedef struct oc_model oc_model;
typedef struct oc_session oc_session;

/* Map a model file (safetensors, see docs/FORMAT.md), validate it, fold and repack its
 * weights. The file stays mapped until oc_model_free. A floating tensor holding NaN or Inf
 * is refused (OC_ERR_FORMAT naming it) unless the check is off. */
oc_status oc_model_load(const char *path, oc_model **out);
void oc_model_free(oc_model *m);
/* The non-finite weight check of oc_model_load: on by default; OCELLUS_ALLOW_NONFINITE=1 in
 * the environment or oc_set_finite_check(0) turns it off (process-wide). */
void oc_set_finite_check(int on);
int oc_get_finite_check(void);
/* "yolo11", "yolov8", "yolo12", ... */
const char *oc_model_arch(const oc_model *m);
/* Scale letter ("n", "s", ...) or "" */
const char *oc_model_scale(const oc_model *m);
/* A metadata value of the file, or NULL. */
const char *oc_model_meta(const oc_model *m, const char *key);
int oc_model_num_classes(const oc_model *m);
/* Class name i, or NULL when out of range. */
const char *oc_model_class_name(const oc_model *m, int i);
/* Default input size (height, width) the model was made for, e.g. 640x640. */
void oc_model_input_size(const oc_model *m, int *height, int *width);
/* Number of parameters (elements of all weight tensors as stored). */
uint64_t oc_model_num_params(const oc_model *m);

/* ---- Sessions and raw tensors ----------------------------------------------------------- */
#define OC_MAX_DIMS 6

/* Element type of a tensor given to a session. Graph compute is float32: integer inputs
 * (point labels, target sizes) are converted to float32 when they enter the graph (exact
 * below 2^24). A zero-initialised oc_tensor is float32. */
typedef enum { OC_DTYPE_F32 = 0, OC_DTYPE_I32, OC_DTYPE_I64, OC_DTYPE_U8 } oc_dtype;
/* "f32", "i32", "i64", "u8" ("?" for anything else). */
const char *oc_dtype_name(oc_dtype dt);

typedef struct {
    const char *name;    /* the graph input it feeds / the output it is */
    int ndim;
    int64_t dims[OC_MAX_DIMS];
    float *data;         /* contiguous, row-major; every output is float32. An input of
                          * another dtype points here at its own buffer through a cast:
                          * .data = (float *)labels, .dtype = OC_DTYPE_I32 */
    oc_dtype dtype;      /* of the data; 0 = OC_DTYPE_F32 */
} oc_tensor;

oc_status oc_session_create(const oc_model *m, oc_session **out);
void oc_session_free(oc_session *s);
/* Threads this session's kernels use (default: oc_get_num_threads()). With K concurrent
 * callers, give each about cores/K. */
oc_status oc_session_set_num_threads(oc_session *s, int n);
/* Keep every named intermediate (layer0, layer1, ...) readable after a run. */
oc_status oc_session_set_keep_layers(oc_session *s, int keep);
/* Per-node timing (also switched on by OCELLUS_PROFILE=1): collected on every run. */
oc_status oc_session_set_profile(oc_session *s, int on);
/* Print the per-node profile of the last run (time, GFLOP/s, share) to f. */
oc_status oc_session_print_profile(const oc_session *s, FILE *f);

/* Run the model's first (for most models: only) stage on raw input tensors.
 *
 * Inputs are matched to the graph's inputs BY NAME; their order does not matter. When
 * exactly one graph input is left unmatched and exactly one given tensor is left unused
 * (e.g. an image tensor named "images_320"), they are paired. Each stage's graph is built and
 * planned for the given shapes on its first run and again only when a shape, name or dtype
 * changes; after that a run allocates nothing.
 *
 * Stages: a model may have several graphs over the same weights (SAM2: "encode" once per
 * image, "decode" once per prompt set). Outputs a stage exports stay in the session (outside
 * the activation arenas) and feed a later stage's input of the same name when the caller
 * does not pass one; each stage has its own graph, plan and arena. */
oc_status oc_session_run(oc_session *s, const oc_tensor *inputs, int n_inputs);
/* Run a named stage (see oc_model_stage). NULL runs the first. */
oc_status oc_session_run_stage(oc_session *s, const char *stage, const oc_tensor *inputs,
                               int n_inputs);
/* Number of stages of the model (1 for single-graph models) and the name of stage i
 * ("main" for single-graph models; NULL when out of range). */
int oc_model_num_stages(const oc_model *m);
const char *oc_model_stage(const oc_model *m, int i);
/* Outputs of the last run stage. */
int oc_session_num_outputs(const oc_session *s);
/* Output i of the last run; data points into the session and is valid until the next run. */
oc_status oc_session_output(const oc_session *s, int i, oc_tensor *out);
/* Any named tensor: the last run's outputs, its layers when keep_layers is on, and the
 * tensors earlier stages exported (valid until a stage exporting that name runs again). */
oc_status oc_session_tensor(const oc_session *s, const char *name, oc_tensor *out);
/* Build and plan the first stage for these input shapes without running it (data may be
 * NULL): afterwards oc_session_arena_bytes and oc_session_flops report the plan, so the peak
 * activation memory is known before the first run. oc_session_run does this itself. */
oc_status oc_session_prepare(oc_session *s, const oc_tensor *inputs, int n_inputs);
/* The same for a named stage (NULL: the first). */
oc_status oc_session_prepare_stage(oc_session *s, const char *stage, const oc_tensor *inputs,
                                   int n_inputs);
/* Activation arena bytes of the last prepared or run stage (0 before any). */
size_t oc_session_arena_bytes(const oc_session *s);
/* What the activations of the last prepared or run stage would take if none shared memory
 * (every intermediate's own bytes): 1 - arena / this is the planner's saving. */
size_t oc_session_activation_bytes(const oc_session *s);
/* Floating-point operations of one run of the last prepared or run stage. */
double oc_session_flops(const oc_session *s);

/* ---- Detection ------------------------------------------------------------------------ */
typedef struct {
    float x1, y1, x2, y2;    /* pixels of the original image, clipped */
    float score;
    int class_id;
    const char *class_name;  /* owned by the model */
} oc_detection;

typedef struct {
    float conf_threshold;    /* default 0.25 */
    float iou_threshold;     /* default 0.7 */
    int max_det;             /* default 300 */
    int agnostic_nms;        /* default 0: per-class NMS */
    int input_size;          /* 0: the model's default (e.g. 640) */
} oc_detect_options;

typedef struct {
    oc_detection *items;
    int count;
    double ms_preprocess, ms_inference, ms_postprocess;
} oc_detections;

void oc_detect_options_default(oc_detect_options *o);
/* Letterbox, run, decode, NMS, map back to img's coordinates. opts may be NULL. */
oc_status oc_detect(oc_session *s, const oc_image *img, const oc_detect_options *opts,
                    oc_detections *out);
void oc_detections_free(oc_detections *d);

/* ---- Promptable segmentation (SAM2) ------------------------------------------------------
 * Encode an image once, then segment with any number of prompts (each runs only the mask
 * decoder):
 *
 *   oc_segment_set_image(s, &img);                       // resize 1024x1024, mean/std, encode
 *   float pt[2] = {150, 100}; int32_t lab[1] = {1};
 *   oc_segment_prompt p = {.points = pt, .labels = lab, .n_points = 1};
 *   oc_segmentation r;
 *   oc_segment(s, &p, &r);                                // r.masks: r.n_masks x h x w, 0/1
 *   oc_segmentation_free(&r);
 *
 * Points and the box are in image pixels (x, y); points outside the image are allowed (the
 * reference accepts them). Labels: 1 foreground, 0 background. */
typedef struct {
    const float *points;      /* [n_points][2] x, y; NULL when n_points is 0 */
    const int32_t *labels;    /* [n_points], each 0 or 1 */
    int n_points;
    int has_box;
    float box[4];             /* x1, y1, x2, y2 with x1 <= x2, y1 <= y2 */
    const float *mask_input;  /* NULL or [256 * 256] low-res logits of an earlier result
                               * (oc_segmentation.low_res), as the reference's mask_input */
    int multimask;            /* 1: three candidate masks; 0: one (with the reference's
                               * stability fallback to the best candidate) */
    int return_logits;        /* 1: also fill oc_segmentation.logits; 0: NULL (the upsampling
                               * then only visits what can be inside the mask: faster) */
} oc_segment_prompt;

typedef struct {
    int n_masks;              /* 3 with multimask, else 1 */
    int width, height;        /* of the image given to oc_segment_set_image */
    uint8_t *masks;           /* [n_masks][height][width], 1 inside (logit > 0) */
    float *logits;            /* [n_masks][height][width], the upsampled mask logits, when
                               * the prompt set asked (return_logits), else NULL */
    float *scores;            /* [n_masks] predicted IoU */
    int (*boxes)[4];          /* [n_masks] x1, y1, x2, y2 (inclusive) of the mask; 0s if empty */
    int64_t *areas;           /* [n_masks] pixels inside */
    float *low_res;           /* [n_masks][256][256] logits clamped to +-32 (a mask_input) */
    float object_score;       /* object-score logit (> 0: an object is present) */
} oc_segmentation;

/* Preprocess img (RGB or gray) and run the model's "encode" stage; later oc_segment calls on
 * this session use it. The model must be a promptable segmenter (task segment_sam). */
oc_status oc_segment_set_image(oc_session *s, const oc_image *img);
/* Decode one prompt against the image set last. Bad prompts (no point and no box, NaN or
 * infinite coordinates, labels other than 0/1, an inverted box) fail with a message. */
oc_status oc_segment(oc_session *s, const oc_segment_prompt *p, oc_segmentation *out);
/* Decode n prompt sets (1..4096) against the image set last; out[i] (n of them) answers
 * prompts[i], exactly as oc_segment(s, &prompts[i], &out[i]) would. Sets with the same number
 * of points (a box counts as two) and the same use of mask_input run through the decoder as
 * one batch (up to 16 at a time); sets of other counts run as further batches, because padding
 * them with not-a-point tokens, as a caller of the reference would, changes their masks. A bad
 * set fails the whole call before anything runs, naming it ("prompt set 3: ..."); on any error
 * every out[i] is left empty. Free each out[i] with oc_segmentation_free. */
oc_status oc_segment_batch(oc_session *s, const oc_segment_prompt *prompts, int n,
                           oc_segmentation *out);
void oc_segmentation_free(oc_segmentation *r);

/* ---- Allocation counters (for leak checks) --------------------------------------------- */
typedef struct {
    uint64_t allocs, frees;  /* calls to the library's allocator since start */
    uint64_t live_bytes;     /* bytes currently held */
    uint64_t peak_bytes;
} oc_alloc_stats;
void oc_get_alloc_stats(oc_alloc_stats *st);

#ifdef __cplusplus
}
#endif
#endif /* OCELLUS_H */

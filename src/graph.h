/* graph.h -- graph builder, memory planner and executor (src/graph.c, src/planner.c,
 * src/graph_ops.c).
 *
 * A model-family builder (a file in src/models/) makes a graph for one input shape:
 *
 *     oc_graph *g = oc_graph_new();
 *     oc_tid x = oc_g_input(g, "images", oc_shape4(1, 3, 640, 640));
 *     x = oc_g_conv2d(g, x, &desc, weights, OC_NONE);       // weights owned by the model
 *     oc_g_name(g, x, "layer%d", 0);                         // optional, for debugging/parity
 *     ...
 *     oc_g_output(g, y, "output0");
 *     if (oc_graph_status(g) != OC_OK) ... oc_last_error() has the first failure's message
 *
 * Builder calls never crash on bad arguments: the first failure (bad shape, -1 input) is
 * recorded in the graph (sticky) and every later call returns OC_NONE, so a builder can chain
 * calls and check once at the end. Every node's output shape is known when it is added.
 */
#ifndef OC_GRAPH_H
#define OC_GRAPH_H

#include "internal.h"
#include "ops.h"

typedef int oc_tid;  /* tensor id in a graph; OC_NONE when absent/invalid */
#define OC_NONE (-1)

typedef struct {
    int ndim;
    int64_t d[OC_MAX_DIMS];
} oc_shape;

static inline oc_shape oc_shape1(int64_t a) { oc_shape s = {1, {a}}; return s; }
static inline oc_shape oc_shape2(int64_t a, int64_t b) { oc_shape s = {2, {a, b}}; return s; }
static inline oc_shape oc_shape3(int64_t a, int64_t b, int64_t c) { oc_shape s = {3, {a, b, c}}; return s; }
static inline oc_shape oc_shape4(int64_t a, int64_t b, int64_t c, int64_t d) { oc_shape s = {4, {a, b, c, d}}; return s; }
int64_t oc_shape_numel(const oc_shape *s);
/* format a shape "[1, 3, 640, 640]" into buf */
const char *oc_shape_str(const oc_shape *s, char *buf, size_t n);

typedef struct oc_graph oc_graph;

oc_graph *oc_graph_new(void);
void oc_graph_free(oc_graph *g);
/* Packed weights shared with other graphs of the same model (src/weight_cache.h); the
 * session sets the model's before calling the family's build. NULL: none. */
struct oc_weight_cache;
void oc_graph_set_weight_cache(oc_graph *g, struct oc_weight_cache *c);
/* OC_OK, or the first builder failure (whose message was set with oc_error then). */
oc_status oc_graph_status(const oc_graph *g);
/* Record a failure from builder code (e.g. a missing weight); returns st. */
oc_status oc_graph_fail(oc_graph *g, oc_status st);

/* A float32 graph input; names are unique in a graph (the session feeds inputs by name). */
oc_tid oc_g_input(oc_graph *g, const char *name, oc_shape s);
/* An input the caller gives as dtype (e.g. OC_DTYPE_I32 point labels). Graph compute is
 * float32: the session converts the values to float32 on the way in (exact below 2^24), so
 * nodes reading this tensor see floats. */
oc_tid oc_g_input_typed(oc_graph *g, const char *name, oc_shape s, oc_dtype dtype);
void oc_g_output(oc_graph *g, oc_tid t, const char *name);
/* An output that also persists in the session (outside the arenas) after the run and feeds
 * later stages' inputs of the same name (e.g. SAM2's "image_embed"). */
void oc_g_export(oc_graph *g, oc_tid t, const char *name);
void oc_g_name(oc_graph *g, oc_tid t, const char *fmt, ...) OC_PRINTF(3, 4);
oc_shape oc_g_shape(const oc_graph *g, oc_tid t);
/* A constant tensor; data is owned by the caller (the model) and must outlive the graph. */
oc_tid oc_g_const(oc_graph *g, oc_shape s, const float *data);

/* ---- op nodes (src/graph_ops.c); each returns the new tensor or OC_NONE ---- */
/* x [N][C][H][W]; residual OC_NONE or same shape as the output: y = act(conv+b) + residual */
oc_tid oc_g_conv2d(oc_graph *g, oc_tid x, const oc_conv2d_desc *d, const oc_conv2d_weights *w,
                   oc_tid residual);
oc_tid oc_g_conv_transpose2d(oc_graph *g, oc_tid x, const oc_conv2d_desc *d,
                             const float *weight, const float *bias);
oc_tid oc_g_maxpool2d(oc_graph *g, oc_tid x, const oc_pool2d_desc *d);
oc_tid oc_g_avgpool2d(oc_graph *g, oc_tid x, const oc_pool2d_desc *d);
oc_tid oc_g_upsample_nearest(oc_graph *g, oc_tid x, int oh, int ow);
oc_tid oc_g_upsample_bilinear(oc_graph *g, oc_tid x, int oh, int ow, int align_corners);
oc_tid oc_g_binary(oc_graph *g, oc_binop op, oc_tid a, oc_tid b);  /* broadcasting */
oc_tid oc_g_act(oc_graph *g, oc_act act, oc_tid x);
oc_tid oc_g_softmax(oc_graph *g, oc_tid x, int axis);               /* axis < 0 from the end */
oc_tid oc_g_layernorm(oc_graph *g, oc_tid x, const float *gamma, const float *beta, float eps);
/* x [..., in] -> [..., out]; w [out][in]. With a weight cache (graphs the session builds
 * from a model have the model's) and at most 512 rows (decoders, heads: where packing W per
 * call costs as much as the products), w is packed once per model and the node runs
 * oc_linear_packed: w must then be the model's, unchanged while it lives. */
oc_tid oc_g_linear(oc_graph *g, oc_tid x, const float *w, const float *bias, int in, int out,
                   oc_act act);
/* the same with weights the caller packed (oc_linear_prepack) and keeps alive */
oc_tid oc_g_linear_packed(oc_graph *g, oc_tid x, const oc_linear_weights *lw, oc_act act);
/* batched matmul over equal leading dims: a [..., M, K] (or [..., K, M] if trans_a) */
oc_tid oc_g_matmul(oc_graph *g, oc_tid a, oc_tid b, int trans_a, int trans_b);
oc_tid oc_g_concat(oc_graph *g, const oc_tid *xs, int n, int axis);
/* x[..., start:end, ...] along axis; a zero-copy view when the slice is contiguous */
oc_tid oc_g_slice(oc_graph *g, oc_tid x, int axis, int64_t start, int64_t end);
/* same element count; a zero-copy view */
oc_tid oc_g_reshape(oc_graph *g, oc_tid x, oc_shape s);
oc_tid oc_g_permute(oc_graph *g, oc_tid x, const int *perm);
/* attention: d gives sizes, scale and strides relative to each tensor's start; out_shape is
 * the shape of the output tensor that d's o_* strides address. bias may be OC_NONE. */
oc_tid oc_g_attention(oc_graph *g, oc_tid q, oc_tid k, oc_tid v, oc_tid bias,
                      const oc_attn_desc *d, oc_shape out_shape);

/* Multi-scale deformable attention core (oc_ms_deform_attn): value [N, S, heads*dh] with
 * S = sum of the nlevels levels' H*W (level_hw: H0, W0, H1, W1, ...; copied), loc
 * [N, Lq, ...] holding heads*nlevels*npoints*2 values per query, attw [N, Lq, ...] holding
 * heads*nlevels*npoints. Output [N, Lq, heads*dh]. */
oc_tid oc_g_ms_deform_attn(oc_graph *g, oc_tid value, oc_tid loc, oc_tid attw,
                           const int64_t *level_hw, int nlevels, int heads, int npoints);

/* A custom node for family-specific steps (e.g. a detection head's decode). params is copied
 * (params_size bytes) into the graph. */
typedef void (*oc_custom_fn)(const oc_ctx *ctx, const void *params, const float *const *ins,
                             const oc_shape *in_shapes, int nin, float *out,
                             const oc_shape *out_shape);
oc_tid oc_g_custom(oc_graph *g, const char *opname, const oc_tid *ins, int nin, oc_shape out,
                   oc_custom_fn fn, const void *params, size_t params_size, double flops);

/* ---- planning and execution (src/graph.c, src/planner.c) ---- */
/* Assign arena offsets (greedy by size from first/last use). With keep_named, every named
 * tensor stays live to the end (readable after a run). */
oc_status oc_graph_plan(oc_graph *g, int keep_named, oc_isa isa, int nthreads);
size_t oc_graph_arena_bytes(const oc_graph *g);
/* Sum of every planned activation's bytes, as if none shared memory (the planner's saving is
 * 1 - arena / this). */
size_t oc_graph_activation_bytes(const oc_graph *g);
size_t oc_graph_scratch_bytes(const oc_graph *g);
double oc_graph_flops(const oc_graph *g);

typedef struct {
    int enabled;
    int n;               /* nodes */
    double *ms;          /* per node, last run */
    const char **names;  /* per node */
    const char **ops;
    double *flops;
} oc_profile;

/* Run every node. arena: oc_graph_arena_bytes(), scratch: oc_graph_scratch_bytes(), both
 * 64-byte aligned. inputs in the order of oc_g_input calls. prof may be NULL.
 * With prof->enabled each node is timed with oc_now_ms; after the run prof->n/ms/names/
 * ops/flops point into arrays owned by the graph (valid until it is re-planned or freed).
 * No allocation happens here: everything is sized by oc_graph_plan. */
oc_status oc_graph_run(oc_graph *g, const oc_ctx *ctx, void *arena,
                       const float *const *inputs, int n_inputs, oc_profile *prof);
float *oc_graph_data(const oc_graph *g, void *arena, oc_tid t);
int oc_graph_num_inputs(const oc_graph *g);
/* input i's declared name and dtype */
const char *oc_graph_input_name(const oc_graph *g, int i);
oc_dtype oc_graph_input_dtype(const oc_graph *g, int i);
/* 1 when output i was declared with oc_g_export */
int oc_graph_output_is_export(const oc_graph *g, int i);
int oc_graph_num_outputs(const oc_graph *g);
oc_tid oc_graph_output_tid(const oc_graph *g, int i);
const char *oc_graph_tensor_name(const oc_graph *g, oc_tid t);
oc_tid oc_graph_find(const oc_graph *g, const char *name);
int oc_graph_num_nodes(const oc_graph *g);

/* ---- plan inspection, output names, profile table ---- */
typedef struct {
    size_t offset;   /* byte offset of the tensor's first element in the arena */
    size_t bytes;    /* bytes of the storage block holding it (64-byte multiple) */
    int first, last; /* lifetime of the tensor's storage root: node indices, -1 = before the
                      * first node, oc_graph_num_nodes() = after the last (kept to the end) */
    oc_tid root;     /* storage root (itself unless a view) */
    oc_tid storage;  /* block owner after in-place reuse (shared by an in-place chain) */
    int in_arena;    /* 0 for constants (and views of them) */
    int is_view;
    int producer;    /* node index, -1 for inputs/consts/views */
} oc_tensor_plan;
int oc_graph_num_tensors(const oc_graph *g);
/* after oc_graph_plan; OC_ERR_INVALID_ARG for a bad id or an unplanned graph */
oc_status oc_graph_tensor_plan(const oc_graph *g, oc_tid t, oc_tensor_plan *out);
/* 1 when t's data is still valid after a run (outputs, kept named tensors, consts) */
int oc_graph_tensor_live_at_end(const oc_graph *g, oc_tid t);
const char *oc_graph_output_name(const oc_graph *g, int i);
oc_tid oc_graph_input_tid(const oc_graph *g, int i);
/* node i: op name and the index of the input run in place on the output's storage (-1) */
const char *oc_graph_node_op(const oc_graph *g, int i);
oc_tid oc_graph_node_output(const oc_graph *g, int i);
int oc_graph_node_inplace_input(const oc_graph *g, int i);
/* Print a profile (after a run with prof->enabled): one row per node sorted by time --
 * node, op, ms, GFLOP/s, share % -- then totals. */
oc_status oc_profile_print(const oc_profile *p, FILE *f);

#endif
